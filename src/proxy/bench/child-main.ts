/**
 * The Sluice that `sluice bench --url` loads: the config's proxy on 127.0.0.1, a free port,
 * no admin listener (it would take 9080 from a Sluice already running), logging at warn
 * (LOG_LEVEL overrides: a line per request would measure the logger). It prints
 * `listening URL` once ready and exits when its parent goes (stdin closes) or on SIGTERM.
 *
 * Run as a process: `node child-main.js CONFIG_FILE`.
 */
import { formatProblems } from '../../pipeline/config/load.js';
import { loadConfigFileWithModules } from '../../pipeline/config/modules.js';
import { createProxyServer } from '../server.js';

async function main(file: string | undefined): Promise<void> {
  if (!file) throw new Error('usage: child-main CONFIG_FILE');
  const r = await loadConfigFileWithModules(file);
  if (!r.ok) {
    process.stderr.write(`invalid config ${file}:\n${formatProblems(r.errors, file)}\n`);
    process.exit(1);
  }
  const app = createProxyServer(r.config, { logger: { level: process.env['LOG_LEVEL'] ?? 'warn' }, admin: false });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`listening ${url}\n`);
  const stop = (): void => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv[2]).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

#!/usr/bin/env node
/**
 * The `sluice` command: run a config, check one, list filters, or (no arguments) run the
 * embedded demo: the built-in demo upstream behind a proxy whose locations show the filters.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins } from '../builtin/index.js';
import { stageLabel } from '../filters/stage.js';
import type { FilterInfo } from '../filters/types.js';
import { formatProblems, loadConfigFile, validateConfig } from '../pipeline/config/load.js';
import { ADMIN_DEFAULTS } from '../pipeline/config/schema.js';
import { loadConfigFileWithModules, loadModulesOfConfigFile, type LoadedModules } from '../pipeline/config/modules.js';
import type { CompiledConfig } from '../pipeline/config/types.js';
import { demoConfig } from './demo-config.js';
import { startDemoUpstream } from './demo-upstream.js';
import { LiveConfig } from './live-config.js';
import { startReloader, type Reloader } from './reloader.js';
import { answerAdminScrapes, startClusterAdmin } from './cluster-admin.js';
import { ProxyMetrics } from './metrics.js';
import { createProxyServer } from './server.js';
import { runPrimary } from './workers.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const usage = `sluice ${pkg.version}: streaming HTTP filter chains in front of any upstream

usage:
  sluice                          run the built-in demo (PORT overrides 8080)
  sluice --config FILE [--port N] [--host H] [--workers N|auto] [--grace S] [--no-watch]
                                  run a config (JSON or YAML); reloads on SIGHUP and
                                  when the file changes (a bad new config is refused);
                                  SIGTERM finishes in-flight requests (up to --grace S,
                                  default 30) then exits
  sluice check --config FILE      validate a config: exit 0, or 1 with every problem named
  sluice filters [--config FILE]  list the filters (directions, stage, options): the
                                  built-in ones, and those of the config's modules
  sluice new-filter NAME [--dir DIR] [--force]
                                  write a filter, its tests (sluice/testing) and a
                                  config that uses it, to start from
  sluice bench --config FILE (--location PATH | --url PATH) ...
                                  benchmark a location's chains in process, or load
                                  through the proxy (sluice bench --help; docs/bench.md)
  sluice --version | --help
`;

/** The built-in filters, then each module's (sluice filters --config FILE). */
function listFilters(loaded?: LoadedModules): string {
  const row = (f: FilterInfo): string => {
    const opts = f.options && 'properties' in f.options ? Object.keys(f.options.properties as object).join(', ') : '';
    return `  ${f.name.padEnd(12)} ${f.directions.join('+').padEnd(13)} ${stageLabel(f.stage).padEnd(11)} ${f.description}${opts ? `\n  ${''.padEnd(38)}options: ${opts}` : ''}`;
  };
  const sections = [[`  ${'name'.padEnd(12)} ${'directions'.padEnd(13)} ${'stage'.padEnd(11)} description`, ...builtins.list().map(row)].join('\n')];
  for (const m of loaded?.modules ?? []) {
    sections.push([`from ${m.path}:`, ...m.filters.map((n) => row(loaded!.registry.list().find((f) => f.name === n)!))].join('\n'));
  }
  return sections.join('\n\n');
}

function fail(message: string, code = 1): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(code);
}

async function load(file: string): Promise<CompiledConfig> {
  const r = await loadConfigFileWithModules(file);
  if (!r.ok) fail(`invalid config ${file}:\n${formatProblems(r.errors, file)}`);
  return r.config;
}

interface ServeOptions {
  port: number;
  host: string;
  banner: (url: string) => string;
  /** The config file, for hot reload (SIGHUP, and file changes unless watch is false). */
  file?: string;
  watch?: boolean;
  /** ms in-flight requests get to finish after SIGTERM. */
  graceMs: number;
}

async function serve(config: CompiledConfig, opts: ServeOptions): Promise<void> {
  const live = new LiveConfig(config);
  const metrics = new ProxyMetrics();
  // The command runs the admin listener unless the config turns it off (the library only when asked).
  const admin = config.admin ?? { ...ADMIN_DEFAULTS, optional: true };
  // With --workers the primary runs the admin listener and sums the workers' counts (cluster-admin.ts).
  const app = createProxyServer(live, { logger: { level: process.env['LOG_LEVEL'] ?? 'info' }, metrics, admin: admin.enabled && cluster.isPrimary ? admin : false });
  const address = await app.listen({ port: opts.port, host: opts.host });
  // A worker's banner would repeat once per worker: the primary prints it.
  const adminUrl = app.sluiceAdmin?.url;
  if (cluster.isPrimary) process.stdout.write(`${opts.banner(address)}${adminUrl ? `admin: ${adminUrl} (/healthz /readyz /metrics)\n` : ''}`);
  let reloader: Reloader | undefined;
  if (opts.file !== undefined) {
    const file = opts.file;
    reloader = startReloader({
      file,
      live,
      load: (f) => loadConfigFileWithModules(f),
      log: app.log,
      format: (errors) => formatProblems(errors, file),
      watch: opts.watch !== false,
    });
    metrics.reloads = reloader.counts;
    process.on('SIGHUP', () => void reloader!.reload('SIGHUP'));
  }
  let closing = false;
  const stop = (signal: string): void => {
    if (closing) return;
    closing = true;
    reloader?.close();
    app.log.info({ signal, inFlight: live.current.inFlight }, 'shutting down: no new connections, finishing in-flight requests');
    // Past the grace period the remaining connections are cut: a hung upstream cannot hold a
    // deploy forever (nginx's worker_shutdown_timeout).
    const force = setTimeout(() => {
      app.log.warn({ inFlight: live.current.inFlight }, 'grace period over: closing the remaining connections');
      app.server.closeAllConnections();
    }, opts.graceMs);
    force.unref();
    // A keep-alive connection whose last response finishes after close() began would stay
    // open until its keep-alive timeout: close connections as they go idle (nginx closes
    // keep-alive connections at once on a graceful stop).
    const idle = setInterval(() => app.server.closeIdleConnections(), 50);
    idle.unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (cluster.isWorker) answerAdminScrapes(metrics, () => ({ generation: live.generation }), () => !closing && app.server.listening);
}

async function demo(): Promise<void> {
  const host = process.env['HOST'] ?? '127.0.0.1';
  const port = Number(process.env['PORT'] ?? 8080);
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  const r = validateConfig(demoConfig(upstream.url, port, host));
  if (!r.ok) fail(`the embedded demo config is invalid (a bug):\n${formatProblems(r.errors)}`);
  await serve(r.config, { port, host, graceMs: 10_000, banner: (url) =>
    [
      `sluice ${pkg.version}: demo proxy on ${url}, in front of the built-in demo upstream at ${upstream.url}`,
      '',
      'Try (each location shows a filter; compare with the upstream URL):',
      `  curl -s --compressed ${url}/                 compress: br or gzip as your client asks`,
      `  curl -s ${url}/legacy                        charset: windows-1252 page served as UTF-8`,
      `  curl -s ${url}/legacy-sjis                   charset: Shift_JIS sniffed from <meta>, rewritten`,
      `  curl -s ${url}/gzipped                       decompress + substitute: an always-gzip app, decoded and rewritten`,
      `  curl -s ${url}/links                         html-urlmap: internal URLs in links mapped to this proxy`,
      `  curl -si ${url}/moved                        proxy-reverse: Location and Set-Cookie made public`,
      `  curl -sN --compressed ${url}/events          server-sent events, compressed and still live`,
      `  curl -s ${url}/api/items                     JSON, compressed when large enough`,
      `  curl -s --data-binary @file.gz -H 'content-encoding: gzip' ${url}/echo   inflate on requests`,
      '',
      'Config of this demo: src/proxy/demo-config.ts. Your own: sluice --config FILE (README.md).',
      '',
    ].join('\n'),
  });
}

async function main(argv: string[]): Promise<void> {
  // bench has flags of its own (src/proxy/bench/args.ts): dispatched before these are parsed
  if (argv[0] === 'bench') process.exit((await import('./bench/command.js').then((m) => m.runBench(argv.slice(1)))).code);
  if (argv[0] === 'new-filter') process.exit((await import('./new-filter.js').then((m) => m.runNewFilter(argv.slice(1)))).code);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      workers: { type: 'string', short: 'w' },
      'no-watch': { type: 'boolean' },
      grace: { type: 'string' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd] = positionals;
  if (values.version) return void process.stdout.write(`${pkg.version}\n`);
  if (values.help) return void process.stdout.write(usage);
  if (cmd === 'filters') {
    if (!values.config) return void process.stdout.write(`${listFilters()}\n`);
    const r = await loadModulesOfConfigFile(values.config);
    if (!r.ok) fail(`${values.config}: a module cannot be loaded:\n${formatProblems(r.errors, values.config)}`);
    return void process.stdout.write(`${listFilters(r.loaded)}\n`);
  }
  if (cmd === 'check') {
    if (!values.config) fail('check needs --config FILE', 2);
    const r = await loadConfigFileWithModules(values.config);
    if (!r.ok) fail(`${values.config}: ${r.errors.length} problem${r.errors.length === 1 ? '' : 's'}:\n${formatProblems(r.errors, values.config)}`);
    process.stdout.write(`${values.config}: ok (${r.config.locations.length} locations)\n`);
    return;
  }
  if (cmd !== undefined) fail(`unknown command "${cmd}"\n\n${usage}`, 2);
  if (!values.config) return demo();
  const config = await load(values.config);
  const port = values.port !== undefined ? Number(values.port) : Number(process.env['PORT'] ?? config.listen.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: not a port number: ${values.port}`, 2);
  const workers = values.workers === undefined ? 1 : values.workers === 'auto' ? availableParallelism() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) fail(`--workers: a number of processes (1-256) or "auto", not ${values.workers}`, 2);
  const grace = values.grace === undefined ? 30 : Number(values.grace);
  if (!Number.isFinite(grace) || grace < 0) fail(`--grace: seconds to finish in-flight requests at shutdown, not ${values.grace}`, 2);
  const host = values.host ?? config.listen.host;
  const banner = (url: string): string => `sluice ${pkg.version}: listening on ${url} (${values.config}${workers > 1 ? `, ${workers} workers` : ''})\n`;
  if (workers > 1 && cluster.isPrimary) {
    // The config was checked above, before any worker starts: a bad one exits non-zero here.
    const admin = config.admin ?? ADMIN_DEFAULTS;
    const adminUrl = admin.enabled
      ? await startClusterAdmin(workers, admin).then(
          (s) => s.url,
          // as in a single process: only a listener the config asks for must start
          (err: unknown) => (config.admin ? fail(`admin listener: ${err instanceof Error ? err.message : String(err)}`) : undefined),
        )
      : undefined;
    const adminLine = adminUrl ? `admin: ${adminUrl} (/healthz /readyz /metrics)\n` : '';
    runPrimary({ workers, graceMs: grace * 1000, say: (line) => void process.stderr.write(`${line}\n`), onListening: (url) => void process.stdout.write(`${banner(url)}${adminLine}`) });
    return;
  }
  await serve(config, { port, host, banner, file: values.config, watch: !values['no-watch'], graceMs: grace * 1000 });
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

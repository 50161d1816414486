/**
 * Start the Sluice that `sluice bench --url` loads, in a child process: the load generator
 * (autocannon, in this process) and the proxy must not share one event loop, or each would
 * slow the other and the figures would describe neither.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SluiceChild {
  /** Origin of the child's proxy, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const READY_MS = 30_000;

/**
 * The entry beside this module: child-main.js in the package, child-main.ts when Sluice runs
 * from source (under tsx, which the child then needs too).
 */
function entry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  return { file: fileURLToPath(new URL(`./child-main.${ts ? 'ts' : 'js'}`, import.meta.url)), execArgv: ts ? ['--import', 'tsx'] : [] };
}

export function startSluiceChild(configFile: string): Promise<SluiceChild> {
  const { file, execArgv } = entry();
  const child = spawn(process.execPath, [...execArgv, file, resolve(configFile)], {
    // stdin stays open: the child exits when it closes, so it never outlives this process
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    // keep the first few KiB: what a failing child said
    if (err.length < 8192) err += c.toString();
  });
  const stop = (): Promise<void> =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.stdin!.end();
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => {
      void stop();
      fail(new Error(`the Sluice child did not start listening within ${READY_MS / 1000} s${err ? `:\n${err.trim()}` : ''}`));
    }, READY_MS);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      fail(new Error(`the Sluice child exited (${code ?? 'signal'}) before listening${err ? `:\n${err.trim()}` : ''}`));
    };
    child.once('exit', onExit);
    child.once('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.stdout!.on('data', (c: Buffer) => {
      if (out.length > 65536) return;
      out += c.toString();
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // from now on its output is dropped (read, so a chatty child never blocks on a full pipe)
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      ready({ url: m[1]!, pid: child.pid!, stop });
    });
  });
}

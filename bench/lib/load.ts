import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SERVERS = fileURLToPath(new URL('./servers.mjs', import.meta.url));

export interface Child {
  readonly url: string;
  /** Process id (memory figures read /proc/<pid>/status; CPU and fault figures /proc/<pid>/stat). */
  readonly pid: number;
  stop(): Promise<void>;
}

/** Start one server of servers.mjs in its own process; resolves with its URL. */
export function startChild(spec: Record<string, unknown>): Promise<Child> {
  const ts = typeof spec['entry'] === 'string' && spec['entry'].endsWith('.ts');
  const child: ChildProcess = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), SERVERS, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)/.exec(out);
      if (m)
        resolve({
          url: m[1]!,
          pid: child.pid!,
          stop: () =>
            new Promise<void>((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGKILL');
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`${String(spec['kind'])} exited ${code}: ${err}`)));
  });
}

export interface LoadResult {
  /** autocannon's average of its per-second samples. */
  requestsPerSec: number;
  /** Responses completed, and the run's wall time: their quotient does not round to whole seconds. */
  completed: number;
  seconds: number;
  /** Response bytes per second, as read off the socket (compressed when compressed). */
  bytesPerSec: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
}

/** Closed-loop load with autocannon (a library, in this process) for `seconds`. */
export async function load(
  url: string,
  opts: { connections: number; seconds: number; headers?: Record<string, string>; sampleMs?: number },
): Promise<LoadResult> {
  // autocannon stops at its first sample tick after `seconds`: a short sample interval makes
  // fractional durations (and `seconds` in the result) close to what was asked.
  const r = await autocannon({ url, connections: opts.connections, duration: opts.seconds, headers: opts.headers ?? {}, ...(opts.sampleMs !== undefined && { sampleInt: opts.sampleMs }) });
  return {
    requestsPerSec: r.requests.average,
    completed: r.requests.total,
    seconds: r.duration,
    bytesPerSec: r.throughput.average,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

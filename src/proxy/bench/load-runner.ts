/**
 * Closed-loop HTTP load with autocannon, as a library in this process: N connections, each
 * sending its next request when the previous answer is in, for a number of seconds. Every
 * response's latency goes into a histogram of our own (autocannon's percentiles are whole
 * milliseconds, too coarse for loopback), and each second's completed requests into a series.
 */
import autocannon from 'autocannon';
import { LatencyHistogram, type Bucket } from './histogram.js';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Once a second: seconds done, requests completed in that second. */
  readonly onTick?: (elapsed: number, requests: number) => void;
  /** Aborting it stops the load early (the figures cover what ran). */
  readonly signal?: AbortSignal;
}

export interface LoadFigures {
  readonly url: string;
  /** Completed requests. */
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSec: number;
  /** Response bytes per second as read off the socket (compressed when the response is). */
  readonly bytesPerSec: number;
  /** ms. */
  readonly latency: { readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly p999: number; readonly max: number };
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** Responses per status code. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Latency distribution, four buckets per doubling (ms). */
  readonly histogram: readonly Bucket[];
  /** Requests completed in each whole second of the run. */
  readonly perSecond: readonly number[];
}

export async function runLoad(opts: LoadOptions): Promise<LoadFigures> {
  const hist = new LatencyHistogram();
  const statuses: Record<string, number> = {};
  const perSecond: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.seconds,
        method: opts.method as autocannon.Request['method'],
        headers: { ...opts.headers },
        ...(opts.body && { body: opts.body }),
      },
      (err: Error | null, r: autocannon.Result) => (err ? reject(err) : resolve(r)),
    );
    inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      hist.record(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
    // (autocannon passes the second's counts; its typings declare the listener without them)
    inst.on('tick', (...a: unknown[]) => {
      const t = a[0] as { counter: number };
      // autocannon's last tick reports the partial second at the stop (often 0): not a second.
      if (perSecond.length < Math.ceil(opts.seconds)) {
        perSecond.push(t.counter);
        opts.onTick?.(perSecond.length, t.counter);
      }
    });
    opts.signal?.addEventListener('abort', () => inst.stop(), { once: true });
  });
  const seconds = Math.max(result.duration, 1e-3);
  const requests = result.requests.total;
  return {
    url: opts.url,
    requests,
    seconds,
    requestsPerSec: requests / seconds,
    bytesPerSec: result.throughput.total / seconds,
    latency: {
      mean: hist.mean,
      p50: hist.percentile(50),
      p90: hist.percentile(90),
      p99: hist.percentile(99),
      p999: hist.percentile(99.9),
      max: hist.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statuses,
    histogram: hist.buckets(4),
    perSecond,
  };
}

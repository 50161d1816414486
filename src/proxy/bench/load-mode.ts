/**
 * `sluice bench --url`: load through Sluice and, with --compare-direct, the same load straight
 * at the location's upstream, one after the other in the same run.
 *
 * Sluice runs in a child process started here for the config (its own event loop and core),
 * unless --target names one already running: then whatever runs there is measured (workers,
 * another config), and --config only says which upstream --compare-direct loads. Before any
 * load, one request goes to each target, so an unreachable one fails at once with its
 * address instead of after a run full of errors.
 */
import { readFile } from 'node:fs/promises';
import { BenchTargetError } from '../../errors.js';
import type { CompiledLocation } from '../../pipeline/config/types.js';
import type { LoadArgs } from './args.js';
import { CONTENT_TYPES, kindOfFile } from './body.js';
import { withEdits, DEFAULT_REQUEST_HEADERS } from './chain-mode.js';
import { ms, num } from './format.js';
import { runLoad, type LoadFigures } from './load-runner.js';
import type { Progress } from './progress.js';
import type { LoadSection } from './report.js';
import { startSluiceChild, type SluiceChild } from './sluice-child.js';

/** `url`: the normalised request path and query (what the proxy sends upstream). */
export async function runLoadMode(args: LoadArgs, url: string, location: CompiledLocation, progress: Progress): Promise<LoadSection> {
  const body = args.bodyFile === undefined ? undefined : await readFile(args.bodyFile);
  const method = args.method ?? (body ? 'POST' : 'GET');
  const base = body ? { ...DEFAULT_REQUEST_HEADERS, 'content-type': CONTENT_TYPES[kindOfFile(args.bodyFile!)] } : DEFAULT_REQUEST_HEADERS;
  const headers = withEdits(base, args.requestHeaders);
  // autocannon sets Host from the URL; a user's own Host still goes through.
  if (!args.requestHeaders.some((h) => h.name === 'host')) delete headers['host'];
  // A fresh process needs a moment (JIT, keep-alive pools) before its rate settles.
  const warmup = args.warmup ?? Math.min(2, args.seconds / 5);

  let child: SluiceChild | undefined;
  try {
    let origin: string;
    if (args.target) origin = args.target.origin;
    else {
      progress.start('starting Sluice');
      child = await startSluiceChild(args.configFile);
      origin = child.url;
      progress.end(`pid ${child.pid} on ${origin}`);
    }
    const upstream = location.upstream.servers[0]!;
    const targets = [{ name: 'sluice', label: 'through Sluice', url: new URL(args.url, origin).href }];
    if (args.compareDirect) targets.push({ name: 'direct', label: `upstream directly (${upstream.origin})`, url: new URL(url, upstream.origin).href });

    for (const t of targets) await preflight(t.label, t.url, method, headers, body);

    const results: LoadFigures[] = [];
    for (const t of targets) {
      progress.start(`load ${t.label}`);
      if (warmup > 0) {
        progress.update(0, 'warming up');
        await runLoad({ url: t.url, connections: args.connections, seconds: warmup, method, headers, ...(body && { body }) });
      }
      const r = await runLoad({
        url: t.url,
        connections: args.connections,
        seconds: args.seconds,
        method,
        headers,
        ...(body && { body }),
        onTick: (elapsed, requests) => progress.update(elapsed / Math.ceil(args.seconds), `${num(requests)} req/s`),
      });
      progress.end(`${num(r.requestsPerSec)} req/s, p50 ${ms(r.latency.p50)}, p99 ${ms(r.latency.p99)}${r.errors + r.timeouts + r.non2xx > 0 ? `, ${r.errors + r.timeouts} errors, ${r.non2xx} non-2xx` : ''}`);
      results.push(r);
    }
    const [sluice, direct] = results as [LoadFigures, LoadFigures | undefined];
    const div = (a: number, b: number): number | null => (b > 0 ? a / b : null);
    return {
      connections: args.connections,
      duration: args.seconds,
      warmup,
      method,
      headers,
      target: args.target ? 'running' : 'child',
      sluice: copy(sluice),
      direct: direct ? copy(direct) : null,
      ratio: direct
        ? {
            requestsPerSec: div(sluice.requestsPerSec, direct.requestsPerSec) ?? 0,
            bytesPerSec: div(sluice.bytesPerSec, direct.bytesPerSec),
            p50: div(sluice.latency.p50, direct.latency.p50),
            p99: div(sluice.latency.p99, direct.latency.p99),
          }
        : null,
    };
  } finally {
    await child?.stop();
  }
}

async function preflight(label: string, url: string, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<void> {
  try {
    // (Node's Buffer is a Uint8Array body; the DOM typings want one over a plain ArrayBuffer)
    const r = await fetch(url, { method, headers, ...(body && { body: body as unknown as BodyInit }), signal: AbortSignal.timeout(10_000) });
    await r.arrayBuffer();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new BenchTargetError(`cannot reach ${label} at ${url}: ${cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))}`, err);
  }
}

function copy(f: LoadFigures): LoadSection['sluice'] {
  return { ...f, latency: { ...f.latency }, statuses: { ...f.statuses }, histogram: f.histogram.map((b) => ({ ...b })), perSecond: [...f.perSecond] };
}

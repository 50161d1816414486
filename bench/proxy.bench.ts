/**
 * End to end through real sockets: requests/s of Sluice against the upstream directly and
 * against @fastify/http-proxy (with @fastify/compress for the compressing workload), each
 * server in its own process, load from autocannon in this one. Rounds interleave the
 * contenders so that noise hits them alike; a ratio is the median of per-round ratios.
 * Every contender's body is checked (decoded, compared) before it is measured.
 */
import type { Goal } from './lib/figures.js';
import type { BenchGroup, GroupContext } from './lib/group.js';
import { load, startChild, type Child, type LoadResult } from './lib/load.js';
import { processCounters } from './lib/proc.js';

const KiB = 1024;

interface Contender {
  /** Figure name of its requests/s. */
  figure: string;
  url: string;
  /** The server process whose CPU time and page faults each round counts. */
  pid: number;
  /** What the decoded body must equal. */
  expect: (upstreamBody: Buffer) => Buffer;
  gzip: boolean;
}

async function fetchBody(url: string, gzip: boolean): Promise<Buffer> {
  const r = await fetch(url, { headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' } });
  // fetch decodes gzip itself; the check that the wire was gzip is the header
  if (gzip && r.headers.get('content-encoding') !== 'gzip') throw new Error(`${url}: expected a gzip response, got ${r.headers.get('content-encoding') ?? 'identity'}`);
  return Buffer.from(await r.arrayBuffer());
}

const served = (c: Child): { url: string; pid: number } => ({ url: `${c.url}/`, pid: c.pid });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One round of one contender: the load's result and, on Linux, what its server process spent. */
interface Sample extends LoadResult {
  /** Server CPU (all threads) per completed request, µs; null without /proc. */
  cpuUs: number | null;
  /** Server minor page faults per completed request; null without /proc. */
  faults: number | null;
}

/** Interleaved rounds; returns per-contender samples. */
async function rounds(ctx: GroupContext, cs: Contender[], opts: { rounds: number; seconds: number; connections: number }): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>(cs.map((c) => [c.figure, []]));
  // warm-up: JIT, pools, keep-alive connections
  for (const c of cs) await load(c.url, { connections: opts.connections, seconds: 1, headers: c.gzip ? { 'accept-encoding': 'gzip' } : {} });
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? cs : [...cs].reverse();
    for (const c of order) {
      const before = processCounters(c.pid);
      const res = await load(c.url, { connections: opts.connections, seconds: opts.seconds, headers: c.gzip ? { 'accept-encoding': 'gzip' } : {} });
      const after = processCounters(c.pid);
      if (res.errors > 0 || res.non2xx > 0) throw new Error(`${c.figure}: ${res.errors} errors, ${res.non2xx} non-2xx responses under load`);
      const per = (x: number): number | null => (res.completed > 0 ? x / res.completed : null);
      out.get(c.figure)!.push({
        ...res,
        cpuUs: before && after ? per((after.cpuMs - before.cpuMs) * 1000) : null,
        faults: before && after ? per(after.minorFaults - before.minorFaults) : null,
      });
    }
    const shown = (s: Sample): string => `${Math.round(s.requestsPerSec)}/s${s.cpuUs === null ? '' : ` (${Math.round(s.cpuUs)} µs, ${s.faults!.toFixed(1)} faults per request)`}`;
    ctx.log(`    round ${r + 1}/${opts.rounds}: ${cs.map((c) => `${c.figure.replace(/^proxy\./, '').replace(/_rps$/, '')} ${shown(out.get(c.figure)!.at(-1)!)}`).join(', ')}`);
  }
  return out;
}

/** What a comparison compares: a per-round value and the figure that reports it. */
interface Measure {
  of: (s: Sample) => number | null;
  figure: (contender: string) => string;
}
const rps: Measure = { of: (s) => s.requestsPerSec, figure: (c) => c };
const cpu: Measure = { of: (s) => s.cpuUs, figure: (c) => c.replace(/_rps$/, '_cpu_us_per_req') };

/** A comparison figure: the median of per-round ratios (ours ÷ baseline) of a measure. */
function record(ctx: GroupContext, samples: Map<string, Sample[]>, baseline: string, ours: string, ratioFigure: string, m: Measure, goal?: Goal): void {
  const o = samples.get(ours)!.map(m.of);
  const b = samples.get(baseline)!.map(m.of);
  const ratios = o.flatMap((x, i) => (x === null || b[i] == null ? [] : [x / b[i]!]));
  if (ratios.length === 0) return ctx.figures.skip(ratioFigure, 'no /proc/<pid>/stat on this system (Linux only)', goal);
  const ratio = median(ratios);
  const spread = (Math.max(...ratios) - Math.min(...ratios)) / 2 / ratio;
  ctx.figures.add(ratioFigure, { value: ratio, unit: 'ratio', baseline: m.figure(baseline), ratio }, { spread, samples: ratios.length, ...(goal && { goal }) });
}

/** A contender's requests/s, p99 latency and (on Linux) its server's CPU and page faults per request. */
function recordRate(ctx: GroupContext, samples: Map<string, Sample[]>, figure: string, baseline: string | null): void {
  const ss = samples.get(figure)!;
  const xs = ss.map((s) => s.requestsPerSec);
  const ratio = baseline ? median(xs.map((x, i) => x / samples.get(baseline)![i]!.requestsPerSec)) : null;
  const stem = figure.replace(/_rps$/, '');
  ctx.figures.add(figure, { value: median(xs), unit: 'req/s', baseline, ratio }, { samples: xs.length });
  ctx.figures.add(`${stem}_p99_ms`, { value: median(ss.map((s) => s.latency.p99)), unit: 'ms', baseline: null, ratio: null }, { samples: xs.length });
  if (ss.some((s) => s.cpuUs === null)) return;
  ctx.figures.add(`${stem}_cpu_us_per_req`, { value: median(ss.map((s) => s.cpuUs!)), unit: 'us', baseline: null, ratio: null }, { samples: xs.length });
  ctx.figures.add(`${stem}_faults_per_req`, { value: median(ss.map((s) => s.faults!)), unit: 'faults', baseline: null, ratio: null }, { samples: xs.length });
}

async function run(ctx: GroupContext): Promise<void> {
  const passNames = ['proxy.passthrough_vs_direct_64k', 'proxy.passthrough_vs_fastify_http_proxy_64k', 'proxy.passthrough_cpu_per_req_vs_fastify_http_proxy_64k'];
  const gzipNames = ['proxy.gzip_substitute_vs_fastify_compress_64k', 'proxy.gzip_substitute_cpu_per_req_vs_fastify_compress_64k'];
  if (!ctx.wants([...passNames, ...gzipNames])) return;
  const opts = ctx.mode === 'quick' ? { rounds: 2, seconds: 1, connections: 16 } : { rounds: 5, seconds: 5, connections: 16 };
  const children: Child[] = [];
  const start = async (spec: Record<string, unknown>): Promise<Child> => {
    const c = await startChild(spec);
    children.push(c);
    return c;
  };
  try {
    const upstreamChild = await start({ kind: 'upstream', bytes: 64 * KiB });
    const upstream = upstreamChild.url;
    const page = await fetchBody(`${upstream}/`, false);
    const sluiceConfig = (output: unknown[]): unknown => ({ upstreams: { app: { servers: [upstream] } }, locations: [{ path: '/', upstream: 'app', output }] });
    const substituted = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replaceAll('internal.example', 'public.example.org'), 'latin1');

    if (ctx.wants(passNames)) {
      ctx.log('  pass-through, 64 KiB HTML: upstream directly, Sluice (no filters), @fastify/http-proxy');
      const cs: Contender[] = [
        { figure: 'proxy.direct_64k_rps', ...served(upstreamChild), expect: (b) => b, gzip: false },
        { figure: 'proxy.sluice_passthrough_64k_rps', ...served(await start({ kind: 'sluice', entry: ctx.entry, config: sluiceConfig([]) })), expect: (b) => b, gzip: false },
        { figure: 'proxy.fastify_http_proxy_64k_rps', ...served(await start({ kind: 'fastify-http-proxy', upstream })), expect: (b) => b, gzip: false },
      ];
      for (const c of cs) if (!(await fetchBody(c.url, false)).equals(c.expect(page))) throw new Error(`${c.figure}: the body differs from the upstream's`);
      const s = await rounds(ctx, cs, opts);
      recordRate(ctx, s, 'proxy.direct_64k_rps', null);
      recordRate(ctx, s, 'proxy.sluice_passthrough_64k_rps', 'proxy.direct_64k_rps');
      recordRate(ctx, s, 'proxy.fastify_http_proxy_64k_rps', 'proxy.direct_64k_rps');
      record(ctx, s, 'proxy.direct_64k_rps', 'proxy.sluice_passthrough_64k_rps', 'proxy.passthrough_vs_direct_64k', rps);
      record(ctx, s, 'proxy.fastify_http_proxy_64k_rps', 'proxy.sluice_passthrough_64k_rps', 'proxy.passthrough_vs_fastify_http_proxy_64k', rps, { min: 1.2 });
      record(ctx, s, 'proxy.fastify_http_proxy_64k_rps', 'proxy.sluice_passthrough_64k_rps', 'proxy.passthrough_cpu_per_req_vs_fastify_http_proxy_64k', cpu);
    }

    if (ctx.wants(gzipNames)) {
      ctx.log('  gzip level 6 + literal substitution, 64 KiB HTML: Sluice vs @fastify/http-proxy + @fastify/compress (which does no substitution)');
      const sluice = await start({
        kind: 'sluice',
        entry: ctx.entry,
        config: sluiceConfig([
          { filter: 'substitute', options: { rules: ['s|internal.example|public.example.org|n'] } },
          { filter: 'gzip', options: { level: 6, minLength: 0 } },
        ]),
      });
      const cs: Contender[] = [
        { figure: 'proxy.fastify_compress_64k_rps', ...served(await start({ kind: 'fastify-http-proxy', upstream, compress: true })), expect: (b) => b, gzip: true },
        { figure: 'proxy.sluice_gzip_substitute_64k_rps', ...served(sluice), expect: substituted, gzip: true },
      ];
      for (const c of cs) if (!(await fetchBody(c.url, true)).equals(c.expect(page))) throw new Error(`${c.figure}: the decoded body is not what it should be`);
      const s = await rounds(ctx, cs, opts);
      recordRate(ctx, s, 'proxy.fastify_compress_64k_rps', null);
      recordRate(ctx, s, 'proxy.sluice_gzip_substitute_64k_rps', 'proxy.fastify_compress_64k_rps');
      record(ctx, s, 'proxy.fastify_compress_64k_rps', 'proxy.sluice_gzip_substitute_64k_rps', 'proxy.gzip_substitute_vs_fastify_compress_64k', rps, { min: 1.5 });
      record(ctx, s, 'proxy.fastify_compress_64k_rps', 'proxy.sluice_gzip_substitute_64k_rps', 'proxy.gzip_substitute_cpu_per_req_vs_fastify_compress_64k', cpu);
    }
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

export const proxyGroup: BenchGroup = {
  name: 'proxy',
  description: 'end to end over loopback: Sluice vs the upstream directly and vs @fastify/http-proxy (+compress)',
  run,
};

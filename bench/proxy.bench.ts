/**
 * End to end through real sockets: requests/s of Sluice against the upstream directly and
 * against @fastify/http-proxy (with @fastify/compress for the compressing workload), each
 * server in its own process, load from autocannon in this one. Rounds interleave the
 * contenders so that noise hits them alike; a ratio is the median of per-round ratios.
 * Every contender's body is checked (decoded, compared) before it is measured.
 */
import type { BenchGroup, GroupContext } from './lib/group.js';
import { load, startChild, type Child, type LoadResult } from './lib/load.js';

const KiB = 1024;

interface Contender {
  /** Figure name of its requests/s. */
  figure: string;
  url: string;
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Interleaved rounds; returns per-contender samples of requests/s. */
async function rounds(ctx: GroupContext, cs: Contender[], opts: { rounds: number; seconds: number; connections: number }): Promise<Map<string, LoadResult[]>> {
  const out = new Map<string, LoadResult[]>(cs.map((c) => [c.figure, []]));
  // warm-up: JIT, pools, keep-alive connections
  for (const c of cs) await load(c.url, { connections: opts.connections, seconds: 1, headers: c.gzip ? { 'accept-encoding': 'gzip' } : {} });
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? cs : [...cs].reverse();
    for (const c of order) {
      const res = await load(c.url, { connections: opts.connections, seconds: opts.seconds, headers: c.gzip ? { 'accept-encoding': 'gzip' } : {} });
      if (res.errors > 0 || res.non2xx > 0) throw new Error(`${c.figure}: ${res.errors} errors, ${res.non2xx} non-2xx responses under load`);
      out.get(c.figure)!.push(res);
    }
    ctx.log(`    round ${r + 1}/${opts.rounds}: ${cs.map((c) => `${c.figure.replace(/^proxy\./, '')} ${Math.round(out.get(c.figure)!.at(-1)!.requestsPerSec)}/s`).join(', ')}`);
  }
  return out;
}

function record(ctx: GroupContext, samples: Map<string, LoadResult[]>, baseline: string, figure: string, ratioFigure: string, goal?: { min: number }): void {
  const ours = samples.get(figure)!.map((s) => s.requestsPerSec);
  const base = samples.get(baseline)!.map((s) => s.requestsPerSec);
  const ratios = ours.map((o, i) => o / base[i]!);
  const ratio = median(ratios);
  const spread = (Math.max(...ratios) - Math.min(...ratios)) / 2 / ratio;
  ctx.figures.add(ratioFigure, { value: ratio, unit: 'ratio', baseline, ratio }, { spread, samples: ratios.length, ...(goal && { goal }) });
}

function recordRate(ctx: GroupContext, samples: Map<string, LoadResult[]>, figure: string, baseline: string | null): void {
  const xs = samples.get(figure)!.map((s) => s.requestsPerSec);
  const v = median(xs);
  const ratio = baseline ? median(xs.map((x, i) => x / samples.get(baseline)!.map((s) => s.requestsPerSec)[i]!)) : null;
  ctx.figures.add(figure, { value: v, unit: 'req/s', baseline, ratio }, { samples: xs.length });
  const p99 = median(samples.get(figure)!.map((s) => s.latency.p99));
  ctx.figures.add(`${figure.replace(/_rps$/, '')}_p99_ms`, { value: p99, unit: 'ms', baseline: null, ratio: null }, { samples: xs.length });
}

async function run(ctx: GroupContext): Promise<void> {
  const names = [
    'proxy.passthrough_vs_direct_64k',
    'proxy.passthrough_vs_fastify_http_proxy_64k',
    'proxy.gzip_substitute_vs_fastify_compress_64k',
  ];
  if (!ctx.wants(names)) return;
  const opts = ctx.mode === 'quick' ? { rounds: 2, seconds: 1, connections: 16 } : { rounds: 5, seconds: 5, connections: 16 };
  const children: Child[] = [];
  const start = async (spec: Record<string, unknown>): Promise<string> => {
    const c = await startChild(spec);
    children.push(c);
    return c.url;
  };
  try {
    const upstream = await start({ kind: 'upstream', bytes: 64 * KiB });
    const page = await fetchBody(`${upstream}/`, false);
    const sluiceConfig = (output: unknown[]): unknown => ({ upstreams: { app: { servers: [upstream] } }, locations: [{ path: '/', upstream: 'app', output }] });
    const substituted = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replaceAll('internal.example', 'public.example.org'), 'latin1');

    if (ctx.wants(names.slice(0, 2))) {
      ctx.log('  pass-through, 64 KiB HTML: upstream directly, Sluice (no filters), @fastify/http-proxy');
      const cs: Contender[] = [
        { figure: 'proxy.direct_64k_rps', url: `${upstream}/`, expect: (b) => b, gzip: false },
        { figure: 'proxy.sluice_passthrough_64k_rps', url: `${await start({ kind: 'sluice', entry: ctx.entry, config: sluiceConfig([]) })}/`, expect: (b) => b, gzip: false },
        { figure: 'proxy.fastify_http_proxy_64k_rps', url: `${await start({ kind: 'fastify-http-proxy', upstream })}/`, expect: (b) => b, gzip: false },
      ];
      for (const c of cs) if (!(await fetchBody(c.url, false)).equals(c.expect(page))) throw new Error(`${c.figure}: the body differs from the upstream's`);
      const s = await rounds(ctx, cs, opts);
      recordRate(ctx, s, 'proxy.direct_64k_rps', null);
      recordRate(ctx, s, 'proxy.sluice_passthrough_64k_rps', 'proxy.direct_64k_rps');
      recordRate(ctx, s, 'proxy.fastify_http_proxy_64k_rps', 'proxy.direct_64k_rps');
      record(ctx, s, 'proxy.direct_64k_rps', 'proxy.sluice_passthrough_64k_rps', 'proxy.passthrough_vs_direct_64k');
      record(ctx, s, 'proxy.fastify_http_proxy_64k_rps', 'proxy.sluice_passthrough_64k_rps', 'proxy.passthrough_vs_fastify_http_proxy_64k', { min: 1.2 });
    }

    if (ctx.wants(names.slice(2))) {
      ctx.log('  gzip level 6 + literal substitution, 64 KiB HTML: Sluice vs @fastify/http-proxy + @fastify/compress (which does no substitution)');
      const sluiceUrl = await start({
        kind: 'sluice',
        entry: ctx.entry,
        config: sluiceConfig([
          { filter: 'substitute', options: { rules: ['s|internal.example|public.example.org|n'] } },
          { filter: 'gzip', options: { level: 6, minLength: 0 } },
        ]),
      });
      const cs: Contender[] = [
        { figure: 'proxy.fastify_compress_64k_rps', url: `${await start({ kind: 'fastify-http-proxy', upstream, compress: true })}/`, expect: (b) => b, gzip: true },
        { figure: 'proxy.sluice_gzip_substitute_64k_rps', url: `${sluiceUrl}/`, expect: substituted, gzip: true },
      ];
      for (const c of cs) if (!(await fetchBody(c.url, true)).equals(c.expect(page))) throw new Error(`${c.figure}: the decoded body is not what it should be`);
      const s = await rounds(ctx, cs, opts);
      recordRate(ctx, s, 'proxy.fastify_compress_64k_rps', null);
      recordRate(ctx, s, 'proxy.sluice_gzip_substitute_64k_rps', 'proxy.fastify_compress_64k_rps');
      record(ctx, s, 'proxy.fastify_compress_64k_rps', 'proxy.sluice_gzip_substitute_64k_rps', 'proxy.gzip_substitute_vs_fastify_compress_64k', { min: 1.5 });
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

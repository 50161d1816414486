/**
 * Sluice against nginx and Apache httpd doing the same work over loopback: pass-through, and
 * literal substitution + gzip level 6, on 1 KiB, 64 KiB and 1 MiB HTML from one upstream.
 * Every server is one serving process (Sluice: one process, no workers; nginx: one worker;
 * Apache: one event-MPM child), started for the group and stopped after it; bodies are
 * checked first (each peer's decoded body must equal Sluice's, which must equal the expected
 * bytes). Load is autocannon's, as in the proxy group; rounds interleave the contenders and a
 * ratio is the median of per-round ratios Sluice ÷ peer. A peer that is not installed
 * (bench/peers-setup.sh) or fails to start has its figures reported as skipped, with why.
 */
import type { BenchGroup, GroupContext } from './lib/group.js';
import { load, startChild, type Child, type LoadResult } from './lib/load.js';
import { SUBSTITUTION, peerMissing, startPeer, type Peer, type PeerName } from './lib/peers.js';
import { median, relativeSpread } from './lib/stats.js';

const KiB = 1024;
const SIZES = [
  ['1k', KiB],
  ['64k', 64 * KiB],
  ['1m', 1024 * KiB],
] as const;

interface Workload {
  readonly kind: 'passthrough' | 'gzip_substitute';
  /** Location prefix on every contender (see lib/peers.ts and the Sluice config below). */
  readonly prefix: string;
  readonly gzip: boolean;
}
const WORKLOADS: readonly Workload[] = [
  { kind: 'passthrough', prefix: '/pass/', gzip: false },
  { kind: 'gzip_substitute', prefix: '/sub/', gzip: true },
];
const PEERS: readonly PeerName[] = ['nginx', 'apache'];

/** The Sluice figure names of this group (ratios), for --only and for skipping. */
const ratioName = (peer: PeerName, w: Workload, size: string): string => `peer.${peer}_${w.kind}_${size}`;
const peerRateName = (peer: PeerName, w: Workload, size: string): string => `baseline.${peer}_${w.kind}_${size}_rps`;
const sluiceRateName = (w: Workload, size: string): string => `peer.sluice_${w.kind}_${size}_rps`;

interface Contender {
  readonly name: 'sluice' | PeerName;
  readonly base: string;
}

async function fetchBody(url: string, gzip: boolean): Promise<Buffer> {
  const r = await fetch(url, { headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' } });
  if (r.status !== 200) throw new Error(`${url}: status ${r.status}`);
  const ce = r.headers.get('content-encoding');
  // fetch decodes gzip itself; that the wire was gzip is in the header
  if (gzip ? ce !== 'gzip' : ce !== null) throw new Error(`${url}: Content-Encoding ${ce ?? 'none'}, expected ${gzip ? 'gzip' : 'none'}`);
  return Buffer.from(await r.arrayBuffer());
}

/** Every contender's decoded body must equal the expected bytes (so Sluice's too). */
async function checkBodies(cs: readonly Contender[], w: Workload, size: string, upstreamBody: Buffer): Promise<void> {
  const expected =
    w.kind === 'passthrough' ? upstreamBody : Buffer.from(upstreamBody.toString('latin1').replaceAll(SUBSTITUTION.from, SUBSTITUTION.to), 'latin1');
  if (w.kind !== 'passthrough' && expected.equals(upstreamBody)) throw new Error(`the ${size} page has nothing to substitute`);
  for (const c of cs) {
    const body = await fetchBody(`${c.base}${w.prefix}${size}`, w.gzip);
    if (!body.equals(expected)) throw new Error(`${c.name} ${w.kind} ${size}: the decoded body (${body.length} bytes) differs from the expected ${expected.length} bytes`);
  }
}

/** Completed responses per second of wall time (autocannon's own average is of whole-second buckets). */
const rate = (r: LoadResult): number => r.completed / r.seconds;

async function run(ctx: GroupContext): Promise<void> {
  const all = PEERS.flatMap((p) => WORKLOADS.flatMap((w) => SIZES.map(([size]) => ratioName(p, w, size))));
  if (!ctx.wants(all)) return;
  // A rate is responses completed in a window, so responses still in flight when it closes are
  // lost: a 1 MiB gzip response takes tens of ms of CPU, so its windows are longer and it gets
  // fewer connections (lower latency), keeping that loss to a few percent.
  const big = (bytes: number): boolean => bytes >= 1024 * KiB;
  const opts =
    ctx.mode === 'quick'
      ? { rounds: 2, warmup: 0.2, seconds: (b: number) => (big(b) ? 1 : 0.3) }
      : { rounds: 5, warmup: 1, seconds: (b: number) => (big(b) ? 4 : 2) };
  const connections = (b: number): number => (big(b) ? 4 : 16);

  const children: Child[] = [];
  const peers: Peer[] = [];
  try {
    const sizes = Object.fromEntries(SIZES);
    const upstream = await startChild({ kind: 'upstream', sizes });
    children.push(upstream);
    const present: PeerName[] = [];
    for (const p of PEERS) {
      const missing = peerMissing(p);
      let why = missing;
      if (!missing) {
        try {
          peers.push(await startPeer(p, upstream.url));
          present.push(p);
        } catch (err) {
          why = `${p} did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
        }
      }
      if (why) {
        ctx.log(`  ${p}: skipped (${why})`);
        for (const w of WORKLOADS) for (const [size] of SIZES) ctx.figures.skip(ratioName(p, w, size), why);
      }
    }
    if (present.length === 0) return;
    ctx.log(`  peers: ${peers.map((p) => p.version).join(', ')}; Sluice in one process`);

    const sluice = await startChild({
      kind: 'sluice',
      entry: ctx.entry,
      config: {
        upstreams: { app: { servers: [upstream.url] } },
        locations: [
          { path: '/pass/', upstream: 'app', output: [] },
          {
            path: '/sub/',
            upstream: 'app',
            output: [
              { filter: 'substitute', options: { rules: [`s|${SUBSTITUTION.from}|${SUBSTITUTION.to}|n`] } },
              { filter: 'gzip', options: { level: 6, minLength: 0 } },
            ],
          },
        ],
      },
    });
    children.push(sluice);
    const cs: Contender[] = [{ name: 'sluice', base: sluice.url }, ...peers.map((p) => ({ name: p.name, base: p.url }))];
    // Sluice is JIT-compiled: warm its proxy path and both chains once, longer than the short
    // per-workload warm-ups (which the C servers need only for connections and caches).
    for (const w of WORKLOADS) {
      await load(`${sluice.url}${w.prefix}64k`, { connections: 16, seconds: ctx.mode === 'quick' ? 1 : 2, headers: w.gzip ? { 'accept-encoding': 'gzip' } : {}, sampleMs: 100 });
    }

    for (const w of WORKLOADS) {
      for (const [size, bytes] of SIZES) {
        const wanted = present.filter((p) => ctx.wants([ratioName(p, w, size)]));
        if (wanted.length === 0) continue;
        const these = cs.filter((c) => c.name === 'sluice' || wanted.includes(c.name));
        const upstreamBody = await fetchBody(`${upstream.url}/${size}`, false);
        if (upstreamBody.length !== bytes) throw new Error(`upstream sent ${upstreamBody.length} bytes for ${size}`);
        await checkBodies(these, w, size, upstreamBody);
        ctx.log(`  ${w.kind} ${size}: ${these.map((c) => c.name).join(', ')} (bodies checked)`);
        const headers: Record<string, string> = w.gzip ? { 'accept-encoding': 'gzip' } : {};
        const samples = new Map<string, LoadResult[]>(these.map((c) => [c.name, []]));
        const url = (c: Contender): string => `${c.base}${w.prefix}${size}`;
        const loadOpts = { connections: connections(bytes), headers, sampleMs: 100 };
        // warm-up: JIT, pools, keep-alive connections to the upstream
        for (const c of these) await load(url(c), { ...loadOpts, seconds: opts.warmup });
        for (let r = 0; r < opts.rounds; r++) {
          const order = these.map((_, i) => these[(i + r) % these.length]!);
          for (const c of order) {
            const res = await load(url(c), { ...loadOpts, seconds: opts.seconds(bytes) });
            if (res.errors > 0 || res.non2xx > 0) throw new Error(`${c.name} ${w.kind} ${size}: ${res.errors} errors, ${res.non2xx} non-2xx responses under load`);
            if (res.completed === 0) throw new Error(`${c.name} ${w.kind} ${size}: no response completed in ${res.seconds} s (an overloaded machine?)`);
            samples.get(c.name)!.push(res);
          }
          ctx.log(`    round ${r + 1}/${opts.rounds}: ${these.map((c) => `${c.name} ${Math.round(rate(samples.get(c.name)!.at(-1)!))}/s`).join(', ')}`);
        }
        const rps = (name: string): number[] => samples.get(name)!.map(rate);
        const ours = rps('sluice');
        ctx.figures.add(sluiceRateName(w, size), { value: median(ours), unit: 'req/s', baseline: null, ratio: null }, { spread: relativeSpread(ours), samples: ours.length });
        for (const p of wanted) {
          const theirs = rps(p);
          const ratios = ours.map((o, i) => o / theirs[i]!);
          const ratio = median(ratios);
          ctx.figures.add(peerRateName(p, w, size), { value: median(theirs), unit: 'req/s', baseline: null, ratio: null }, { spread: relativeSpread(theirs), samples: theirs.length });
          ctx.figures.add(ratioName(p, w, size), { value: ratio, unit: 'ratio', baseline: peerRateName(p, w, size), ratio }, { spread: relativeSpread(ratios), samples: ratios.length });
        }
      }
    }
  } finally {
    await Promise.all([...children.map((c) => c.stop()), ...peers.map((p) => p.stop())]);
  }
}

export const peersGroup: BenchGroup = {
  name: 'peers',
  description: 'Sluice vs nginx and Apache httpd (when installed): pass-through and substitute+gzip, 1k/64k/1m HTML',
  run,
};

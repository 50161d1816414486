import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { median, pairedRatios, relativeSpread } from './stats.js';

/**
 * A forced full GC, for SLUICE_BENCH_GC=1 runs (see interleave for why it is off by default).
 * `npm run bench` runs under tsx, where `--expose-gc` cannot be passed through package.json;
 * turning the flag on at run time and taking `gc` from a fresh context works in Node 20.
 * Without it (another runtime) this is a no-op.
 */
const gc: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    if (typeof f === 'function') return f as () => void;
  } catch {
    // fall through
  }
  return () => undefined;
})();

/** The old method, kept to compare with: a forced full GC before every repetition. */
const forcedGc = process.env.SLUICE_BENCH_GC === '1';

/** Nanoseconds from a monotonic clock. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/**
 * One thing to measure. `op` performs one operation (typically one whole message through a
 * chain) and returns the payload bytes it moved; the caller checks they are the same every
 * time, so a case that silently does nothing cannot look fast.
 */
export interface Case {
  readonly id: string;
  op(): Promise<number> | number;
}

export interface Settings {
  /** Measured repetitions per case (after warm-up). */
  reps: number;
  /** Wall time one repetition of one case should take; sets the operations per repetition. */
  targetMs: number;
  /** Warm-up (and calibration) time per case before the first measured repetition. */
  warmupMs: number;
}

export interface Samples {
  readonly id: string;
  /** Payload bytes of one operation. */
  readonly bytesPerOp: number;
  readonly opsPerRep: number;
  /** One per repetition, in repetition order (index i of every case was measured in round i). */
  readonly mbps: number[];
  readonly nsPerOp: number[];
}

interface Timed {
  ns: number;
  bytes: number;
}

async function timeOps(c: Case, ops: number): Promise<Timed> {
  const t0 = nowNs();
  let bytes = 0;
  for (let k = 0; k < ops; k++) {
    const r = c.op();
    bytes += typeof r === 'number' ? r : await r;
  }
  return { ns: Number(nowNs() - t0), bytes };
}

/**
 * Measure cases against each other in the same process: warm every case up (which also
 * calibrates how many operations make one repetition of about `targetMs`), then run
 * `reps` rounds, each round running every case once, the order rotating from round to round
 * so no case always runs first or last. One full GC precedes the warm-up (none between
 * repetitions: see below). Samples of round i of different cases are neighbours in time:
 * their ratio is the paired comparison that survives a noisy machine.
 */
export async function interleave(cases: readonly Case[], s: Settings, log: (line: string) => void = () => undefined): Promise<Map<string, Samples>> {
  if (cases.length === 0) throw new Error('interleave: no cases');
  const bytesPerOp = new Map<string, number>();
  const perOpNs = new Map<string, number>();
  const warmed = new Map<string, number>();
  const batch = new Map<string, number>();
  for (const c of cases) {
    warmed.set(c.id, 0);
    batch.set(c.id, 1);
  }

  // No forced GC, here or between repetitions. A forced full GC resets V8's heap and
  // external-memory limits; a case that allocates Buffers then runs in a regime of back-to-back
  // "external memory pressure" collections, its freed pages re-faulted from the host, for
  // hundreds of operations: a state a server (which never forces a GC) does not see. Measured
  // on substitute's 1 MiB case: 1,600 MB/s without, 530-1,100 with; allocation-free baselines
  // (an indexOf scan) are unaffected, so the forced GC skewed every ratio against the case that
  // produces output, and made the codec figures depend on which comparison ran before. A case
  // pays for its own collections anyway: its allocations trigger them, on its clock.
  // SLUICE_BENCH_GC=1 brings the forced GCs back, to compare.
  // Warm-up rounds, interleaved too: each case runs a batch (doubling while short) until it
  // has had warmupMs of running.
  const warmupNs = s.warmupMs * 1e6;
  for (let round = 0; [...warmed.values()].some((v) => v < warmupNs) || round < 2; round++) {
    for (const c of cases) {
      if (round >= 2 && warmed.get(c.id)! >= warmupNs) continue;
      const ops = batch.get(c.id)!;
      const t = await timeOps(c, ops);
      const per = t.bytes / ops;
      const seen = bytesPerOp.get(c.id);
      if (seen !== undefined && seen !== per) throw new Error(`${c.id}: an operation moved ${per} bytes, earlier ${seen}`);
      bytesPerOp.set(c.id, per);
      perOpNs.set(c.id, t.ns / ops);
      warmed.set(c.id, warmed.get(c.id)! + t.ns);
      if (t.ns < warmupNs / 4) batch.set(c.id, ops * 2);
    }
  }

  const out = new Map<string, Samples>();
  for (const c of cases) {
    const opsPerRep = Math.max(1, Math.round((s.targetMs * 1e6) / perOpNs.get(c.id)!));
    out.set(c.id, { id: c.id, bytesPerOp: bytesPerOp.get(c.id)!, opsPerRep, mbps: [], nsPerOp: [] });
  }

  for (let r = 0; r < s.reps; r++) {
    const order = cases.map((_, i) => cases[(i + r) % cases.length]!);
    for (const c of order) {
      const smp = out.get(c.id)!;
      if (forcedGc) gc();
      const t = await timeOps(c, smp.opsPerRep);
      const expected = smp.bytesPerOp * smp.opsPerRep;
      if (t.bytes !== expected) throw new Error(`${c.id}: a repetition moved ${t.bytes} bytes, expected ${expected}`);
      smp.mbps.push((t.bytes / t.ns) * 1e3); // bytes/ns × 1e9 / 1e6 = MB/s
      smp.nsPerOp.push(t.ns / smp.opsPerRep);
    }
  }
  for (const smp of out.values()) {
    log(`    ${smp.id}: ${smp.opsPerRep} op/rep, median ${median(smp.mbps).toFixed(1)} MB/s ±${(relativeSpread(smp.mbps) * 100).toFixed(1)}%`);
  }
  return out;
}

/** Median and spread of one case's throughput. */
export function throughput(s: Samples): { value: number; spread: number; samples: number } {
  return { value: median(s.mbps), spread: relativeSpread(s.mbps), samples: s.mbps.length };
}

/** Median and spread of the per-round ratio ours ÷ baseline of two cases measured together. */
export function pairedRatio(ours: Samples, base: Samples): { value: number; spread: number; samples: number } {
  const r = pairedRatios(ours.mbps, base.mbps);
  return { value: median(r), spread: relativeSpread(r), samples: r.length };
}

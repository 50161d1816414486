/**
 * One chain, in this process, over one body, again and again: MB/s for the whole chain, and
 * where its time goes, filter by filter.
 *
 * Messages alternate between two runs of the same compiled chain. Plain messages run exactly
 * as the proxy runs them (no accounting) and give the chain's MB/s. Instrumented messages run
 * with the runtime's per-filter accounting (`instrument: true`: bytes in and out, synchronous
 * time) and a timeline of what each filter left pending (timeline.ts), and give the shares.
 * The clock reads of accounting cost 40-80 ns per callback; keeping them out of the MB/s
 * figure keeps that honest even with small chunks.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CompiledChain, type MessageInit } from '../../pipeline/compile.js';
import type { CompiledEntry } from '../../pipeline/compiled-entry.js';
import type { FilterStats, RunStats } from '../../pipeline/meter.js';
import type { ChainSink } from '../../pipeline/run.js';
import { pump } from '../../pipeline/source.js';
import type { Direction, HeadPhase } from '../../filters/types.js';
import type { StopRule } from './args.js';
import { Timeline } from './timeline.js';

export interface ChainBenchInput {
  readonly chain: CompiledChain;
  /** A fresh head per message (a run locks its headers at the commit). */
  readonly init: () => MessageInit;
  readonly chunks: readonly Uint8Array[];
  readonly stop: StopRule;
  /** Unmeasured messages first: JIT, pools, lazily built tables. */
  readonly warmup: { readonly seconds: number } | { readonly messages: number };
  readonly onProgress?: (p: ChainProgress) => void;
}

export interface ChainProgress {
  /** 0..1 of the measured part. */
  readonly fraction: number;
  readonly messages: number;
  /** MB/s so far (plain messages). */
  readonly mbps: number;
}

/** One filter that stayed, per message (times are means over the instrumented messages). */
export interface FilterFigures {
  readonly name: string;
  readonly filter: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** ms per message in its own callbacks, on this thread (the runtime's meter). */
  readonly syncMs: number;
  /** ms per message the chain waited on its pending work (node:zlib's thread pool, timers). */
  readonly waitMs: number;
  readonly ms: number;
  /** Of the chain's wall-clock time per message. */
  readonly share: number;
  /** MB/s of this filter alone: its bytes in over its time; null when it took no measurable time. */
  readonly mbps: number | null;
}

export interface ChainFigures {
  readonly direction: Direction;
  /** The chain in execution order, e.g. `substitute (content) → compress (encoding)`. */
  readonly chain: string;
  readonly filters: readonly FilterFigures[];
  /** Chain entries that did not run for this message (passed on, or a condition that did not hold). */
  readonly passedOn: readonly string[];
  /** The runtime, the source and the sink: the rest of the wall-clock time. */
  readonly other: { readonly ms: number; readonly share: number };
  /** Per message. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** bytesIn / bytesOut: 4 means the output is a quarter of the input; null for no output. */
  readonly ratio: number | null;
  /** Measured messages (plain and instrumented), after the warm-up. */
  readonly messages: number;
  /** Wall-clock seconds of the measured messages. */
  readonly seconds: number;
  /** Of the whole chain, from the plain messages: input bytes per second / 1e6. */
  readonly mbps: number;
  /** Mean ms per plain message. */
  readonly msPerMessage: number;
  /** The head as the chain committed it (the output chain's response head, the input chain's request head). */
  readonly head: { readonly status: number; readonly headers: Readonly<Record<string, string>> };
}

const now = (): number => performance.now();

interface Sums {
  wall: number;
  sync: number[];
  wait: number[];
}

export async function benchChain(input: ChainBenchInput): Promise<ChainFigures> {
  const { chain, chunks, stop } = input;
  const bytesPerMessage = chunks.reduce((n, c) => n + c.length, 0);
  const n = chain.entries.length;
  let timeline = new Timeline(n);
  // The same entries, each instance seen through the current message's timeline.
  const timedEntries = chain.entries.map(
    (e, k): CompiledEntry => ({ ...e, def: { ...e.def, create: (ctx) => timeline.wrap(e.def.create(ctx), k) } }),
  );
  const timed = new CompiledChain(chain.direction, timedEntries, true);

  let head: ChainFigures['head'] | undefined;
  let lastOut = 0;
  let lastStats: { active: number[]; filters: readonly FilterStats[] } | undefined;
  const sums: Sums = { wall: 0, sync: new Array<number>(n).fill(0), wait: new Array<number>(n).fill(0) };
  let instrumented = 0;
  let plain = 0;
  let plainMs = 0;
  let measuredMs = 0;

  const message = async (withAccounting: boolean): Promise<number> => {
    let out = 0;
    const counting: ChainSink = {
      head: (h: HeadPhase) => {
        head ??= { status: h.status, headers: Object.fromEntries(h.headers) };
      },
      write: (c) => void (out += c.length),
      end: () => undefined,
    };
    if (!withAccounting) {
      const t0 = now();
      const run = chain.run(input.init(), counting);
      await run.start();
      await pump(run, chunks);
      const ms = now() - t0;
      lastOut = out;
      return ms;
    }
    timeline = new Timeline(n);
    const sink = timeline.wrapSink(counting);
    const t0 = now();
    const run = timed.run(input.init(), sink, { instrument: true });
    await run.start();
    await pump(run, chunks);
    const t1 = now();
    const stats = statsOf(run.stats(), timeline);
    const att = timeline.attribute(t0, t1);
    sums.wall += t1 - t0;
    stats.active.forEach((k, i) => {
      sums.sync[k]! += stats.filters[i]!.ms;
      sums.wait[k]! += att.waitMs[k]!;
    });
    lastStats = stats;
    lastOut = out;
    return t1 - t0;
  };

  // ---- warm-up: both variants, unmeasured -------------------------------------------------
  const w = input.warmup;
  const warmUntil = 'seconds' in w ? now() + w.seconds * 1000 : Infinity;
  const warmCount = 'messages' in w ? w.messages : Infinity;
  for (let i = 0; i < warmCount && now() < warmUntil; i++) await message(i % 2 === 0);
  sums.wall = 0;
  sums.sync.fill(0);
  sums.wait.fill(0);

  // ---- measured ---------------------------------------------------------------------------
  const started = now();
  const deadline = stop.kind === 'duration' ? started + stop.seconds * 1000 : Infinity;
  let lastReport = started;
  for (let i = 0; ; i++) {
    if (stop.kind === 'iterations' ? i >= stop.count : i > 0 && now() >= deadline) break;
    // Instrumented first, so a single message still gives the shares.
    const withAccounting = i % 2 === 0;
    const ms = await message(withAccounting);
    measuredMs += ms;
    if (withAccounting) instrumented++;
    else {
      plain++;
      plainMs += ms;
    }
    const t = now();
    if (t - lastReport >= 100) {
      lastReport = t;
      const fraction = stop.kind === 'iterations' ? (i + 1) / stop.count : (t - started) / (stop.seconds * 1000);
      input.onProgress?.({ fraction: Math.min(1, fraction), messages: i + 1, mbps: mbps(bytesPerMessage, plain || instrumented, plain ? plainMs : sums.wall) });
      // A chain of synchronous filters never yields on its own: let signals and timers in.
      await yieldToLoop();
    }
  }
  input.onProgress?.({ fraction: 1, messages: plain + instrumented, mbps: mbps(bytesPerMessage, plain || instrumented, plain ? plainMs : sums.wall) });

  const stats = lastStats!;
  const perMessage = (x: number): number => x / instrumented;
  const wall = perMessage(sums.wall);
  const filters: FilterFigures[] = stats.active.map((k, i) => {
    const f = stats.filters[i]!;
    const syncMs = perMessage(sums.sync[k]!);
    const waitMs = perMessage(sums.wait[k]!);
    const ms = syncMs + waitMs;
    return { name: f.name, filter: f.filter, bytesIn: f.bytesIn, bytesOut: f.bytesOut, syncMs, waitMs, ms, share: wall > 0 ? ms / wall : 0, mbps: ms > 0 ? f.bytesIn / ms / 1e3 : null };
  });
  const accounted = filters.reduce((s, f) => s + f.ms, 0);
  const otherMs = Math.max(0, wall - accounted);
  const activeSet = new Set(stats.active);
  // Throughput from plain messages; a run of a single message has only an instrumented one.
  const figureMs = plain > 0 ? plainMs / plain : wall;
  return {
    direction: chain.direction,
    chain: chain.describe(),
    filters,
    passedOn: chain.entries.filter((_, k) => !activeSet.has(k)).map((e) => e.name),
    other: { ms: otherMs, share: wall > 0 ? otherMs / wall : 0 },
    bytesIn: bytesPerMessage,
    bytesOut: lastOut,
    ratio: lastOut > 0 ? bytesPerMessage / lastOut : null,
    messages: plain + instrumented,
    seconds: measuredMs / 1000,
    mbps: figureMs > 0 ? bytesPerMessage / figureMs / 1e3 : 0,
    msPerMessage: figureMs,
    head: head ?? { status: 0, headers: {} },
  };
}

function mbps(bytesPerMessage: number, messages: number, ms: number): number {
  return ms > 0 ? (bytesPerMessage * messages) / ms / 1e3 : 0;
}

/**
 * The run's per-filter figures, with the chain entry each belongs to: the entries that
 * received end of stream are the ones that stayed, in the same order as the figures.
 */
function statsOf(stats: RunStats | undefined, timeline: Timeline): { active: number[]; filters: readonly FilterStats[] } {
  if (stats === undefined) throw new Error('an instrumented run gave no figures (a bug)');
  const active: number[] = [];
  timeline.ended.forEach((e, k) => e && active.push(k));
  if (active.length !== stats.filters.length) throw new Error(`per-filter figures for ${stats.filters.length} filters, ${active.length} ran to the end (a bug)`);
  return { active, filters: stats.filters };
}

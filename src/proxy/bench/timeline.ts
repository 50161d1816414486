/**
 * Where a message's wall-clock time goes when filters are asynchronous.
 *
 * The runtime's meter (pipeline/meter.ts) charges each filter the synchronous time of its own
 * callbacks. That is the whole story for a synchronous filter, but not for one that hands
 * its work off the thread: node:zlib compresses in the libuv thread pool, so gzip's callbacks
 * return at once and the chain then *waits* for it. Counting only synchronous time, a chain
 * of substitute and gzip would show gzip at a few percent and leave most of the time
 * unexplained, which is the opposite of what a user wants to learn.
 *
 * So a benchmark run also records, per stage, when a callback of the stage ran (the outermost
 * call only: the meter already splits nested ones) and when the stage had a promise of its
 * own pending. Every moment when no callback runs and some stage is pending is charged to
 * the deepest pending stage (the one nearest the sink): a stage upstream of it that waits is
 * waiting for it, through backpressure. What is left (no callback running, nothing pending)
 * is the runtime, the source and the sink.
 *
 * Only instrumented benchmark messages carry this; the proxy never does.
 */
import type { ChainSink } from '../../pipeline/run.js';
import type { FilterInstance, Step } from '../../filters/types.js';

const now = (): number => performance.now();

export interface Attribution {
  /** Per stage (entry index): ms when the chain waited on that stage's pending work. */
  readonly waitMs: number[];
  /** ms with no callback running and nothing pending. */
  readonly idleMs: number;
}

export class Timeline {
  /** Per entry index: it received end of stream (so it stayed after the header phase). */
  readonly ended: boolean[];
  readonly #n: number;
  #depth = 0;
  #syncStart = 0;
  /** Outermost callback intervals, flat: t0, t1, t0, t1... */
  readonly #sync: number[] = [];
  /** Pending intervals, flat: stage, t0, t1... */
  readonly #pending: number[] = [];

  constructor(stages: number) {
    this.#n = stages;
    this.ended = new Array<boolean>(stages).fill(false);
  }

  /**
   * The instance as the runtime will see it (under the meter's wrapper): the same callbacks,
   * each timed. Only callbacks the filter has are defined, so the runtime's shortcuts for a
   * filter without onData stay as they were; onEnd is always defined, to learn who stayed.
   */
  wrap(inner: FilterInstance, stage: number): FilterInstance {
    const call = <A extends unknown[]>(fn: (...a: A) => Step, args: A): Step => {
      const t0 = now();
      if (this.#depth++ === 0) this.#syncStart = t0;
      let r: Step;
      try {
        r = fn.apply(inner, args);
      } finally {
        if (--this.#depth === 0) this.#sync.push(this.#syncStart, now());
      }
      if (r !== undefined) {
        const t = now();
        const done = (): void => void this.#pending.push(stage, t, now());
        r.then(done, done);
      }
      return r;
    };
    const w: FilterInstance = {
      onEnd: (out) => {
        this.ended[stage] = true;
        return inner.onEnd ? call(inner.onEnd, [out]) : undefined;
      },
    };
    if (inner.onHead) w.onHead = (head) => call(inner.onHead!, [head]);
    if (inner.onData) w.onData = (chunk, out) => call(inner.onData!, [chunk, out]);
    if (inner.onFlush) w.onFlush = (out) => call(inner.onFlush!, [out]);
    if (inner.onAbort) w.onAbort = (reason) => inner.onAbort!(reason);
    return w;
  }

  /** The sink's callbacks count as callbacks running (its time is the runtime's share). */
  wrapSink(sink: ChainSink): ChainSink {
    const call = <A extends unknown[]>(fn: (...a: A) => Step, args: A): Step => {
      const t0 = now();
      if (this.#depth++ === 0) this.#syncStart = t0;
      try {
        return fn.apply(sink, args);
      } finally {
        if (--this.#depth === 0) this.#sync.push(this.#syncStart, now());
      }
    };
    return {
      ...(sink.head && { head: (h) => sink.head!(h) }),
      write: (c) => call(sink.write, [c]),
      ...(sink.flush && { flush: () => call(sink.flush!, []) }),
      end: () => call(sink.end, []),
      ...(sink.abort && { abort: (r) => sink.abort!(r) }),
    };
  }

  /** Charge the idle moments between `start` and `end` to the deepest pending stage. */
  attribute(start: number, end: number): Attribution {
    type Ev = { t: number; d: number; stage: number }; // stage -1: a callback interval
    const evs: Ev[] = [];
    const s = this.#sync;
    for (let i = 0; i < s.length; i += 2) evs.push({ t: s[i]!, d: 1, stage: -1 }, { t: s[i + 1]!, d: -1, stage: -1 });
    const p = this.#pending;
    for (let i = 0; i < p.length; i += 3) evs.push({ t: p[i + 1]!, d: 1, stage: p[i]! }, { t: p[i + 2]!, d: -1, stage: p[i]! });
    evs.sort((a, b) => a.t - b.t || a.d - b.d);
    const waitMs = new Array<number>(this.#n).fill(0);
    const pendingCount = new Array<number>(this.#n).fill(0);
    let running = 0;
    let idleMs = 0;
    let t = start;
    const charge = (until: number): void => {
      const dt = Math.min(until, end) - Math.max(t, start);
      if (dt <= 0 || running > 0) return;
      for (let k = this.#n - 1; k >= 0; k--) {
        if (pendingCount[k]! > 0) {
          waitMs[k]! += dt;
          return;
        }
      }
      idleMs += dt;
    };
    for (const e of evs) {
      charge(e.t);
      t = Math.max(t, e.t);
      if (e.stage === -1) running += e.d;
      else pendingCount[e.stage]! += e.d;
    }
    charge(end);
    return { waitMs, idleMs };
  }
}

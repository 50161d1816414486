import type { Direction, Emitter, FilterInstance, HeadPhase, Step } from '../filters/types.js';

/**
 * Per-filter accounting for one message: bytes in and out and time spent, per filter instance.
 *
 * Off by default: a run that is not instrumented runs exactly the code it always did (no
 * counter on the hot path). An instrumented run wraps each instance, and the sink, in a
 * `Metered` instance that counts the bytes it is handed and times the callback. Bytes out of a
 * filter are the bytes into the next stage that stayed (or the sink), so one counter per stage
 * gives both.
 *
 * Time is *synchronous* time in the filter's own callbacks (onHead, onData, onFlush, onEnd),
 * exclusive of the time spent downstream when the filter pushes (the next stage's clock runs
 * then). The continuation of an async filter, after its promise was returned, is not timed:
 * that is the time a filter spends on the CPU of this thread per message, as Apache's
 * FilterTrace and mod_filter report per bucket brigade, not its wall-clock latency. Reading
 * a clock costs 40-80 ns on this machine, so body callbacks are timed only when asked
 * (`instrument: true`, or a traced message); the header phase, once per message, always is.
 */

/** What a run measures: false: nothing; 'bytes': bytes in and out per filter; true: bytes and time. */
export type Instrument = boolean | 'bytes';

/** One filter's figures for one message. */
export interface FilterStats {
  /** Name in the chain (an alias, or the filter name): what errors and metrics use. */
  readonly name: string;
  /** The registered filter. */
  readonly filter: string;
  /** Bytes handed to the filter. */
  readonly bytesIn: number;
  /** Bytes the filter passed on. */
  readonly bytesOut: number;
  /**
   * Synchronous milliseconds in the filter's callbacks, not counting downstream stages (see
   * meter.ts). Body callbacks are counted only when the run was timed; onHead always is.
   */
  readonly ms: number;
}

/** A run's figures: the chain's own bytes, and every filter that stayed after the header phase. */
export interface RunStats {
  readonly direction: Direction;
  /** Bytes written into the chain. */
  readonly bytesIn: number;
  /** Bytes that reached the sink. */
  readonly bytesOut: number;
  /** True when body callbacks were timed (instrument: true, or a traced message). */
  readonly timed: boolean;
  readonly filters: readonly FilterStats[];
}

/** Where a traced message's per-filter lines go: pino's and fastify's loggers fit. */
export interface TraceLog {
  debug(obj: object, msg: string): void;
}

interface Counter {
  bytes: number;
  ms: number;
}

const now = (): number => performance.now();

/**
 * The clock of one run. Time is charged to the stage whose callback is on the stack: entering a
 * stage charges the elapsed time to the caller and makes the callee current; leaving charges the
 * callee and restores the caller. Callbacks nest (a push runs the rest of the chain), so a
 * stage's figure excludes what ran below it. Outside any callback (the source's own code, an
 * async filter's continuation) nobody is current and nothing is charged.
 */
export class Meter {
  /** Body callbacks timed; set from the start (instrument: true) or at commit (traced). */
  timed: boolean;
  #current: Counter | null = null;
  #last = 0;

  constructor(timed: boolean) {
    this.timed = timed;
  }

  wrap(inst: FilterInstance, name: string, filter: string): Metered {
    return new Metered(inst, this, name, filter);
  }

  enter(c: Counter): Counter | null {
    const t = now();
    const prev = this.#current;
    if (prev !== null) prev.ms += t - this.#last;
    this.#current = c;
    this.#last = t;
    return prev;
  }

  leave(c: Counter, prev: Counter | null): void {
    const t = now();
    c.ms += t - this.#last;
    this.#current = prev;
    this.#last = t;
  }
}

/**
 * A filter instance (or the sink) seen through the meter. It defines every callback: one the
 * filter lacks behaves as the runtime would without it (data passes on, marks go on).
 */
export class Metered implements FilterInstance, Counter {
  readonly inner: FilterInstance;
  readonly name: string;
  readonly filter: string;
  bytes = 0;
  ms = 0;
  readonly #meter: Meter;

  constructor(inner: FilterInstance, meter: Meter, name: string, filter: string) {
    this.inner = inner;
    this.#meter = meter;
    this.name = name;
    this.filter = filter;
  }

  onHead(head: HeadPhase): Step {
    if (this.inner.onHead === undefined) return undefined;
    const m = this.#meter;
    const prev = m.enter(this);
    try {
      return this.inner.onHead(head);
    } finally {
      m.leave(this, prev);
    }
  }

  onData(chunk: Uint8Array, out: Emitter): Step {
    this.bytes += chunk.length;
    const inner = this.inner;
    if (inner.onData === undefined) {
      // The runtime hands such chunks on without waiting for readiness; so does this.
      void out.push(chunk);
      return undefined;
    }
    const m = this.#meter;
    if (!m.timed) return inner.onData(chunk, out);
    const prev = m.enter(this);
    try {
      return inner.onData(chunk, out);
    } finally {
      m.leave(this, prev);
    }
  }

  onFlush(out: Emitter): Step {
    const inner = this.inner;
    if (inner.onFlush === undefined) return undefined;
    const m = this.#meter;
    if (!m.timed) return inner.onFlush(out);
    const prev = m.enter(this);
    try {
      return inner.onFlush(out);
    } finally {
      m.leave(this, prev);
    }
  }

  onEnd(out: Emitter): Step {
    const inner = this.inner;
    if (inner.onEnd === undefined) return undefined;
    const m = this.#meter;
    if (!m.timed) return inner.onEnd(out);
    const prev = m.enter(this);
    try {
      return inner.onEnd(out);
    } finally {
      m.leave(this, prev);
    }
  }

  onAbort(reason: Error): void {
    this.inner.onAbort?.(reason);
  }
}

/**
 * The figures of a run from its stages in order (the sink last once the head is committed).
 * Stages that are not metered (a run that was not instrumented) give undefined.
 */
export function runStats(
  direction: Direction,
  stages: ReadonlyArray<{ readonly inst: FilterInstance }>,
  withSink: boolean,
  timed: boolean,
): RunStats | undefined {
  const n = withSink ? stages.length - 1 : stages.length;
  const filters: FilterStats[] = [];
  for (let i = 0; i < n; i++) {
    const m = stages[i]!.inst;
    if (!(m instanceof Metered)) return undefined;
    const next = stages[i + 1]?.inst;
    const bytesOut = next instanceof Metered ? next.bytes : 0;
    filters.push({ name: m.name, filter: m.filter, bytesIn: m.bytes, bytesOut, ms: m.ms });
  }
  const first = stages[0]?.inst;
  const last = withSink ? stages[stages.length - 1]?.inst : undefined;
  if (withSink && !(last instanceof Metered)) return undefined;
  return {
    direction,
    bytesIn: first instanceof Metered ? first.bytes : 0,
    bytesOut: last instanceof Metered ? last.bytes : 0,
    timed,
    filters,
  };
}

/**
 * A traced message's log: one debug line per filter that stayed, in chain order, with its
 * bytes in and out and its synchronous time (µs precision).
 */
export function logTrace(log: TraceLog, stats: RunStats, url: string, error: Error | undefined): void {
  const code = error === undefined ? undefined : ((error as { code?: unknown }).code ?? error.name);
  stats.filters.forEach((f, i) => {
    log.debug(
      {
        direction: stats.direction,
        url,
        position: i + 1,
        filter: f.name,
        ...(f.filter !== f.name && { type: f.filter }),
        bytesIn: f.bytesIn,
        bytesOut: f.bytesOut,
        ms: Math.round(f.ms * 1000) / 1000,
        ...(code !== undefined && { error: code }),
      },
      'filter trace',
    );
  });
}

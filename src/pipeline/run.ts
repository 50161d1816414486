import {
  ChainAbortedError,
  ChainStateError,
  FilterError,
  HeadersCommittedError,
  SluiceError,
  type FilterPhase,
} from '../errors.js';
import type { HeaderMap } from '../filters/headers.js';
import {
  FLUSH,
  type Direction,
  type Emitter,
  type FilterContext,
  type Flush,
  type FilterInstance,
  type HeadPhase,
  type RequestInfo,
  type Step,
} from '../filters/types.js';
import type { CompiledEntry } from './compiled-entry.js';
import { logTrace, Meter, runStats, type Instrument, type RunStats, type TraceLog } from './meter.js';

/**
 * Where a chain's output goes: the exit boundary. A sink returns a promise from write when it
 * cannot take more now (a Node Writable over its high-water mark); that is how a slow client
 * stops the source.
 */
export interface ChainSink {
  /**
   * The head is committed: called once, before the first write, flush or end. The place to
   * send a status line and headers. At the end of the header phase, unless a filter deferred
   * the commit (HeadPhase.deferCommit); then when its first output reaches the sink.
   */
  head?(head: HeadPhase): void;
  write(chunk: Uint8Array): Step;
  flush?(): Step;
  end(): Step;
  abort?(reason: Error): void;
}

const END: unique symbol = Symbol('sluice.end');
type Ev = Uint8Array | typeof FLUSH | typeof END;

type State = 'new' | 'head' | 'body' | 'ended' | 'done' | 'failed';

interface StageSlot {
  readonly name: string;
  /** Swapped for its meter wrapper when a traced run starts metering at commit. */
  inst: FilterInstance;
  /** The registered filter (for stats; the sink has none). */
  readonly filter?: string;
  readonly emitter: StageEmitter;
  busy: boolean;
  ended: boolean;
  queue: Ev[] | null;
  /** Declared in its header phase; a deferred commit re-applies the Content-Length rule with it. */
  changesLength?: boolean;
}

interface Waiter {
  readonly from: number;
  resolve(): void;
  reject(err: Error): void;
}

const noop = (): void => {};

/**
 * A rejected promise already marked as handled: whoever awaits it still gets the error, but
 * a filter that ignores a push() result can never turn a chain failure into an unhandled
 * rejection that kills the process.
 */
function rejected(err: Error): Promise<never> {
  const p = Promise.reject(err);
  p.catch(noop);
  return p;
}

/**
 * One message through a compiled chain. Two phases, as in Apache: `start()` runs the header
 * phase (every filter sees and edits the head, or steps aside), then `write`/`flush`/`end`
 * move the body through the filters that stayed, by direct calls.
 *
 * Every call returns nothing while everything downstream is synchronous and ready (the fast
 * path: no promise is made), or a promise that settles when the chain can take more: that is
 * the backpressure signal. Errors reject those promises and `done`, abort every filter
 * (onAbort) and the sink, and name the filter.
 */
export class ChainRun {
  readonly direction: Direction;
  readonly head: HeadPhase;
  /** Settles when end of stream has reached the sink and the sink has ended; rejects on failure. */
  readonly done: Promise<void>;

  readonly #entries: readonly CompiledEntry[];
  readonly #sink: ChainSink;
  readonly #head: HeadState;
  #state: State = 'new';
  #error: Error | undefined;
  #stages: StageSlot[] = [];
  /** Instances made during the head phase, including ones that passed on (they get onAbort too). */
  #made: StageSlot[] = [];
  #pending = 0;
  #waiters: Waiter[] = [];
  #resolveDone!: () => void;
  #rejectDone!: (err: Error) => void;
  #lengthChanged = false;
  /** Stage index of the last filter that deferred the head commit, or -1. */
  #deferAt = -1;
  /** Per-filter accounting (meter.ts); undefined, and no cost, unless instrumented or traced. */
  #meter: Meter | undefined;
  /** The sink is the last stage and metered (from the commit on). */
  #sinkMetered = false;
  readonly #log: TraceLog | undefined;

  constructor(entries: readonly CompiledEntry[], direction: Direction, head: HeadInit, sink: ChainSink, opts: RunOptions = {}) {
    this.#entries = entries;
    if (opts.instrument) this.#meter = new Meter(opts.instrument === true);
    this.#log = opts.log;
    this.direction = direction;
    this.#sink = sink;
    this.#head = new HeadState(direction, head);
    this.head = this.#head;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // A failure is reported to whoever awaits a step; an unobserved `done` must not crash the process.
    this.done.catch(noop);
  }

  /** Names of the filters that stayed after the header phase, in chain order. */
  get active(): string[] {
    const stages = this.#state === 'new' || this.#state === 'head' ? this.#stages : this.#stages.slice(0, -1);
    return stages.map((s) => s.name);
  }

  /** True when a filter that stayed changes the body length (Content-Length was dropped). */
  get lengthChanged(): boolean {
    return this.#lengthChanged;
  }

  get failed(): Error | undefined {
    return this.#error;
  }

  /**
   * Bytes in and out and time per filter that stayed, for this message so far (complete once
   * `done` settles); undefined when the run is neither instrumented nor traced.
   */
  stats(): RunStats | undefined {
    const m = this.#meter;
    return m === undefined ? undefined : runStats(this.direction, this.#stages, this.#sinkMetered, m.timed);
  }

  /** True when a filter asked for this message's per-filter trace (traceMessage). */
  get traced(): boolean {
    return this.#head.traced;
  }

  get finished(): boolean {
    return this.#state === 'done' || this.#state === 'failed';
  }

  /** Header phase: make each instance, run its onHead, then commit the head. */
  start(): Step {
    if (this.#state !== 'new') return rejected(new ChainStateError('start() called twice'));
    this.#state = 'head';
    const r = this.#headFrom(0);
    if (r === undefined && this.#error) return rejected(this.#error);
    if (r) r.catch(noop);
    return r;
  }

  write(chunk: Uint8Array): Step {
    if (this.#state !== 'body') return this.#misuse('write');
    if (chunk.length === 0) return undefined; // never pass an empty chunk (Apache's rule 1)
    this.#data(0, chunk);
    return this.#pending === 0 && this.#error === undefined ? undefined : this.#readiness(-1);
  }

  flush(): Step {
    if (this.#state !== 'body') return this.#misuse('flush');
    this.#deliver(0, FLUSH);
    return this.#readiness(-1);
  }

  end(): Step {
    if (this.#state !== 'body') return this.#misuse('end');
    this.#state = 'ended';
    this.#deliver(0, END);
    if (this.#error) return rejected(this.#error);
    return (this.#state as State) === 'done' ? undefined : this.done;
  }

  /** Abort from outside (client gone, upstream reset): every filter and the sink are told. */
  abort(reason?: unknown): void {
    if (this.finished) return;
    const err = reason instanceof SluiceError ? reason : new ChainAbortedError(reason);
    this.#failWith(err);
  }

  // ---- header phase ---------------------------------------------------------------------

  #headFrom(k: number): Step {
    const entries = this.#entries;
    for (; k < entries.length; k++) {
      if (this.#error) return rejected(this.#error);
      const entry = entries[k]!;
      let slot: StageSlot;
      try {
        if (entry.when && !entry.when(this.#head)) continue;
        slot = this.#make(entry);
      } catch (err) {
        this.#failWith(new FilterError(entry.name, 'create', err));
        return rejected(this.#error!);
      }
      this.#head.begin(!entry.def.preservesLength);
      let r: Step;
      try {
        r = slot.inst.onHead?.(this.#head);
      } catch (err) {
        return this.#headFailed(entry.name, err);
      }
      // A value that is not a promise (`(h) => h.headers.set(...)` returns the map) means done.
      if (r !== undefined && typeof (r as { then?: unknown }).then === 'function') {
        const at = k;
        return r.then(
          () => {
            this.#headDecided(slot);
            return this.#headFrom(at + 1);
          },
          (err: unknown) => this.#headFailed(entry.name, err),
        );
      }
      this.#headDecided(slot);
    }
    this.#commit();
    return this.#error ? rejected(this.#error) : undefined;
  }

  #make(entry: CompiledEntry): StageSlot {
    const emitter = new StageEmitter(this, this.#made.length);
    const ctx: FilterContext<unknown> = {
      filter: entry.def.name,
      name: entry.name,
      options: entry.options,
      direction: this.direction,
      request: this.#head.request,
      head: this.#head,
      out: emitter,
    };
    const made = entry.def.create(ctx);
    const inst = this.#meter ? this.#meter.wrap(made, entry.name, entry.def.name) : made;
    const slot: StageSlot = { name: entry.name, filter: entry.def.name, inst, emitter, busy: false, ended: false, queue: null };
    this.#made.push(slot);
    return slot;
  }

  #headDecided(slot: StageSlot): void {
    const { passed, changesLength, defers } = this.#head.finish();
    if (passed) return;
    if (changesLength) this.#lengthChanged = true;
    slot.changesLength = changesLength;
    if (defers) this.#deferAt = this.#stages.length;
    this.#stages.push(slot);
  }

  #headFailed(name: string, err: unknown): Promise<never> {
    this.#failWith(err instanceof FilterError ? err : new FilterError(name, 'head', err));
    return rejected(this.#error!);
  }

  /** Apply the Content-Length rule, freeze the head, bind emitters, release early output. */
  #commit(): void {
    const h = this.#head.headers;
    if (this.#lengthChanged) {
      h.delete('content-length');
      h.delete('content-md5');
      // nginx's rule: a changed body keeps only a weak validator, unless a filter set its own.
      if (this.direction === 'output') {
        const etag = h.get('etag');
        if (etag !== undefined && etag === this.#head.initialETag && etag.startsWith('"')) h.set('etag', `W/${etag}`);
      }
    }
    const deferred = this.#deferAt >= 0;
    if (!deferred) {
      try {
        this.#commitHead();
      } catch (err) {
        this.#failWith(err instanceof SluiceError ? err : new ChainAbortedError(err));
        return;
      }
    }
    const sinkSlot: StageSlot = {
      name: 'sink',
      inst: deferred ? deferredSinkInstance(this.#sink, () => this.#commitHead()) : sinkInstance(this.#sink),
      emitter: new StageEmitter(this, -1),
      busy: false,
      ended: false,
      queue: null,
    };
    this.#stages.push(sinkSlot);
    this.#meterBody();
    const stages = this.#stages;
    for (let i = 0; i < stages.length; i++) stages[i]!.emitter.bind(i);
    for (const slot of this.#made) if (!stages.includes(slot)) slot.emitter.bind(-2);
    this.#state = 'body';
    // Output written during the header phase goes first, nearest the sink first: a filter's own
    // early output precedes anything it will make of its input.
    for (let i = stages.length - 2; i >= 0; i--) {
      const early = stages[i]!.emitter.takeEarly();
      if (early) for (const c of early) this.#deliver(i + 1, c);
    }
  }

  /**
   * Freeze the head and hand it to the sink. With a deferred commit this happens at the first
   * output reaching the sink, and the Content-Length rule is applied again for the filters
   * after the deferring one: a length it set cannot survive a filter that changes the body.
   */
  #commitHead(): void {
    if (this.#head.committed) return;
    if (this.#deferAt >= 0) {
      const stages = this.#stages;
      for (let j = this.#deferAt + 1; j < stages.length; j++) {
        if (stages[j]!.changesLength) {
          this.#head.headers.delete('content-length');
          this.#head.headers.delete('content-md5');
          break;
        }
      }
    }
    this.#head.commit();
    this.#sink.head?.(this.#head);
  }

  // ---- body phase -----------------------------------------------------------------------

  #deliver(i: number, ev: Ev): void {
    if (this.#error) return;
    if (ev !== FLUSH && ev !== END) {
      this.#data(i, ev);
      return;
    }
    const s = this.#stages[i];
    if (s === undefined) return;
    if (s.busy) {
      (s.queue ??= []).push(ev);
      return;
    }
    this.#step(s, i, ev);
  }

  /**
   * The hot path: a data chunk into stage j by a direct call. Filters without onData are
   * skipped; a busy (async) stage queues the chunk in order.
   */
  #data(j: number, chunk: Uint8Array): void {
    const s = this.#stages[j]!;
    if (s.busy) {
      (s.queue ??= []).push(chunk);
      return;
    }
    const inst = s.inst;
    if (inst.onData === undefined) {
      this.#data(j + 1, chunk);
      return;
    }
    let r: Step;
    try {
      r = inst.onData(chunk, s.emitter);
    } catch (err) {
      this.#fail(j, chunk, err);
      return;
    }
    if (r !== undefined) this.#awaitStep(s, j, chunk, r);
  }

  /**
   * @internal A filter at stage i emits a chunk. Returns nothing when everything downstream
   * is ready, else the readiness promise.
   */
  pushFrom(i: number, chunk: Uint8Array): Step {
    if (this.#error !== undefined || chunk.length === 0) return undefined;
    if (this.#stages[i]!.ended) return this.#lateOutput(i);
    this.#data(i + 1, chunk);
    return this.#pending === 0 || this.#error !== undefined ? undefined : this.#readiness(i);
  }

  #lateOutput(i: number): Promise<never> {
    const err = new ChainStateError('push() after end of stream');
    const slot = this.#stages[i]!;
    this.failFrom(this.#made.indexOf(slot), err);
    return rejected(this.#error ?? err);
  }

  #step(s: StageSlot, i: number, ev: Ev): void {
    let r: Step = undefined;
    try {
      if (ev === FLUSH) r = s.inst.onFlush?.(s.emitter);
      else if (ev === END) r = s.inst.onEnd?.(s.emitter);
      else if (s.inst.onData) r = s.inst.onData(ev, s.emitter);
      else this.#deliver(i + 1, ev);
    } catch (err) {
      this.#fail(i, ev, err);
      return;
    }
    if (r === undefined) {
      if (ev === FLUSH || ev === END) this.#after(s, i, ev);
      return;
    }
    this.#awaitStep(s, i, ev, r);
  }

  #awaitStep(s: StageSlot, i: number, ev: Ev, r: Promise<void>): void {
    // A JavaScript filter may return what it happened to compute (`out.push(x) || n`): only a
    // promise means "not done yet"; anything else is a synchronous step.
    if (typeof (r as { then?: unknown }).then !== 'function') {
      if (ev === FLUSH || ev === END) this.#after(s, i, ev);
      return;
    }
    s.busy = true;
    this.#pending++;
    r.then(
      () => this.#settle(s, i, ev),
      (err: unknown) => this.#fail(i, ev, err),
    );
  }

  /** Metadata goes on after the filter has emitted what it had (Apache: pass all metadata). */
  #after(s: StageSlot, i: number, ev: typeof FLUSH | typeof END): void {
    if (ev === END) {
      s.ended = true;
      if (i === this.#stages.length - 1) this.#finish();
      else this.#deliver(i + 1, END);
    } else {
      this.#deliver(i + 1, FLUSH);
    }
  }

  #settle(s: StageSlot, i: number, ev: Ev): void {
    if (this.#error) return;
    s.busy = false;
    this.#pending--;
    if (ev === FLUSH || ev === END) this.#after(s, i, ev);
    const q = s.queue;
    while (q !== null && q.length > 0 && !s.busy && !this.#error) this.#step(s, i, q.shift()!);
    if (this.#waiters.length > 0) this.#wake();
  }

  /** Nothing, if every stage after `from` is ready; else a promise for when they are. */
  #readiness(from: number): Step {
    if (this.#error) return rejected(this.#error);
    if (this.#pending === 0 || !this.#busyAfter(from)) return undefined;
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ from, resolve, reject }));
    p.catch(noop);
    return p;
  }

  /** @internal A filter at stage i sends a flush mark of its own (ignored after its end). */
  flushFrom(i: number): Step {
    if (this.#error !== undefined || this.#stages[i]!.ended) return undefined;
    this.#deliver(i + 1, FLUSH);
    return this.#pending === 0 || this.#error !== undefined ? undefined : this.#readiness(i);
  }

  #busyAfter(from: number): boolean {
    const stages = this.#stages;
    for (let j = from + 1; j < stages.length; j++) {
      const s = stages[j]!;
      if (s.busy || (s.queue !== null && s.queue.length > 0)) return true;
    }
    return false;
  }

  #wake(): void {
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#busyAfter(w.from)) still.push(w);
      else w.resolve();
    }
    this.#waiters = still;
  }

  #finish(): void {
    this.#state = 'done';
    if (this.#head.traced) this.#trace();
    this.#resolveDone();
  }

  // ---- accounting -------------------------------------------------------------------------

  /**
   * At commit: meter the sink; a traced message is timed from here on, and a run that was not
   * instrumented starts metering its body now (its header phase went unmeasured).
   */
  #meterBody(): void {
    const stages = this.#stages;
    const sink = stages.length - 1;
    if (this.#head.traced) {
      if (this.#meter) this.#meter.timed = true;
      else {
        const m = (this.#meter = new Meter(true));
        for (let i = 0; i < sink; i++) stages[i]!.inst = m.wrap(stages[i]!.inst, stages[i]!.name, stages[i]!.filter ?? stages[i]!.name);
      }
    }
    if (this.#meter === undefined) return;
    stages[sink]!.inst = this.#meter.wrap(stages[sink]!.inst, 'sink', 'sink');
    this.#sinkMetered = true;
  }

  /** A traced message's per-filter lines, once it is over (no callback is on the stack then). */
  #trace(): void {
    const log = this.#log;
    const stats = this.stats();
    if (log === undefined || stats === undefined) return;
    try {
      logTrace(log, stats, this.#head.request.url, this.#error);
    } catch {
      // a failing logger must not fail the message
    }
  }

  // ---- failure --------------------------------------------------------------------------

  #fail(i: number, ev: Ev, err: unknown): void {
    if (this.#error) return;
    const s = this.#stages[i];
    const isSink = i === this.#stages.length - 1;
    const phase: FilterPhase = ev === FLUSH ? 'flush' : ev === END ? 'end' : 'data';
    let error: Error;
    if (err instanceof SluiceError) error = isSink || err instanceof FilterError ? err : new FilterError(s?.name ?? '?', phase, err);
    else if (isSink) error = new ChainAbortedError(err);
    else error = new FilterError(s?.name ?? '?', phase, err);
    this.#failWith(error);
  }

  /** @internal Out-of-band failure reported through a filter's emitter. */
  failFrom(slotIndex: number, err: unknown): void {
    if (this.#error || this.#state === 'done') return;
    const slot = this.#made[slotIndex];
    const phase: FilterPhase = this.#state === 'head' || this.#state === 'new' ? 'head' : 'data';
    this.#failWith(err instanceof FilterError ? err : new FilterError(slot?.name ?? '?', phase, err));
  }

  #failWith(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    this.#state = 'failed';
    for (const slot of this.#made) {
      try {
        slot.inst.onAbort?.(error);
      } catch {
        // a filter failing to clean up must not hide the original error
      }
    }
    try {
      this.#sink.abort?.(error);
    } catch {
      // same
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    if (this.#head.traced) this.#trace();
    this.#rejectDone(error);
  }

  #misuse(what: string): Promise<never> {
    if (this.#error) return rejected(this.#error);
    const why = this.#state === 'new' || this.#state === 'head' ? 'before the header phase ended' : 'after end()';
    return rejected(new ChainStateError(`${what}() called ${why}`));
  }

  // ---- used by StageEmitter -------------------------------------------------------------

  /** @internal */ get errored(): boolean {
    return this.#error !== undefined;
  }
}

/** The sink seen as the last stage. */
function sinkInstance(sink: ChainSink): FilterInstance {
  return {
    onData: (chunk) => sink.write(chunk),
    onFlush: sink.flush ? () => sink.flush!() : undefined,
    onEnd: () => sink.end(),
  };
}

/**
 * The sink when a filter deferred the head commit: the first chunk or end commits it; a flush
 * mark before then is dropped, as nothing has left to be flushed.
 */
function deferredSinkInstance(sink: ChainSink, commit: () => void): FilterInstance {
  let open = true;
  const first = (): void => {
    if (open) {
      open = false;
      commit();
    }
  };
  return {
    onData: (chunk) => {
      first();
      return sink.write(chunk);
    },
    onFlush: sink.flush ? () => (open ? undefined : sink.flush!()) : undefined,
    onEnd: () => {
      first();
      return sink.end();
    },
  };
}

/**
 * A filter's emitter. Before the head is committed it holds what the filter emits (a
 * mod_python-style filter may write a banner before reading); after, it delivers to the next
 * stage. A filter that passed on has an emitter bound to nowhere: pushing is an error.
 */
class StageEmitter implements Emitter {
  readonly #run: ChainRun;
  readonly #slot: number;
  #index = -1;
  #early: Array<Uint8Array | Flush> | null = null;

  constructor(run: ChainRun, slot: number) {
    this.#run = run;
    this.#slot = slot;
  }

  bind(index: number): void {
    this.#index = index;
  }

  takeEarly(): Array<Uint8Array | Flush> | null {
    const e = this.#early;
    this.#early = null;
    return e;
  }

  push(chunk: Uint8Array): Step {
    const i = this.#index;
    if (i === -1) {
      if (chunk.length > 0) (this.#early ??= []).push(chunk);
      return undefined;
    }
    if (i === -2) return this.#run.errored ? undefined : this.#misuse('push() from a filter that passed on');
    return this.#run.pushFrom(i, chunk);
  }

  flush(): Step {
    const i = this.#index;
    if (i === -1) {
      (this.#early ??= []).push(FLUSH);
      return undefined;
    }
    if (i === -2) return undefined;
    return this.#run.flushFrom(i);
  }

  error(err: unknown): void {
    this.#run.failFrom(this.#slot, err);
  }

  #misuse(what: string): Promise<never> {
    const err = new ChainStateError(what);
    this.#run.failFrom(this.#slot, err);
    return rejected(this.#run.failed ?? err);
  }
}

/** How a run accounts for its filters (meter.ts). */
export interface RunOptions {
  /**
   * Per-filter accounting, read with `run.stats()`: 'bytes' counts bytes in and out per
   * filter; true also times each callback; false (default) costs nothing.
   */
  instrument?: Instrument;
  /** Where a traced message's per-filter lines go (debug level); without one they are dropped. */
  log?: TraceLog;
}

/**
 * Ask for this message's per-filter trace (what the `trace` filter does in its onHead): at the
 * end of the message, done or failed, the run writes one debug line per filter that stayed
 * (bytes in, bytes out, synchronous time) to the `log` it was given. Callable from any
 * filter's onHead; every filter of the chain is traced, with no code of its own.
 */
export function traceMessage(head: HeadPhase): void {
  if (!(head instanceof HeadState)) throw new ChainStateError('traceMessage() needs the head of a running chain');
  if (head.committed) throw new HeadersCommittedError('traceMessage()');
  head.traced = true;
}

/** What a message starts with. */
export interface HeadInit {
  request: RequestInfo;
  /** Headers of the filtered message (response headers for output chains). */
  headers: HeaderMap;
  status: number;
}

/** The single HeadPhase object of a run; `begin`/`finish` bracket each filter's onHead. */
class HeadState implements HeadPhase {
  readonly direction: Direction;
  readonly request: RequestInfo;
  readonly headers: HeaderMap;
  readonly initialETag: string | undefined;
  /** Set by traceMessage: the run logs its per-filter figures at the end of the message. */
  traced = false;
  #status: number;
  #committed = false;
  #active = false;
  #passed = false;
  #changesLength = true;
  #defers = false;

  constructor(direction: Direction, init: HeadInit) {
    this.direction = direction;
    this.request = init.request;
    this.headers = init.headers;
    this.#status = init.status;
    this.initialETag = init.headers.get('etag');
  }

  get status(): number {
    return this.#status;
  }

  set status(v: number) {
    if (this.#committed) throw new HeadersCommittedError('status change');
    this.#status = v;
  }

  get committed(): boolean {
    return this.#committed;
  }

  passOn(): void {
    if (!this.#active) throw new HeadersCommittedError('passOn() outside onHead');
    this.#passed = true;
  }

  changesLength(changes = true): void {
    if (!this.#active) throw new HeadersCommittedError('changesLength() outside onHead');
    this.#changesLength = changes;
  }

  deferCommit(): void {
    if (!this.#active) throw new HeadersCommittedError('deferCommit() outside onHead');
    this.#defers = true;
  }

  begin(defaultChangesLength: boolean): void {
    this.#active = true;
    this.#passed = false;
    this.#defers = false;
    this.#changesLength = defaultChangesLength;
  }

  finish(): { passed: boolean; changesLength: boolean; defers: boolean } {
    this.#active = false;
    return { passed: this.#passed, changesLength: this.#changesLength, defers: this.#defers };
  }

  commit(): void {
    this.#committed = true;
    this.headers.lock();
  }
}

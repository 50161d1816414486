import type { Static, TSchema } from '@sinclair/typebox';
import { ChainStateError, HeadersCommittedError } from '../../errors.js';
import type { HeaderMap } from '../headers.js';
import {
  FLUSH,
  type Direction,
  type Emitter,
  type FilterContext,
  type FilterDefinition,
  type FilterInstance,
  type Flush,
  type HeadPhase,
  type RequestInfo,
  type StageName,
} from '../types.js';

/**
 * The object a mod_python-style filter function receives, one per message. Unlike
 * mod_python's (called once per brigade, fresh object each time, forced flush after every
 * call), this one lives for the whole message: keep state in local variables.
 */
export interface ModPythonFilter<O = unknown> {
  /** Name of this filter in its chain. */
  readonly name: string;
  readonly isInput: boolean;
  readonly req: RequestInfo;
  readonly options: O;
  /**
   * Headers of the filtered message. Editable until the first read/readline/write/flush/
   * close/passOn, which ends this filter's header phase; later edits throw.
   */
  readonly headers: HeaderMap;
  /** Response status (output filters); settable in the header phase. */
  status: number;
  /** The full header-phase object (e.g. `head.changesLength(false)`). */
  readonly head: HeadPhase;
  readonly closed: boolean;
  /**
   * `n` bytes, or fewer when a flush mark or end of stream comes first (default: the data
   * available now, up to the next flush mark). Waits for data. Returns an empty array at a
   * flush mark (emit what you hold: the mark is passed on after what you write, at your next
   * read, readline, flush, close or passOn, or when the function returns), and null at end of
   * stream.
   */
  read(n?: number): Promise<Uint8Array | null>;
  /** Bytes up to and including the next "\n" (or `limit` bytes, or the rest at end); null at end. */
  readline(limit?: number): Promise<Uint8Array | null>;
  /** Pass bytes on (strings as UTF-8). The bytes belong to the chain afterwards. Await it for backpressure. */
  write(data: Uint8Array | string): Promise<void>;
  /** Send a flush mark downstream now. */
  flush(): Promise<void>;
  /** Done writing: the rest of the input is discarded and the body ends after what was written. */
  close(): void;
  /**
   * Step aside: before any I/O it removes the filter for this message at no cost; after, the
   * unread input and everything after it passes through unchanged.
   */
  passOn(): void;
}

export type ModPythonHandler<O> = (f: ModPythonFilter<O>) => Promise<void> | void;

export interface ModPythonFilterInput<S extends TSchema | undefined> {
  name: string;
  description?: string;
  directions?: readonly Direction[];
  /** Default 'resource', where mod_python registers every filter. */
  stage?: StageName | number;
  options?: S;
  preservesLength?: boolean;
  handler: ModPythonHandler<S extends TSchema ? Static<S> : Record<string, never>>;
}

const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * Write a filter as one async function over a mod_python-like object. Returning before end of
 * stream without close() passes the rest through unchanged (never a silent truncation); a
 * throw fails the message with this filter's name.
 *
 *   modPythonFilter({ name: 'upper', handler: async (f) => {
 *     for (let s; (s = await f.read()) !== null; ) await f.write(upper(s));
 *     f.close();
 *   }})
 */
export function modPythonFilter<S extends TSchema | undefined = undefined>(
  input: ModPythonFilterInput<S>,
): FilterDefinition<S extends TSchema ? Static<S> : Record<string, never>> {
  type O = S extends TSchema ? Static<S> : Record<string, never>;
  return {
    name: input.name,
    description: input.description ?? 'A mod_python-style filter function.',
    directions: input.directions ?? ['input', 'output'],
    stage: input.stage ?? 'resource',
    ...(input.options !== undefined && { options: input.options as TSchema }),
    ...(input.preservesLength !== undefined && { preservesLength: input.preservesLength }),
    create: (ctx: FilterContext<O>) => new ModPythonInstance<O>(ctx, input.handler),
  };
}

type Item = Uint8Array | Flush;
type Mode = 'head' | 'body' | 'passed' | 'closed' | 'returned';

class ModPythonInstance<O> implements FilterInstance, ModPythonFilter<O> {
  readonly name: string;
  readonly isInput: boolean;
  readonly req: RequestInfo;
  readonly options: O;
  readonly #ctx: FilterContext<O>;
  readonly #handler: ModPythonHandler<O>;
  #out!: Emitter;
  #mode: Mode = 'head';
  #queue: Item[] = [];
  #eos = false;
  #eosSeen = false;
  #handlerDone = false;
  /** The filter is waiting in read/readline for input. */
  #wakeReader: (() => void) | null = null;
  /** The runtime is waiting for the filter to take the queued input. */
  #consumed: (() => void) | null = null;
  /** A flush mark was handed to the filter; pass it on at its next call. */
  #flushOwed: (() => void) | null = null;
  #endWaiter: { resolve(): void; reject(e: unknown): void } | null = null;
  #headResolve: (() => void) | null = null;
  #headReject: ((e: unknown) => void) | null = null;
  #handlerError: unknown = undefined;
  #frozenHeaders: HeaderMap | undefined;

  constructor(ctx: FilterContext<O>, handler: ModPythonHandler<O>) {
    this.#ctx = ctx;
    this.#handler = handler;
    this.name = ctx.name;
    this.isInput = ctx.direction === 'input';
    this.req = ctx.request;
    this.options = ctx.options;
    this.#out = ctx.out;
  }

  get headers(): HeaderMap {
    if (this.#mode === 'head') return this.#ctx.head.headers;
    // Past its header phase a filter gets a read-only view: later filters have already
    // decided on the head as it was, so an edit now must fail, not half-apply.
    return (this.#frozenHeaders ??= frozenCopy(this.#ctx.head.headers));
  }

  get status(): number {
    return this.#ctx.head.status;
  }

  set status(v: number) {
    if (this.#mode !== 'head') throw new HeadersCommittedError(`status change by "${this.name}" after its first I/O`);
    this.#ctx.head.status = v;
  }

  get head(): HeadPhase {
    return this.#ctx.head;
  }

  get closed(): boolean {
    return this.#mode === 'closed';
  }

  // ---- FilterInstance (called by the runtime) -------------------------------------------

  onHead(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#headResolve = resolve;
      this.#headReject = reject;
      let r: Promise<void> | void;
      try {
        r = this.#handler(this);
      } catch (err) {
        this.#failed(err);
        return;
      }
      Promise.resolve(r).then(
        () => this.#returned(),
        (err: unknown) => this.#failed(err),
      );
    });
  }

  onData(chunk: Uint8Array, out: Emitter): Promise<void> | void {
    if (this.#mode === 'passed' || this.#mode === 'returned') return out.push(chunk);
    if (this.#mode === 'closed') return undefined;
    this.#queue.push(chunk);
    return this.#handOver();
  }

  onFlush(): Promise<void> | void {
    if (this.#mode !== 'body' && this.#mode !== 'head') return undefined;
    this.#queue.push(FLUSH);
    return this.#handOver();
  }

  onEnd(): Promise<void> | void {
    this.#eos = true;
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    if (this.#handlerDone) return this.#handlerError === undefined ? undefined : Promise.reject(this.#handlerError);
    return new Promise<void>((resolve, reject) => (this.#endWaiter = { resolve, reject }));
  }

  onAbort(): void {
    // Wake a waiting reader: it sees end of stream and the function can return.
    this.#eos = true;
    this.#queue.length = 0;
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
  }

  /** Queue filled: wake the reader and wait until it took everything. */
  #handOver(): Promise<void> {
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    return new Promise<void>((resolve) => (this.#consumed = resolve));
  }

  // ---- the mod_python-style API ---------------------------------------------------------

  async read(n?: number): Promise<Uint8Array | null> {
    this.#io('read');
    if (this.#mode !== 'body') return null;
    const want = n === undefined || n < 0 ? undefined : n;
    // read(n) fills across chunks (the runtime hands over one chunk at a time), stopping
    // early at a flush mark or end of stream; the mark is then returned by the next read.
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const q = this.#queue;
      if (q.length > 0) {
        const first = q[0]!;
        if (first === FLUSH) {
          if (size > 0) return concat(parts, size);
          q.shift();
          this.#flushOwed = this.#takeConsumed();
          return EMPTY;
        }
        const got = this.#take(want === undefined ? undefined : want - size);
        if (want === undefined) return got;
        parts.push(got);
        size += got.length;
        if (size >= want) return concat(parts, size);
        continue;
      }
      if (this.#eos) {
        if (size > 0) return concat(parts, size);
        this.#eosSeen = true;
        return null;
      }
      await this.#waitInput();
      if (this.#mode !== 'body') return size > 0 ? concat(parts, size) : null;
    }
  }

  async readline(limit?: number): Promise<Uint8Array | null> {
    this.#io('readline');
    if (this.#mode !== 'body') return null;
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const q = this.#queue;
      while (q.length > 0) {
        const first = q[0]!;
        if (first === FLUSH) {
          // A line in progress is held across a flush mark (as mod_substitute does), so a
          // line-based rewrite never sees half a line; the mark itself goes on at once.
          q.shift();
          if (size === 0) {
            this.#flushOwed = this.#takeConsumed();
            return EMPTY;
          }
          this.#takeConsumed()?.();
          continue;
        }
        const room = limit === undefined ? first.length : Math.min(first.length, limit - size);
        const nl = first.subarray(0, room).indexOf(10);
        const cut = nl === -1 ? room : nl + 1;
        parts.push(cut === first.length ? first : first.subarray(0, cut));
        size += cut;
        if (cut === first.length) q.shift();
        else q[0] = first.subarray(cut);
        if (nl !== -1 || (limit !== undefined && size >= limit)) return concat(parts, size);
      }
      if (this.#eos) {
        if (size > 0) return concat(parts, size);
        this.#eosSeen = true;
        return null;
      }
      await this.#waitInput();
      if (this.#mode !== 'body') return size > 0 ? concat(parts, size) : null;
    }
  }

  write(data: Uint8Array | string): Promise<void> {
    this.#io('write');
    if (this.#mode === 'closed') return Promise.reject(new ChainStateError('write() on a closed filter'));
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    if (bytes.length === 0) return RESOLVED;
    return this.#out.push(bytes) ?? RESOLVED;
  }

  flush(): Promise<void> {
    this.#io('flush');
    if (this.#mode === 'closed') return RESOLVED;
    return this.#out.flush() ?? RESOLVED;
  }

  close(): void {
    if (this.#mode === 'closed') return;
    this.#io('close');
    this.#mode = 'closed';
    this.#queue.length = 0;
    this.#flushQueueMarks();
    this.#takeConsumed()?.();
  }

  passOn(): void {
    if (this.#mode === 'head') {
      this.#ctx.head.passOn();
      this.#mode = 'passed';
      this.#endHead();
      return;
    }
    this.#io('passOn');
    if (this.#mode !== 'body') return;
    this.#mode = 'passed';
    this.#forwardQueue();
  }

  // ---- internals -------------------------------------------------------------------------

  /**
   * Every I/O call ends the header phase; every one but write passes on a flush mark the
   * filter was given (so all it writes in response to the mark goes before it).
   */
  #io(what: string): void {
    if (this.#mode === 'head') {
      this.#mode = 'body';
      this.#endHead();
    }
    if (what === 'write') return;
    const owed = this.#flushOwed;
    if (owed) {
      this.#flushOwed = null;
      owed();
    }
  }

  #endHead(): void {
    const r = this.#headResolve;
    this.#headResolve = this.#headReject = null;
    r?.();
  }

  #takeConsumed(): (() => void) | null {
    const c = this.#consumed;
    this.#consumed = null;
    return c;
  }

  #waitInput(): Promise<void> {
    this.#takeConsumed()?.();
    return new Promise<void>((resolve) => (this.#wakeReader = resolve));
  }

  #take(n: number | undefined): Uint8Array {
    const q = this.#queue;
    const first = q[0] as Uint8Array;
    if (n !== undefined && n >= 0 && n < first.length) {
      q[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    q.shift();
    if (n === undefined || n < 0) {
      // mod_python's read(): everything up to the next flush mark
      let end = 0;
      while (end < q.length && q[end] !== FLUSH) end++;
      if (end > 0) {
        const parts = [first, ...(q.splice(0, end) as Uint8Array[])];
        return concat(parts, parts.reduce((a, p) => a + p.length, 0));
      }
      return first;
    }
    // read(n): fill up to n from following chunks without waiting
    let size = first.length;
    const parts = [first];
    while (size < n && q.length > 0 && q[0] !== FLUSH) {
      const next = q[0] as Uint8Array;
      const want = n - size;
      if (next.length <= want) {
        parts.push(next);
        size += next.length;
        q.shift();
      } else {
        parts.push(next.subarray(0, want));
        q[0] = next.subarray(want);
        size += want;
      }
    }
    return parts.length === 1 ? first : concat(parts, size);
  }

  /** After passOn mid-body: what the filter did not read goes on as it was. */
  #forwardQueue(): void {
    const q = this.#queue;
    this.#queue = [];
    for (const item of q) {
      if (item === FLUSH) this.#out.flush();
      else this.#out.push(item);
    }
    this.#takeConsumed()?.();
  }

  #flushQueueMarks(): void {
    const owed = this.#flushOwed;
    this.#flushOwed = null;
    owed?.();
  }

  #returned(): void {
    this.#handlerDone = true;
    if (this.#mode === 'head') {
      // returned without any I/O: it declined, so step aside at no cost
      this.#ctx.head.passOn();
      this.#mode = 'passed';
      this.#endHead();
    } else if (this.#mode === 'body') {
      if (this.#eosSeen) this.#mode = 'closed';
      else {
        this.#mode = 'returned';
        this.#forwardQueue();
      }
    }
    this.#flushQueueMarks();
    this.#takeConsumed()?.();
    const w = this.#endWaiter;
    this.#endWaiter = null;
    w?.resolve();
  }

  #failed(err: unknown): void {
    this.#handlerDone = true;
    this.#handlerError = err;
    if (this.#headReject) {
      const reject = this.#headReject;
      this.#headResolve = this.#headReject = null;
      reject(err);
      return;
    }
    const w = this.#endWaiter;
    this.#endWaiter = null;
    if (w) w.reject(err);
    else this.#out.error(err);
    this.#takeConsumed()?.();
    this.#flushQueueMarks();
  }
}

function frozenCopy(h: HeaderMap): HeaderMap {
  if (h.locked) return h;
  const c = h.clone();
  c.lock();
  return c;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

import type { Static, TSchema } from '@sinclair/typebox';
import type { HeaderMap } from './headers.js';

/** input = request body (client → upstream); output = response body (upstream → client). */
export type Direction = 'input' | 'output';

/**
 * Where a filter sits in a chain, as Apache's AP_FTYPE orders it. Output chains run in
 * ascending stage order (resource first, protocol last, nearest the client); input chains run
 * in descending order (protocol first, nearest the client, resource last), so an `encoding`
 * filter is always the one next to the compressed side of the wire.
 */
export type StageName = 'resource' | 'content' | 'transcode' | 'encoding' | 'protocol';

/** A flush mark in a stream of chunks: "emit what you can now". */
export const FLUSH: unique symbol = Symbol.for('sluice.flush');
export type Flush = typeof FLUSH;

/** Result of a filter step: nothing when done synchronously, a promise when it is not. */
export type Step = void | Promise<void>;

/** What the filter sees of the request in both directions (read-only for output filters). */
export interface RequestInfo {
  readonly method: string;
  /** Path and query as received (after normalisation by the proxy). */
  readonly url: string;
  readonly headers: HeaderMap;
  readonly remoteAddress?: string;
}

/**
 * The message head during the header phase. Every filter's onHead sees the edits of the
 * filters before it; once the phase ends the head is committed and edits throw.
 */
export interface HeadPhase {
  readonly direction: Direction;
  readonly request: RequestInfo;
  /** Response status (output chains); 0 for input chains. */
  status: number;
  /** Headers of the message this chain filters: response headers (output), request headers (input). */
  readonly headers: HeaderMap;
  readonly committed: boolean;
  /** Step aside for this message: data bypasses this filter at no cost (ap_remove_output_filter). */
  passOn(): void;
  /**
   * Declare whether this filter changes the body length for this message (default from the
   * definition's `preservesLength`). If any filter that stays changes it, the runtime drops
   * Content-Length (and Content-MD5) and the body goes out chunked.
   */
  changesLength(changes?: boolean): void;
  /**
   * Keep the head open past the header phase: it is committed when the first chunk or the end
   * of stream reaches the sink, so this filter may still edit headers until it first emits
   * (how `buffer` gives a body it collected a Content-Length). Flush marks reaching the sink
   * before then are dropped: no byte has left, there is nothing to flush. Only in onHead.
   */
  deferCommit(): void;
}

/** How a filter hands data on. Usable from any callback and out of band until end of stream. */
export interface Emitter {
  /**
   * Pass a chunk to the next filter. The chunk now belongs to the chain: do not modify it
   * afterwards. Returns a promise when the rest of the chain is busy; an async filter that
   * emits a lot should await it (that is how backpressure reaches it).
   */
  push(chunk: Uint8Array): Step;
  /** Send a flush mark downstream now (after whatever was pushed before it). */
  flush(): Step;
  /** Fail the chain from out-of-band work (e.g. a background reader); attributed to this filter. */
  error(err: unknown): void;
}

/**
 * One filter instance, made per message. All callbacks are optional except that a filter
 * without onData passes data through unchanged. A callback returns nothing when done
 * synchronously (the chain then stays on its synchronous fast path) or a promise.
 * The runtime forwards a flush mark after onFlush and end of stream after onEnd itself.
 */
export interface FilterInstance {
  onHead?(head: HeadPhase): Step;
  onData?(chunk: Uint8Array, out: Emitter): Step;
  /** A flush mark arrived: emit everything you can now (a compressor sync-flushes). */
  onFlush?(out: Emitter): Step;
  /** End of stream: emit what you still hold. */
  onEnd?(out: Emitter): Step;
  /** The message failed or was aborted: release resources (zlib handles, timers). */
  onAbort?(reason: Error): void;
}

/** Given to a filter's factory, once per message. */
export interface FilterContext<O = unknown> {
  /** The registered filter name. */
  readonly filter: string;
  /** The name this entry has in its chain (a declared alias, or the filter name). */
  readonly name: string;
  readonly options: O;
  readonly direction: Direction;
  readonly request: RequestInfo;
  readonly head: HeadPhase;
  /** This instance's emitter, for filters that emit out of band (background readers, timers). */
  readonly out: Emitter;
}

/** What `sluice filters` and the registry listing show of a filter's options. */
export interface FilterInfo {
  readonly name: string;
  readonly description: string;
  readonly directions: readonly Direction[];
  readonly stage: StageName | number;
  readonly preservesLength: boolean;
  /** JSON Schema of the options, when the filter takes any. */
  readonly options: TSchema | undefined;
}

/**
 * A filter as registered: name, the directions it serves, its stage, its options (JSON
 * Schema built with TypeBox, validated once at config load), and a factory that makes one
 * instance per message.
 */
export interface FilterDefinition<O = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly directions: readonly Direction[];
  /** A stage name, or a number for fine placement (Apache uses RESOURCE-1 for INFLATE). */
  readonly stage: StageName | number;
  /**
   * A different stage in one direction, for a filter that must sit at the same end of both
   * chains (`buffer` is last before the sink either way: highest stage in output chains,
   * lowest in input chains, which run in descending order).
   */
  readonly stageByDirection?: Readonly<Partial<Record<Direction, StageName | number>>>;
  /** JSON Schema for the options (defaults applied, unknown keys rejected). */
  readonly options?: TSchema;
  /** Checks the schema cannot express; throw an Error whose message names the problem. */
  readonly validate?: (options: O) => void;
  /** True for filters that never change the body length (identity, counters, taps). */
  readonly preservesLength?: boolean;
  readonly create: (ctx: FilterContext<O>) => FilterInstance;
}

/** Helper type: the options type a schema describes. */
export type OptionsOf<S extends TSchema> = Static<S>;

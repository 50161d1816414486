import type { Writable } from 'node:stream';
import { FLUSH, type Flush, type Step } from '../filters/types.js';
import type { ChainSink } from './run.js';

/**
 * A Node Writable as the exit boundary: a write over its high-water mark makes the chain wait
 * for 'drain', so a slow client slows the source instead of growing memory. A flush mark calls
 * the writable's own flush() when it has one (a compression middleware's res.flush).
 */
export function nodeSink(w: Writable, opts: { end?: boolean } = {}): ChainSink {
  const endIt = opts.end ?? true;
  let drain: Promise<void> | null = null;
  const waitDrain = (): Promise<void> =>
    (drain ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        w.off('drain', onDrain);
        w.off('close', onClose);
        w.off('error', onError);
        drain = null;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(new Error('the destination closed before the body was complete'));
      const onError = (err: Error): void => done(err);
      w.on('drain', onDrain);
      w.on('close', onClose);
      w.on('error', onError);
    }));
  return {
    write(chunk): Step {
      if (w.destroyed) return Promise.reject(new Error('the destination is closed'));
      return w.write(chunk) ? undefined : waitDrain();
    },
    flush(): Step {
      const f = (w as Writable & { flush?: unknown }).flush;
      if (typeof f === 'function') (f as () => void).call(w);
      return undefined;
    },
    end(): Step {
      if (!endIt) return undefined;
      return new Promise<void>((resolve, reject) => {
        w.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
    },
    abort(reason) {
      if (endIt && !w.destroyed) w.destroy(reason);
    },
  };
}

/** What a collecting sink saw: the chunks in order, with flush marks where they fell. */
export interface Collected {
  readonly events: ReadonlyArray<Uint8Array | Flush>;
  /** All bytes, concatenated. */
  body(): Buffer;
  text(): string;
  /** Number of flush marks that reached the sink. */
  readonly flushes: number;
  readonly ended: boolean;
  readonly aborted: Error | undefined;
}

/** Collects everything in memory: for tests, benchmarks and small bodies. */
export function collectSink(): ChainSink & Collected {
  const events: Array<Uint8Array | Flush> = [];
  let flushes = 0;
  let ended = false;
  let aborted: Error | undefined;
  return {
    events,
    get flushes() {
      return flushes;
    },
    get ended() {
      return ended;
    },
    get aborted() {
      return aborted;
    },
    body() {
      return Buffer.concat(events.filter((e): e is Uint8Array => e !== FLUSH));
    },
    text() {
      return this.body().toString('utf8');
    },
    write(chunk) {
      events.push(chunk);
    },
    flush() {
      flushes++;
      events.push(FLUSH);
    },
    end() {
      ended = true;
    },
    abort(reason) {
      aborted = reason;
    },
  };
}

/** Counts bytes and drops them: the cheapest possible exit, for benchmarks. */
export function countingSink(): ChainSink & { readonly bytes: number; readonly chunks: number } {
  let bytes = 0;
  let chunks = 0;
  return {
    get bytes() {
      return bytes;
    },
    get chunks() {
      return chunks;
    },
    write(chunk) {
      bytes += chunk.length;
      chunks++;
    },
    end() {},
  };
}

/** A WHATWG WritableStream as the exit boundary (backpressure through writer.ready). */
export function webSink(ws: WritableStream<Uint8Array>): ChainSink {
  const writer = ws.getWriter();
  return {
    write(chunk): Step {
      writer.write(chunk).catch(() => undefined);
      return writer.desiredSize !== null && writer.desiredSize <= 0 ? writer.ready : undefined;
    },
    end: () => writer.close(),
    abort(reason) {
      writer.abort(reason).catch(() => undefined);
    },
  };
}

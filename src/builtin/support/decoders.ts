import * as nodeStream from 'node:stream';
import { Transform } from 'node:stream';
import * as fflate from 'fflate';
import { SluiceError } from '../../errors.js';
import { transformInstance } from '../../filters/adapters/node.js';
import type { Direction, Emitter, FilterInstance, Step } from '../../filters/types.js';
import type { Backend } from './codecs.js';

const zlib = await import('node:zlib').then((m) => m.default).catch(() => null);

export type Decodable = 'gzip' | 'deflate' | 'br';

/** Normalise a Content-Encoding token to one we decode, or undefined. */
export function decodableCoding(token: string): Decodable | undefined {
  const t = token.toLowerCase();
  if (t === 'gzip' || t === 'x-gzip') return 'gzip';
  if (t === 'deflate') return 'deflate';
  if (t === 'br') return 'br';
  return undefined;
}

export interface InflateLimits {
  /** Maximum decoded bytes; 0 = no limit (DeflateInflateLimitRequestBody). */
  maxSize: number;
  /** Maximum decoded/encoded ratio (DeflateInflateRatioLimit, default 200). */
  ratio: number;
  /** Chunks in a row allowed over the ratio before failing (DeflateInflateRatioBurst, default 3). */
  burst: number;
}

/**
 * Limits fail with a status fit for the direction: a request body over the limit is the
 * client's fault (413); a response is the upstream's (502, and the response is aborted).
 */
export function limitError(direction: Direction, what: string): SluiceError {
  return new SluiceError('ERR_SLUICE_INFLATE_LIMIT', `decoded body exceeds the ${what}`, {
    status: direction === 'input' ? 413 : 502,
  });
}

export function decodeError(direction: Direction, cause: unknown): SluiceError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SluiceError('ERR_SLUICE_DECODE', `corrupt or truncated compressed body: ${detail}`, {
    cause,
    status: direction === 'input' ? 400 : 502,
  });
}

/**
 * A decoder for the given codings (as listed in Content-Encoding, so decoded last-first) that
 * counts what it emits against the limits before passing it on.
 */
export function decoderInstance(
  codings: readonly Decodable[],
  backend: Backend,
  limits: InflateLimits,
  direction: Direction,
  out: Emitter,
): FilterInstance {
  let inBytes = 0;
  let outBytes = 0;
  let over = 0;
  let failed = false;
  const fail = (err: SluiceError): void => {
    if (failed) return;
    failed = true;
    out.error(err);
  };
  const counted: Emitter = {
    push(chunk): Step {
      if (failed) return undefined;
      outBytes += chunk.length;
      if (limits.maxSize > 0 && outBytes > limits.maxSize) {
        fail(limitError(direction, `limit of ${limits.maxSize} bytes`));
        return undefined;
      }
      if (limits.ratio > 0 && inBytes > 0 && outBytes > limits.ratio * inBytes && outBytes > 64 * 1024) {
        if (++over > limits.burst) {
          fail(limitError(direction, `ratio limit of ${limits.ratio}:1`));
          return undefined;
        }
      } else over = 0;
      return out.push(chunk);
    },
    flush: () => out.flush(),
    error: (err) => fail(err instanceof SluiceError ? err : decodeError(direction, err)),
  };
  const order = [...codings].reverse();
  const inner = backend === 'node' && zlib ? nodeDecoder(order, counted) : fflateDecoder(order, counted, direction);
  return {
    onData(chunk, o) {
      inBytes += chunk.length;
      return inner.onData!(chunk, o);
    },
    onFlush: (o) => inner.onFlush?.(o),
    onEnd: (o) => inner.onEnd?.(o),
    onAbort: (r) => inner.onAbort?.(r),
  };
}

function nodeTransformFor(coding: Decodable): Transform {
  const z = zlib!;
  // Empty input is a valid (if odd) body; zlib's default finishFlush would call it truncated.
  switch (coding) {
    case 'gzip':
      return z.createGunzip();
    case 'deflate':
      return new SniffingInflate();
    case 'br':
      return z.createBrotliDecompress();
  }
}

/** stream.compose exists on Node 20 (experimental) but is missing from @types/node 20. */
const composeStreams = (nodeStream as unknown as { compose: (...streams: Transform[]) => nodeStream.Duplex }).compose;

function nodeDecoder(order: readonly Decodable[], out: Emitter): FilterInstance {
  const t = order.length === 1 ? nodeTransformFor(order[0]!) : (composeStreams(...order.map(nodeTransformFor)) as unknown as Transform);
  return transformInstance(t, out);
}

/**
 * The "deflate" coding is meant to be zlib-wrapped, but some servers send raw deflate; look at
 * the first byte (a zlib header has CM=8 in its low nibble) and pick the decoder, as browsers do.
 */
class SniffingInflate extends Transform {
  #inner: Transform | null = null;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.#inner) {
      const z = zlib!;
      this.#inner = (chunk[0]! & 0x0f) === 8 ? z.createInflate() : z.createInflateRaw();
      this.#inner.on('data', (d: Buffer) => this.push(d));
      this.#inner.on('error', (e) => this.destroy(e));
    }
    this.#inner.write(chunk, (err) => cb(err ?? null));
  }
  override _flush(cb: (err?: Error | null) => void): void {
    if (!this.#inner) return cb();
    this.#inner.once('end', () => cb());
    this.#inner.once('error', (e) => cb(e));
    this.#inner.end();
  }
}

interface FflateDecoder {
  push(chunk: Uint8Array, final?: boolean): void;
}

function fflateDecoder(order: readonly Decodable[], out: Emitter, direction: Direction): FilterInstance {
  if (order.includes('br')) throw new Error('fflate has no brotli decoder');
  // Build the stack from the innermost (last decoded) outwards.
  let sinkPush = (data: Uint8Array, final: boolean): void => {
    if (data.length > 0) out.push(data);
    void final;
  };
  const stages: FflateDecoder[] = [];
  for (let i = order.length - 1; i >= 0; i--) {
    const next = sinkPush;
    const d: FflateDecoder = order[i] === 'gzip' ? new fflate.Gunzip((data, final) => next(data, final)) : new fflate.Decompress((data, final) => next(data, final));
    stages.unshift(d);
    sinkPush = (data, final) => d.push(data, final);
  }
  const first = stages[0]!;
  const EMPTY = new Uint8Array(0);
  // fflate does not check a gzip trailer; a body cut inside it would pass as complete. Check
  // ISIZE (the member's length mod 2^32) ourselves when gzip is the only layer.
  const checkTrailer = order.length === 1 && order[0] === 'gzip';
  const tail = new Uint8Array(4);
  let tailLen = 0;
  let memberOut = 0;
  if (checkTrailer) {
    const gunzip = first as fflate.Gunzip;
    gunzip.onmember = () => {
      memberOut = 0;
    };
    const ondata = gunzip.ondata;
    gunzip.ondata = (data, final) => {
      memberOut += data.length;
      ondata(data, final);
    };
  }
  const remember = (chunk: Uint8Array): void => {
    if (chunk.length >= 4) {
      tail.set(chunk.subarray(chunk.length - 4));
      tailLen = 4;
    } else {
      const keep = Math.min(tailLen, 4 - chunk.length);
      tail.copyWithin(0, tailLen - keep, tailLen);
      tail.set(chunk, keep);
      tailLen = keep + chunk.length;
    }
  };
  const guard = (f: () => void): void => {
    try {
      f();
    } catch (err) {
      throw decodeError(direction, err);
    }
  };
  return {
    onData: (chunk) =>
      guard(() => {
        if (checkTrailer) remember(chunk);
        first.push(chunk);
      }),
    onEnd: () =>
      guard(() => {
        first.push(EMPTY, true);
        if (checkTrailer) {
          const isize = tailLen === 4 ? (tail[0]! | (tail[1]! << 8) | (tail[2]! << 16) | (tail[3]! << 24)) >>> 0 : -1;
          if (isize !== memberOut % 2 ** 32) throw new Error('gzip trailer does not match the data (truncated?)');
        }
      }),
  };
}

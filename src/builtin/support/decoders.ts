import { Transform } from 'node:stream';
import * as fflate from 'fflate';
import { SluiceError } from '../../errors.js';
import { transformInstance } from '../../filters/adapters/node.js';
import type { Direction, Emitter, FilterInstance, Step } from '../../filters/types.js';
import { coalesced, type Backend } from './codecs.js';

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

/** Output granularity at which the ratio limit is judged (node:zlib's default chunk size). */
const RATIO_STEP = 16 * 1024;

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
      const before = outBytes;
      outBytes += chunk.length;
      if (limits.maxSize > 0 && outBytes > limits.maxSize) {
        fail(limitError(direction, `limit of ${limits.maxSize} bytes`));
        return undefined;
      }
      // Judge the ratio at every RATIO_STEP bytes of output, not once per chunk: node:zlib
      // emits 16 KiB chunks but fflate emits all it decoded from one input chunk at once, and
      // `burst` must mean the same for both (a one-chunk bomb is many steps over, not one).
      if (limits.ratio > 0 && inBytes > 0) {
        for (let at = Math.min(outBytes, before + RATIO_STEP); ; at = Math.min(outBytes, at + RATIO_STEP)) {
          if (at > limits.ratio * inBytes && at > 64 * 1024) {
            if (++over > limits.burst) {
              fail(limitError(direction, `ratio limit of ${limits.ratio}:1`));
              return undefined;
            }
          } else over = 0;
          if (at === outBytes) break;
        }
      }
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

/**
 * Output chunk of a node:zlib decoder. Decoding text grows it four to ten times, and node:zlib
 * goes back to the thread pool for every full output chunk: at its default 16 KiB a 16 KiB
 * gzip chunk took five round trips. 64 KiB ran gunzip at 1.5-1.8x the default (bench/codec,
 * same process), for one 64 KiB buffer held per decoding message.
 */
const DECODE_CHUNK = 64 * 1024;

function nodeTransformFor(coding: Decodable): Transform {
  const z = zlib!;
  switch (coding) {
    case 'gzip':
      return z.createGunzip({ chunkSize: DECODE_CHUNK });
    case 'deflate':
      return new SniffingInflate();
    case 'br':
      return z.createBrotliDecompress({ chunkSize: DECODE_CHUNK });
  }
}

/**
 * One transformInstance per layer, chained by hand. (Not stream.compose: on Node 20 it drops
 * an error the last stream raises after the first has finished, e.g. a truncated inner gzip
 * inside a complete br layer, and the run then never ends.)
 */
function nodeDecoder(order: readonly Decodable[], out: Emitter): FilterInstance {
  let inst = transformInstance(nodeTransformFor(order[order.length - 1]!), out);
  for (let i = order.length - 2; i >= 0; i--) {
    const next = inst;
    const into: Emitter = {
      push(chunk): Step {
        try {
          return next.onData!(chunk, out);
        } catch (err) {
          out.error(err);
          return undefined;
        }
      },
      flush: () => undefined,
      error: (err) => out.error(err),
    };
    const t = transformInstance(nodeTransformFor(order[i]!), into);
    inst = {
      onData: (chunk, o) => t.onData!(chunk, o),
      onFlush: async (o) => {
        await t.onFlush?.(o);
        await next.onFlush?.(o);
      },
      onEnd: async (o) => {
        await t.onEnd?.(o);
        await next.onEnd?.(o);
      },
      onAbort: (r) => {
        t.onAbort?.(r);
        next.onAbort?.(r);
      },
    };
  }
  // batch small writes for the thread pool (the outermost layer is the one fed by the chain)
  return coalesced(inst);
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
      const o = { chunkSize: DECODE_CHUNK };
      this.#inner = (chunk[0]! & 0x0f) === 8 ? z.createInflate(o) : z.createInflateRaw(o);
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

/** Input is handed to fflate in slices this big, so one decode step's output stays bounded (~1 MB). */
const FFLATE_SLICE = 1024;
const EMPTY = new Uint8Array(0);

/**
 * One fflate layer that also checks what fflate does not: the gzip ISIZE of the last member,
 * and the Adler-32 of a zlib-wrapped deflate body (fflate strips it unchecked). A body cut
 * inside its trailer is then an error, as it is with node:zlib, at every layer.
 */
class FflateLayer {
  readonly #dec: { push(chunk: Uint8Array, final?: boolean): void };
  readonly #coding: Decodable;
  readonly #tail = new Uint8Array(4);
  #tailLen = 0;
  readonly #lead = new Uint8Array(2);
  #leadLen = 0;
  #memberOut = 0;
  #a = 1;
  #b = 0;

  constructor(coding: Decodable, emit: (data: Uint8Array) => void) {
    this.#coding = coding;
    const ondata = (data: Uint8Array): void => {
      this.#count(data);
      if (data.length > 0) emit(data);
    };
    if (coding === 'gzip') {
      const g = new fflate.Gunzip(ondata);
      g.onmember = () => {
        this.#memberOut = 0;
      };
      this.#dec = g;
    } else if (coding === 'deflate') this.#dec = new fflate.Decompress(ondata);
    else throw new Error('fflate has no brotli decoder');
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    for (let i = 0; this.#leadLen < 2 && i < chunk.length; i++) this.#lead[this.#leadLen++] = chunk[i]!;
    if (chunk.length >= 4) {
      this.#tail.set(chunk.subarray(chunk.length - 4));
      this.#tailLen = 4;
    } else {
      const keep = Math.min(this.#tailLen, 4 - chunk.length);
      this.#tail.copyWithin(0, this.#tailLen - keep, this.#tailLen);
      this.#tail.set(chunk, keep);
      this.#tailLen = keep + chunk.length;
    }
    this.#dec.push(chunk);
  }

  finish(): void {
    this.#dec.push(EMPTY, true);
    const t = this.#tail;
    if (this.#coding === 'gzip') {
      const isize = this.#tailLen === 4 ? (t[0]! | (t[1]! << 8) | (t[2]! << 16) | (t[3]! << 24)) >>> 0 : -1;
      if (isize !== this.#memberOut % 2 ** 32) throw new Error('gzip trailer does not match the data (truncated?)');
    } else if (this.#zlibWrapped()) {
      const want = this.#tailLen === 4 ? ((t[0]! << 24) | (t[1]! << 16) | (t[2]! << 8) | t[3]!) >>> 0 : -1;
      if (want !== ((this.#b << 16) | this.#a) >>> 0) throw new Error('zlib Adler-32 does not match the data (truncated?)');
    }
  }

  /** fflate.Decompress's own test for a zlib header (else it inflates raw deflate). */
  #zlibWrapped(): boolean {
    const [b0, b1] = [this.#lead[0]!, this.#lead[1]!];
    if (this.#leadLen < 2 || (b0 === 0x1f && b1 === 0x8b)) return false;
    return (b0 & 15) === 8 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0;
  }

  #count(data: Uint8Array): void {
    if (this.#coding === 'gzip') {
      this.#memberOut += data.length;
      return;
    }
    let a = this.#a;
    let b = this.#b;
    for (let i = 0; i < data.length; ) {
      const end = Math.min(i + 5552, data.length);
      for (; i < end; i++) b += a += data[i]!;
      a %= 65521;
      b %= 65521;
    }
    this.#a = a;
    this.#b = b;
  }
}

function fflateDecoder(order: readonly Decodable[], out: Emitter, direction: Direction): FilterInstance {
  // Build the stack from the innermost (last decoded) outwards.
  let emit = (data: Uint8Array): void => void out.push(data);
  const layers: FflateLayer[] = [];
  for (let i = order.length - 1; i >= 0; i--) {
    const layer = new FflateLayer(order[i]!, emit);
    layers.unshift(layer);
    emit = (data) => layer.push(data);
  }
  const first = layers[0]!;
  let failed = false;
  const guard = (f: () => void): void => {
    if (failed) return;
    try {
      f();
    } catch (err) {
      failed = true;
      throw decodeError(direction, err);
    }
  };
  return {
    onData: (chunk) =>
      guard(() => {
        for (let i = 0; i < chunk.length && !failed; i += FFLATE_SLICE) first.push(chunk.subarray(i, i + FFLATE_SLICE));
      }),
    onEnd: () =>
      guard(() => {
        for (const layer of layers) layer.finish();
      }),
    onAbort: () => {
      failed = true;
    },
  };
}

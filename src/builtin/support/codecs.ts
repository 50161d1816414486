import * as fflate from 'fflate';
import { transformInstance } from '../../filters/adapters/node.js';
import type { Emitter, FilterInstance, Step } from '../../filters/types.js';

/** node:zlib where the runtime has it; the pure-JS fflate path otherwise. */
const zlib = await import('node:zlib').then((m) => m.default).catch(() => null);
export const nodeZlibAvailable = zlib !== null;

export type Coding = 'gzip' | 'deflate' | 'br';
export type Backend = 'node' | 'fflate';
export type BackendChoice = Backend | 'auto';

export interface EncodeParams {
  /** gzip/deflate: zlib level 1-9; br: quality 0-11. */
  level: number;
  /** gzip/deflate: windowBits 9-15; br: lgwin 10-24. */
  window: number;
  /** Expected input size, when known (brotli tunes itself with it). */
  sizeHint?: number;
}

/**
 * node:zlib where present: measured faster than fflate for gzip and deflate at every chunk
 * size here (DESIGN.md, bench `gzip.*`), and it runs off the main thread. fflate has no brotli.
 */
export function resolveBackend(choice: BackendChoice, coding: Coding): Backend {
  if (choice === 'fflate' && coding !== 'br') return 'fflate';
  if (choice === 'auto') return nodeZlibAvailable || coding === 'br' ? 'node' : 'fflate';
  return 'node';
}

/** Why a backend cannot serve a coding here, or undefined when it can (checked at config load). */
export function backendProblem(choice: BackendChoice, coding: Coding): string | undefined {
  if (coding === 'br' && choice === 'fflate') return 'fflate has no brotli; use backend "node" or "auto"';
  if (!nodeZlibAvailable && (coding === 'br' || choice === 'node')) return 'node:zlib is not available in this runtime';
  return undefined;
}

/** A streaming encoder as a filter instance: a flush mark gives a block decodable at once. */
export function encoderInstance(coding: Coding, params: EncodeParams, backend: Backend, out: Emitter): FilterInstance {
  if (backend === 'node' && zlib) {
    const z = zlib;
    switch (coding) {
      case 'gzip':
        return coalesced(transformInstance(z.createGzip({ level: params.level, windowBits: params.window }), out));
      case 'deflate':
        return coalesced(transformInstance(z.createDeflate({ level: params.level, windowBits: params.window }), out));
      case 'br':
        return coalesced(transformInstance(
          z.createBrotliCompress({
            params: {
              [z.constants.BROTLI_PARAM_QUALITY]: params.level,
              [z.constants.BROTLI_PARAM_LGWIN]: params.window,
              ...(params.sizeHint !== undefined && { [z.constants.BROTLI_PARAM_SIZE_HINT]: params.sizeHint }),
            },
          }),
          out,
        ));
    }
  }
  const level = params.level as fflate.DeflateOptions['level'];
  const mem = Math.max(0, Math.min(12, params.window - 3)) as fflate.DeflateOptions['mem'];
  const onData = (data: Uint8Array): void => {
    if (data.length > 0) out.push(data);
  };
  switch (coding) {
    case 'gzip':
      return fflateInstance(new fflate.Gzip({ level, mem }, onData));
    case 'deflate':
      return fflateInstance(new fflate.Zlib({ level, mem }, onData));
    default:
      throw new Error(`no pure-JS encoder for ${coding}`);
  }
}

interface FflateStream {
  push(chunk: Uint8Array, final?: boolean): void;
  flush(sync?: boolean): void;
}

const EMPTY = new Uint8Array(0);

/** fflate's sync streams run inside the call: the chain stays on its synchronous fast path. */
function fflateInstance(s: FflateStream): FilterInstance {
  return {
    onData: (chunk) => s.push(chunk),
    onFlush: () => syncFlush(s),
    onEnd: () => s.push(EMPTY, true),
  };
}

/** fflate 0.8's Deflate state, as its flush() uses it (Gzip and Zlib share it). */
interface FflateInternals {
  /** r: bit offset in the pending byte (low 3 bits) and that byte's value above them; set by the first p(). */
  s: { r?: number; i: number; w: number };
  b: Uint8Array;
  p(buf: Uint8Array, final: boolean): void;
  ondata(chunk: Uint8Array, final: boolean): void;
}

/**
 * What fflate's flush(true) should do. In 0.8.3 it writes the empty stored block's LEN/NLEN at
 * a position computed from the whole bit state (the pending byte's value included), so after
 * some blocks the 00 00 FF FF marker lands misaligned and zlib rejects the rest of the stream
 * ("invalid stored block lengths"; fflate issue #267, fix proposed in PR #286). Found by the
 * split kit: a flush mark at some offsets corrupted every deflate/gzip stream from fflate.
 * Uses fflate's private state; falls back to flush(true) if it is not what this expects.
 */
function syncFlush(stream: FflateStream): void {
  const st = stream as unknown as Partial<FflateInternals>;
  if (typeof st.s?.i !== 'number' || !(st.b instanceof Uint8Array) || typeof st.p !== 'function' || typeof st.ondata !== 'function') {
    stream.flush(true);
    return;
  }
  const state = st.s;
  st.p(st.b, false);
  state.w = state.i;
  state.i -= 2;
  // After the pending bits: BFINAL 0 and BTYPE 00 (3 zero bits), pad to a byte, LEN 0000, NLEN FFFF.
  const r = state.r ?? 0;
  const headerBytes = ((r & 7) + 3 + 7) >> 3;
  const block = new Uint8Array(headerBytes + 4);
  block[0] = r >> 3;
  block[headerBytes + 2] = 0xff;
  block[headerBytes + 3] = 0xff;
  state.r = 0;
  st.ondata(block, false);
}

/**
 * Input batch for node:zlib. Each write is a round trip to the thread pool and a call into the
 * codec: 1 KiB chunks ran at a third of the speed of 16 KiB ones, and 64 KiB batches of 16 KiB
 * chunks ran brotli quality 4 at 1.3x and gzip level 6 at 1.1-1.2x a bare node:zlib stream fed
 * the 16 KiB chunks (bench/codec.bench.ts, same process). nginx's gzip_buffers default is 128
 * KiB per response; mod_deflate's DeflateBufferSize is 8 KiB.
 */
export const NODE_BATCH = 64 * 1024;

/**
 * Feed node:zlib in batches of at least `limit` bytes (until a flush mark or the end), as
 * mod_deflate buffers (DeflateBufferSize). Chunks are held by reference; a flush mark or the
 * end releases them at once, so streams stay live (the proxy sends a flush mark whenever the
 * upstream goes quiet).
 */
export function coalesced(inner: FilterInstance, limit = NODE_BATCH): FilterInstance {
  let parts: Uint8Array[] = [];
  let size = 0;
  const release = (out: Emitter): Step => {
    if (size === 0) return undefined;
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    return inner.onData!(buf, out);
  };
  const then = (first: Step, next: () => Step): Step => (first ? first.then(next) : next());
  return {
    onData(chunk, out) {
      if (size === 0 && chunk.length >= limit) return inner.onData!(chunk, out);
      parts.push(chunk);
      size += chunk.length;
      return size >= limit ? release(out) : undefined;
    },
    onFlush: (out) => then(release(out), () => inner.onFlush?.(out)),
    onEnd: (out) => then(release(out), () => inner.onEnd?.(out)),
    onAbort: (reason) => inner.onAbort?.(reason),
  };
}

import { Transform, Writable } from 'node:stream';
import zlib from 'node:zlib';
import {
  FLUSH,
  fromNodeTransform,
  fromTransformStream,
  modPythonFilter,
  nativeStreams,
  polyfillStreams,
  type Flush,
  type WebStreams,
} from '../../src/index.js';

export const te = new TextEncoder();
export const enc = (s: string): Uint8Array => te.encode(s);
export const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** The two WHATWG streams implementations every web-streams test runs against. */
export const IMPLS: Array<[string, WebStreams]> = [
  ['native', nativeStreams!],
  ['polyfill', await polyfillStreams()],
];

/** ASCII upper-casing byte by byte (safe on any split, multi-byte UTF-8 untouched). */
export function upperBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.byteLength);
  for (let i = 0; i < b.byteLength; i++) {
    const c = b[i]!;
    out[i] = c >= 97 && c <= 122 ? c - 32 : c;
  }
  return out;
}

/** Cut `bytes` into consecutive chunks of the given sizes (cycled); the last takes the rest. */
export function splitBySizes(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  if (sizes.length === 0) return [bytes];
  const out: Uint8Array[] = [];
  let off = 0;
  let k = 0;
  while (off < bytes.byteLength) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    out.push(bytes.slice(off, off + n));
    off += n;
  }
  return out;
}

/** Split at the given byte positions (each position starts a new chunk). */
export function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.byteLength).sort((a, b) => a - b), bytes.byteLength];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < points.length; i++) if (points[i]! < points[i + 1]!) out.push(bytes.slice(points[i], points[i + 1]));
  return out;
}

/** Events rendered as text with `|` for each flush mark, e.g. `ABC|DEF`. */
export function showEvents(events: ReadonlyArray<Uint8Array | Flush>, sep = ''): string {
  return events.map((e) => (e === FLUSH ? '|' : text(e))).join(sep);
}

/** The bytes that reached the sink before the n-th flush mark (0-based). */
export function bytesBeforeFlush(events: ReadonlyArray<Uint8Array | Flush>, n = 0): Buffer {
  const parts: Uint8Array[] = [];
  let seen = 0;
  for (const e of events) {
    if (e === FLUSH) {
      if (seen++ === n) return Buffer.concat(parts);
      continue;
    }
    parts.push(e);
  }
  throw new Error(`only ${seen} flush marks in the events`);
}

/** Gunzip a possibly unfinished gzip stream (everything up to a sync flush). */
export function gunzipPartial(b: Uint8Array): string {
  return zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
}

/** Read a whole web ReadableStream. */
export async function readAllWeb<T>(rs: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  const reader = rs.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

/** A web ReadableStream (of the given implementation) that yields the items one per pull. */
export function webReadable<T>(impl: WebStreams, items: readonly T[]): ReadableStream<T> {
  let i = 0;
  return new impl.ReadableStream<T>({
    pull(c) {
      if (i < items.length) c.enqueue(items[i++]!);
      else c.close();
    },
  });
}

export function upperTransformStream(impl: WebStreams): TransformStream<Uint8Array, Uint8Array> {
  return new impl.TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      c.enqueue(upperBytes(chunk));
    },
  });
}

/** A gzip TransformStream built from the given implementation over node:zlib. */
export function zlibGzipTransformStream(impl: WebStreams): TransformStream<Uint8Array, Uint8Array> {
  const gz = zlib.createGzip();
  return new impl.TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      gz.on('data', (d: Buffer) => c.enqueue(new Uint8Array(d)));
    },
    transform(chunk) {
      return new Promise<void>((resolve, reject) => gz.write(chunk, (err) => (err ? reject(err) : resolve())));
    },
    flush() {
      return new Promise<void>((resolve, reject) => {
        gz.once('end', resolve);
        gz.once('error', reject);
        gz.end();
      });
    },
  });
}

export function upperNodeTransform(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, Buffer.from(upperBytes(chunk)));
    },
  });
}

/** Filters wrapped by the adapters, reused across test files. */
export const tsUpper = (impl: WebStreams) =>
  fromTransformStream({ name: 'ts-upper', preservesLength: true, transform: () => upperTransformStream(impl) });

export const nodeUpper = fromNodeTransform({ name: 'node-upper', preservesLength: true, transform: upperNodeTransform });

export const nodeGzip = fromNodeTransform({ name: 'node-gzip', stage: 'encoding', transform: () => zlib.createGzip() });

/** A readline-based rewriter: every line gets a `> ` prefix (the last line may lack "\n"). */
export const quoteLines = modPythonFilter({
  name: 'quote-lines',
  handler: async (f) => {
    for (let line; (line = await f.readline()) !== null; ) {
      if (line.byteLength === 0) continue; // a flush mark
      await f.write('> ');
      await f.write(line);
    }
    f.close();
  },
});

/** What quoteLines makes of a text. */
export function quoteText(s: string): string {
  return s.replace(/[^\n]*\n|[^\n]+$/g, (line) => `> ${line}`);
}

/** A Writable that takes its time (callback on a later turn) and keeps what it got. */
export function slowWritable(opts: { highWaterMark?: number; delay?: 'immediate' | number } = {}): Writable & {
  readonly received: Buffer[];
} {
  const received: Buffer[] = [];
  const w = new Writable({
    highWaterMark: opts.highWaterMark ?? 1024,
    write(chunk: Buffer, _enc, cb) {
      received.push(chunk);
      if (opts.delay === undefined || opts.delay === 'immediate') setImmediate(cb);
      else setTimeout(cb, opts.delay);
    },
  });
  return Object.assign(w, { received });
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

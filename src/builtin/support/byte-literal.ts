import type { PieceSink } from './pieces.js';
import { asBuffer } from './text-codec.js';

/**
 * A fixed byte string searched in a stream of chunks with Buffer.indexOf (native memchr /
 * Boyer-Moore-Horspool), never by a string round trip. Between chunks it holds only the bytes
 * that could still begin a match: the longest end of the data that is a proper prefix of the
 * pattern, almost always nothing, never more than pattern length − 1.
 */
export interface ByteMatcher {
  readonly length: number;
  /** Index of the first match at or after `from`, or -1. */
  find(buf: Buffer, from: number): number;
  /** Whether buf[at, at+n) equals the pattern's first n bytes. */
  prefixAt(buf: Buffer, at: number, n: number): boolean;
}

export function exactMatcher(pattern: Buffer): ByteMatcher {
  const first = pattern[0]!;
  return {
    length: pattern.length,
    find: (buf, from) => buf.indexOf(pattern, from),
    prefixAt: (buf, at, n) => buf[at] === first && (n === 1 || buf.compare(pattern, 1, n, at + 1, at + n) === 0),
  };
}

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c);

/**
 * ASCII case-insensitive matching of an ASCII pattern. This is exactly what a JavaScript /i
 * regex does with an ASCII pattern (without the u flag no non-ASCII character case-folds to an
 * ASCII one), and in UTF-8 or an ASCII-compatible single-byte charset an ASCII byte is always
 * that ASCII character. Candidates come from indexOf on the first byte's two cases.
 */
export function asciiCaseInsensitiveMatcher(pattern: string): ByteMatcher {
  const p = Buffer.from(pattern.toLowerCase(), 'latin1');
  const n = p.length;
  const lo = p[0]!;
  const up = lo >= 0x61 && lo <= 0x7a ? lo - 32 : lo;
  const restEquals = (buf: Buffer, at: number, count: number): boolean => {
    for (let j = 1; j < count; j++) if (lower(buf[at + j]!) !== p[j]) return false;
    return true;
  };
  return {
    length: n,
    find(buf, from) {
      const last = buf.length - n;
      let a = buf.indexOf(lo, from);
      let b = up === lo ? -1 : buf.indexOf(up, from);
      for (;;) {
        const i = a === -1 ? b : b === -1 ? a : Math.min(a, b);
        if (i === -1 || i > last) return -1;
        if (restEquals(buf, i, n)) return i;
        if (i === a) a = buf.indexOf(lo, i + 1);
        else b = buf.indexOf(up, i + 1);
      }
    },
    prefixAt: (buf, at, count) => lower(buf[at]!) === lo && restEquals(buf, at, count),
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * Output carved from 256 KiB slabs, as Node's own pool does for small buffers: one
 * allocation per 16 outputs of a 16 KiB chunk instead of one each (allocation and the GC work
 * that external memory brings were a fifth of the time with a match every 500 bytes). A slab
 * is never reused: a view lives as long as its holder keeps it.
 */
const SLAB = 256 * 1024;
let slab: Uint8Array | null = null;
let slabUsed = 0;

/** A plain Uint8Array to write into (see assemble), of exactly `size` bytes. */
function take(size: number): Uint8Array {
  if (size > SLAB / 4) return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
  if (slab === null || slabUsed + size > SLAB) {
    const b = Buffer.allocUnsafeSlow(SLAB);
    slab = new Uint8Array(b.buffer, b.byteOffset, SLAB);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += (size + 7) & ~7;
  return out;
}

/**
 * buf[pos, end) with the n-byte matches at `at` replaced by `rep`, as one new buffer. Every
 * copy is TypedArray#set between plain Uint8Arrays: with a Buffer on either side V8 leaves its
 * fast path (Buffer into Buffer measured 139 ns a call against 27 ns), and Buffer#copy costs
 * more still; with a match every few hundred bytes that is most of the difference between
 * rewriting and bare searching.
 */
function assemble(buf: Buffer, pos: number, end: number, at: readonly number[], n: number, rep: Uint8Array): Buffer {
  const size = end - pos + at.length * (rep.length - n);
  const out = take(size);
  const src = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  if (rep.length === n) {
    // same length: one copy of the region, then the replacements written over it
    out.set(src.subarray(pos, end), 0);
    for (const i of at) out.set(rep, i - pos);
    return Buffer.from(out.buffer, out.byteOffset, size);
  }
  let o = 0;
  let from = pos;
  for (const i of at) {
    out.set(src.subarray(from, i), o);
    o += i - from;
    out.set(rep, o);
    o += rep.length;
    from = i + n;
  }
  out.set(src.subarray(from, end), o);
  return Buffer.from(out.buffer, out.byteOffset, size);
}

/**
 * One literal rule as a stage. What one input chunk gives is handed on as one buffer: the
 * chunk itself (or a view of it) when nothing matched, else a new buffer built with native
 * copies, so the next stage (or the socket) sees a few large writes, never one per match. A
 * rule that does not flatten hands its replacements on as fixed pieces instead.
 */
export class LiteralStage implements PieceSink {
  readonly #m: ByteMatcher;
  readonly #rep: Buffer;
  /** The replacement as a plain Uint8Array, for assemble's fast copies. */
  readonly #rep8: Uint8Array;
  readonly #fixed: boolean;
  readonly #next: PieceSink;
  readonly #flushAll: boolean;
  /** A proper prefix of the pattern that ended the data so far. */
  #carry: Buffer = EMPTY;
  /** Match positions of the chunk being scanned (reused). */
  readonly #at: number[] = [];
  /** Output of the current write not yet handed on (flatten rules). */
  #parts: Buffer[] = [];

  constructor(m: ByteMatcher, replacement: Buffer, fixedReplacement: boolean, next: PieceSink, flushAll = false) {
    this.#m = m;
    this.#rep = replacement;
    this.#rep8 = new Uint8Array(replacement);
    this.#fixed = fixedReplacement;
    this.#next = next;
    this.#flushAll = flushAll;
  }

  write(chunk: Uint8Array, fixed: boolean): void {
    if (fixed) {
      // (even an empty one: the replacement of a deleting `q` rule is still a boundary)
      this.#release();
      this.#next.write(chunk, true);
      return;
    }
    if (chunk.length === 0) return;
    let buf = asBuffer(chunk);
    let pos = 0;
    const carry = this.#carry;
    if (carry.length !== 0) {
      const n = this.#m.length;
      this.#carry = EMPTY;
      if (buf.length < n) {
        // small: search carry and chunk together
        buf = Buffer.concat([carry, buf]);
      } else {
        // A match starting in the carry ends within the chunk's first n-1 bytes.
        const head = Buffer.concat([carry, buf.subarray(0, n - 1)]);
        const i = this.#m.find(head, 0);
        if (i !== -1 && i < carry.length) {
          if (i > 0) this.#put(carry.subarray(0, i));
          this.#replacement();
          pos = i + n - carry.length;
        } else {
          this.#put(carry);
        }
      }
    }
    this.#scan(buf, pos);
    this.#handOn();
  }

  #put(b: Buffer): void {
    if (b.length) this.#parts.push(b);
  }

  #replacement(): void {
    if (!this.#fixed) {
      this.#put(this.#rep);
      return;
    }
    this.#handOn();
    this.#next.write(this.#rep, true);
  }

  #handOn(): void {
    const parts = this.#parts;
    if (parts.length === 0) return;
    this.#parts = [];
    this.#next.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts), false);
  }

  #scan(buf: Buffer, pos: number): void {
    const m = this.#m;
    const n = m.length;
    const at = this.#at;
    at.length = 0;
    for (let i = m.find(buf, pos); i !== -1; i = m.find(buf, i + n)) at.push(i);
    const start = at.length ? at[at.length - 1]! + n : pos;
    // hold the longest end that could begin a match
    const len = buf.length;
    let keep = 0;
    for (let p = Math.max(start, len - n + 1); p < len; p++) {
      if (m.prefixAt(buf, p, len - p)) {
        keep = len - p;
        break;
      }
    }
    const end = len - keep;
    if (keep) this.#carry = Buffer.from(buf.subarray(end));
    if (at.length === 0) {
      if (end > pos) this.#put(pos === 0 && end === len ? buf : buf.subarray(pos, end));
      return;
    }
    if (this.#fixed) {
      let from = pos;
      for (const i of at) {
        this.#put(buf.subarray(from, i));
        this.#replacement();
        from = i + n;
      }
      this.#put(buf.subarray(from, end));
      return;
    }
    this.#put(assemble(buf, pos, end, at, n, this.#rep8));
  }

  #release(): void {
    this.#handOn();
    if (this.#carry.length) {
      this.#next.write(this.#carry, false);
      this.#carry = EMPTY;
    }
  }

  flush(): void {
    // What is held may be the start of a match the next chunk completes: keep it, unless told
    // that a flush is a hard boundary.
    if (this.#flushAll) this.#release();
    this.#next.flush();
  }

  end(): void {
    this.#release();
    this.#next.end();
  }
}

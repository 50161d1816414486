import type { Direction } from '../../filters/types.js';
import { LineTooLongError } from '../../errors.js';
import type { PieceSink } from './pieces.js';
import { asBuffer, charsetKind, decodeLossless, decodeText, encodeLossless, encodeText } from './text-codec.js';

/** Part of a line: text a rule may look at, or `fixed` text (a `q` replacement) it may not. */
export interface Segment {
  text: string;
  fixed: boolean;
}

/** What a processor makes of a line: its new text, segments, or undefined for "unchanged". */
export type LineResult = string | Segment[] | undefined;

/**
 * The line-based part of a rewriter (substitute's regex rules, a sed script). It sees one
 * complete line at a time, '\n' included when the line has one (the last line may not).
 */
export interface LineProcessor {
  line(text: string, last: boolean): LineResult;
  /** A line holding fixed pieces; required only where fixed pieces can arrive. */
  segments?(segments: Segment[], last: boolean): LineResult;
  /**
   * Given a run of complete lines as one text: false when no line of it can change, so the run
   * passes as the bytes it came in. Must never answer false when some line would change.
   */
  batchMayChange?(text: string): boolean;
  /**
   * The whole run of complete lines at once: the new text, undefined when nothing changes, or
   * null when it must go line by line (some match would span lines).
   */
  batch?(text: string): string | undefined | null;
  /** The processor needs to know which line is the last (sed's `$`): one line is held back. */
  readonly lookahead?: boolean;
}

/** A line's bytes as text and back, in the message's (byte-searchable) charset. */
export interface LineText {
  decode(bytes: Buffer): { text: string; escaped: boolean };
  encode(text: string, escaped: boolean): Buffer;
}

/**
 * Lossless both ways: UTF-8 keeps bytes that are not UTF-8 (as escapes), and a single-byte
 * charset maps every byte to a character of its own, so a run of lines can be decoded, edited
 * and encoded as a whole without touching the lines no rule changed.
 */
export function lineText(charset: string): LineText {
  if (charsetKind(charset) === 'utf-8') {
    return { decode: decodeLossless, encode: (t, escaped) => (escaped ? encodeLossless(t) : Buffer.from(t, 'utf8')) };
  }
  return { decode: (b) => ({ text: decodeText(b, charset), escaped: false }), encode: (t) => encodeText(t, charset) };
}

interface Piece {
  bytes: Uint8Array;
  fixed: boolean;
}

export interface LineStageOptions {
  maxLineLength: number;
  direction: Direction;
  /** On a flush mark, run the partial line through the processor and send it (default: hold it). */
  flushPartial?: boolean;
}

/**
 * Splits a byte stream into lines at 0x0A and runs each through a LineProcessor, as
 * mod_substitute and mod_sed do. Only the unterminated tail is held between chunks, and never
 * more than maxLineLength: a longer line fails the message with LineTooLongError (whatever the
 * chunking: lines inside one big chunk are measured too). Complete lines of a chunk are decoded
 * as one text, so a chunk in which nothing can change costs one decode and one regex test.
 */
export class LineStage implements PieceSink {
  readonly #p: LineProcessor;
  readonly #codec: LineText;
  readonly #next: PieceSink;
  readonly #max: number;
  readonly #direction: Direction;
  readonly #flushPartial: boolean;
  #pending: Piece[] = [];
  #pendingLen = 0;
  /** lookahead mode: the last complete line, not yet known to be or not be the last line */
  #held: Piece[] | null = null;

  constructor(processor: LineProcessor, codec: LineText, next: PieceSink, o: LineStageOptions) {
    this.#p = processor;
    this.#codec = codec;
    this.#next = next;
    this.#max = o.maxLineLength;
    this.#direction = o.direction;
    this.#flushPartial = o.flushPartial ?? false;
  }

  write(chunk: Uint8Array, fixed: boolean): void {
    if (fixed) {
      this.#hold({ bytes: chunk, fixed: true });
      return;
    }
    if (chunk.length === 0) return;
    const buf = asBuffer(chunk);
    const first = buf.indexOf(10);
    if (first === -1) {
      this.#hold({ bytes: buf, fixed: false });
      return;
    }
    let from = 0;
    if (this.#pending.length !== 0) {
      this.#check(this.#pendingLen + first + 1);
      const line = this.#pending;
      line.push({ bytes: buf.subarray(0, first + 1), fixed: false });
      this.#pending = [];
      this.#pendingLen = 0;
      this.#line(line);
      from = first + 1;
    }
    const last = buf.lastIndexOf(10);
    if (last >= from) this.#batch(from === 0 && last === buf.length - 1 ? buf : buf.subarray(from, last + 1));
    if (last + 1 < buf.length) this.#hold({ bytes: buf.subarray(last + 1), fixed: false });
  }

  flush(): void {
    if (this.#flushPartial && this.#pending.length !== 0 && !this.#p.lookahead) {
      const line = this.#pending;
      this.#pending = [];
      this.#pendingLen = 0;
      this.#emit(line, false);
    }
    this.#next.flush();
  }

  end(): void {
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingLen = 0;
    if (this.#held) {
      const held = this.#held;
      this.#held = null;
      this.#emit(held, pending.length === 0);
    }
    if (pending.length !== 0) this.#emit(pending, true);
    this.#next.end();
  }

  #hold(piece: Piece): void {
    this.#pending.push(piece);
    this.#pendingLen += piece.bytes.length;
    this.#check(this.#pendingLen);
  }

  #check(length: number): void {
    if (length > this.#max) throw new LineTooLongError(this.#max, this.#direction);
  }

  /** One complete line (lookahead mode holds it until the next one shows it was not the last). */
  #line(pieces: Piece[]): void {
    if (!this.#p.lookahead) {
      this.#emit(pieces, false);
      return;
    }
    const prev = this.#held;
    this.#held = pieces;
    if (prev) this.#emit(prev, false);
  }

  /** Complete lines from one chunk: buf ends with '\n'. */
  #batch(buf: Buffer): void {
    if (buf.length > this.#max) this.#checkEach(buf);
    if (this.#p.lookahead) {
      for (let s = 0; s < buf.length; ) {
        const e = buf.indexOf(10, s) + 1;
        this.#line([{ bytes: buf.subarray(s, e), fixed: false }]);
        s = e;
      }
      return;
    }
    const { text, escaped } = this.#codec.decode(buf);
    const p = this.#p;
    if (p.batchMayChange && !p.batchMayChange(text)) {
      this.#next.write(buf, false);
      return;
    }
    const whole = p.batch ? p.batch(text) : null;
    if (whole !== null) {
      if (whole === undefined) this.#next.write(buf, false);
      else {
        const bytes = this.#codec.encode(whole, escaped);
        if (bytes.length > this.#max) this.#checkEach(bytes);
        this.#next.write(bytes, false);
      }
      return;
    }
    // Line by line into one text (decoding is lossless, so unchanged lines come back as the
    // same bytes); segments, which carry fixed pieces, go out on their own.
    let out = '';
    let changed = false;
    for (let s = 0; s < text.length; ) {
      const e = text.indexOf('\n', s) + 1;
      const line = text.slice(s, e);
      const r = p.line(line, false);
      s = e;
      if (r === undefined) out += line;
      else if (typeof r === 'string') {
        changed = true;
        if (r.length > this.#max / 3) this.#check(Buffer.byteLength(r));
        out += r;
      } else {
        changed = true;
        if (out) this.#next.write(this.#codec.encode(out, escaped), false);
        out = '';
        this.#out(r, escaped);
      }
    }
    if (!changed) this.#next.write(buf, false);
    else if (out) this.#next.write(this.#codec.encode(out, escaped), false);
  }

  #checkEach(buf: Buffer): void {
    for (let s = 0; s < buf.length; ) {
      const e = buf.indexOf(10, s) + 1;
      this.#check(e - s);
      s = e;
    }
  }

  /** Run one line (as pieces) through the processor and send the result. */
  #emit(pieces: Piece[], last: boolean): void {
    const p = this.#p;
    if (pieces.every((x) => !x.fixed)) {
      const bytes = pieces.length === 1 ? asBuffer(pieces[0]!.bytes) : Buffer.concat(pieces.map((x) => x.bytes));
      const { text, escaped } = this.#codec.decode(bytes);
      const r = p.line(text, last);
      if (r === undefined) this.#next.write(bytes, false);
      else this.#out(r, escaped);
      return;
    }
    // Fixed pieces split the line into segments; adjacent plain pieces are decoded together so
    // a character cut by a chunk boundary is whole again.
    const segs: Segment[] = [];
    let escapedAny = false;
    let plain: Uint8Array[] = [];
    const endPlain = (): void => {
      if (plain.length === 0) return;
      const { text, escaped } = this.#codec.decode(Buffer.concat(plain));
      escapedAny ||= escaped;
      segs.push({ text, fixed: false });
      plain = [];
    };
    for (const x of pieces) {
      if (!x.fixed) plain.push(x.bytes);
      else {
        endPlain();
        segs.push({ text: this.#codec.decode(asBuffer(x.bytes)).text, fixed: true });
      }
    }
    endPlain();
    const r = p.segments ? p.segments(segs, last) : undefined;
    if (r === undefined) for (const x of pieces) this.#next.write(x.bytes, x.fixed);
    else this.#out(r, escapedAny);
  }

  #out(r: string | Segment[], escaped: boolean): void {
    const codec = this.#codec;
    if (typeof r === 'string') {
      const bytes = codec.encode(r, escaped);
      this.#check(bytes.length);
      this.#next.write(bytes, false);
      return;
    }
    let total = 0;
    for (const seg of r) {
      const bytes = codec.encode(seg.text, escaped);
      total += bytes.length;
      this.#check(total);
      this.#next.write(bytes, seg.fixed);
    }
  }
}

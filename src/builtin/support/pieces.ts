import type { Emitter, FilterInstance, HeadPhase, Step } from '../../filters/types.js';
import { charsetKind, createDecoder, createEncoder } from './text-codec.js';

/**
 * The inside of a text rewriter: a row of stages, each handing bytes to the next by a direct
 * call, ending in a Collector that turns what one input chunk produced into one pushed chunk.
 *
 * A `fixed` piece is the replacement text of a rule that does not flatten (mod_substitute's
 * `q`): the stages after it pass it on untouched, and no match spans it.
 */
export interface PieceSink {
  write(bytes: Uint8Array, fixed: boolean): void;
  /** A flush mark: hand on everything that cannot be part of a match still to come. */
  flush(): void;
  end(): void;
}

/**
 * Gathers the pieces of one step and pushes them as one chunk: a socket gets one write per
 * input chunk, not one per match. A lone piece that is a stage's shared replacement buffer is
 * copied first, so no later filter can hold (or detach) a buffer we reuse.
 */
export class Collector implements PieceSink {
  #first: Uint8Array | null = null;
  #rest: Uint8Array[] | null = null;
  #bytes = 0;
  readonly #shared: ReadonlySet<Uint8Array>;

  constructor(shared: ReadonlySet<Uint8Array>) {
    this.#shared = shared;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#bytes += bytes.length;
    if (this.#first === null) this.#first = bytes;
    else (this.#rest ??= []).push(bytes);
  }

  flush(): void {}
  end(): void {}

  /** Push what was gathered (if anything) and start over. */
  drain(out: Emitter): Step {
    const first = this.#first;
    if (first === null) return undefined;
    const rest = this.#rest;
    this.#first = null;
    this.#rest = null;
    let chunk: Uint8Array;
    if (rest === null) chunk = this.#shared.has(first) ? Buffer.from(first) : first;
    else {
      rest.unshift(first);
      chunk = Buffer.concat(rest, this.#bytes);
    }
    this.#bytes = 0;
    return out.push(chunk);
  }
}

/**
 * A charset that cannot be searched as bytes (Shift_JIS, GBK, UTF-16) is turned into UTF-8 at
 * the entry of the row and back at its exit; everything between works on UTF-8.
 */
export class ToUtf8 implements PieceSink {
  readonly #dec;
  readonly #next: PieceSink;

  constructor(charset: string, next: PieceSink) {
    this.#dec = createDecoder(charset);
    this.#next = next;
  }

  write(bytes: Uint8Array, fixed: boolean): void {
    const text = this.#dec.write(bytes);
    if (text) this.#next.write(Buffer.from(text, 'utf8'), fixed);
  }

  flush(): void {
    this.#next.flush();
  }

  end(): void {
    const text = this.#dec.end();
    if (text) this.#next.write(Buffer.from(text, 'utf8'), false);
    this.#next.end();
  }
}

export class FromUtf8 implements PieceSink {
  readonly #dec = createDecoder('utf-8');
  readonly #enc;
  readonly #next: PieceSink;

  constructor(charset: string, next: PieceSink) {
    this.#enc = createEncoder(charset);
    this.#next = next;
  }

  write(bytes: Uint8Array): void {
    const out = this.#enc.write(this.#dec.write(bytes));
    if (out.length) this.#next.write(out, false);
  }

  flush(): void {
    this.#next.flush();
  }

  end(): void {
    const a = this.#enc.write(this.#dec.end());
    const b = this.#enc.end();
    if (a.length) this.#next.write(a, false);
    if (b.length) this.#next.write(b, false);
    this.#next.end();
  }
}

/** The charset the stages search in: the message's own, or UTF-8 for one not searchable as bytes. */
export function searchCharset(charset: string): string {
  return charsetKind(charset) === 'other' ? 'utf-8' : charset;
}

/**
 * The body half of a filter built from piece stages (substitute, sed): bytes go into the
 * first stage, and what reaches the collector is pushed on after each call. A subclass wires
 * the stages in its onHead (`wire`), or steps aside.
 */
export abstract class PiecesInstance implements FilterInstance {
  #row: PieceSink | undefined;
  #collector: Collector | undefined;

  abstract onHead(head: HeadPhase): void;

  protected wire(row: PieceSink, collector: Collector): void {
    this.#row = row;
    this.#collector = collector;
  }

  /**
   * Wire the stages `build` makes (given what they hand on to) for a message in `charset`,
   * between UTF-8 converters when it is not searchable as bytes (see searchCharset).
   */
  protected wireText(charset: string, collector: Collector, build: (next: PieceSink) => PieceSink): void {
    const convert = charsetKind(charset) === 'other';
    const row = build(convert ? new FromUtf8(charset, collector) : collector);
    this.wire(convert ? new ToUtf8(charset, row) : row, collector);
  }

  onData(chunk: Uint8Array, out: Emitter): Step {
    this.#row!.write(chunk, false);
    return this.#collector!.drain(out);
  }

  onFlush(out: Emitter): Step {
    this.#row!.flush();
    return this.#collector!.drain(out);
  }

  onEnd(out: Emitter): Step {
    this.#row!.end();
    return this.#collector!.drain(out);
  }
}

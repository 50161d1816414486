/**
 * A streaming HTML tokenizer over bytes, for filters that rewrite a few spans of a document and
 * must leave every other byte as it came. It follows the WHATWG tokenizer where that decides
 * where a tag starts and ends (attribute quoting, comments, raw-text and RCDATA elements, the
 * script-data escape states) and reports only what a rewriter needs: each start tag with the
 * positions of its name and attributes, and the text of <script> and <style> elements.
 *
 * It works on bytes of any ASCII-compatible charset (UTF-8, windows-1252, Shift_JIS, EUC-JP,
 * GBK, Big5: none uses a byte below 0x40 inside a multi-byte character, and every delimiter the
 * tokenizer looks for is below 0x40 except the letters of tag names, which only ever follow a
 * `<`). It never builds a tree and never normalises anything.
 *
 * Streaming contract: `scan(buf)` returns how many bytes of `buf` are complete; the caller must
 * pass the rest again, in front of the next data. What stays behind is always an incomplete
 * tag or a few bytes of an incomplete delimiter (`<!-`, `</scr`, `--`, `]]`): the caller bounds
 * it. With `final`, everything is complete (an unfinished tag at the end of input is text).
 */

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const DASH = 0x2d;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;
const RSQB = 0x5d;

/** Per-attribute fields in StartTag.attrs (stride ATTR_STRIDE). */
export const A_NAME_START = 0;
export const A_NAME_END = 1;
export const A_NAME_HASH = 2;
export const A_VALUE_START = 3;
export const A_VALUE_END = 4;
/** The quote byte (0x22 or 0x27), QUOTE_NONE for an unquoted value, NO_VALUE for `<input disabled>`. */
export const A_QUOTE = 5;
export const ATTR_STRIDE = 6;
export const QUOTE_NONE = 0;
export const NO_VALUE = -1;

/** Elements whose content the tokenizer does not read as markup. */
export const enum RawElement {
  None = 0,
  Script = 1,
  Style = 2,
  /** textarea, title: RCDATA (character references, but no tags). */
  Rcdata = 3,
  /** xmp, iframe, noembed, noframes: RAWTEXT. */
  Rawtext = 4,
  Plaintext = 5,
}

/**
 * ASCII-lowercase hash of a name, the one the tokenizer computes for tag and attribute names.
 * 30 bits, so it stays a small integer for V8 (no number boxed per attribute).
 */
export function hashName(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + lower(name.charCodeAt(i))) | 0;
  return h & HASH_MASK;
}

const HASH_MASK = 0x3fffffff;

/** buf[start, end) equals `lowerName` ignoring ASCII case (`lowerName` is lower-case ASCII). */
export function nameEquals(buf: Uint8Array, start: number, end: number, lowerName: string): boolean {
  if (end - start !== lowerName.length) return false;
  for (let i = 0; i < lowerName.length; i++) if (lower(buf[start + i]!) !== lowerName.charCodeAt(i)) return false;
  return true;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

// Byte classes for the tag loops: one table load per byte instead of a chain of comparisons.
const C_WS = 1;
const C_SLASH = 2;
const C_GT = 4;
const C_EQ = 8;
const CLS = new Uint8Array(256);
for (const c of [0x20, 0x0a, 0x09, 0x0d, 0x0c]) CLS[c] = C_WS;
CLS[SLASH] = C_SLASH;
CLS[GT] = C_GT;
CLS[EQ] = C_EQ;
const LOWER = Uint8Array.from({ length: 256 }, (_, c) => lower(c));

function isAlpha(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** HTML's whitespace: tab, LF, FF, CR, space. */
function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c;
}

/** A start tag as the sink sees it; one object, reused for every tag (copy what you keep). */
export class StartTag {
  buf: Uint8Array = new Uint8Array(0);
  /** Index of `<`. */
  start = 0;
  /** Index after `>`. */
  end = 0;
  nameStart = 0;
  nameEnd = 0;
  nameHash = 0;
  /** Ends in `/>` (meaningful in XHTML and foreign content only). */
  selfClosing = false;
  attrCount = 0;
  attrs = new Int32Array(ATTR_STRIDE * 16);
}

export interface TokenSink {
  /** A complete start tag. */
  startTag(tag: StartTag): void;
  /**
   * Text of a <script> or <style> element, in order, possibly in several pieces; `last` marks
   * the piece before the end tag (or the end of input). Raw text of other elements is not
   * reported.
   */
  rawText(buf: Uint8Array, start: number, end: number, element: RawElement.Script | RawElement.Style, last: boolean): void;
}

const enum Mode {
  Data,
  Comment,
  Cdata,
  /** `<!doctype>`, `<?xml?>`, `</ x>`: up to the next `>`. */
  Bogus,
  Raw,
  Plaintext,
}

const RAW_ELEMENTS: ReadonlyArray<[string, RawElement]> = [
  ['script', RawElement.Script],
  ['style', RawElement.Style],
  ['textarea', RawElement.Rcdata],
  ['title', RawElement.Rcdata],
  ['xmp', RawElement.Rawtext],
  ['iframe', RawElement.Rawtext],
  ['noembed', RawElement.Rawtext],
  ['noframes', RawElement.Rawtext],
  ['plaintext', RawElement.Plaintext],
];
const RAW_BY_HASH = new Map(RAW_ELEMENTS.map(([name, kind]) => [hashName(name), { name, kind }]));
/** Bit n set when a raw-text element's name has n letters: most tags (a, p, li, span) skip the lookup. */
const RAW_LENGTHS = RAW_ELEMENTS.reduce((bits, [name]) => bits | (1 << name.length), 0);

const enum Match {
  No = 0,
  Yes = 1,
  /** The input ends before it can be told. */
  Partial = -1,
}

export interface TokenizerOptions {
  /** XHTML: `<script/>` and `<style/>` are empty elements, not the start of raw text. */
  xml?: boolean;
}

export class HtmlTokenizer {
  #mode: Mode = Mode.Data;
  /** The raw-text element we are in, and its lower-case name (for the end tag). */
  #raw: RawElement = RawElement.None;
  #rawName = '';
  /** Script data: 0 normal, 1 escaped (after `<!--`), 2 double escaped (`<!-- <script>`). */
  #escape = 0;
  /** A byte that must arrive before scanning the held input again can progress, or -1. */
  #awaiting = -1;
  readonly #xml: boolean;
  readonly #tag = new StartTag();

  constructor(opts: TokenizerOptions = {}) {
    this.#xml = opts.xml ?? false;
  }

  /**
   * When the held input is an incomplete tag, the byte (`>`) without which it cannot complete:
   * a caller may append data lacking it to the held bytes without scanning again (so a long
   * tag arriving in many small chunks is not rescanned each time). -1 otherwise.
   */
  get awaiting(): number {
    return this.#awaiting;
  }

  /** Inside an element whose text is reported (script, style). */
  get inRawText(): RawElement {
    return this.#mode === Mode.Raw ? this.#raw : RawElement.None;
  }

  /**
   * Tokenize `buf` from its start (which continues where the last complete byte left off).
   * Returns the number of complete bytes; the rest must be passed again with the next data.
   */
  scan(buf: Uint8Array, sink: TokenSink, final = false): number {
    this.#awaiting = -1;
    const n = buf.length;
    let i = 0;
    while (i < n) {
      switch (this.#mode) {
        case Mode.Data: {
          const lt = findByte(buf, LT, i);
          if (lt < 0) return n;
          i = lt;
          if (i + 1 >= n) return final ? n : i;
          const c = buf[i + 1]!;
          if (isAlpha(c)) {
            const end = this.#parseTag(buf, i, false);
            if (end < 0) {
              if (final) return n;
              this.#awaiting = GT;
              return i;
            }
            sink.startTag(this.#tag);
            i = end;
            this.#enterRaw(buf);
          } else if (c === SLASH) {
            if (i + 2 >= n) return final ? n : i;
            const c2 = buf[i + 2]!;
            if (isAlpha(c2)) {
              const end = this.#parseTag(buf, i, true);
              if (end < 0) {
                if (final) return n;
                this.#awaiting = GT;
                return i;
              }
              i = end;
            } else if (c2 === GT) {
              i += 3;
            } else {
              this.#mode = Mode.Bogus;
              i += 2;
            }
          } else if (c === BANG) {
            const comment = startsWith(buf, i + 2, '--');
            if (comment === Match.Yes) {
              // `<!-->` and `<!--->` are complete (empty) comments
              if (!final && (i + 4 >= n || (buf[i + 4] === DASH && i + 5 >= n))) return i;
              if (buf[i + 4] === GT) i += 5;
              else if (buf[i + 4] === DASH && buf[i + 5] === GT) i += 6;
              else {
                this.#mode = Mode.Comment;
                i += 4;
              }
              continue;
            }
            const cdata = startsWith(buf, i + 2, '[CDATA[');
            if ((comment === Match.Partial || cdata === Match.Partial) && !final) return i;
            if (cdata === Match.Yes) {
              this.#mode = Mode.Cdata;
              i += 9;
            } else {
              this.#mode = Mode.Bogus;
              i += 2;
            }
          } else if (c === QUESTION) {
            this.#mode = Mode.Bogus;
            i += 2;
          } else {
            i += 1;
          }
          break;
        }
        case Mode.Comment: {
          const r = this.#commentEnd(buf, i);
          if (r < 0) return final ? n : -r - 1;
          this.#mode = Mode.Data;
          i = r;
          break;
        }
        case Mode.Cdata: {
          const e = indexOfStr(buf, ']]>', i);
          if (e < 0) {
            let k = n;
            while (!final && k > i && n - k < 2 && buf[k - 1] === RSQB) k--;
            return k;
          }
          this.#mode = Mode.Data;
          i = e + 3;
          break;
        }
        case Mode.Bogus: {
          const gt = buf.indexOf(GT, i);
          if (gt < 0) return n;
          this.#mode = Mode.Data;
          i = gt + 1;
          break;
        }
        case Mode.Raw: {
          const r = this.#raw === RawElement.Script ? this.#scriptEnd(buf, i) : this.#rawEnd(buf, i);
          if (r >= 0) {
            this.#report(sink, buf, i, r, true);
            this.#mode = Mode.Data;
            this.#raw = RawElement.None;
            i = r;
            break;
          }
          const held = final ? n : -r - 1;
          this.#report(sink, buf, i, held, final);
          return held;
        }
        case Mode.Plaintext:
          return n;
      }
    }
    if (final && this.#mode === Mode.Raw) this.#report(sink, buf, n, n, true);
    return n;
  }

  #report(sink: TokenSink, buf: Uint8Array, start: number, end: number, last: boolean): void {
    const raw = this.#raw;
    if ((raw === RawElement.Script || raw === RawElement.Style) && (end > start || last)) sink.rawText(buf, start, end, raw, last);
  }

  /** After a start tag: switch to raw text for script, style, textarea, title, ... */
  #enterRaw(buf: Uint8Array): void {
    const t = this.#tag;
    const len = t.nameEnd - t.nameStart;
    if (len > 9 || (RAW_LENGTHS & (1 << len)) === 0) return;
    const hit = RAW_BY_HASH.get(t.nameHash);
    if (hit === undefined || !nameEquals(buf, t.nameStart, t.nameEnd, hit.name)) return;
    if (this.#xml && t.selfClosing) return;
    this.#mode = hit.kind === RawElement.Plaintext ? Mode.Plaintext : Mode.Raw;
    this.#raw = hit.kind;
    this.#rawName = hit.name;
    this.#escape = 0;
  }

  /**
   * Parse a tag from `<` at `start` per the WHATWG attribute states (a `>` inside a quoted
   * value does not end it). Fills this.#tag for start tags. Returns the index after `>`, or -1
   * when the input ends first.
   */
  #parseTag(buf: Uint8Array, start: number, isEnd: boolean): number {
    const n = buf.length;
    const t = this.#tag;
    let p = start + (isEnd ? 2 : 1);
    const nameStart = p;
    let h = 0;
    let c = 0;
    while (p < n) {
      c = buf[p]!;
      if ((CLS[c]! & (C_WS | C_SLASH | C_GT)) !== 0) break;
      h = (Math.imul(h, 31) + LOWER[c]!) | 0;
      p++;
    }
    if (p >= n) return -1;
    if (!isEnd) {
      t.buf = buf;
      t.start = start;
      t.nameStart = nameStart;
      t.nameEnd = p;
      t.nameHash = h & HASH_MASK;
      t.selfClosing = false;
      t.attrCount = 0;
    }
    for (;;) {
      // before attribute name
      while (p < n) {
        c = buf[p]!;
        if (c === SLASH) {
          if (p + 1 < n && buf[p + 1] === GT) {
            if (!isEnd) t.selfClosing = true;
          }
        } else if (CLS[c] !== C_WS) break;
        p++;
      }
      if (p >= n) return -1;
      if (c === GT) {
        if (!isEnd) t.end = p + 1;
        return p + 1;
      }
      // attribute name: its first character may be `=`
      const as = p;
      let ah = LOWER[c]!;
      p++;
      while (p < n) {
        c = buf[p]!;
        if (CLS[c] !== 0) break;
        ah = (Math.imul(ah, 31) + LOWER[c]!) | 0;
        p++;
      }
      if (p >= n) return -1;
      const ae = p;
      while (p < n && CLS[buf[p]!] === C_WS) p++;
      if (p >= n) return -1;
      if (buf[p] !== EQ) {
        if (!isEnd) this.#addAttr(as, ae, ah, 0, 0, NO_VALUE);
        continue;
      }
      p++;
      while (p < n && CLS[buf[p]!] === C_WS) p++;
      if (p >= n) return -1;
      c = buf[p]!;
      if (c === DQ || c === SQ) {
        const q = findByte(buf, c, p + 1);
        if (q < 0) return -1;
        if (!isEnd) this.#addAttr(as, ae, ah, p + 1, q, c);
        p = q + 1;
      } else if (c === GT) {
        // `<a href=>`: an empty value, and the tag ends here
        if (!isEnd) {
          this.#addAttr(as, ae, ah, p, p, QUOTE_NONE);
          t.end = p + 1;
        }
        return p + 1;
      } else {
        const vs = p;
        while (p < n && (CLS[buf[p]!]! & (C_WS | C_GT)) === 0) p++;
        if (p >= n) return -1;
        if (!isEnd) this.#addAttr(as, ae, ah, vs, p, QUOTE_NONE);
      }
    }
  }

  #addAttr(ns: number, ne: number, nh: number, vs: number, ve: number, quote: number): void {
    const t = this.#tag;
    let a = t.attrs;
    const k = t.attrCount * ATTR_STRIDE;
    if (k + ATTR_STRIDE > a.length) {
      const bigger = new Int32Array(a.length * 2);
      bigger.set(a);
      t.attrs = a = bigger;
    }
    a[k + A_NAME_START] = ns;
    a[k + A_NAME_END] = ne;
    a[k + A_NAME_HASH] = nh & HASH_MASK;
    a[k + A_VALUE_START] = vs;
    a[k + A_VALUE_END] = ve;
    a[k + A_QUOTE] = quote;
    t.attrCount++;
  }

  /**
   * The end of a comment (`-->` or `--!>`) from `i`: the index after it, or -(held + 1) where
   * `held` is the first byte that must be scanned again (a trailing `-`, `--` or `--!`).
   */
  #commentEnd(buf: Uint8Array, i: number): number {
    const n = buf.length;
    let j = i;
    for (;;) {
      const d = indexOfStr(buf, '--', j);
      if (d < 0) return -((n > i && buf[n - 1] === DASH ? n - 1 : n) + 1);
      if (d + 2 >= n) return -(d + 1);
      const c = buf[d + 2];
      if (c === GT) return d + 3;
      if (c === BANG) {
        if (d + 3 >= n) return -(d + 1);
        if (buf[d + 3] === GT) return d + 4;
      }
      j = d + 1;
    }
  }

  /** RAWTEXT / RCDATA: the index of the element's end tag, or -(held + 1). */
  #rawEnd(buf: Uint8Array, i: number): number {
    let j = i;
    for (;;) {
      const lt = buf.indexOf(LT, j);
      if (lt < 0) return -(buf.length + 1);
      const m = this.#endTagAt(buf, lt);
      if (m === Match.Yes) return lt;
      if (m === Match.Partial) return -(lt + 1);
      j = lt + 1;
    }
  }

  /**
   * Script data, with the escape states that keep `<!-- <script>…</script> -->` inside a
   * script from ending it: the index of the real `</script>`, or -(held + 1).
   */
  #scriptEnd(buf: Uint8Array, i: number): number {
    const n = buf.length;
    let j = i;
    for (;;) {
      const lt = buf.indexOf(LT, j);
      if (this.#escape !== 0) {
        const dd = indexOfStr(buf, '-->', j);
        if (dd >= 0 && (lt < 0 || dd < lt)) {
          this.#escape = 0;
          j = dd + 3;
          continue;
        }
        if (lt < 0) {
          // a trailing `-` or `--` may be the start of `-->`
          let k = n;
          while (k > j && n - k < 2 && buf[k - 1] === DASH) k--;
          return -(k + 1);
        }
      } else if (lt < 0) {
        return -(n + 1);
      }
      if (lt + 1 >= n) return -(lt + 1);
      const c = buf[lt + 1]!;
      if (this.#escape === 0) {
        if (c === BANG) {
          const m = startsWith(buf, lt + 2, '--');
          if (m === Match.Partial) return -(lt + 1);
          if (m === Match.Yes) {
            this.#escape = 1;
            j = lt + 2; // the `--` may be the start of `-->`
            continue;
          }
        } else if (c === SLASH) {
          const m = this.#endTagAt(buf, lt);
          if (m === Match.Yes) return lt;
          if (m === Match.Partial) return -(lt + 1);
        }
      } else if (this.#escape === 1) {
        if (c === SLASH) {
          const m = this.#endTagAt(buf, lt);
          if (m === Match.Yes) return lt;
          if (m === Match.Partial) return -(lt + 1);
        } else if (isAlpha(c)) {
          const m = nameThenDelimiter(buf, lt + 1, 'script');
          if (m === Match.Partial) return -(lt + 1);
          if (m === Match.Yes) {
            this.#escape = 2;
            j = lt + 7;
            continue;
          }
        }
      } else if (c === SLASH) {
        const m = this.#endTagAt(buf, lt);
        if (m === Match.Partial) return -(lt + 1);
        if (m === Match.Yes) {
          this.#escape = 1;
          j = lt + 8;
          continue;
        }
      }
      j = lt + 1;
    }
  }

  /** `</name` followed by whitespace, `/` or `>` at `lt`, for the current raw element. */
  #endTagAt(buf: Uint8Array, lt: number): Match {
    if (lt + 1 >= buf.length) return Match.Partial;
    if (buf[lt + 1] !== SLASH) return Match.No;
    return nameThenDelimiter(buf, lt + 2, this.#rawName);
  }
}

/** buf at `at` starts with ASCII `s` (case-sensitive)? Partial when buf ends inside a prefix. */
function startsWith(buf: Uint8Array, at: number, s: string): Match {
  for (let k = 0; k < s.length; k++) {
    if (at + k >= buf.length) return Match.Partial;
    if (buf[at + k] !== s.charCodeAt(k)) return Match.No;
  }
  return Match.Yes;
}

/** A tag name equal to `lowerName` (ASCII case-insensitive), then whitespace, `/` or `>`. */
function nameThenDelimiter(buf: Uint8Array, at: number, lowerName: string): Match {
  const n = buf.length;
  for (let k = 0; k < lowerName.length; k++) {
    if (at + k >= n) return Match.Partial;
    if (lower(buf[at + k]!) !== lowerName.charCodeAt(k)) return Match.No;
  }
  const e = at + lowerName.length;
  if (e >= n) return Match.Partial;
  const c = buf[e]!;
  return c === GT || c === SLASH || isWs(c) ? Match.Yes : Match.No;
}

/**
 * indexOf of one byte. Text between tags and attribute values are mostly a few dozen bytes,
 * where a plain loop beats the ~45 ns a native indexOf call costs; longer runs go native.
 */
function findByte(buf: Uint8Array, b: number, from: number): number {
  const n = buf.length;
  const lim = from + 32 < n ? from + 32 : n;
  for (let i = from; i < lim; i++) if (buf[i] === b) return i;
  return lim === n ? -1 : buf.indexOf(b, lim);
}

/** indexOf of an ASCII string in bytes (Buffer's native search when it is a Buffer). */
function indexOfStr(buf: Uint8Array, s: string, from: number): number {
  if (Buffer.isBuffer(buf)) return buf.indexOf(s, from, 'latin1');
  const first = s.charCodeAt(0);
  for (let i = buf.indexOf(first, from); i >= 0; i = buf.indexOf(first, i + 1)) {
    if (startsWith(buf, i, s) === Match.Yes) return i;
    if (i + s.length > buf.length) return -1;
  }
  return -1;
}

import { Type, type Static } from '@sinclair/typebox';
import iconv from 'iconv-lite';
import { FilterOptionsError, MarkupTooLongError } from '../errors.js';
import { mediaTypeMatcher } from '../filters/media-type.js';
import { defineFilter } from '../filters/registry.js';
import type { Emitter, FilterInstance, HeadPhase, Step } from '../filters/types.js';
import { charsetExists, resolveCharset } from './support/charsets.js';
import {
  A_NAME_END,
  A_NAME_HASH,
  A_NAME_START,
  A_QUOTE,
  A_VALUE_END,
  A_VALUE_START,
  ATTR_STRIDE,
  HtmlTokenizer,
  NO_VALUE,
  QUOTE_NONE,
  RawElement,
  hashName,
  nameEquals,
  type StartTag,
  type TokenSink,
} from './support/html-tokenizer.js';
import { decodeAttr, encodeAttr, rewriteCss, rewriteRefresh, rewriteSrcset } from './support/html-values.js';
import { messageCharset } from './support/text-codec.js';
import { RuleError, RuleSet, parseRule, type RuleDef, type RuleInput } from './support/urlmap-rules.js';

/** Attributes that hold a URL, on any element (srcset and imagesrcset hold candidate lists). */
const DEFAULT_LINKS = [
  'href', 'src', 'action', 'formaction', 'srcset', 'imagesrcset', 'poster', 'cite', 'data', 'background', 'longdesc',
  'usemap', 'codebase', 'classid', 'profile', 'manifest', 'xlink:href',
];
const SRCSET = new Set(['srcset', 'imagesrcset']);

const RuleObject = Type.Object(
  {
    from: Type.String({ minLength: 1, description: 'Text (a prefix, for links) or, with regex, a regular expression.' }),
    to: Type.String({ description: 'Replacement; with regex, $0-$9 are groups and \\ escapes.' }),
    flags: Type.Optional(Type.String({ description: 'ProxyHTMLURLMap flags: R i L l h e c ^ $.' })),
    regex: Type.Optional(Type.Boolean({ description: 'Flag R.' })),
    ignoreCase: Type.Optional(Type.Boolean({ description: 'Flag i.' })),
    last: Type.Optional(Type.Boolean({ description: 'Flag L.' })),
    links: Type.Optional(Type.Boolean({ description: 'false = flag h: not in HTML link attributes.' })),
    events: Type.Optional(Type.Boolean({ description: 'false = flag e: not in event attributes.' })),
    embedded: Type.Optional(Type.Boolean({ description: 'false = flag c: not in script and style.' })),
  },
  { additionalProperties: false },
);

const options = Type.Object(
  {
    rules: Type.Array(Type.Union([Type.String(), RuleObject]), {
      minItems: 1,
      description: 'Ordered rules: "from to [flags]" as ProxyHTMLURLMap, or {from, to, ...}.',
    }),
    extended: Type.Boolean({
      default: false,
      description: 'ProxyHTMLExtended: also rewrite event attributes, <script> text, and CSS url() in style attributes and <style>.',
    }),
    scripts: Type.Optional(Type.Boolean({ description: 'Event attributes and <script> text (default: extended).' })),
    css: Type.Optional(Type.Boolean({ description: 'url() and @import in style attributes and <style> (default: extended).' })),
    links: Type.Array(Type.String({ minLength: 1 }), { default: DEFAULT_LINKS, description: 'Attribute names that hold a URL.' }),
    types: Type.Array(Type.String(), { default: ['text/html', 'application/xhtml+xml'], description: 'Media types rewritten.' }),
    charset: Type.String({ default: 'utf-8', description: 'Charset assumed when Content-Type names none.' }),
    maxTagLength: Type.Integer({
      minimum: 64,
      default: 1024 * 1024,
      description: 'Longest tag (or script/style line, when rewritten) held while waiting for its end; longer fails the message.',
    }),
  },
  { additionalProperties: false },
);
type Options = Static<typeof options>;

const NAME = 'html-urlmap';

/** Every ASCII byte the tokenizer and the rules rely on: must be itself in the charset. */
const PROBE = '<a href="/x?y=1&amp;z" on=\'1\'>\t\n\r\f !#$%()*+,-./:;=?@[\\]^_`{|}~0123456789AZaz';
const NOT_MARKUP_SAFE = /^(utf(16|32)(le|be)?|ucs2|ucs4|utf7(imap)?|iso2022.*|hz.*|cp120[01]|unicode.*)$/;
const safeCache = new Map<string, boolean>();

/** Markup in this charset is ASCII bytes, and no multi-byte character contains `<>"'=/` etc. */
export function markupSafe(charset: string): boolean {
  const key = resolveCharset(charset);
  let ok = safeCache.get(key);
  if (ok === undefined) {
    try {
      ok = !NOT_MARKUP_SAFE.test(key) && iconv.encode(PROBE, charset).toString('latin1') === PROBE;
    } catch {
      ok = false;
    }
    safeCache.set(key, ok);
  }
  return ok;
}

interface LinkName {
  readonly name: string;
  readonly srcset: boolean;
}

/**
 * Attribute names by the tokenizer's name hash: open addressing in typed arrays, because it
 * is asked for every attribute of every tag.
 */
class NameTable {
  readonly #mask: number;
  readonly #hashes: Int32Array;
  readonly #used: Uint8Array;
  readonly #values: Array<LinkName | undefined>;

  constructor(names: readonly LinkName[]) {
    let size = 16;
    while (size < names.length * 4) size *= 2;
    this.#mask = size - 1;
    this.#hashes = new Int32Array(size);
    this.#used = new Uint8Array(size);
    this.#values = new Array<LinkName | undefined>(size).fill(undefined);
    for (const v of names) {
      const h = hashName(v.name);
      let i = h & this.#mask;
      while (this.#used[i] === 1 && this.#hashes[i] !== h) i = (i + 1) & this.#mask;
      this.#hashes[i] = h;
      this.#used[i] = 1;
      this.#values[i] = v;
    }
  }

  get(h: number): LinkName | undefined {
    for (let i = h & this.#mask; this.#used[i] === 1; i = (i + 1) & this.#mask) if (this.#hashes[i] === h) return this.#values[i];
    return undefined;
  }
}

/**
 * A literal link rule ready for the byte path: its `from` lower-cased, and its replacement
 * already escaped for a double-quoted, single-quoted and unquoted value (null: an unquoted
 * value would need quotes, so the general path writes it).
 */
interface FastLink {
  /** `from` lower-cased, and per byte 0x20 where it is a letter (so `(b | fold) === lower`). */
  readonly lower: Uint8Array;
  readonly fold: Uint8Array;
  readonly fromLength: number;
  readonly dq: Buffer;
  readonly sq: Buffer;
  readonly unquoted: Buffer | null;
}

/** The rules compiled for one charset. */
interface CharsetRules {
  readonly rules: RuleSet;
  /** Every link rule as a FastLink, or null when one is a regex (or has a `&` in `from`). */
  readonly fast: readonly FastLink[] | null;
  /** Every fast replacement fits an unquoted value. */
  readonly fastUnquoted: boolean;
}

/** Parsed once per options object (options are frozen and shared by every instance). */
interface Compiled {
  readonly defs: readonly RuleDef[];
  readonly links: NameTable;
  readonly sets: Map<string, CharsetRules>;
  readonly types: (ct: string | undefined) => boolean;
}
const compiled = new WeakMap<Options, Compiled>();

function compile(o: Options): Compiled {
  let c = compiled.get(o);
  if (c === undefined) {
    const names = [...new Set(o.links.map((n) => n.toLowerCase()))];
    c = {
      defs: o.rules.map((r, i) => parseRule(r as RuleInput, i)),
      links: new NameTable(names.map((name) => ({ name, srcset: SRCSET.has(name) }))),
      sets: new Map(),
      types: mediaTypeMatcher(o.types),
    };
    compiled.set(o, c);
  }
  return c;
}

function ruleSet(c: Compiled, charset: string): CharsetRules {
  const key = resolveCharset(charset);
  let s = c.sets.get(key);
  if (s === undefined) {
    const rules = new RuleSet(c.defs, charset);
    // (a `&` in a rule's own `from` would need the decoded comparison)
    const fast = rules.literalLinks && rules.links.every((r) => !r.from.includes('&'))
      ? rules.links.map((r): FastLink => {
          const to = r.toAttr[0] as string;
          const unquoted = to !== '' && !/[\s>]|^["']/.test(to);
          const lower = Buffer.from(r.fromLower, 'latin1');
          return {
            lower,
            fold: lower.map((b) => (b >= 0x61 && b <= 0x7a ? 0x20 : 0)),
            fromLength: r.from.length,
            dq: Buffer.from(encodeAttr(to, DQ), 'latin1'),
            sq: Buffer.from(encodeAttr(to, SQ), 'latin1'),
            unquoted: unquoted ? Buffer.from(encodeAttr(to, QUOTE_NONE), 'latin1') : null,
          };
        })
      : null;
    s = { rules, fast, fastUnquoted: (fast ?? []).every((f) => f.unquoted !== null) };
    c.sets.set(key, s);
  }
  return s;
}

/**
 * mod_proxy_html's URL mapping done streaming: URLs in link attributes (and optionally event
 * attributes, script text and CSS) rewritten by ProxyHTMLURLMap rules, every other byte as it
 * came. See docs/builtins.md for the rules' semantics and where this differs from Apache.
 */
export const htmlUrlmap = defineFilter({
  name: NAME,
  description: 'Rewrites URLs in HTML links (and optionally scripts and CSS) by ProxyHTMLURLMap rules, streaming.',
  directions: ['output'],
  stage: 'content',
  options,
  validate: (o) => {
    o.rules.forEach((r, i) => {
      try {
        parseRule(r as RuleInput, i);
      } catch (err) {
        if (err instanceof RuleError) throw new FilterOptionsError(NAME, `rules/${i}`, err.message);
        throw err;
      }
    });
    if (!charsetExists(o.charset)) throw new FilterOptionsError(NAME, 'charset', `unknown charset "${o.charset}"`);
    if (!markupSafe(o.charset)) throw new FilterOptionsError(NAME, 'charset', `"${o.charset}" is not ASCII-compatible; convert with the charset filter first`);
  },
  create: (ctx) => new UrlMapInstance(ctx.options),
});

const DQ = 0x22;
const SQ = 0x27;
const STYLE = hashName('style');
const CONTENT = hashName('content');
const HTTP_EQUIV = hashName('http-equiv');

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c;
}

function hasByte(buf: Uint8Array, start: number, end: number, b: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === b) return true;
  return false;
}

const EMPTY = Buffer.alloc(0);

class UrlMapInstance implements FilterInstance, TokenSink {
  readonly #o: Options;
  readonly #c: Compiled;
  #rules!: RuleSet;
  #fast: readonly FastLink[] | null = null;
  /** Whether every literal replacement fits an unquoted value. */
  #fastUnquoted = false;
  #tok!: HtmlTokenizer;
  #scripts: boolean;
  #css: boolean;
  /** Bytes not yet complete (an unfinished tag), in the order they came. */
  #held: Buffer[] = [];
  #heldLen = 0;
  /**
   * The window being scanned and how far output has been produced from it. Until the first
   * edit in a window nothing is copied (the window itself goes out); from then on the output
   * is written into #out.
   */
  #win: Buffer = EMPTY;
  #cursor = 0;
  #out: Buffer | null = null;
  #pos = 0;
  /** Where the window's copy starts in #out. */
  #base = 0;
  /**
   * Output buffers are cut from a slab, one after the other, so a page does not cost one
   * ArrayBuffer per chunk (each one is garbage-collector work); bytes handed on are never
   * written again.
   */
  #slab: Buffer = EMPTY;
  #slabPos = 0;
  /** Script or style text being rewritten: the part after the last newline. */
  #line = '';
  #lineEl: RawElement = RawElement.None;
  /** A decoded character reference as bytes of the message charset (undefined: none). */
  readonly #charBytes = (s: string): string | undefined => this.#rules.encoder.exact(s);

  constructor(o: Options) {
    this.#o = o;
    this.#c = compile(o);
    this.#scripts = o.scripts ?? o.extended;
    this.#css = o.css ?? o.extended;
  }

  onHead(head: HeadPhase): void {
    const h = head.headers;
    const ct = h.get('content-type');
    const noBody = head.request.method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200;
    const encoded = h.tokens('content-encoding').some((t) => t.toLowerCase() !== 'identity');
    if (noBody || encoded || head.status === 206 || h.has('content-range') || !this.#c.types(ct)) {
      head.passOn();
      return;
    }
    // (an iso-8859-1 label means windows-1252, as in browsers)
    const charset = messageCharset(h, this.#o.charset);
    // A body in UTF-16 or ISO-2022-JP cannot be tokenized as bytes: leave it alone.
    if (!markupSafe(charset)) {
      head.passOn();
      return;
    }
    const set = ruleSet(this.#c, charset);
    this.#rules = set.rules;
    this.#fast = set.fast;
    this.#fastUnquoted = set.fastUnquoted;
    const r = this.#rules;
    if (r.links.length === 0 && !((this.#scripts && r.events.length) || ((this.#scripts || this.#css) && r.embedded.length))) {
      head.passOn();
      return;
    }
    this.#tok = new HtmlTokenizer({ xml: /xhtml|\/xml|\+xml/i.test(ct ?? '') });
    head.changesLength(true);
  }

  onData(chunk: Uint8Array, out: Emitter): Step {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#heldLen === 0) return this.#scan(c, out, false);
    // Complete the held tag with as little of the chunk as it takes (up to a `>`), so the rest
    // of the chunk is scanned in place instead of being copied behind the held bytes.
    let from = 0;
    let step: Step = undefined;
    while (this.#heldLen > 0) {
      const need = this.#tok.awaiting;
      let k = c.length;
      if (need >= 0) {
        const gt = c.indexOf(need, from);
        if (gt < 0) {
          // an unfinished tag cannot end without it: keep collecting without scanning again
          this.#hold(c.subarray(from));
          return step;
        }
        k = gt + 1;
      }
      this.#held.push(c.subarray(from, k));
      const win = Buffer.concat(this.#held, this.#heldLen + k - from);
      this.#held = [];
      this.#heldLen = 0;
      step = this.#scan(win, out, false) ?? step;
      from = k;
      if (from === c.length) return step;
    }
    return this.#scan(c.subarray(from), out, false) ?? step;
  }

  onFlush(out: Emitter): Step {
    // everything but an unfinished tag goes now: the partial line of script/style text too
    if (this.#line) {
      const text = this.#processLine(this.#line);
      this.#line = '';
      return out.push(Buffer.from(text, 'latin1'));
    }
  }

  onEnd(out: Emitter): Step {
    const win = this.#heldLen > 0 ? Buffer.concat(this.#held, this.#heldLen) : EMPTY;
    this.#held = [];
    this.#heldLen = 0;
    return this.#scan(win, out, true);
  }

  #hold(b: Buffer): void {
    this.#held.push(b);
    this.#heldLen += b.length;
    if (this.#heldLen > this.#o.maxTagLength) throw new MarkupTooLongError('a tag', this.#o.maxTagLength);
  }

  #scan(win: Buffer, out: Emitter, final: boolean): Step {
    this.#win = win;
    this.#cursor = 0;
    const done = this.#tok.scan(win, this, final);
    if (done < win.length) this.#hold(win.subarray(done));
    let bytes: Buffer;
    if (this.#out === null) {
      bytes = win.subarray(0, done);
    } else {
      this.#copy(done);
      bytes = this.#out.subarray(0, this.#pos);
      if (this.#out.buffer === this.#slab.buffer) this.#slabPos = bytes.byteOffset - this.#slab.byteOffset + this.#pos;
      this.#out = null;
    }
    this.#win = EMPTY;
    return bytes.length ? out.push(bytes) : undefined;
  }

  /** Output the window's bytes from the cursor up to `to`, unchanged. */
  #copy(to: number): void {
    const o = this.#out;
    if (o !== null && to > this.#cursor) {
      o.copyWithin(this.#pos, this.#base + this.#cursor, this.#base + to);
      this.#pos += to - this.#cursor;
    }
    this.#cursor = to;
  }

  /**
   * Replace window[start, end) with `bytes` (a byte string or bytes).
   *
   * The output is made in place: the first edit of a window copies the window once to the end
   * of a buffer with some slack in front, and output is then written from the buffer's start,
   * the unchanged runs moved forward with copyWithin (a native memmove that allocates nothing;
   * Buffer#copy makes a view per call, which costs more than the few dozen bytes between two
   * links). Writing never overtakes reading while the replacements have grown the text by less
   * than the slack; past it, a bigger buffer takes over.
   */
  #edit(start: number, end: number, bytes: string | Buffer): void {
    const w = this.#win;
    if (this.#out === null) {
      const slack = Math.max(1024, bytes.length + 256, w.length >> 3);
      const o = (this.#out = this.#take(w.length + slack));
      o.set(w, slack);
      this.#base = slack;
      this.#pos = 0;
      const c = this.#cursor;
      this.#cursor = 0;
      this.#copy(c);
    }
    this.#copy(start);
    const n = bytes.length;
    if (this.#pos + n > this.#base + end) {
      const slack = Math.max(this.#base * 2, n + 1024);
      const size = this.#pos + n + (w.length - end) + slack;
      const o = this.#take(size);
      o.set(this.#out!.subarray(0, this.#pos), 0);
      this.#base = size - w.length;
      o.set(w, this.#base);
      this.#out = o;
    }
    const o = this.#out!;
    if (typeof bytes === 'string') this.#pos += o.write(bytes, this.#pos, 'latin1');
    else {
      if (n <= 16) for (let i = 0; i < n; i++) o[this.#pos + i] = bytes[i]!;
      else o.set(bytes, this.#pos);
      this.#pos += n;
    }
    this.#cursor = end;
  }

  /** `size` fresh bytes from the slab (a new, bigger slab when it has not that many left). */
  #take(size: number): Buffer {
    if (this.#slab.length - this.#slabPos < size) {
      this.#slab = Buffer.allocUnsafeSlow(Math.max(size, Math.min(256 * 1024, this.#slab.length * 2, size * 4)));
      this.#slabPos = 0;
    }
    const b = this.#slab.subarray(this.#slabPos, this.#slabPos + size);
    this.#slabPos += size;
    return b;
  }

  // ---- TokenSink ------------------------------------------------------------------------------

  startTag(t: StartTag): void {
    const buf = t.buf;
    const a = t.attrs;
    const n = t.attrCount;
    const refresh = t.nameEnd - t.nameStart === 4 && nameEquals(buf, t.nameStart, t.nameEnd, 'meta') && this.#isRefresh(t);
    const linkRules = this.#rules.links.length > 0;
    for (let k = 0, o = 0; k < n; k++, o += ATTR_STRIDE) {
      const quote = a[o + A_QUOTE]!;
      if (quote === NO_VALUE) continue;
      const ns = a[o + A_NAME_START]!;
      const ne = a[o + A_NAME_END]!;
      const h = a[o + A_NAME_HASH]!;
      const vs = a[o + A_VALUE_START]!;
      const ve = a[o + A_VALUE_END]!;
      const link = this.#c.links.get(h);
      if (link !== undefined && nameEquals(buf, ns, ne, link.name)) {
        if (linkRules) this.#linkAttr(buf, vs, ve, quote, link.srcset);
      } else if (this.#scripts && ne - ns > 2 && (buf[ns]! | 0x20) === 0x6f && (buf[ns + 1]! | 0x20) === 0x6e) {
        this.#textAttr(vs, ve, quote, (v) => this.#rules.text(v, true, this.#rules.events));
      } else if (this.#css && h === STYLE && nameEquals(buf, ns, ne, 'style')) {
        this.#textAttr(vs, ve, quote, (v) => rewriteCss(v, (u) => this.#rules.link(u, true, this.#rules.embedded)));
      } else if (refresh && linkRules && h === CONTENT && nameEquals(buf, ns, ne, 'content')) {
        this.#textAttr(vs, ve, quote, (v) => rewriteRefresh(v, (u) => this.#rules.link(u, true)));
      }
    }
  }

  rawText(buf: Uint8Array, start: number, end: number, element: RawElement.Script | RawElement.Style, last: boolean): void {
    if (!(element === RawElement.Script ? this.#scripts : this.#css)) return;
    this.#lineEl = element;
    let line = this.#line + this.#win.toString('latin1', start, end);
    let text = '';
    if (last) {
      text = line;
      line = '';
    } else {
      const nl = line.lastIndexOf('\n');
      if (nl >= 0) {
        text = line.slice(0, nl + 1);
        line = line.slice(nl + 1);
      }
    }
    this.#line = line;
    // the held part of the line is output later (next piece, flush or end)
    this.#edit(start, end, text ? this.#processLines(text) : '');
    if (line.length > this.#o.maxTagLength) {
      throw new MarkupTooLongError(`a line of <${element === RawElement.Script ? 'script' : 'style'}> text`, this.#o.maxTagLength);
    }
  }

  // ---- rewriting --------------------------------------------------------------------------------

  /** `<meta http-equiv=refresh>`: the content attribute holds a URL. */
  #isRefresh(t: StartTag): boolean {
    const buf = t.buf;
    for (let k = 0, o = 0; k < t.attrCount; k++, o += ATTR_STRIDE) {
      if (t.attrs[o + A_NAME_HASH] !== HTTP_EQUIV || !nameEquals(buf, t.attrs[o + A_NAME_START]!, t.attrs[o + A_NAME_END]!, 'http-equiv')) continue;
      const v = decodeAttr(this.#win.toString('latin1', t.attrs[o + A_VALUE_START]!, t.attrs[o + A_VALUE_END]!), this.#charBytes);
      return v.trim().toLowerCase() === 'refresh';
    }
    return false;
  }

  /**
   * A link attribute. With literal rules, bytes are compared in place and only the matched
   * prefix is replaced: the rest of the value stays exactly as it was (it was valid there and
   * still is). A `&` where the prefix could be, or a regex rule, takes the general path: the
   * value is decoded, rewritten and written back escaped.
   */
  #linkAttr(buf: Uint8Array, vs: number, ve: number, quote: number, srcset: boolean): void {
    const fast = this.#fast;
    if (fast !== null && (quote !== QUOTE_NONE || this.#fastUnquoted)) {
      if (srcset ? this.#srcsetFast(buf, vs, ve, quote, fast) : this.#urlFast(buf, vs, ve, quote, fast)) return;
    }
    const rules = this.#rules;
    this.#textAttr(vs, ve, quote, srcset ? (v) => rewriteSrcset(v, (u) => rules.link(u, true)) : (v) => rules.link(v, true));
  }

  /**
   * One URL at buf[at, ve) against the literal rules; false when only the general path can
   * tell. No `from` holds a `&`, so up to the first `&` the raw bytes are the decoded text: a
   * mismatch before one is final, a mismatch at one is not.
   */
  #urlFast(buf: Uint8Array, at: number, ve: number, quote: number, fast: readonly FastLink[]): boolean {
    while (at < ve && isWs(buf[at]!)) at++;
    next: for (let r = 0; r < fast.length; r++) {
      const f = fast[r]!;
      const lower = f.lower;
      const fold = f.fold;
      const n = lower.length;
      for (let i = 0; i < n; i++) {
        if (at + i >= ve) continue next;
        const b = buf[at + i]!;
        if ((b | fold[i]!) !== lower[i]) {
          if (b === 0x26) return false;
          continue next;
        }
      }
      this.#edit(at, at + f.fromLength, quote === DQ ? f.dq : quote === SQ ? f.sq : f.unquoted!);
      return true;
    }
    return true;
  }

  /** srcset on bytes: each candidate's URL (as rewriteSrcset parses it). */
  #srcsetFast(buf: Uint8Array, vs: number, ve: number, quote: number, fast: readonly FastLink[]): boolean {
    if (hasByte(buf, vs, ve, 0x26)) return false;
    let p = vs;
    while (p < ve) {
      while (p < ve && (isWs(buf[p]!) || buf[p] === 0x2c)) p++;
      if (p >= ve) break;
      const us = p;
      while (p < ve && !isWs(buf[p]!)) p++;
      let ue = p;
      let endsCandidate = false;
      while (ue > us && buf[ue - 1] === 0x2c) {
        ue--;
        endsCandidate = true;
      }
      this.#urlFast(buf, us, ue, quote, fast);
      if (endsCandidate) continue;
      let depth = 0;
      while (p < ve) {
        const c = buf[p];
        if (c === 0x28) depth++;
        else if (c === 0x29 && depth > 0) depth--;
        else if (c === 0x2c && depth === 0) break;
        p++;
      }
    }
    return true;
  }

  /** Decode the value's references, rewrite, and write it back escaped if it changed. */
  #textAttr(vs: number, ve: number, quote: number, rewrite: (v: string) => string | undefined): void {
    const raw = this.#win.toString('latin1', vs, ve);
    const next = rewrite(decodeAttr(raw, this.#charBytes));
    if (next !== undefined) this.#edit(vs, ve, encodeAttr(next, quote));
  }

  /**
   * Script or style text, one line at a time (a rule never spans a newline, so the result does
   * not depend on where chunks end).
   */
  #processLines(text: string): string {
    if (text.indexOf('\n') < 0) return this.#processLine(text);
    return text
      .split('\n')
      .map((l) => (l ? this.#processLine(l) : l))
      .join('\n');
  }

  #processLine(line: string): string {
    const r = this.#rules;
    const next =
      this.#lineEl === RawElement.Script ? r.text(line, false, r.embedded) : rewriteCss(line, (u) => r.link(u, false, r.embedded));
    return next ?? line;
  }
}

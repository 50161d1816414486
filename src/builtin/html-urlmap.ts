import { Type, type Static } from '@sinclair/typebox';
import iconv from 'iconv-lite';
import { FilterOptionsError, MarkupTooLongError } from '../errors.js';
import { mediaTypeMatcher } from '../filters/media-type.js';
import { defineFilter } from '../filters/registry.js';
import type { Emitter, FilterInstance, HeadPhase, Step } from '../filters/types.js';
import { charsetExists, charsetParam, resolveCharset } from './support/charsets.js';
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
  RawElement,
  hashName,
  nameEquals,
  type StartTag,
  type TokenSink,
} from './support/html-tokenizer.js';
import { decodeAttr, encodeAttr, rewriteCss, rewriteRefresh, rewriteSrcset } from './support/html-values.js';
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

/** Parsed once per options object (options are frozen and shared by every instance). */
interface Compiled {
  readonly defs: readonly RuleDef[];
  readonly links: ReadonlyMap<number, { readonly name: string; readonly srcset: boolean }>;
  readonly sets: Map<string, RuleSet>;
  readonly types: (ct: string | undefined) => boolean;
}
const compiled = new WeakMap<Options, Compiled>();

function compile(o: Options): Compiled {
  let c = compiled.get(o);
  if (c === undefined) {
    const links = new Map<number, { name: string; srcset: boolean }>();
    for (const raw of o.links) {
      const name = raw.toLowerCase();
      links.set(hashName(name), { name, srcset: SRCSET.has(name) });
    }
    c = {
      defs: o.rules.map((r, i) => parseRule(r as RuleInput, i)),
      links,
      sets: new Map(),
      types: mediaTypeMatcher(o.types),
    };
    compiled.set(o, c);
  }
  return c;
}

function ruleSet(c: Compiled, charset: string): RuleSet {
  const key = resolveCharset(charset);
  let s = c.sets.get(key);
  if (s === undefined) {
    s = new RuleSet(c.defs, charset);
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

/** buf[at, end) starts with `lowerPrefix`, ASCII letters compared without case. */
function prefixBytesCI(buf: Uint8Array, at: number, end: number, lowerPrefix: string): boolean {
  const n = lowerPrefix.length;
  if (end - at < n) return false;
  for (let i = 0; i < n; i++) {
    let c = buf[at + i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

const EMPTY = Buffer.alloc(0);

class UrlMapInstance implements FilterInstance, TokenSink {
  readonly #o: Options;
  readonly #c: Compiled;
  #rules!: RuleSet;
  #tok!: HtmlTokenizer;
  #scripts: boolean;
  #css: boolean;
  /** Bytes not yet complete (an unfinished tag), in the order they came. */
  #held: Buffer[] = [];
  #heldLen = 0;
  /** The window being scanned, how far output has been produced from it, and the output. */
  #win: Buffer = EMPTY;
  #cursor = 0;
  #parts: Uint8Array[] = [];
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
    const declared = charsetParam(ct);
    const charset = declared !== undefined && charsetExists(declared) ? declared : this.#o.charset;
    // A body in UTF-16 or ISO-2022-JP cannot be tokenized as bytes: leave it alone.
    if (!markupSafe(charset)) {
      head.passOn();
      return;
    }
    this.#rules = ruleSet(this.#c, charset);
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
    if (this.#heldLen > 0) {
      // an unfinished tag cannot end without a `>`: keep collecting without scanning again
      const need = this.#tok.awaiting;
      if (need >= 0 && c.indexOf(need) < 0) {
        this.#hold(c);
        return;
      }
      this.#held.push(c);
      const win = Buffer.concat(this.#held, this.#heldLen + c.length);
      this.#held = [];
      this.#heldLen = 0;
      return this.#scan(win, out, false);
    }
    return this.#scan(c, out, false);
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
    this.#copy(done);
    if (done < win.length) this.#hold(win.subarray(done));
    this.#win = EMPTY;
    const parts = this.#parts;
    if (parts.length === 0) return;
    this.#parts = [];
    return out.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** Output the window's bytes from the cursor up to `to`, unchanged. */
  #copy(to: number): void {
    if (to > this.#cursor) this.#parts.push(this.#win.subarray(this.#cursor, to));
    this.#cursor = to;
  }

  /** Replace window[start, end) with `bytes` (a byte string). */
  #edit(start: number, end: number, bytes: string): void {
    this.#copy(start);
    this.#parts.push(Buffer.from(bytes, 'latin1'));
    this.#cursor = end;
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
        this.#textAttr(buf, vs, ve, quote, (v) => this.#rules.text(v, true, this.#rules.events));
      } else if (this.#css && h === STYLE && nameEquals(buf, ns, ne, 'style')) {
        this.#textAttr(buf, vs, ve, quote, (v) => rewriteCss(v, (u) => this.#rules.link(u, true, this.#rules.embedded)));
      } else if (refresh && linkRules && h === CONTENT && nameEquals(buf, ns, ne, 'content')) {
        this.#textAttr(buf, vs, ve, quote, (v) => rewriteRefresh(v, (u) => this.#rules.link(u, true)));
      }
    }
  }

  rawText(buf: Uint8Array, start: number, end: number, element: RawElement.Script | RawElement.Style, last: boolean): void {
    if (!(element === RawElement.Script ? this.#scripts : this.#css)) return;
    this.#copy(start);
    this.#cursor = end;
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
    if (text) this.#parts.push(Buffer.from(this.#processLines(text), 'latin1'));
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

  /** A link attribute: bytes compared in place when that is exact (no `&`, literal rules). */
  #linkAttr(buf: Uint8Array, vs: number, ve: number, quote: number, srcset: boolean): void {
    const rules = this.#rules;
    const amp = hasByte(buf, vs, ve, 0x26);
    if (!amp && !srcset && rules.literalLinks) {
      let at = vs;
      while (at < ve && isWs(buf[at]!)) at++;
      for (const r of rules.links) {
        if (!prefixBytesCI(buf, at, ve, r.fromLower)) continue;
        const b = this.#win;
        const value = b.toString('latin1', vs, at) + (r.toAttr[0] as string) + b.toString('latin1', at + r.from.length, ve);
        this.#edit(vs, ve, encodeAttr(value, quote));
        return;
      }
      return;
    }
    this.#textAttr(buf, vs, ve, quote, srcset ? (v) => rewriteSrcset(v, (u) => rules.link(u, true)) : (v) => rules.link(v, true));
  }

  /** Decode the value's references, rewrite, and write it back escaped if it changed. */
  #textAttr(buf: Uint8Array, vs: number, ve: number, quote: number, rewrite: (v: string) => string | undefined): void {
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

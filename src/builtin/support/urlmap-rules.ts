import iconv from 'iconv-lite';
import { regexSafetyProblem } from '../../pipeline/regex-safety.js';
import { resolveCharset } from './charsets.js';
import { confWords } from './conf-words.js';

/**
 * ProxyHTMLURLMap rules: parsing (the directive's `from to [flags]` string or a structured
 * object), checking at config load, and applying them to text in a message's charset.
 *
 * Rules work on "byte strings": one char per byte of the message (latin1), so bytes a rule does
 * not touch round-trip exactly whatever the charset. A rule's own text is encoded in the
 * message charset once per charset (cached), and non-ASCII runs of a regex become escaped byte
 * sequences in a non-capturing group, so `é+` still means "one or more é".
 */

/** A rule as written in the options: the mod_proxy_html string form or an object. */
export type RuleInput =
  | string
  | {
      from: string;
      to: string;
      flags?: string;
      regex?: boolean;
      ignoreCase?: boolean;
      last?: boolean;
      links?: boolean;
      events?: boolean;
      embedded?: boolean;
    };

/** A parsed rule, independent of any charset. */
export interface RuleDef {
  readonly from: string;
  readonly to: string;
  /** R: `from` is a regular expression, `to` may use $0-$9. */
  readonly regex: boolean;
  /** i: case-insensitive (regex; literal rules in event/script/style text). */
  readonly ignoreCase: boolean;
  /** L: no further rule after this one matched (event, script, style text). */
  readonly last: boolean;
  /** l: a regex link rule lets later rules change the same link too. */
  readonly more: boolean;
  /** ^ and $: a literal rule in text matches only at the start / end. */
  readonly atStart: boolean;
  readonly atEnd: boolean;
  /** Not h / e / c: applies to link attributes, event attributes, script and style. */
  readonly links: boolean;
  readonly events: boolean;
  readonly embedded: boolean;
}

/** Flags mod_proxy_html accepts that this filter implements (x and n: no meaning in JS regex). */
const KNOWN_FLAGS = new Set(['R', 'i', 'L', 'l', 'h', 'e', 'c', '^', '$', 'x', 'n']);

/** Thrown for a bad rule; `index` says which (the filter turns it into a FilterOptionsError). */
export class RuleError extends Error {
  readonly index: number;
  constructor(index: number, problem: string) {
    super(problem);
    this.index = index;
  }
}

function flagsOf(index: number, flags: string): Set<string> {
  const set = new Set<string>();
  for (const f of flags) {
    if (f === 'V' || f === 'v') throw new RuleError(index, `flag "${f}" (variable interpolation) is not supported; use one rule per value`);
    if (f === 's') throw new RuleError(index, 'flag "s" is not supported (JS regular expressions: use [^\\n] or the m flag semantics in the pattern)');
    if (!KNOWN_FLAGS.has(f)) throw new RuleError(index, `unknown flag "${f}" (known: R i L l h e c ^ $)`);
    set.add(f);
  }
  return set;
}

/** Parse one rule; throws RuleError naming what is wrong. */
export function parseRule(input: RuleInput, index: number): RuleDef {
  let from: string;
  let to: string;
  let flags: Set<string>;
  let obj: Exclude<RuleInput, string> | undefined;
  if (typeof input === 'string') {
    let words: string[];
    try {
      words = confWords(input);
    } catch (err) {
      throw new RuleError(index, (err as Error).message);
    }
    if (words.length < 2) throw new RuleError(index, 'expected "from to [flags]"');
    if (words.length > 3) throw new RuleError(index, `unexpected "${words[3]}": conditions are not supported here (give the chain entry a \`when\`)`);
    [from, to] = words as [string, string];
    flags = flagsOf(index, words[2] ?? '');
  } else {
    obj = input;
    from = input.from;
    to = input.to;
    flags = flagsOf(index, input.flags ?? '');
  }
  if (from.length === 0) throw new RuleError(index, '"from" is empty');
  const def: RuleDef = {
    from,
    to,
    regex: flags.has('R') || obj?.regex === true,
    ignoreCase: flags.has('i') || obj?.ignoreCase === true,
    last: flags.has('L') || obj?.last === true,
    more: flags.has('l'),
    atStart: flags.has('^'),
    atEnd: flags.has('$'),
    links: !flags.has('h') && obj?.links !== false,
    events: !flags.has('e') && obj?.events !== false,
    embedded: !flags.has('c') && obj?.embedded !== false,
  };
  if (def.regex) checkRegex(def, index);
  return def;
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function checkRegex(def: RuleDef, index: number): void {
  try {
    new RegExp(def.from, def.ignoreCase ? 'i' : '');
  } catch (err) {
    throw new RuleError(index, `invalid regular expression: ${(err as Error).message}`);
  }
  const unsafe = regexSafetyProblem(def.from, def.ignoreCase ? 'i' : '');
  if (unsafe) throw new RuleError(index, `regular expression ${JSON.stringify(def.from)} ${unsafe}`);
  if (!isAscii(def.from)) {
    if (def.ignoreCase) {
      throw new RuleError(index, 'flag i with non-ASCII text in a regular expression is not supported (rules match bytes): spell the cases out, e.g. (é|É)');
    }
    if (nonAsciiInClass(def.from)) {
      throw new RuleError(index, 'a non-ASCII character inside [...] is not supported (rules match bytes): use an alternation, e.g. (é|è)');
    }
  }
}

/** Walks a regex source: true when a non-ASCII char sits inside a character class. */
function nonAsciiInClass(src: string): boolean {
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c.charCodeAt(0) > 0x7f) return true;
    } else if (c === '[') inClass = true;
  }
  return false;
}

// ---- per-charset compilation ---------------------------------------------------------------

/**
 * In attribute values, a `&` that must be written out as is (it begins a character reference
 * the filter did not decode). Never a byte: byte strings only hold U+0000-U+00FF.
 */
export const RAW_AMP = '\uE000';

/** Encodes text to a byte string in one charset; `attr` turns unencodable chars into references. */
export interface CharsetEncoder {
  readonly charset: string;
  /** Bytes of `s`, or undefined when some char has no encoding in this charset. */
  exact(s: string): string | undefined;
  /** Bytes of `s`; unencodable chars become `&#x…;` (attr) or the charset's substitute. */
  text(s: string, attr: boolean): string;
}

const UTF8 = 'utf8';

export function charsetEncoder(charset: string): CharsetEncoder {
  const key = resolveCharset(charset);
  if (key === UTF8) {
    return {
      charset,
      exact: (s) => Buffer.from(s, 'utf8').toString('latin1'),
      text: (s) => Buffer.from(s, 'utf8').toString('latin1'),
    };
  }
  const exact = (s: string): string | undefined => {
    if (isAscii(s)) return s;
    const b = iconv.encode(s, charset);
    return iconv.decode(b, charset) === s ? b.toString('latin1') : undefined;
  };
  return {
    charset,
    exact,
    text(s, attr) {
      const whole = exact(s);
      if (whole !== undefined) return whole;
      let out = '';
      for (const ch of s) {
        const b = exact(ch);
        out += b ?? (attr ? `${RAW_AMP}#x${ch.codePointAt(0)!.toString(16).toUpperCase()};` : iconv.encode(ch, charset).toString('latin1'));
      }
      return out;
    },
  };
}

/** A regex replacement: literal byte strings and group numbers. */
type Template = ReadonlyArray<string | number>;

export interface Rule {
  readonly def: RuleDef;
  /** Literal rules: `from` as bytes, and ASCII-lowercased for prefix matching of links. */
  readonly from: string;
  readonly fromLower: string;
  /** Regex rules: the first-match and the global form. */
  readonly re: RegExp | null;
  readonly reAll: RegExp | null;
  /** Replacement for attribute values and for raw text (script, style). */
  readonly toAttr: Template;
  readonly toText: Template;
  /** `from` has no encoding in this charset: the rule can never match here. */
  readonly dead: boolean;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function escapeRegexBytes(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += `\\x${bytes.charCodeAt(i).toString(16).padStart(2, '0')}`;
  return out;
}

/** A regex source with each non-ASCII run replaced by its bytes, grouped. */
function regexSourceBytes(src: string, enc: CharsetEncoder): string | undefined {
  if (isAscii(src)) return src;
  let dead = false;
  const out = src.replace(/[^\x00-\x7f]+/g, (run) => {
    const b = enc.exact(run);
    if (b === undefined) {
      dead = true;
      return '';
    }
    return `(?:${escapeRegexBytes(b)})`;
  });
  return dead ? undefined : out;
}

/** `$0`-`$9` are groups; a backslash takes the next char literally. */
function parseTemplate(to: string, encode: (s: string) => string, regex: boolean): Template {
  if (!regex) return [encode(to)];
  const parts: Array<string | number> = [];
  let lit = '';
  for (let i = 0; i < to.length; i++) {
    const c = to[i]!;
    if (c === '\\' && i + 1 < to.length) {
      lit += to[++i];
    } else if (c === '$' && i + 1 < to.length && to.charCodeAt(i + 1) >= 0x30 && to.charCodeAt(i + 1) <= 0x39) {
      if (lit) parts.push(encode(lit));
      lit = '';
      parts.push(to.charCodeAt(++i) - 0x30);
    } else lit += c;
  }
  if (lit) parts.push(encode(lit));
  return parts;
}

export function compileRule(def: RuleDef, enc: CharsetEncoder): Rule {
  const toAttr = parseTemplate(def.to, (s) => enc.text(s, true), def.regex);
  const toText = parseTemplate(def.to, (s) => enc.text(s, false), def.regex);
  if (def.regex) {
    const src = regexSourceBytes(def.from, enc);
    const flags = def.ignoreCase ? 'i' : '';
    return {
      def,
      from: '',
      fromLower: '',
      re: src === undefined ? null : new RegExp(src, flags),
      reAll: src === undefined ? null : new RegExp(src, `${flags}g`),
      toAttr,
      toText,
      dead: src === undefined,
    };
  }
  const from = enc.exact(def.from);
  return {
    def,
    from: from ?? '',
    fromLower: from === undefined ? '' : asciiLower(from),
    re: null,
    reAll: null,
    toAttr,
    toText,
    dead: from === undefined,
  };
}

function expand(t: Template, m: RegExpExecArray): string {
  if (t.length === 1 && typeof t[0] === 'string') return t[0];
  let s = '';
  for (const p of t) s += typeof p === 'string' ? p : (m[p] ?? '');
  return s;
}

/** s starts with `lowerPrefix` comparing ASCII letters without case (other bytes exactly). */
function startsWithAsciiCI(s: string, at: number, lowerPrefix: string): boolean {
  if (s.length - at < lowerPrefix.length) return false;
  for (let i = 0; i < lowerPrefix.length; i++) {
    let c = s.charCodeAt(at + i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The rules compiled for one charset, split by where they apply. Application follows
 * mod_proxy_html: see `link` and `text`.
 */
export class RuleSet {
  readonly links: readonly Rule[];
  readonly events: readonly Rule[];
  readonly embedded: readonly Rule[];
  /** Every link rule is literal: links can be matched on bytes without making a string. */
  readonly literalLinks: boolean;
  readonly encoder: CharsetEncoder;

  constructor(defs: readonly RuleDef[], charset: string) {
    this.encoder = charsetEncoder(charset);
    const all = defs.map((d) => compileRule(d, this.encoder)).filter((r) => !r.dead);
    this.links = all.filter((r) => r.def.links);
    this.events = all.filter((r) => r.def.events);
    this.embedded = all.filter((r) => r.def.embedded);
    this.literalLinks = this.links.every((r) => !r.def.regex);
  }

  /**
   * Link semantics (href, src, srcset candidates, refresh and CSS URLs): a literal rule is a
   * case-insensitive prefix match, replaced once, and ends the rules; a regex rule replaces its
   * first match and ends the rules unless flagged `l`. `at` skips leading whitespace.
   * Returns the new value, or undefined when no rule matched.
   */
  link(value: string, attr: boolean, rules: readonly Rule[] = this.links): string | undefined {
    let changed = false;
    let at = 0;
    while (at < value.length && isSpace(value.charCodeAt(at))) at++;
    for (const r of rules) {
      const to = attr ? r.toAttr : r.toText;
      if (r.re === null) {
        if (!startsWithAsciiCI(value, at, r.fromLower)) continue;
        return value.slice(0, at) + (to[0] as string) + value.slice(at + r.from.length);
      }
      const m = r.re.exec(at === 0 ? value : value.slice(at));
      if (m === null) continue;
      const s = at + m.index;
      value = value.slice(0, s) + expand(to, m) + value.slice(s + m[0].length);
      changed = true;
      if (!r.def.more) break;
    }
    return changed ? value : undefined;
  }

  /**
   * Text semantics (event attributes, script text): every occurrence of each rule in turn, a
   * literal rule case-sensitive unless `i`, `^`/`$` anchoring it; after a rule that matched,
   * `L` stops. Returns the new text, or undefined when no rule matched.
   */
  text(value: string, attr: boolean, rules: readonly Rule[]): string | undefined {
    let changed = false;
    for (const r of rules) {
      const to = attr ? r.toAttr : r.toText;
      const next = r.reAll !== null ? replaceAllRegex(value, r.reAll, to) : replaceAllLiteral(value, r, to[0] as string);
      if (next === undefined) continue;
      value = next;
      changed = true;
      if (r.def.last) break;
    }
    return changed ? value : undefined;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c;
}

function replaceAllRegex(s: string, re: RegExp, to: Template): string | undefined {
  re.lastIndex = 0;
  let out = '';
  let last = 0;
  let hit = false;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    hit = true;
    out += s.slice(last, m.index) + expand(to, m);
    last = m.index + m[0].length;
    if (m[0].length === 0) re.lastIndex++;
  }
  return hit ? out + s.slice(last) : undefined;
}

function replaceAllLiteral(s: string, r: Rule, to: string): string | undefined {
  const d = r.def;
  const hay = d.ignoreCase ? asciiLower(s) : s;
  const needle = d.ignoreCase ? r.fromLower : r.from;
  if (d.atStart || d.atEnd) {
    const at = d.atStart ? 0 : s.length - needle.length;
    if (at < 0 || !hay.startsWith(needle, at) || (d.atStart && d.atEnd && needle.length !== s.length)) return undefined;
    return s.slice(0, at) + to + s.slice(at + needle.length);
  }
  let i = hay.indexOf(needle);
  if (i < 0) return undefined;
  let out = '';
  let last = 0;
  while (i >= 0) {
    out += s.slice(last, i) + to;
    last = i + needle.length;
    i = hay.indexOf(needle, last);
  }
  return out + s.slice(last);
}

import { RAW_AMP } from './urlmap-rules.js';

/**
 * The parts of an HTML document that hold URLs inside a value: character references in
 * attribute values, srcset candidates, `<meta http-equiv=refresh>` content and CSS url().
 * Everything works on byte strings (one char per byte of the message's charset).
 */

// ---- character references ----------------------------------------------------------------

/** The Latin-1 names (U+00A0-U+00FF, in order): all are "legacy" (valid without `;`). */
const LATIN1 =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest ' +
  'Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig ' +
  'agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';

/** Names that need their `;`: ASCII punctuation (what URLs are made of) and common typography. */
const WITH_SEMICOLON: Record<string, number> = {
  Tab: 9, NewLine: 10, excl: 0x21, num: 0x23, dollar: 0x24, percnt: 0x25, lpar: 0x28, rpar: 0x29, ast: 0x2a, midast: 0x2a,
  plus: 0x2b, comma: 0x2c, period: 0x2e, sol: 0x2f, colon: 0x3a, semi: 0x3b, equals: 0x3d, quest: 0x3f, commat: 0x40,
  lsqb: 0x5b, lbrack: 0x5b, bsol: 0x5c, rsqb: 0x5d, rbrack: 0x5d, Hat: 0x5e, lowbar: 0x5f, UnderBar: 0x5f, grave: 0x60,
  DiacriticalGrave: 0x60, lcub: 0x7b, lbrace: 0x7b, verbar: 0x7c, vert: 0x7c, VerticalLine: 0x7c, rcub: 0x7d, rbrace: 0x7d,
  apos: 0x27, ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, ndash: 0x2013, mdash: 0x2014, lsquo: 0x2018, rsquo: 0x2019,
  sbquo: 0x201a, ldquo: 0x201c, rdquo: 0x201d, bdquo: 0x201e, dagger: 0x2020, Dagger: 0x2021, bull: 0x2022, hellip: 0x2026,
  permil: 0x2030, prime: 0x2032, Prime: 0x2033, lsaquo: 0x2039, rsaquo: 0x203a, euro: 0x20ac, trade: 0x2122,
  larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193, harr: 0x2194,
};

const LEGACY = new Map<string, number>([
  ['amp', 0x26], ['AMP', 0x26], ['lt', 0x3c], ['LT', 0x3c], ['gt', 0x3e], ['GT', 0x3e], ['quot', 0x22], ['QUOT', 0x22],
  ['COPY', 0xa9], ['REG', 0xae],
  ...LATIN1.split(' ').map((name, i): [string, number] => [name, 0xa0 + i]),
]);
const NAMED = new Map<string, number>([...LEGACY, ...Object.entries(WITH_SEMICOLON)]);

/** Numeric references to C1 controls mean windows-1252 (WHATWG numeric character reference end). */
const C1: Record<number, number> = {
  0x80: 0x20ac, 0x82: 0x201a, 0x83: 0x192, 0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x2c6, 0x89: 0x2030,
  0x8a: 0x160, 0x8b: 0x2039, 0x8c: 0x152, 0x8e: 0x17d, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201c, 0x94: 0x201d, 0x95: 0x2022,
  0x96: 0x2013, 0x97: 0x2014, 0x98: 0x2dc, 0x99: 0x2122, 0x9a: 0x161, 0x9b: 0x203a, 0x9c: 0x153, 0x9e: 0x17e, 0x9f: 0x178,
};

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function numericValue(cp: number): number {
  if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0xfffd;
  return C1[cp] ?? cp;
}

/**
 * Decode the character references of an attribute value (a byte string) the way a browser
 * does in attributes: numeric references, the named references in this file, and the legacy
 * names without `;` unless followed by `=` or an alphanumeric. Each decoded character becomes
 * its bytes in the message charset (`encode`); one the charset cannot hold, and a named
 * reference this table does not know, stays as written (its `&` as RAW_AMP, so it is written
 * back as is and never mistaken for a literal `&`).
 */
export function decodeAttr(raw: string, encode: (s: string) => string | undefined): string {
  let amp = raw.indexOf('&');
  if (amp < 0) return raw;
  let out = '';
  let last = 0;
  const n = raw.length;
  while (amp >= 0) {
    let end = -1;
    let cp = -1;
    let p = amp + 1;
    if (raw.charCodeAt(p) === 0x23) {
      // &#123; &#x7b; (the ; is optional)
      p++;
      const hex = raw.charCodeAt(p) === 0x78 || raw.charCodeAt(p) === 0x58;
      if (hex) p++;
      const ds = p;
      let v = 0;
      for (; p < n; p++) {
        const c = raw.charCodeAt(p);
        const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : hex && ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) ? (c | 0x20) - 0x57 : -1;
        if (d < 0) break;
        v = Math.min(v * (hex ? 16 : 10) + d, 0x110000);
      }
      if (p > ds) {
        cp = numericValue(v);
        end = raw.charCodeAt(p) === 0x3b ? p + 1 : p;
      }
    } else {
      while (p < n && isAlnum(raw.charCodeAt(p))) p++;
      const name = raw.slice(amp + 1, p);
      if (name && raw.charCodeAt(p) === 0x3b && NAMED.has(name)) {
        cp = NAMED.get(name)!;
        end = p + 1;
      } else if (name && raw.charCodeAt(p) !== 0x3d && raw.charCodeAt(p) !== 0x3b && LEGACY.has(name)) {
        cp = LEGACY.get(name)!;
        end = p;
      } else if (name && raw.charCodeAt(p) === 0x3b) {
        // a reference we do not know: keep it exactly
        out += raw.slice(last, amp) + RAW_AMP;
        last = amp + 1;
      }
    }
    if (end > 0) {
      const bytes = encode(String.fromCodePoint(cp));
      if (bytes === undefined) {
        out += raw.slice(last, amp) + RAW_AMP;
        last = amp + 1;
      } else {
        out += raw.slice(last, amp) + bytes;
        last = end;
      }
    }
    amp = raw.indexOf('&', Math.max(amp + 1, last));
  }
  return out + raw.slice(last);
}

/**
 * A decoded value written back into an attribute: `&` as `&amp;`, the quote as a reference,
 * RAW_AMP as the `&` it was. An unquoted value that now needs quotes gets double quotes.
 */
export function encodeAttr(value: string, quote: number): string {
  let q = quote;
  // unquoted stays unquoted while it still tokenizes as one value (as it did before)
  if (q === 0 && (value === '' || /[\s>]|^["']/.test(value))) q = 0x22;
  let s = value.includes('&') ? value.replace(/&/g, '&amp;') : value;
  if (q === 0x22 && s.includes('"')) s = s.replace(/"/g, '&quot;');
  else if (q === 0x27 && s.includes("'")) s = s.replace(/'/g, '&#39;');
  if (s.includes(RAW_AMP)) s = s.replace(/\uE000/g, '&');
  return q !== quote ? `"${s}"` : s;
}

// ---- URLs inside values ----------------------------------------------------------------------

type Rewrite = (url: string) => string | undefined;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c;
}

/**
 * srcset / imagesrcset: each candidate's URL (WHATWG "parse a srcset attribute": a run of
 * non-whitespace, trailing commas not part of it; descriptors up to the next comma outside
 * parentheses). Returns the new value, or undefined when no URL changed.
 */
export function rewriteSrcset(value: string, rewrite: Rewrite): string | undefined {
  const n = value.length;
  let out = '';
  let last = 0;
  let changed = false;
  let p = 0;
  while (p < n) {
    while (p < n && (isSpace(value.charCodeAt(p)) || value.charCodeAt(p) === 0x2c)) p++;
    if (p >= n) break;
    const us = p;
    while (p < n && !isSpace(value.charCodeAt(p))) p++;
    let ue = p;
    let endsCandidate = false;
    while (ue > us && value.charCodeAt(ue - 1) === 0x2c) {
      ue--;
      endsCandidate = true;
    }
    const next = rewrite(value.slice(us, ue));
    if (next !== undefined) {
      out += value.slice(last, us) + next;
      last = ue;
      changed = true;
    }
    if (endsCandidate) continue;
    // descriptors: up to a comma outside parentheses
    let depth = 0;
    while (p < n) {
      const c = value.charCodeAt(p);
      if (c === 0x28) depth++;
      else if (c === 0x29 && depth > 0) depth--;
      else if (c === 0x2c && depth === 0) break;
      p++;
    }
  }
  return changed ? out + value.slice(last) : undefined;
}

/**
 * `<meta http-equiv=refresh content="5; url=/next">`: the URL part (WHATWG "shared declarative
 * refresh steps": a delay, `;` or `,`, an optional `url=`, an optional quote).
 */
export function rewriteRefresh(content: string, rewrite: Rewrite): string | undefined {
  const n = content.length;
  let p = 0;
  while (p < n && isSpace(content.charCodeAt(p))) p++;
  const ds = p;
  while (p < n && ((content.charCodeAt(p) >= 0x30 && content.charCodeAt(p) <= 0x39) || content.charCodeAt(p) === 0x2e)) p++;
  if (p === ds) return undefined;
  while (p < n && isSpace(content.charCodeAt(p))) p++;
  if (p < n && (content.charCodeAt(p) === 0x3b || content.charCodeAt(p) === 0x2c)) p++;
  else if (p < n) return undefined;
  while (p < n && isSpace(content.charCodeAt(p))) p++;
  const m = /^url\s*=\s*/i.exec(content.slice(p, p + 40));
  if (m) p += m[0].length;
  let q = -1;
  if (p < n && (content.charCodeAt(p) === 0x22 || content.charCodeAt(p) === 0x27)) q = content.charCodeAt(p++);
  let e = q >= 0 ? content.indexOf(String.fromCharCode(q), p) : n;
  if (e < 0) e = n;
  if (q < 0) while (e > p && isSpace(content.charCodeAt(e - 1))) e--;
  if (e <= p) return undefined;
  const next = rewrite(content.slice(p, e));
  return next === undefined ? undefined : content.slice(0, p) + next + content.slice(e);
}

const CSS_URL = /\burl\(\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^"'()\s]+))\s*\)|@import\s*(?:"([^"\n]*)"|'([^'\n]*)')/gi;

/** CSS: the URL of each `url(...)` and `@import "..."`. Undefined when none changed. */
export function rewriteCss(css: string, rewrite: Rewrite): string | undefined {
  if (!/url\(|@import/i.test(css)) return undefined;
  let changed = false;
  const out = css.replace(CSS_URL, (whole: string, ...groups: unknown[]) => {
    for (let g = 0; g < 5; g++) {
      const url = groups[g];
      if (typeof url !== 'string') continue;
      const next = rewrite(url);
      if (next === undefined) return whole;
      // the URL follows `(` (and a quote) or `@import` (and a quote)
      const at = whole.indexOf(url, g < 3 ? whole.indexOf('(') + 1 : 7);
      changed = true;
      return whole.slice(0, at) + next + whole.slice(at + url.length);
    }
    return whole;
  });
  return changed ? out : undefined;
}

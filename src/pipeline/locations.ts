/**
 * Request path normalisation and location matching.
 *
 * Paths are normalised before any location is matched (and the normalised path is what the
 * upstream receives), so `/public/../admin` or `/%61dmin` cannot dodge the `/admin` rules.
 *
 * Location precedence (simpler than nginx's, and deliberately so):
 *
 *   1. an `exact` location whose path equals the request path;
 *   2. else the LONGEST matching `prefix` location. Prefixes are segment-aware: "/app" matches
 *      "/app" and "/app/x" but not "/apple"; a prefix that ends with "/" ("/app/") matches
 *      whatever starts with it ("/app/", "/app/x") but not "/app"; "/" matches every path;
 *   3. else the FIRST `regex` location, in config order, whose regex matches the path;
 *   4. else nothing (404).
 *
 * So a prefix always beats a regex: with a "/" catch-all, no regex location is ever used (the
 * loader reports that). nginx instead tries regexes before falling back to the longest prefix
 * (unless that prefix is marked `^~`); we keep one rule that reads top to bottom.
 * Matching is case-sensitive, as nginx's on Linux.
 */
import { ConfigError } from './config/errors.js';

export type MatchKind = 'prefix' | 'exact' | 'regex';

export interface NormalisedPath {
  /** The normalised path: starts with "/", no dot segments, no "//", only needed escapes. */
  path: string;
  /** The query as received, with its leading "?" ('' when there is none): `${path}${query}`. */
  query: string;
}

const HEX = '0123456789ABCDEF';
/** Characters kept as they are in a path: RFC 3986 unreserved, sub-delims, ":", "@", "/". */
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const CLEAN = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const utf8 = new TextEncoder();
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * Normalise a request target's path (RFC 3986 §6.2.2, as nginx does before matching):
 *
 * - an absolute-form target (`http://host/x`) loses its scheme and authority;
 * - the query (from the first "?") is split off and returned untouched;
 * - percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded ("%61" → "a",
 *   "%2e" → "."); every other escape stays, upper-cased ("%2f" → "%2F": an encoded slash is
 *   data, not a separator);
 * - a "%" not followed by two hex digits becomes "%25"; characters that may not appear raw in
 *   a path ("#", "\", spaces, controls, non-ASCII as UTF-8) are percent-encoded;
 * - "//" collapses to "/"; "." and ".." segments are resolved, never above the root;
 * - the result starts with "/" (one is prepended when missing).
 *
 * Decoding happens before dot segments are resolved, so "/a/%2e%2e/b" is "/b". The function is
 * idempotent.
 */
export function normalisePath(raw: string): NormalisedPath {
  let s = raw;
  const abs = ABSOLUTE_FORM.exec(s);
  if (abs) s = s.slice(abs[0].length);
  const q = s.indexOf('?');
  const query = q === -1 ? '' : s.slice(q);
  if (q !== -1) s = s.slice(0, q);
  // fast path: the common clean path has nothing to decode, encode or resolve
  if (CLEAN.test(s) && !s.includes('//') && !s.includes('/.')) return { path: s, query };

  // 1. escapes and characters
  let decoded = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h1 = hexValue(s.charCodeAt(i + 1));
      const h2 = hexValue(s.charCodeAt(i + 2));
      if (h1 < 0 || h2 < 0) {
        decoded += '%25';
        continue;
      }
      const ch = String.fromCharCode(h1 * 16 + h2);
      decoded += UNRESERVED.test(ch) ? ch : `%${HEX[h1]}${HEX[h2]}`;
      i += 2;
    } else if (PATH_CHAR.test(c)) {
      decoded += c;
    } else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of utf8.encode(String.fromCodePoint(cp))) decoded += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    }
  }

  // 2. segments: collapse empty ones, resolve dot segments
  const parts = decoded.split('/');
  const out: string[] = [];
  const last = parts.length - 1;
  let trailingSlash = false;
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === '' || seg === '.') {
      // "/a/." and "/a/" both end in a directory
      if (i === last && (seg === '.' || i > 0)) trailingSlash = true;
      continue;
    }
    if (seg === '..') {
      out.pop();
      if (i === last) trailingSlash = true;
      continue;
    }
    out.push(seg);
    if (i === last) trailingSlash = false;
  }
  let path = `/${out.join('/')}`;
  if (trailingSlash && out.length > 0) path += '/';
  return { path, query };
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** A location as the matcher sees it. For prefix and exact, `path` is normalised here. */
export interface LocationRule<T> {
  match: MatchKind;
  path: string;
  value: T;
}

/** Finds the value for a NORMALISED request path (see normalisePath), by the precedence above. */
export type LocationMatcher<T> = (path: string) => T | undefined;

/**
 * Compile locations once into a matcher: exact paths in a map, prefixes longest first,
 * regexes compiled in config order. Throws a ConfigError for a regex that does not compile
 * (the loader checks first and reports it with its place in the file).
 */
export function compileLocations<T>(rules: readonly LocationRule<T>[]): LocationMatcher<T> {
  const exact = new Map<string, T>();
  const prefixes: Array<{ prefix: string; dir: boolean; value: T }> = [];
  const regexes: Array<{ re: RegExp; value: T }> = [];
  rules.forEach((rule, i) => {
    if (rule.match === 'regex') {
      let re: RegExp;
      try {
        re = new RegExp(rule.path);
      } catch (err) {
        throw new ConfigError([{ path: `locations[${i}].path`, message: (err as Error).message }]);
      }
      regexes.push({ re, value: rule.value });
      return;
    }
    const path = normalisePath(rule.path).path;
    if (rule.match === 'exact') {
      if (!exact.has(path)) exact.set(path, rule.value);
    } else {
      // a later duplicate never wins (the loader reports duplicates)
      if (!prefixes.some((p) => p.prefix === path)) prefixes.push({ prefix: path, dir: path.endsWith('/'), value: rule.value });
    }
  });
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length);

  return (path) => {
    const hit = exact.get(path);
    if (hit !== undefined) return hit;
    for (const p of prefixes) {
      if (!path.startsWith(p.prefix)) continue;
      // segment-aware: "/app" matches "/app" and "/app/..." but not "/apple"
      if (p.dir || path.length === p.prefix.length || path.charCodeAt(p.prefix.length) === 47) return p.value;
    }
    for (const r of regexes) if (r.re.test(path)) return r.value;
    return undefined;
  };
}

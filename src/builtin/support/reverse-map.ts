/**
 * ProxyPassReverse's mappings as pure functions: URLs in Location-like headers, and the
 * Domain and Path attributes of Set-Cookie, from the upstream's form to the public one.
 */

/** A URL prefix rule, parsed once at load. */
export interface UrlRule {
  /** Lower-cased `scheme://host[:port]` with the default port dropped; undefined for a path rule. */
  readonly origin: string | undefined;
  /** Path prefix (case-sensitive). */
  readonly path: string;
  readonly to: string;
}

export interface CookieRule {
  readonly from: string;
  readonly to: string;
}

const ABSOLUTE_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/is;

/** `scheme://authority` lower-cased, default port dropped; undefined if `url` is not absolute. */
function splitAbsolute(url: string): { origin: string; rest: string } | undefined {
  const m = ABSOLUTE_RE.exec(url);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  let authority = m[2]!.toLowerCase();
  if ((scheme === 'http' && authority.endsWith(':80')) || (scheme === 'https' && authority.endsWith(':443'))) {
    authority = authority.slice(0, authority.lastIndexOf(':'));
  }
  return { origin: `${scheme}://${authority}`, rest: m[3]! };
}

/** Parse a rule's `from`: an absolute URL, or a path starting with "/"; throws with the problem. */
export function urlRule(from: string, to: string): UrlRule {
  if (!isUrlOrPath(to)) throw new Error(`"${to}" is neither an absolute http(s) URL nor a path starting with /`);
  const abs = splitAbsolute(from);
  if (abs) {
    if (!/^https?:\/\/[^/]/.test(abs.origin + '/')) throw new Error(`"${from}" is not an http(s) URL`);
    if (/[?#]/.test(abs.rest)) throw new Error(`"${from}" has a query or fragment (a rule maps a path prefix)`);
    return { origin: abs.origin, path: abs.rest || '/', to };
  }
  if (!from.startsWith('/')) throw new Error(`"${from}" is neither an absolute http(s) URL nor a path starting with /`);
  return { origin: undefined, path: from, to };
}

function isUrlOrPath(s: string): boolean {
  return s.startsWith('/') || /^https?:\/\/[^/?#]+/i.test(s);
}

/**
 * The public form of a URL, or undefined when no rule matches. The first matching rule wins,
 * as in httpd. A rule whose `from` is absolute matches absolute URLs with that origin (scheme
 * and host case-insensitive, default ports equal to none) and path prefix; a rule whose `from`
 * is a path matches that prefix of a path-absolute reference and of an absolute URL's path
 * (ap_proxy_location_reverse_map does the same). The result is `to` + what followed the prefix.
 */
export function mapUrl(url: string, rules: readonly UrlRule[]): string | undefined {
  const abs = splitAbsolute(url);
  for (const r of rules) {
    let rest: string | undefined;
    if (r.origin !== undefined) {
      if (abs && abs.origin === r.origin) {
        const path = abs.rest || '/';
        if (path.startsWith(r.path)) rest = path.slice(r.path.length);
        // "http://backend:8080" (no path) against "http://backend:8080/"
        else if (abs.rest === '' && r.path === '/') rest = '';
      }
    } else {
      const path = abs ? abs.rest : url;
      if (path.startsWith(r.path)) rest = path.slice(r.path.length);
    }
    if (rest !== undefined) return r.to + rest;
  }
  return undefined;
}

/** `Refresh: 5; url=...` → the URL's position, or undefined when the value names none. */
export function refreshUrl(value: string): { before: string; url: string; after: string } | undefined {
  const m = /^(\s*\d*(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*?)\2(\s*)$/is.exec(value);
  if (!m || !m[3]) return undefined;
  return { before: m[1]! + m[2]!, url: m[3], after: m[2]! + m[4]! };
}

/**
 * A Set-Cookie line with its Domain and Path attributes mapped; the cookie's own name=value
 * (the first segment) is never touched, even if it is called `path` or `domain` (PR 61560).
 * Everything else is kept byte for byte. Returns the line unchanged when nothing matched.
 */
export function mapSetCookie(line: string, domains: readonly CookieRule[], paths: readonly CookieRule[]): string {
  const segments: Array<string | null> = line.split(';');
  let changed = false;
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i] as string;
    const eq = seg.indexOf('=');
    if (eq === -1) continue;
    const attr = seg.slice(0, eq).trim().toLowerCase();
    if (attr !== 'domain' && attr !== 'path') continue;
    const raw = seg.slice(eq + 1);
    const value = raw.trim();
    const mapped = attr === 'domain' ? mapDomain(value, domains) : mapPath(value, paths);
    if (mapped === undefined) continue;
    changed = true;
    // keep the attribute's spelling and spacing, replace only the value; an empty `to` drops it
    const at = raw.indexOf(value);
    segments[i] = mapped === null ? null : seg.slice(0, eq + 1) + raw.slice(0, at) + mapped + raw.slice(at + value.length);
  }
  if (!changed) return line;
  return segments.filter((s): s is string => s !== null).join(';');
}

/** Domain: equal ignoring case and a leading dot (which RFC 6265 ignores too); null = drop it. */
function mapDomain(value: string, rules: readonly CookieRule[]): string | null | undefined {
  const v = value.replace(/^\./, '').toLowerCase();
  for (const r of rules) {
    if (r.from.replace(/^\./, '').toLowerCase() === v) return r.to === '' ? null : r.to;
  }
  return undefined;
}

/**
 * Path: a prefix match, case-sensitive, and what followed the prefix is kept (nginx's
 * proxy_cookie_path; httpd replaces the whole value, widening the cookie's scope). A `from`
 * with a trailing slash also matches the same path without it ("/app" for "/app/").
 */
function mapPath(value: string, rules: readonly CookieRule[]): string | undefined {
  for (const r of rules) {
    if (value.startsWith(r.from)) return r.to + value.slice(r.from.length);
    if (r.from.length > 1 && r.from.endsWith('/') && value === r.from.slice(0, -1)) {
      return r.to.length > 1 && r.to.endsWith('/') ? r.to.slice(0, -1) : r.to;
    }
  }
  return undefined;
}

import { Type, type Static } from '@sinclair/typebox';
import { FilterOptionsError } from '../errors.js';
import { defineFilter } from '../filters/registry.js';
import type { HeadPhase } from '../filters/types.js';
import { headerValueProblem } from './support/header-template.js';
import { publicHost, publicScheme } from './support/request-vars.js';
import { mapSetCookie, mapUrl, refreshUrl, urlRule, type CookieRule, type UrlRule } from './support/reverse-map.js';

const URL_HEADERS = ['location', 'content-location', 'uri', 'refresh'];

const options = Type.Object(
  {
    rules: Type.Array(
      Type.Object(
        {
          from: Type.String({ minLength: 1, description: 'The upstream URL prefix (http://backend:8080/app/), or a path prefix (/app/).' }),
          to: Type.String({ minLength: 1, description: 'The public prefix: a path (/public/) or an absolute URL.' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'ProxyPassReverse: URL prefixes in Location, Content-Location, URI and Refresh; the first match wins.' },
    ),
    cookieDomains: Type.Array(
      Type.Object(
        {
          from: Type.String({ minLength: 1, description: "The upstream's cookie domain." }),
          to: Type.String({ description: 'The public domain; empty removes the attribute (a host-only cookie).' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'ProxyPassReverseCookieDomain: Set-Cookie Domain attributes.' },
    ),
    cookiePaths: Type.Array(
      Type.Object(
        {
          from: Type.String({ minLength: 1, description: "The upstream's cookie path prefix." }),
          to: Type.String({ minLength: 1, description: 'The public path prefix.' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'ProxyPassReverseCookiePath: Set-Cookie Path attributes.' },
    ),
    headers: Type.Array(Type.String({ minLength: 1 }), {
      default: URL_HEADERS,
      description: 'Response headers holding a URL to map (of Refresh, the url= part); add others here, e.g. "destination".',
    }),
    absolute: Type.Boolean({
      default: true,
      description: "Make a mapped URL absolute when `to` is a path, from the request's scheme and host (as httpd does); false keeps it relative (RFC 9110 allows that).",
    }),
    publicOrigin: Type.Optional(
      Type.String({ description: 'Fixed scheme://host[:port] for absolute URLs instead of the request\'s (httpd\'s UseCanonicalName On).' }),
    ),
  },
  { additionalProperties: false },
);
type Options = Static<typeof options>;

interface Compiled {
  readonly urls: readonly UrlRule[];
  readonly domains: readonly CookieRule[];
  readonly paths: readonly CookieRule[];
  readonly headers: readonly string[];
}

const compiledFor = new WeakMap<object, Compiled>();
const TOKEN_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const COOKIE_VALUE_RE = /^[^\s;,]*$/;

function fail(option: string, problem: string): never {
  throw new FilterOptionsError('proxy-reverse', option, problem);
}

function checkValue(option: string, value: string): void {
  const problem = headerValueProblem(value);
  if (problem) fail(option, problem);
}

function compile(o: Options): Compiled {
  let c = compiledFor.get(o);
  if (c) return c;
  if (o.rules.length + o.cookieDomains.length + o.cookiePaths.length === 0) {
    fail('', 'nothing to do: give rules, cookieDomains or cookiePaths');
  }
  const urls = o.rules.map((r, i) => {
    checkValue(`rules/${i}/to`, r.to);
    try {
      return urlRule(r.from, r.to);
    } catch (err) {
      return fail(`rules/${i}`, (err as Error).message);
    }
  });
  o.cookieDomains.forEach((r, i) => {
    for (const k of ['from', 'to'] as const) {
      if (!COOKIE_VALUE_RE.test(r[k])) fail(`cookieDomains/${i}/${k}`, `"${r[k]}" is not a cookie domain (no spaces, ; or ,)`);
      checkValue(`cookieDomains/${i}/${k}`, r[k]);
    }
  });
  o.cookiePaths.forEach((r, i) => {
    for (const k of ['from', 'to'] as const) {
      if (!r[k].startsWith('/') || !COOKIE_VALUE_RE.test(r[k])) fail(`cookiePaths/${i}/${k}`, `"${r[k]}" is not a cookie path (starts with /; no spaces, ; or ,)`);
      checkValue(`cookiePaths/${i}/${k}`, r[k]);
    }
  });
  o.headers.forEach((h, i) => {
    if (!TOKEN_RE.test(h)) fail(`headers/${i}`, `"${h}" is not a header name`);
  });
  if (o.publicOrigin !== undefined && !/^https?:\/\/[^/?#\s]+$/i.test(o.publicOrigin)) {
    fail('publicOrigin', `"${o.publicOrigin}" is not scheme://host[:port] (no path)`);
  }
  c = {
    urls,
    domains: o.cookieDomains,
    paths: o.cookiePaths,
    headers: [...new Set(o.headers.map((h) => h.toLowerCase()))],
  };
  compiledFor.set(o, c);
  return c;
}

/** A mapped URL whose `to` was a path, made absolute the way httpd's ap_construct_url does. */
function absolute(url: string, o: Options, head: HeadPhase): string {
  if (!o.absolute || !url.startsWith('/')) return url;
  const origin = o.publicOrigin?.replace(/\/+$/, '') ?? requestOrigin(head);
  if (origin === undefined) return url;
  return url.startsWith('//') ? `${origin.slice(0, origin.indexOf(':') + 1)}${url}` : `${origin}${url}`;
}

function requestOrigin(head: HeadPhase): string | undefined {
  const host = publicHost(head.request);
  return host ? `${publicScheme(head.request)}://${host}` : undefined;
}

function mapOne(name: string, value: string, c: Compiled, o: Options, head: HeadPhase): string {
  if (name === 'refresh') {
    const r = refreshUrl(value);
    const mapped = r && mapUrl(r.url, c.urls);
    return mapped === undefined || !r ? value : `${r.before}${absolute(mapped, o, head)}${r.after}`;
  }
  // the old URI header wraps its URL in <...>
  const bracketed = /^<([^>]*)>(.*)$/s.exec(value);
  const url = bracketed ? bracketed[1]! : value;
  const mapped = mapUrl(url, c.urls);
  if (mapped === undefined) return value;
  const out = absolute(mapped, o, head);
  return bracketed ? `<${out}>${bracketed[2]}` : out;
}

/**
 * ProxyPassReverse, ProxyPassReverseCookieDomain and ProxyPassReverseCookiePath: URLs in
 * Location, Content-Location, URI and Refresh, and the Domain and Path attributes of every
 * Set-Cookie line, from the upstream's form to the public one. Header-only: it edits in the
 * header phase and steps aside, so the body costs nothing. Bodies are html-urlmap's job.
 */
export const proxyReverse = defineFilter({
  name: 'proxy-reverse',
  description: 'Maps upstream URLs in Location, Content-Location, URI, Refresh and Set-Cookie Domain/Path to public ones (ProxyPassReverse*).',
  directions: ['output'],
  stage: 'resource',
  preservesLength: true,
  options,
  validate: (o) => void compile(o),
  create: (ctx) => {
    const o = ctx.options;
    const c = compile(o);
    return {
      onHead(head) {
        const h = head.headers;
        if (c.urls.length > 0) {
          for (const name of c.headers) {
            const lines = h.getAll(name);
            if (lines.length === 0) continue;
            const mapped = lines.map((v) => mapOne(name, v, c, o, head));
            if (mapped.some((v, i) => v !== lines[i])) h.set(name, mapped);
          }
        }
        if (c.domains.length + c.paths.length > 0) {
          const lines = h.getAll('set-cookie');
          const mapped = lines.map((l) => mapSetCookie(l, c.domains, c.paths));
          if (mapped.some((v, i) => v !== lines[i])) h.set('set-cookie', mapped);
        }
        head.passOn();
      },
    };
  },
});

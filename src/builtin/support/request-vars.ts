import type { HeaderMap } from '../../filters/headers.js';
import type { RequestInfo } from '../../filters/types.js';

/**
 * The last element of a comma-separated list header: in X-Forwarded-* the one the nearest proxy
 * (this one, when Sluice runs the proxy) appended, so the only one it can vouch for.
 */
export function lastListValue(headers: HeaderMap, name: string): string | undefined {
  const all = headers.getAll(name);
  for (let i = all.length - 1; i >= 0; i--) {
    const parts = all[i]!.split(',');
    for (let j = parts.length - 1; j >= 0; j--) {
      const v = parts[j]!.trim();
      if (v) return v;
    }
  }
  return undefined;
}

/**
 * The host the client asked for. Behind the proxy the Host header may have been changed to the
 * upstream's (preserveHost: false), so X-Forwarded-Host, which the proxy sets from the client's
 * Host, comes first; then Host.
 */
export function publicHost(request: RequestInfo): string | undefined {
  return lastListValue(request.headers, 'x-forwarded-host') ?? request.headers.get('host')?.trim() ?? undefined;
}

/** The scheme the client used: X-Forwarded-Proto as the proxy set it, else http. */
export function publicScheme(request: RequestInfo): string {
  const proto = lastListValue(request.headers, 'x-forwarded-proto')?.toLowerCase();
  return proto === 'https' || proto === 'http' ? proto : 'http';
}

/** Path and query of the request URL, without the `?`. */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

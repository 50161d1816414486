import type { IncomingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1), plus the non-standard ones proxies also drop. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/**
 * A copy without hop-by-hop headers: the fixed list, every header the Connection header
 * names, and (requests) any Proxy-* header. Arrays are kept (Set-Cookie).
 */
export function withoutHopByHop(headers: IncomingHttpHeaders, direction: 'request' | 'response'): Record<string, string | string[]> {
  // Runs twice per proxied exchange: no Set unless Connection names more than keep-alive/close,
  // no entry arrays (a profile had this at 1.6 % of the proxy's CPU).
  const named = connectionNames(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    const key = k.toLowerCase();
    if (HOP_BY_HOP.has(key) || named?.has(key)) continue;
    if (direction === 'request' && key.startsWith('proxy-')) continue;
    out[key] = v;
  }
  return out;
}

/** The header names a Connection header lists, beyond the usual keep-alive and close. */
function connectionNames(conn: string | string[] | undefined): Set<string> | undefined {
  if (conn === undefined || conn === 'keep-alive' || conn === 'close') return undefined;
  let named: Set<string> | undefined;
  for (const line of Array.isArray(conn) ? conn : [conn]) {
    for (const t of line.split(',')) {
      const name = t.trim().toLowerCase();
      if (name && name !== 'keep-alive' && name !== 'close') (named ??= new Set()).add(name);
    }
  }
  return named;
}

/** Comma-append to a list header (X-Forwarded-For, Via). */
export function appendList(headers: Record<string, string | string[]>, name: string, value: string): void {
  const prev = headers[name];
  const joined = Array.isArray(prev) ? prev.join(', ') : prev;
  headers[name] = joined ? `${joined}, ${value}` : value;
}

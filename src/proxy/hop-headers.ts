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
  const named = new Set<string>();
  const conn = headers.connection;
  for (const line of Array.isArray(conn) ? conn : conn ? [conn] : []) {
    for (const t of line.split(',')) {
      const name = t.trim().toLowerCase();
      if (name) named.add(name);
    }
  }
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const key = k.toLowerCase();
    if (HOP_BY_HOP.has(key) || named.has(key)) continue;
    if (direction === 'request' && key.startsWith('proxy-')) continue;
    out[key] = v;
  }
  return out;
}

/** Comma-append to a list header (X-Forwarded-For, Via). */
export function appendList(headers: Record<string, string | string[]>, name: string, value: string): void {
  const prev = headers[name];
  const joined = Array.isArray(prev) ? prev.join(', ') : prev;
  headers[name] = joined ? `${joined}, ${value}` : value;
}

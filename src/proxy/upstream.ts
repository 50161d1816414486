import { Pool, type Dispatcher } from 'undici';
import type { CompiledUpstream } from '../pipeline/config/types.js';
import { guardedConnector } from './undici-guard.js';
import { UpstreamExchange } from './upstream-exchange.js';

/** How long a server that failed to connect is skipped (passive health, as nginx's fail_timeout). */
const DOWN_FOR_MS = 10_000;

export interface Server {
  readonly url: URL;
  readonly pool: Pool;
  downUntil: number;
}

/**
 * The pooled clients of one upstream: round robin over its servers, skipping one that failed
 * to connect for a while. When every server is down the least recently failed is tried.
 */
export class UpstreamClient {
  readonly name: string;
  readonly #servers: Server[];
  #next = 0;

  constructor(spec: CompiledUpstream) {
    this.name = spec.name;
    this.#servers = spec.servers.map((url) => ({
      url,
      downUntil: 0,
      pool: new Pool(url.origin, {
        connect: guardedConnector({ timeout: spec.connectTimeout }),
        headersTimeout: spec.headersTimeout,
        bodyTimeout: spec.bodyTimeout,
        keepAliveTimeout: 4_000,
      }),
    }));
  }

  /** How many servers this upstream has. */
  get size(): number {
    return this.#servers.length;
  }

  /** The server for the next request. */
  pick(): Server {
    const now = Date.now();
    const n = this.#servers.length;
    for (let i = 0; i < n; i++) {
      const s = this.#servers[(this.#next + i) % n]!;
      if (s.downUntil <= now) {
        this.#next = (this.#next + i + 1) % n;
        return s;
      }
    }
    return this.#servers.reduce((a, b) => (a.downUntil <= b.downUntil ? a : b));
  }

  markDown(server: Server): void {
    server.downUntil = Date.now() + DOWN_FOR_MS;
  }

  /** Send one request to `server`; the exchange settles its head, then feeds the body to a chain. */
  dispatch(server: Server, opts: Dispatcher.DispatchOptions): UpstreamExchange {
    const exchange = new UpstreamExchange();
    server.pool.dispatch(opts, exchange);
    return exchange;
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.pool.destroy()));
  }
}

/** undici error codes that mean "never got a connection": the server counts as down. */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND';
}

/** The status a fault before the response head maps to: 504 for a timeout, else 502. */
export function faultStatus(err: unknown): number {
  const code = (err as { code?: string } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 504 : 502;
}

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigState, ProxyMetrics } from './metrics.js';

/** Where the admin listener listens. */
export interface AdminOptions {
  /** Default 127.0.0.1: the endpoints have no authentication, keep them off public interfaces. */
  host?: string;
  /** Default 9080; 0: any free port (see AdminServer.url). */
  port?: number;
  /**
   * When it cannot listen (port taken), log a warning and serve on without it, instead of
   * failing the start. The `sluice` command sets it for the default listener, never for one
   * the config asks for.
   */
  optional?: boolean;
}

export interface AdminServerInput {
  /** A ProxyMetrics, or anything that renders the exposition (a cluster primary asks its workers). */
  metrics: Pick<ProxyMetrics, 'render'> | { render(config?: ConfigState): Promise<string> };
  /** The config's state for the exposition (generation); read at each scrape. */
  config?: () => ConfigState;
  /** Readiness: true once the proxy listens with its config loaded, false again while it shuts down. */
  ready: () => boolean | Promise<boolean>;
}

/**
 * The admin listener, on its own socket so that it can stay private while the proxy is public,
 * and so that a scrape never queues behind proxied traffic's routes or hooks:
 *
 * - `GET /healthz`: 200 while the process answers at all (liveness).
 * - `GET /readyz`: 200 while the proxy listens with a config loaded; 503 before, and from the
 *   moment a shutdown starts (in-flight requests still finishing), so a load balancer stops
 *   sending new ones while the old ones drain.
 * - `GET /metrics`: Prometheus text exposition format 0.0.4 (metrics.ts).
 *
 * Plain node:http rather than a second fastify: three fixed routes need no router.
 */
export class AdminServer {
  readonly #input: AdminServerInput;
  readonly #server: Server;
  #url: string | undefined;

  constructor(input: AdminServerInput) {
    this.#input = input;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, req, 500, `admin: ${err instanceof Error ? err.message : String(err)}\n`);
        else res.destroy();
      });
    });
    // Scrapers keep connections alive; they must not hold a shutdown open.
    this.#server.keepAliveTimeout = 5_000;
  }

  /** http://host:port once listening. */
  get url(): string | undefined {
    return this.#url;
  }

  async listen(opts: AdminOptions = {}): Promise<string> {
    const host = opts.host ?? '127.0.0.1';
    this.#server.listen(opts.port ?? 9080, host);
    await Promise.race([once(this.#server, 'listening'), once(this.#server, 'error').then(([err]) => Promise.reject(err as Error))]);
    const a = this.#server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.#url = `http://${h}:${a.port}`;
    return this.#url;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, req, 405, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/healthz':
        send(res, req, 200, 'ok\n');
        return;
      case '/readyz':
        if (await this.#input.ready()) send(res, req, 200, 'ready\n');
        else send(res, req, 503, 'not ready\n');
        return;
      case '/metrics': {
        const body = await this.#input.metrics.render(this.#input.config?.());
        send(res, req, 200, body, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return;
      }
      default:
        send(res, req, 404, 'admin endpoints: /healthz /readyz /metrics\n');
    }
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

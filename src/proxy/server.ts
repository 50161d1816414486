import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { CompiledConfig } from '../pipeline/config/types.js';
import { guardServer } from './guards.js';
import { awaitingContinue } from './handler.js';
import { AdminServer, type AdminOptions } from './admin.js';
import { LiveConfig } from './live-config.js';
import { ProxyMetrics } from './metrics.js';
import { EXTRA_METHODS, sluice } from './plugin.js';

export interface ProxyOptions {
  /** fastify's logger option (pino); default off. */
  logger?: FastifyServerOptions['logger'];
  /** The name this proxy gives itself in Via. */
  via?: string;
  /** Where requests are counted; default: a new one (the admin listener's /metrics shows it). */
  metrics?: ProxyMetrics;
  /**
   * The admin listener (/healthz, /readyz, /metrics): started with the server (on ready) and
   * closed after it, when given here or configured (`admin:` in the config); false: never.
   * Its address: `app.sluiceAdmin?.url`.
   */
  admin?: AdminOptions | false;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The admin listener of a createProxyServer instance, when it has one. */
    sluiceAdmin?: AdminServer;
  }
}

/**
 * A fastify instance that proxies every request by its location: the request body through the
 * location's input chain to the upstream as it arrives, the response through its output chain
 * to the client. Call `listen()` on it, or `inject()` in tests. Pass a LiveConfig to reload
 * later (`live.swap(next)`); requests in flight finish on the config they started with.
 */
export function createProxyServer(config: CompiledConfig | LiveConfig, opts: ProxyOptions = {}): FastifyInstance {
  // One log line per request is written by the proxy itself, with location, filters and timing.
  const app = Fastify({
    logger: opts.logger ?? false,
    exposeHeadRoutes: false,
    logController: new LogController({ disableRequestLogging: true }),
    // A 64 KiB upstream read plus its head fits under the response's high-water mark, so a
    // whole read is written without a pause-and-drain round trip per response (Node's
    // default is 16 KiB). What a slow client can make the proxy hold per connection is still
    // bounded: this plus one chunk, then the upstream read pauses.
    http: { highWaterMark: 128 * 1024 },
  });
  for (const m of EXTRA_METHODS) app.addHttpMethod(m, { hasBody: true });
  const live = config instanceof LiveConfig ? config : new LiveConfig(config);
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitingContinue.add(req);
    app.server.emit('request', req, res);
  });
  guardServer(app.server, app.log, live.current.config.listen.maxConnections);
  const metrics = opts.metrics ?? new ProxyMetrics();
  const configured = live.current.config.admin;
  const admin = opts.admin ?? (configured?.enabled ? configured : false);
  if (admin) startAdmin(app, admin, metrics, live);
  void app.register(sluice, { config: live, upgrades: true, metrics, ...(opts.via !== undefined && { via: opts.via }) });
  return app;
}

/**
 * The admin listener follows the proxy's life: it listens when the app is ready (a port in use
 * fails `listen()`), reports ready only while the proxy listens, turns unready as soon as a
 * shutdown starts (fastify's preClose, before in-flight requests finish), and closes after.
 */
function startAdmin(app: FastifyInstance, opts: AdminOptions, metrics: ProxyMetrics, live: LiveConfig): void {
  let closing = false;
  const server = new AdminServer({
    metrics,
    config: () => ({ generation: live.generation }),
    ready: () => !closing && app.server.listening,
  });
  app.decorate('sluiceAdmin', server);
  app.addHook('onReady', async () => {
    try {
      const url = await server.listen(opts);
      app.log.info({ url }, 'admin listener: /healthz /readyz /metrics');
    } catch (err) {
      if (!opts.optional) throw err;
      app.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'no admin listener (set admin: { port } in the config)');
    }
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onClose', async () => {
    await server.close();
  });
}


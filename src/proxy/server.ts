import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { CompiledConfig } from '../pipeline/config/types.js';
import { awaitingContinue } from './handler.js';
import { LiveConfig } from './live-config.js';
import { EXTRA_METHODS, sluice } from './plugin.js';

export interface ProxyOptions {
  /** fastify's logger option (pino); default off. */
  logger?: FastifyServerOptions['logger'];
  /** The name this proxy gives itself in Via. */
  via?: string;
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
  });
  for (const m of EXTRA_METHODS) app.addHttpMethod(m, { hasBody: true });
  const live = config instanceof LiveConfig ? config : new LiveConfig(config);
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitingContinue.add(req);
    app.server.emit('request', req, res);
  });
  void app.register(sluice, { config: live, upgrades: true, ...(opts.via !== undefined && { via: opts.via }) });
  return app;
}

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FilterRegistry } from '../filters/registry.js';
import { ConfigError, validateConfig } from '../pipeline/config/load.js';
import type { CompiledConfig, SluiceConfig } from '../pipeline/config/types.js';
import { handleProxyRequest } from './handler.js';
import { LiveConfig } from './live-config.js';
import { ProxyMetrics } from './metrics.js';
import { handleUpgrade } from './upgrade.js';

/** The methods proxied besides fastify's defaults (WebDAV and friends go through untouched). */
export const EXTRA_METHODS = ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT'] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

export interface SluicePluginOptions {
  /** A config to validate and compile, an already compiled one, or a live (reloadable) one. */
  config: SluiceConfig | CompiledConfig | LiveConfig;
  /** Where filter names resolve when `config` is a plain config; default: the builtins. */
  registry?: FilterRegistry;
  /** The name this proxy gives itself in Via (default "sluice"). */
  via?: string;
  /**
   * Pass WebSocket and other upgrade requests to the matched location's upstream. Default
   * false in the plugin (the host app may serve its own upgrades), true in createProxyServer.
   */
  upgrades?: boolean;
  /** Where requests are counted (serve `metrics.render()` on a route of yours); default: a private one. */
  metrics?: ProxyMetrics;
}

/** The live config behind any of the forms a caller may hand in. */
export function toLiveConfig(config: SluiceConfig | CompiledConfig | LiveConfig, registry?: FilterRegistry): LiveConfig {
  if (config instanceof LiveConfig) return config;
  if (typeof (config as CompiledConfig).match === 'function') return new LiveConfig(config as CompiledConfig);
  const r = validateConfig(config, registry ? { registry } : undefined);
  if (!r.ok) throw new ConfigError(r.errors);
  return new LiveConfig(r.config);
}

/**
 * Sluice's filtering as a fastify plugin: every request under the plugin's prefix is matched
 * to a location and proxied through its chains. Encapsulated like any fastify plugin: the
 * body parsers it removes (bodies are streamed, never parsed) are removed in its scope only.
 *
 *   app.register(sluice, { prefix: '/legacy', config })
 *
 * Locations match the full request path, prefix included.
 */
export const sluice: FastifyPluginAsync<SluicePluginOptions> = async (app: FastifyInstance, opts: SluicePluginOptions) => {
  const live = toLiveConfig(opts.config, opts.registry);
  const via = opts.via ?? 'sluice';
  const metrics = opts.metrics ?? new ProxyMetrics();
  app.addHook('onClose', async () => {
    await live.close();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  if (opts.upgrades === true) {
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(live.current, via, req, socket, head));
  }
  const methods = [...METHODS, ...EXTRA_METHODS.filter((m) => app.supportedMethods.includes(m))];
  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    handleProxyRequest(live, request.raw, reply.raw, via, request.log, metrics);
  };
  app.route({ method: methods, url: '/', handler });
  app.route({ method: methods, url: '/*', handler });
};

// Let fastify keep the plugin's name in its registry of plugins (and in errors).
Object.defineProperty(sluice, Symbol.for('fastify.display-name'), { value: 'sluice' });


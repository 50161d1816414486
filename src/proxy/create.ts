import type { FastifyInstance } from 'fastify';
import type { FilterRegistry } from '../filters/registry.js';
import { ConfigError, validateConfig } from '../pipeline/config/load.js';
import type { SluiceConfig } from '../pipeline/config/types.js';
import { createProxyServer, type ProxyOptions } from './server.js';

/**
 * A Sluice proxy from a config object: validated and compiled first (a bad config throws a
 * ConfigError naming every problem), then a fastify instance ready to `listen()`.
 */
export function createProxy(config: SluiceConfig, opts: ProxyOptions & { registry?: FilterRegistry } = {}): FastifyInstance {
  const result = validateConfig(config, opts.registry ? { registry: opts.registry } : undefined);
  if (!result.ok) throw new ConfigError(result.errors);
  return createProxyServer(result.config, opts);
}

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy } from '../src/proxy/create.js';
import type { SluiceConfig } from '../src/pipeline/config/types.js';

export interface Front {
  /** The proxy's origin, e.g. http://127.0.0.1:41234. */
  readonly base: string;
  /** Its port, for tests that speak raw TCP to it. */
  readonly port: number;
  /** Close the proxy, then the upstream (its kept-alive sockets too). */
  stop(): Promise<void>;
}

/**
 * Sluice in front of a scripted upstream, both listening on 127.0.0.1 port 0: `config` gets the
 * upstream's origin and returns the proxy's config; `opts` are createProxy's (a logger...).
 */
export async function proxyInFront(upstream: http.Server, config: (upstreamUrl: string) => SluiceConfig, opts?: Parameters<typeof createProxy>[1]): Promise<Front> {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = createProxy(config(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`), opts);
  const base = await proxy.listen({ port: 0, host: '127.0.0.1' });
  return {
    base,
    port: (proxy.server.address() as AddressInfo).port,
    async stop() {
      await proxy.close();
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    },
  };
}

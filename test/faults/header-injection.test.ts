/**
 * Headers produced by rewriting never carry CR or LF: a rewrite that would produce one is
 * refused at config load, and at run time nothing a client or an upstream sends, nor a filter
 * that misbehaves, puts an extra header line on the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { builtins } from '../../src/builtin/index.js';
import { defineFilter } from '../../src/filters/registry.js';
import { validateConfig } from '../../src/pipeline/config/load.js';
import type { ChainEntryConfig, SluiceConfig } from '../../src/pipeline/config/types.js';
import { createProxy } from '../../src/proxy/create.js';
import { rawExchange } from './support.js';

function cfg(output: ChainEntryConfig[], input: ChainEntryConfig[] = []): SluiceConfig {
  return { upstreams: { app: { servers: ['http://127.0.0.1:9'] } }, locations: [{ path: '/', upstream: 'app', output, input }] };
}

describe('refused at config load', () => {
  const cases: Record<string, SluiceConfig> = {
    'headers set with CR LF in the value': cfg([{ filter: 'headers', options: { actions: ['set X-A "one\r\nX-Injected: 1"'] } }]),
    'headers set with a bare LF': cfg([{ filter: 'headers', options: { actions: [{ action: 'set', header: 'X-A', value: 'one\ntwo' }] } }]),
    'headers append with a bare CR': cfg([{ filter: 'headers', options: { actions: [{ action: 'append', header: 'X-A', value: 'one\rtwo' }] } }]),
    'headers edit whose replacement has CR LF': cfg([{ filter: 'headers', options: { actions: [{ action: 'edit', header: 'Location', pattern: '^/', replacement: '/\r\nX-Injected: 1' }] } }]),
    'headers on the request side': cfg([], [{ filter: 'headers', options: { actions: ['set X-A "a\nb"'] } }]),
    'a header name with CR LF': cfg([{ filter: 'headers', options: { actions: [{ action: 'set', header: 'X-A\r\nX-B', value: 'v' }] } }]),
    'proxy-reverse rule target with CR LF': cfg([{ filter: 'proxy-reverse', options: { rules: [{ from: 'http://backend/', to: '/x/\r\nX-Injected: 1' }] } }]),
    'proxy-reverse cookie domain with LF': cfg([{ filter: 'proxy-reverse', options: { cookieDomains: [{ from: 'backend', to: 'ex\nample.com' }] } }]),
  };
  for (const [name, config] of Object.entries(cases)) {
    it(`${name}: refused, the problem names the option`, () => {
      const r = validateConfig(config);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.map((e) => `${e.path} ${e.message}`).join('\n')).toMatch(/locations\[0\]\.(output|input)\[0\]/);
    });
  }
});

describe('at run time', () => {
  /** A filter that tries to set a header with CR LF in it (a bug, or a malicious module). */
  const evil = defineFilter({
    name: 'evil-header',
    create: () => ({
      onHead: (head) => {
        head.headers.set('x-evil', 'a\r\nx-injected: 1');
      },
    }),
  });
  const registry = builtins.extend().register(evil);
  let proxy: FastifyInstance;
  let port = 0;
  const upstream = http.createServer((req, res) => {
    res.setHeader('connection', 'close');
    // the upstream echoes the request target into Location: a rewrite must keep it on one line
    res.writeHead(302, { location: `http://backend${req.url ?? '/'}`, 'set-cookie': 'sid=1; Domain=backend; Path=/app' });
    res.end();
  });

  beforeAll(async () => {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    proxy = createProxy(
      {
        upstreams: { app: { servers: [url] } },
        locations: [
          {
            path: '/',
            upstream: 'app',
            output: [
              { filter: 'headers', options: { actions: ['set X-Uri ${uri}', 'set X-Query ${query}', 'set X-UA ${header.user-agent}', 'edit X-Uri ^/ /seen/'] } },
              { filter: 'proxy-reverse', options: { rules: [{ from: 'http://backend/', to: '/pub/' }], cookieDomains: [{ from: 'backend', to: 'example.com' }] } },
            ],
          },
          { path: '/evil', upstream: 'app', output: ['evil-header'] },
        ],
      },
      { registry },
    );
    await proxy.listen({ port: 0, host: '127.0.0.1' });
    port = (proxy.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => upstream.close(r));
  });

  /** The raw head lines of the response. */
  function headLines(raw: Buffer): string[] {
    const text = raw.toString('latin1');
    return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
  }

  for (const target of ['/a%0d%0aX-Injected:%201', '/a?q=%0d%0aX-Injected:%201', '/a%0aX-Injected:1', '/%E5%98%8A%E5%98%8DX-Injected:1']) {
    it(`an encoded CR/LF in ${target} stays encoded in every rewritten header: no extra header line`, async () => {
      const r = await rawExchange(port, { request: `GET ${target} HTTP/1.1\r\nhost: t\r\nuser-agent: ua\r\nconnection: close\r\n\r\n` });
      expect(r.status).toBe(302);
      const lines = headLines(r.raw);
      expect(lines.some((l) => /^x-injected/i.test(l))).toBe(false);
      for (const l of lines) expect(l).not.toMatch(/[\r\n]/);
      expect(r.headers['location']).toMatch(/^http:\/\/t\/pub\//);
      expect(r.headers['x-uri']).toMatch(/^\/seen\//);
      expect(r.headers['set-cookie']).toMatch(/Domain=example\.com/);
    });
  }

  it('a filter that sets a header value with CR LF: the client gets an error status, never the injected line; the proxy goes on serving', async () => {
    const r = await rawExchange(port, { request: `GET /evil HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n` });
    expect(headLines(r.raw).some((l) => /^x-injected/i.test(l))).toBe(false);
    expect(r.status).toBeGreaterThanOrEqual(500);
    const next = await rawExchange(port, { request: `GET /ok HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n` });
    expect(next.status).toBe(302);
  });
});

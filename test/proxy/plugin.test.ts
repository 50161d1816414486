import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError, sluicePlugin } from '../../src/index.js';

const PAGE = '<p>legacy page from the upstream</p>\n'.repeat(50);
const upstream = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'x-upstream-path': req.url ?? '' });
  res.end(PAGE);
});
let app: FastifyInstance;
let base = '';

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const servers = [`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`];
  app = Fastify();
  app.get('/health', async () => ({ ok: true }));
  app.post('/json', async (req) => ({ echoed: req.body })); // the app's own JSON parser stays
  await app.register(sluicePlugin, { prefix: '/legacy', config: { upstreams: { old: { servers } }, locations: [{ path: '/legacy/', upstream: 'old', output: ['gzip'] }] } });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app.close();
  await new Promise((r) => upstream.close(r));
});

describe('sluicePlugin on an existing fastify app', () => {
  it('proxies and filters the routes under its prefix; locations see the full path', async () => {
    const r = await fetch(`${base}/legacy/page?x=1`, { headers: { 'accept-encoding': 'gzip' } });
    expect(r.headers.get('x-upstream-path')).toBe('/legacy/page?x=1');
    expect(r.headers.get('content-encoding')).toBe('gzip');
    // fetch decodes gzip itself: the bytes it hands back are the upstream's
    expect(await r.text()).toBe(PAGE);
  });

  it("leaves the app's own routes and body parsing alone (encapsulation)", async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ ok: true });
    const posted = await fetch(`${base}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await posted.json()).toEqual({ echoed: { a: 1 } });
  });

  it('a bad config fails registration with a ConfigError naming the problem', async () => {
    const other = Fastify();
    other.register(sluicePlugin, { config: { upstreams: {}, locations: [{ path: '/', upstream: 'nope' }] } });
    await expect(other.ready()).rejects.toThrow(ConfigError);
    await expect(other.ready()).rejects.toThrow(/unknown upstream "nope"/);
  });

  it('gzip bytes on the wire decode to the page', async () => {
    const body = await new Promise<Buffer>((resolve, reject) => {
      http.get(`${base}/legacy/x`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject);
    });
    expect(zlib.gunzipSync(body).toString()).toBe(PAGE);
  });
});

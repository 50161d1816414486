import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { createProxy } from '../../src/proxy/create.js';
import type { SluiceConfig } from '../../src/pipeline/config/types.js';

/** What the upstream saw of the last request. */
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const PAGE = Buffer.from('<!doctype html><title>t</title>' + '<p>Hello from the upstream, internal.example.</p>\n'.repeat(200));
let seen: Seen | undefined;
let upstreamClosed: Promise<void> | undefined;

/** A scripted upstream: each path is one behaviour the proxy must handle. */
const upstream = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/slow':
        return; // never answers: the proxy's headersTimeout must fire
      case '/reset':
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(PAGE.length) });
        res.write(PAGE.subarray(0, 1000));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      case '/endless':
        upstreamClosed = new Promise((resolve) => res.on('close', () => resolve()));
        res.writeHead(200, { 'content-type': 'text/plain' });
        {
          const t = setInterval(() => res.write('x'.repeat(1024)), 5);
          res.on('close', () => clearInterval(t));
        }
        return;
      case '/hints':
        // 103 Early Hints, then the response: the interim head is not the response
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
          res.end('final');
        });
        return;
      case '/hop':
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'x-secret, keep-alive',
          'x-secret': 'hop',
          'keep-alive': 'timeout=5',
          'x-kept': 'yes',
        });
        res.end('ok');
        return;
      default:
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': String(PAGE.length),
          'accept-ranges': 'bytes',
          etag: '"p1"',
        });
        res.end(req.method === 'HEAD' ? undefined : PAGE);
    }
  });
});

let upstreamUrl = '';
let proxy: FastifyInstance;
let base = '';

function config(): SluiceConfig {
  return {
    upstreams: {
      app: { servers: [upstreamUrl], headersTimeout: 300 },
      dead: { servers: ['http://127.0.0.1:1'] },
    },
    locations: [
      { path: '/', upstream: 'app' },
      { path: '/z', upstream: 'app', output: ['compress'] },
      { path: '/admin', upstream: 'app', output: [{ filter: 'identity', name: 'admin-marker' }] },
      { path: '/up', upstream: 'app', input: ['inflate'] },
      { path: '/dead', upstream: 'dead' },
    ],
  };
}

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = createProxy(config());
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  complete: boolean;
}

/** A plain HTTP client that reports whether the body ended cleanly. */
function get(path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let complete = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (complete = true));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: complete && res.complete }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('forwarding', () => {
  it('passes a response through with the upstream status, headers and bytes', async () => {
    const r = await get('/page?x=1');
    expect(r.status).toBe(200);
    expect(r.body.equals(PAGE)).toBe(true);
    expect(r.headers['content-length']).toBe(String(PAGE.length));
    expect(r.headers['etag']).toBe('"p1"');
    expect(r.headers['via']).toBe('1.1 sluice');
    expect(seen!.url).toBe('/page?x=1');
  });

  it('skips an interim 103 Early Hints head and passes the final response', async () => {
    const r = await get('/hints');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('final');
    expect(r.complete).toBe(true);
  });

  it('adds X-Forwarded-* and Via, keeps Host, drops hop-by-hop headers both ways', async () => {
    const r = await get('/hop', { headers: { connection: 'x-drop-me', 'x-drop-me': '1', te: 'trailers', 'proxy-authorization': 'secret', 'x-forwarded-for': '10.0.0.9', host: 'public.example' } });
    expect(r.status).toBe(200);
    expect(seen!.headers['x-drop-me']).toBeUndefined();
    expect(seen!.headers['te']).toBeUndefined();
    expect(seen!.headers['proxy-authorization']).toBeUndefined();
    expect(seen!.headers['x-forwarded-for']).toBe('10.0.0.9, 127.0.0.1');
    expect(seen!.headers['x-forwarded-host']).toBe('public.example');
    expect(seen!.headers['x-forwarded-proto']).toBe('http');
    expect(seen!.headers['via']).toBe('1.1 sluice');
    expect(seen!.headers['host']).toBe('public.example');
    expect(r.headers['x-secret']).toBeUndefined();
    // (Node adds its own Keep-Alive for the client connection; the upstream's must not leak)
    expect(r.headers['keep-alive']).not.toBe('timeout=5');
    expect(r.headers['x-kept']).toBe('yes');
  });

  it('normalises the path before matching: /public/../admin is /admin', async () => {
    const r = await get('/public/../admin/x');
    expect(r.status).toBe(200);
    expect(seen!.url).toBe('/admin/x');
  });

  it('compresses through the output chain, drops Content-Length and Accept-Ranges, and does not forward Range', async () => {
    const r = await get('/z/page', { headers: { 'accept-encoding': 'gzip', range: 'bytes=0-99' } });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers['accept-ranges']).toBeUndefined();
    expect(r.headers['vary']).toBe('Accept-Encoding');
    expect(seen!.headers['range']).toBeUndefined();
    expect(zlib.gunzipSync(r.body).equals(PAGE)).toBe(true);
  });

  it('forwards Range when the location does not change bodies', async () => {
    await get('/page', { headers: { range: 'bytes=0-99' } });
    expect(seen!.headers['range']).toBe('bytes=0-99');
  });

  it('HEAD gets the headers a GET would get, and no body', async () => {
    const r = await get('/z/page', { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.body.length).toBe(0);
  });

  it('streams a gzip request body through inflate: the upstream sees plain bytes', async () => {
    const plain = Buffer.from('field=value&'.repeat(1000));
    const r = await get('/up/form', { method: 'POST', body: zlib.gzipSync(plain), headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(200);
    expect(seen!.method).toBe('POST');
    expect(seen!.body.equals(plain)).toBe(true);
    expect(seen!.headers['content-encoding']).toBeUndefined();
  });

  it('a request body over the inflate limit gets 413', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024));
    const r = await get('/up/bomb', { method: 'POST', body: bomb, headers: { 'content-encoding': 'gzip' } });
    expect([413]).toContain(r.status);
  });

  it('answers 404 where no location matches', async () => {
    const p = createProxy({ upstreams: { app: { servers: [upstreamUrl] } }, locations: [{ path: '/only', upstream: 'app' }] });
    const url = await p.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${url}/elsewhere`);
      expect(res.status).toBe(404);
    } finally {
      await p.close();
    }
  });
});

describe('faults', () => {
  it('502 when the upstream refuses the connection', async () => {
    const r = await get('/dead/x');
    expect(r.status).toBe(502);
  });

  it('504 when the upstream sends no head in time', async () => {
    const r = await get('/slow');
    expect(r.status).toBe(504);
  });

  it('an upstream reset after the head aborts the client response: never a clean end', async () => {
    const r = await get('/reset');
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body.length).toBeLessThan(PAGE.length);
  });

  it('a client that goes away mid-response releases the upstream request', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/endless`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data')), 2000);
    });
    await expect(Promise.race([upstreamClosed, new Promise((_, rej) => setTimeout(() => rej(new Error('upstream still open')), 2000))])).resolves.toBeUndefined();
  });
});

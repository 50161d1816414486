import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import iconv from 'iconv-lite';
import type { FastifyInstance } from 'fastify';
import { builtins } from '../../src/index.js';
import { createProxy } from '../../src/proxy/create.js';
import type { LocationSpec } from '../../src/pipeline/config/types.js';

/**
 * Every shipped filter through the real proxy in front of a real upstream: one location per
 * filter (the location's path names it), real HTTP, bytes checked after decoding.
 */
const PAGE = '<!doctype html><title>t</title>\n' + '<p><a href="http://internal.example/x">internal.example</a> café €</p>\n'.repeat(300);
const W1252 = '<p>café “quoted” — 5 €</p>\n'.repeat(50);

let upstreamSaw: { length: number; body: Buffer } | undefined;
const upstream = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const leaf = (req.url ?? '').split('?')[0]!.split('/').pop();
    switch (leaf) {
      case 'page':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(PAGE) });
        return res.end(PAGE);
      case 'w1252': {
        const body = iconv.encode(W1252, 'windows-1252');
        res.writeHead(200, { 'content-type': 'text/html; charset=windows-1252', 'content-length': body.length });
        return res.end(body);
      }
      case 'gz': {
        const body = zlib.gzipSync(PAGE);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip', 'content-length': body.length });
        return res.end(body);
      }
      case 'redirect':
        res.writeHead(302, { location: 'http://internal.example/x', 'content-length': 0 });
        return res.end();
      case 'echo': {
        const body = Buffer.concat(chunks);
        upstreamSaw = { length: Number(req.headers['content-length'] ?? -1), body };
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(`got ${body.length}`);
      }
      default:
        res.writeHead(404);
        res.end();
    }
  });
});

const loc = (name: string, chain: Partial<Pick<LocationSpec, 'input' | 'output'>>): LocationSpec => ({ path: `/${name}/`, upstream: 'app', ...chain });
const locations: LocationSpec[] = [
  loc('identity', { output: ['identity'] }),
  loc('gzip', { output: ['gzip'] }),
  loc('deflate', { output: ['deflate'] }),
  loc('br', { output: ['br'] }),
  loc('compress', { output: ['compress'] }),
  loc('decompress', { output: ['decompress'] }),
  loc('charset', { output: ['charset'] }),
  loc('substitute', { output: [{ filter: 'substitute', options: { rules: ['s/internal.example/public.example/n'] } }] }),
  loc('sed', { output: [{ filter: 'sed', options: { script: 's/internal/public/g' } }] }),
  loc('html-urlmap', { output: [{ filter: 'html-urlmap', options: { rules: ['http://internal.example/ /'] } }] }),
  loc('proxy-reverse', { output: [{ filter: 'proxy-reverse', options: { rules: [{ from: 'http://internal.example/', to: '/public/' }] } }] }),
  loc('headers', { output: [{ filter: 'headers', options: { actions: [{ action: 'set', header: 'x-filtered', value: 'by ${method}' }] } }] }),
  loc('trace', { output: ['trace', 'identity'] }),
  loc('ratelimit', { output: [{ filter: 'ratelimit', options: { rate: 100_000 } }] }),
  loc('buffer', { output: [{ filter: 'substitute', options: { rules: ['s/internal.example/public.example/n'] } }, 'buffer'] }),
  loc('limit', { input: [{ filter: 'limit', options: { maxSize: 1000 } }] }),
  loc('inflate', { input: ['inflate'] }),
];

let proxy: FastifyInstance;
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  proxy = createProxy({ upstreams: { app: { servers: [`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`] } }, locations });
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await proxy.close();
  await new Promise((r) => upstream.close(r));
});

/** Raw bytes as they came off the wire (no decoding by the client). */
function get(path: string, headers: Record<string, string> = {}, body?: Buffer, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('every builtin through the proxy', () => {
  it('this table covers every registered builtin', () => {
    expect(locations.map((l) => l.path.slice(1, -1)).sort()).toEqual(builtins.names().sort());
  });

  it.each([
    ['gzip', 'gzip', (b: Buffer) => zlib.gunzipSync(b)],
    ['deflate', 'deflate', (b: Buffer) => zlib.inflateSync(b)],
    ['br', 'br', (b: Buffer) => zlib.brotliDecompressSync(b)],
    ['compress', 'br;q=0.5, gzip', (b: Buffer) => zlib.gunzipSync(b)],
  ])('%s: the body decodes to the page, Content-Length gone, Vary set', async (name, ae, decode) => {
    const r = await get(`/${name}/page`, { 'accept-encoding': ae });
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers.vary).toMatch(/accept-encoding/i);
    expect(decode(r.body).toString()).toBe(PAGE);
  });

  it('identity, trace and ratelimit: the page byte for byte', async () => {
    for (const name of ['identity', 'trace', 'ratelimit']) expect((await get(`/${name}/page`)).body.toString()).toBe(PAGE);
  });

  it('decompress: an always-gzip upstream decoded for a client that did not ask for gzip', async () => {
    const r = await get('/decompress/gz', { 'accept-encoding': 'identity' });
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe(PAGE);
  });

  it('charset: windows-1252 served as UTF-8', async () => {
    const r = await get('/charset/w1252');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body.toString('utf8')).toBe(W1252);
  });

  it('substitute and sed: every occurrence rewritten, nothing else changed', async () => {
    expect((await get('/substitute/page')).body.toString()).toBe(PAGE.replaceAll('internal.example', 'public.example'));
    expect((await get('/sed/page')).body.toString()).toBe(PAGE.replaceAll('internal', 'public'));
  });

  it('html-urlmap: links mapped, link text left alone', async () => {
    expect((await get('/html-urlmap/page')).body.toString()).toBe(PAGE.replaceAll('href="http://internal.example/x"', 'href="/x"'));
  });

  it('proxy-reverse: Location mapped to the public form', async () => {
    const r = await get('/proxy-reverse/redirect', { host: 'www.example.com' });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('http://www.example.com/public/x');
  });

  it('headers: a response header set from a request variable', async () => {
    expect((await get('/headers/page')).headers['x-filtered']).toBe('by GET');
  });

  it('buffer: a body a filter changed goes out with its new Content-Length', async () => {
    const r = await get('/buffer/page');
    const expected = PAGE.replaceAll('internal.example', 'public.example');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(expected)));
    expect(r.body.toString()).toBe(expected);
  });

  it('limit: 413 over the limit before the upstream sees it; under it, the body arrives', async () => {
    upstreamSaw = undefined;
    expect((await get('/limit/echo', { 'content-type': 'text/plain' }, Buffer.alloc(5000, 'x'), 'POST')).status).toBe(413);
    expect(upstreamSaw).toBeUndefined();
    const ok = await get('/limit/echo', { 'content-type': 'text/plain' }, Buffer.alloc(500, 'x'), 'POST');
    expect(ok.body.toString()).toBe('got 500');
  });

  it('inflate: a gzip request body reaches the upstream decoded', async () => {
    const plain = Buffer.from('hello upstream, '.repeat(1000));
    const r = await get('/inflate/echo', { 'content-encoding': 'gzip', 'content-type': 'text/plain' }, zlib.gzipSync(plain), 'POST');
    expect(r.body.toString()).toBe(`got ${plain.length}`);
    expect(upstreamSaw!.body.equals(plain)).toBe(true);
  });
});

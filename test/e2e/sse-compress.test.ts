import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { compileChain, HeaderMap, nodeSink, pump, type CompiledChain } from '../../src/index.js';

/**
 * Server-sent events through `compress`, over real sockets: an SSE upstream, a minimal proxy
 * (node:http, the chain, pump with idle flushes) and a client that decodes incrementally. The
 * upstream sends the next event only after the client has decoded the previous one, so a
 * compressor that held data would stall the test instead of passing it.
 */
const EVENTS = 5;
let waitForClient: ((i: number) => Promise<void>) | undefined;

const upstream = http.createServer(async (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let i = 1; i <= EVENTS; i++) {
    res.write(`id: ${i}\ndata: ${'tick '.repeat(10)}${i}\n\n`);
    await waitForClient!(i);
  }
  res.end();
});

function proxy(chain: CompiledChain, upstreamPort: number): http.Server {
  return http.createServer((req, res) => {
    http.get({ host: '127.0.0.1', port: upstreamPort, path: req.url }, async (up) => {
      const run = chain.run(
        {
          request: { method: req.method ?? 'GET', url: req.url ?? '/', headers: HeaderMap.fromNode(req.headers) },
          status: up.statusCode ?? 502,
          headers: HeaderMap.fromNode(up.headers),
        },
        nodeSink(res),
      );
      await run.start();
      res.writeHead(run.head.status, run.head.headers.toNode());
      await pump(run, up, { flush: 'idle' }).catch(() => undefined);
    });
  });
}

const listen = (s: http.Server): Promise<number> =>
  new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

let upstreamPort = 0;
beforeAll(async () => {
  upstreamPort = await listen(upstream);
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

describe('SSE through compress stays live', () => {
  it.each([
    ['gzip', 'gzip', () => zlib.createGunzip()],
    ['br', 'br', () => zlib.createBrotliDecompress()],
    ['deflate', 'deflate', () => zlib.createInflate()],
    ['gzip (fflate backend)', 'gzip', () => zlib.createGunzip()],
  ])('%s: each event is decodable before the next is sent', async (label, coding, decoder) => {
    const backend = label.includes('fflate') ? 'fflate' : 'auto';
    const chain = compileChain([{ filter: 'compress', options: { encodings: [coding], backend, minLength: 0 } }]);
    const server = proxy(chain, upstreamPort);
    const port = await listen(server);
    let text = '';
    const seen: Array<() => void> = [];
    let failClient: (err: Error) => void = () => undefined;
    const decoded = (i: number): boolean => text.includes(`tick ${i}\n\n`);
    waitForClient = (i) =>
      new Promise<void>((resolve, reject) => {
        if (decoded(i)) return resolve();
        const timer = setTimeout(() => {
          const err = new Error(`event ${i} not decoded by the client within 2 s: the stream is not live`);
          reject(err);
          failClient(err);
        }, 2000);
        seen.push(() => {
          if (decoded(i)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    try {
      const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
        failClient = reject;
        http
          .get({ host: '127.0.0.1', port, path: '/events', headers: { 'accept-encoding': coding } }, (res) => {
            const d = decoder();
            d.on('data', (c: Buffer) => {
              text += c.toString();
              for (const s of seen.splice(0)) s();
            });
            res.pipe(d);
            d.on('end', () => resolve(res.headers));
            d.on('error', reject);
          })
          .on('error', reject);
      });
      expect(headers['content-encoding']).toBe(coding);
      expect(headers['vary']).toBe('Accept-Encoding');
      expect(headers['content-length']).toBeUndefined();
      for (let i = 1; i <= EVENTS; i++) expect(text).toContain(`id: ${i}\ndata: ${'tick '.repeat(10)}${i}\n\n`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

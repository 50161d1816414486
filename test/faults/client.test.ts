/**
 * A misbehaving client, through each relevant chain: aborts mid-request and mid-response, reads
 * very slowly, sends its body slower than the timeout, pipelines requests. For every case: the
 * documented outcome, a log line, and afterwards the proxy serves, with nothing left open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { createProxy } from '../../src/proxy/create.js';
import type { ChainEntryConfig } from '../../src/pipeline/config/types.js';
import { prng } from '../helpers.js';
import { baseline, expectSettled, get, logCapture, parseResponses, rawExchange, type RawResponse } from './support.js';

/** 1 MiB of text gzip cannot shrink much (random base64): compression does not hide backpressure. */
const POOL = (() => {
  const rnd = prng(7);
  const b = Buffer.alloc(768 * 1024);
  for (let i = 0; i < b.length; i++) b[i] = (rnd() * 256) | 0;
  return Buffer.from(b.toString('base64'));
})();

/** What the upstream saw of each request, by its id (?id=...). */
interface UpstreamView {
  bodyBytes: number;
  ended: boolean;
  closed: Promise<void>;
  /** bytes of a /big response the upstream managed to hand to its socket so far */
  written: number;
}
const views = new Map<string, UpstreamView>();

const upstream = http.createServer((req, res) => {
  // a fresh upstream connection per request: an idle pooled one is not a leak, but would look like one
  res.setHeader('connection', 'close');
  const u = new URL(req.url ?? '/', 'http://x');
  const id = u.searchParams.get('id') ?? '';
  const view: UpstreamView = { bodyBytes: 0, ended: false, closed: new Promise((r) => res.on('close', () => r())), written: 0 };
  views.set(id, view);
  req.on('data', (c: Buffer) => (view.bodyBytes += c.length));
  req.on('end', () => {
    view.ended = true;
    const what = u.pathname.split('/').pop();
    if (what === 'echo') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`got ${view.bodyBytes}`);
    } else if (what === 'endless') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write(POOL.subarray(0, 4096)), 5);
      res.on('close', () => clearInterval(t));
    } else if (what === 'big') {
      // honours backpressure: how far it gets says how much the proxy let through
      const total = Number(u.searchParams.get('n'));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': total });
      const pump = (): void => {
        while (view.written < total) {
          const n = Math.min(64 * 1024, total - view.written);
          const off = view.written % POOL.length;
          const piece = off + n <= POOL.length ? POOL.subarray(off, off + n) : Buffer.concat([POOL.subarray(off), POOL.subarray(0, off + n - POOL.length)]);
          view.written += n;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<p>page ${id} from the upstream</p>`);
    }
  });
});

const CHAINS: Record<string, ChainEntryConfig[]> = {
  none: [],
  compress: ['compress'],
  rewrite: ['decompress', { filter: 'substitute', options: { rules: ['s/upstream/proxy/'] } }, 'compress'],
  charset: ['charset'],
};

let proxy: FastifyInstance;
let port = 0;
const logs = logCapture();
let seq = 0;
const nextId = (): string => `r${++seq}`;

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = createProxy(
    {
      upstreams: { app: { servers: [url], requestBodyTimeout: 300, headersTimeout: 2000 } },
      locations: [
        ...Object.entries(CHAINS).map(([name, output]) => ({ path: `/${name}/`, upstream: 'app', output })),
        { path: '/inflate/', upstream: 'app', input: ['inflate'] },
      ],
    },
    { logger: { level: 'info', stream: logs.stream } },
  );
  await proxy.listen({ port: 0, host: '127.0.0.1' });
  port = (proxy.server.address() as AddressInfo).port;
  for (const chain of Object.keys(CHAINS)) await rawExchange(port, { request: get(`/${chain}/page?id=warm`, { 'accept-encoding': 'gzip' }) });
});

afterAll(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function decoded(r: RawResponse): Buffer {
  return r.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(r.body) : r.body;
}

/** The proxy still serves this chain, correctly. */
async function servesNext(chain: string): Promise<void> {
  const id = nextId();
  const r = await rawExchange(port, { request: get(`/${chain}/page?id=${id}`, { 'accept-encoding': 'gzip' }) });
  expect(r.status).toBe(200);
  expect(r.complete).toBe(true);
  expect(decoded(r).toString()).toMatch(new RegExp(`page ${id} from the (upstream|proxy)`));
}

async function logged(mark: number, msg: RegExp): Promise<void> {
  await expect.poll(() => logs.since(mark).some((l) => msg.test(l.msg)), { timeout: 1500 }).toBe(true);
}

describe.each(Object.keys(CHAINS))('through the %s chain', (chain) => {
  it('a client that aborts mid-request: the upstream request is aborted before its end, logged; then the proxy serves and nothing is left open', async () => {
    const before = baseline();
    const mark = logs.lines.length;
    const id = nextId();
    const s = await connect();
    s.write(`POST /${chain}/echo?id=${id} HTTP/1.1\r\nhost: t\r\ncontent-length: 1000000\r\n\r\n`);
    s.write(Buffer.alloc(20_000, 97));
    await expect.poll(() => views.get(id)?.bodyBytes ?? 0, { timeout: 2000 }).toBeGreaterThan(0);
    s.destroy();
    await views.get(id)!.closed;
    expect(views.get(id)!.ended).toBe(false);
    await logged(mark, /client went away/);
    await servesNext(chain);
    await expectSettled(before);
  });

  it('a client that aborts mid-response: the upstream response is closed, logged; then the proxy serves and nothing is left open', async () => {
    const before = baseline();
    const mark = logs.lines.length;
    const id = nextId();
    const s = await connect();
    s.write(get(`/${chain}/endless?id=${id}`, { 'accept-encoding': 'gzip' }));
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    await views.get(id)!.closed;
    await logged(mark, /client went away/);
    await servesNext(chain);
    await expectSettled(before);
  });

  it('a client that sends its body slower than requestBodyTimeout gets 408 and the upstream request is aborted, logged; nothing is left open', async () => {
    const before = baseline();
    const mark = logs.lines.length;
    const id = nextId();
    const started = Date.now();
    const r = await rawExchange(port, { request: `POST /${chain}/echo?id=${id} HTTP/1.1\r\nhost: t\r\ncontent-length: 1000\r\n\r\n${'a'.repeat(10)}`, timeoutMs: 3000 });
    expect(r.status).toBe(408);
    expect(r.complete).toBe(true);
    expect(r.headers['connection']).toBe('close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await views.get(id)?.closed;
    expect(views.get(id)?.ended ?? false).toBe(false);
    await logged(mark, /request body timed out/);
    await servesNext(chain);
    await expectSettled(before);
  });

  it('a body sent in pieces with pauses shorter than requestBodyTimeout (longer in total) is accepted whole: 200', async () => {
    const before = baseline();
    const id = nextId();
    const s = await connect();
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.write(`POST /${chain}/echo?id=${id} HTTP/1.1\r\nhost: t\r\ncontent-length: 80\r\nconnection: close\r\n\r\n`);
    for (let i = 0; i < 8; i++) {
      s.write('b'.repeat(10));
      await sleep(100);
    }
    await closed;
    const [r] = parseResponses(Buffer.concat(chunks), 'end');
    expect(r!.status).toBe(200);
    expect(decoded(r!).toString()).toBe('got 80');
    await expectSettled(before);
  });

  it('pipelined requests on one connection get their responses in order, each complete', async () => {
    const before = baseline();
    const ids = [nextId(), nextId(), nextId()];
    const s = await connect();
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    const keep = (path: string): string => `GET ${path} HTTP/1.1\r\nhost: t\r\naccept-encoding: gzip\r\n\r\n`;
    s.write(
      keep(`/${chain}/page?id=${ids[0]}`) +
        `POST /${chain}/echo?id=${ids[1]} HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n\r\nhello` +
        `GET /${chain}/page?id=${ids[2]} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n`,
    );
    await closed;
    const rs = parseResponses(Buffer.concat(chunks), 'end');
    expect(rs.map((r) => [r.status, r.complete])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    expect(decoded(rs[0]!).toString()).toMatch(`page ${ids[0]} from`);
    expect(decoded(rs[1]!).toString()).toBe('got 5');
    expect(decoded(rs[2]!).toString()).toMatch(`page ${ids[2]} from`);
    await expectSettled(before);
  });
});

describe.each(['none', 'compress'])('a client that reads very slowly, through the %s chain', (chain) => {
  it('backpressure reaches the upstream (it stalls; the proxy holds no more than a few MiB), then every byte arrives complete', async () => {
    const before = baseline();
    const total = chain === 'none' ? 32 * 1024 * 1024 : 16 * 1024 * 1024;
    const id = nextId();
    const s = await connect();
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
    };
    s.on('data', onData);
    s.write(get(`/${chain}/big?id=${id}&n=${total}`, { 'accept-encoding': 'gzip' }));
    await expect.poll(() => got, { timeout: 3000 }).toBeGreaterThan(0);
    s.pause();
    const memBefore = process.memoryUsage().arrayBuffers;
    // wait until the upstream stops making progress
    let last = -1;
    for (let i = 0; i < 40 && views.get(id)!.written !== last; i++) {
      last = views.get(id)!.written;
      await sleep(150);
    }
    const stalledAt = views.get(id)!.written;
    if (chain === 'none') expect(stalledAt).toBeLessThan(total);
    // what the proxy process holds: the sockets' kernel buffers are not in it
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(16 * 1024 * 1024);
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.resume();
    await closed;
    const [r] = parseResponses(Buffer.concat(chunks), 'end');
    expect(r!.status).toBe(200);
    expect(r!.complete).toBe(true);
    expect(decoded(r!).length).toBe(total);
    await servesNext(chain);
    await expectSettled(before);
  });
});

describe.each(['none', 'rewrite'])('a slow reader of a response the upstream has already finished and closed, through the %s chain', (chain) => {
  it('every byte arrives complete and the process survives (undici crashes on FIN while its parser is paused: src/proxy/undici-guard.ts)', async () => {
    const before = baseline();
    const total = 1024 * 1024;
    const id = nextId();
    const s = await connect();
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.pause();
    s.write(get(`/${chain}/big?id=${id}&n=${total}`));
    // the upstream writes everything and closes while this client has not read a byte
    await expect.poll(() => views.get(id)?.written ?? 0, { timeout: 5000 }).toBe(total);
    await Promise.race([views.get(id)!.closed, sleep(2000)]);
    await sleep(100);
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.resume();
    await closed;
    const [r] = parseResponses(Buffer.concat(chunks), 'end');
    expect(r!.status).toBe(200);
    expect(r!.complete).toBe(true);
    expect(decoded(r!).length).toBe(total);
    await servesNext(chain);
    await expectSettled(before);
  });
});

describe('a request decompression bomb', () => {
  it('64 MiB of zeros gzipped to 64 KiB, through inflate: 413, the upstream never gets the whole body, nothing is left open', async () => {
    const before = baseline();
    const id = nextId();
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const r = await rawExchange(port, {
      request: Buffer.concat([Buffer.from(`POST /inflate/echo?id=${id} HTTP/1.1\r\nhost: t\r\ncontent-encoding: gzip\r\ncontent-length: ${bomb.length}\r\nconnection: close\r\n\r\n`), bomb]),
      timeoutMs: 5000,
    });
    expect(r.status).toBe(413);
    await sleep(100);
    expect(views.get(id)?.ended ?? false).toBe(false);
    expect(views.get(id)?.bodyBytes ?? 0).toBeLessThan(32 * 1024 * 1024);
    await servesNext('none');
    await expectSettled(before);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import zlib from 'node:zlib';
import {
  BodyTooLargeError,
  chainOverResponse,
  chainToDuplex,
  chainToTransformStream,
  collectSink,
  compileChain,
  defineFilter,
  FilterError,
  FLUSH,
  processChain,
  pump,
  type ChainItem,
  type ChainSink,
  type Flush,
  type HeadPhase,
  type MessageInit,
} from '../../src/index.js';
import { proxyInFront, type Front } from '../proxy-harness.js';
import { splitAt } from '../helpers.js';

const body = Buffer.from('<p>Hello, buffered world.</p>\n'.repeat(200)); // 6000 bytes
const buf = (options: Record<string, unknown> = {}): ChainItem => ({ filter: 'buffer', options });

/** A sink that records the order of head, writes, flushes and end, and the headers it got. */
function recorder(): ChainSink & { log: string[]; headers?: Record<string, unknown>; bytes: Buffer[] } {
  const s: ChainSink & { log: string[]; headers?: Record<string, unknown>; bytes: Buffer[] } = {
    log: [],
    bytes: [],
    head(h: HeadPhase) {
      s.log.push('head');
      s.headers = { ...h.headers.toNode() };
    },
    write(c) {
      s.log.push(`write ${c.length}`);
      s.bytes.push(Buffer.from(c));
    },
    flush() {
      s.log.push('flush');
    },
    end() {
      s.log.push('end');
    },
    abort(r) {
      s.log.push(`abort ${(r as { code?: string }).code ?? r.message}`);
    },
  };
  return s;
}

async function through(items: ChainItem[], source: Array<Uint8Array | Flush>, init: MessageInit = {}, direction: 'input' | 'output' = 'output') {
  const sink = recorder();
  const run = compileChain(items, { direction }).run(init, sink);
  await run.start();
  const committedAfterStart = run.head.committed;
  const error = await pump(run, source).then(
    () => undefined,
    (e: unknown) => e as FilterError,
  );
  return { sink, run, error, committedAfterStart, body: Buffer.concat(sink.bytes) };
}

describe('buffer: collects, then sends with a Content-Length', () => {
  it('a chunked response gets its length; the head waits for the body; one write', async () => {
    const r = await through([buf()], splitAt(body, [1, 100, 2000, 5999]));
    expect(r.error).toBeUndefined();
    expect(r.committedAfterStart).toBe(false);
    expect(r.sink.log).toEqual(['head', `write ${body.length}`, 'end']);
    expect(r.sink.headers!['content-length']).toBe(String(body.length));
    expect(r.body.equals(body)).toBe(true);
  });

  it('the same bytes however the body is cut', async () => {
    for (const cuts of [[], [1], [3000], Array.from({ length: 60 }, (_, i) => i * 100)]) {
      const r = await through([buf()], splitAt(body, cuts));
      expect(r.body.equals(body)).toBe(true);
      expect(r.sink.headers!['content-length']).toBe(String(body.length));
    }
  });

  it('after compression: the length of the compressed body (buffer sits after encoding)', async () => {
    const r = await through(
      [buf(), 'compress'],
      splitAt(body, [500, 1000]),
      { request: { headers: { 'accept-encoding': 'gzip' } }, headers: { 'content-type': 'text/html', 'content-length': String(body.length) } },
    );
    expect(r.run.active).toEqual(['compress', 'buffer']);
    expect(r.sink.headers!['content-encoding']).toBe('gzip');
    expect(r.sink.headers!['content-length']).toBe(String(r.body.length));
    expect(r.body.length).toBeLessThan(body.length);
    expect(zlib.gunzipSync(r.body).equals(body)).toBe(true);
  });

  it('a filter after it that changes the length drops the Content-Length it set', async () => {
    const doubler = defineFilter({ name: 'doubler', stage: 'protocol', create: () => ({ onData: (c, out) => out.push(Buffer.concat([c, c])) }) });
    const r = await through([buf(), doubler], [body]);
    expect(r.run.active).toEqual(['buffer', 'doubler']);
    expect(r.sink.headers!['content-length']).toBeUndefined();
    expect(r.body.length).toBe(body.length * 2);
  });

  it('replaces a Content-Length the upstream sent', async () => {
    const r = await through([buf()], [body], { headers: { 'content-length': String(body.length) } });
    expect(r.sink.headers!['content-length']).toBe(String(body.length));
  });

  it('an empty response gets Content-Length: 0', async () => {
    const r = await through([buf()], []);
    expect(r.sink.log).toEqual(['head', 'end']);
    expect(r.sink.headers!['content-length']).toBe('0');
  });

  it('HEAD, 204 and 304 have no body: it steps aside and leaves the head alone', async () => {
    for (const init of [{ request: { method: 'HEAD' }, headers: { 'content-length': '123' } }, { status: 204 }, { status: 304, headers: { 'content-length': '5' } }]) {
      const r = await through([buf()], [], init);
      expect(r.committedAfterStart).toBe(true);
      expect(r.run.active).toEqual([]);
      expect(r.sink.headers!['content-length']).toBe((init as { headers?: Record<string, string> }).headers?.['content-length']);
    }
  });
});

describe('buffer: flush marks', () => {
  it('held by default: no partial write, the mark before the head is dropped', async () => {
    const r = await through([buf()], [body.subarray(0, 100), FLUSH, body.subarray(100), FLUSH]);
    expect(r.sink.log).toEqual(['head', `write ${body.length}`, 'end']);
    expect(r.sink.headers!['content-length']).toBe(String(body.length));
  });

  it('flush: release passes on what it holds and streams from then on, without a length', async () => {
    const r = await through([buf({ flush: 'release' })], [body.subarray(0, 100), body.subarray(100, 200), FLUSH, body.subarray(200), FLUSH]);
    expect(r.sink.log).toEqual(['head', 'write 100', 'write 100', 'flush', `write ${body.length - 200}`, 'flush', 'end']);
    expect(r.sink.headers!['content-length']).toBeUndefined();
    expect(r.body.equals(body)).toBe(true);
  });

  it('flush: release with nothing held yet keeps collecting', async () => {
    const r = await through([buf({ flush: 'release' })], [FLUSH, body]);
    expect(r.sink.log).toEqual(['head', `write ${body.length}`, 'end']);
    expect(r.sink.headers!['content-length']).toBe(String(body.length));
  });
});

describe('buffer: over the bound', () => {
  it('a response over maxSize fails with 502 before its head is sent', async () => {
    const r = await through([buf({ maxSize: 1000 })], splitAt(body, [600, 1200, 1800]));
    expect(r.error).toBeInstanceOf(FilterError);
    expect(r.error!.status).toBe(502);
    expect(r.error!.cause).toBeInstanceOf(BodyTooLargeError);
    expect((r.error!.cause as BodyTooLargeError).code).toBe('ERR_SLUICE_BODY_TOO_LARGE');
    expect(r.error!.message).toMatch(/response body is larger than 1000 bytes/);
    // nothing left: the proxy can still answer with a proper error status
    expect(r.sink.log).toEqual(['abort ERR_SLUICE_FILTER']);
  });

  it('it fails on the chunk that crosses the bound, not later: never more than maxSize + one chunk held', async () => {
    const sink = collectSink();
    const run = compileChain([buf({ maxSize: 1000 })]).run({}, sink);
    await run.start();
    for (let i = 1; i <= 3; i++) run.write(Buffer.alloc(300));
    expect(run.failed).toBeUndefined();
    const r = run.write(Buffer.alloc(300));
    expect(run.failed).toBeInstanceOf(FilterError);
    await expect(r).rejects.toMatchObject({ status: 502 });
    expect(sink.events).toHaveLength(0);
  });

  it('a request over maxSize fails with 413', async () => {
    const r = await through([buf({ maxSize: 1000 })], [body], { request: { method: 'POST' } }, 'input');
    expect(r.error!.status).toBe(413);
    expect(r.error!.message).toMatch(/request body is larger than 1000 bytes/);
  });

  it('overflow: stream passes the whole body on without a length, as mod_buffer does', async () => {
    const r = await through([buf({ maxSize: 1000, overflow: 'stream' })], splitAt(body, [600, 1200, 1800]));
    expect(r.error).toBeUndefined();
    expect(r.sink.log).toEqual(['head', 'write 600', 'write 600', 'write 600', `write ${body.length - 1800}`, 'end']);
    expect(r.sink.headers!['content-length']).toBeUndefined();
    expect(r.body.equals(body)).toBe(true);
  });

  it('overflow: stream keeps a Content-Length that was already right (nothing changed the body)', async () => {
    const r = await through([buf({ maxSize: 1000, overflow: 'stream' })], [body], { headers: { 'content-length': String(body.length) } });
    expect(r.sink.headers!['content-length']).toBe(String(body.length));
  });
});

describe('buffer: request bodies', () => {
  it('sits last in an input chain: after inflate, so the upstream gets the inflated length', async () => {
    const gz = zlib.gzipSync(body);
    const r = await through([buf(), 'inflate'], splitAt(gz, [10, 100]), { request: { method: 'POST', headers: { 'content-encoding': 'gzip', 'content-length': String(gz.length) } } }, 'input');
    expect(r.run.active).toEqual(['inflate', 'buffer']);
    expect(r.sink.headers!['content-length']).toBe(String(body.length));
    expect(r.sink.headers!['content-encoding']).toBeUndefined();
    expect(r.body.equals(body)).toBe(true);
  });

  it('a request without a body keeps having no Content-Length; an empty one declared as such keeps 0', async () => {
    const none = await through([buf()], [], { request: { method: 'GET' } }, 'input');
    expect(none.sink.headers!['content-length']).toBeUndefined();
    const zero = await through([buf()], [], { request: { method: 'POST', headers: { 'content-length': '0' } } }, 'input');
    expect(zero.sink.headers!['content-length']).toBe('0');
  });
});

describe('buffer: options', () => {
  it.each<[unknown, RegExp]>([
    [{ maxSize: 0 }, /option "maxSize"/],
    [{ overflow: 'truncate' }, /option "overflow"/],
    [{ flush: 'ignore' }, /option "flush"/],
    [{ size: 5 }, /unknown option/],
  ])('%j is refused', (options, message) => {
    expect(() => compileChain([buf(options as Record<string, unknown>)])).toThrow(message);
  });

  it('defaults to 128 KiB, error on overflow, flush marks held', () => {
    expect(compileChain(['buffer']).entries[0]!.options).toEqual({ maxSize: 131072, overflow: 'error', flush: 'hold' });
  });
});

describe('buffer: through the adapters (they wait for the held head)', () => {
  it('chainOverResponse: the Response carries the Content-Length', async () => {
    const upstreamBody = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(body.subarray(0, 1000));
        c.enqueue(body.subarray(1000));
        c.close();
      },
    });
    const res = await chainOverResponse(compileChain([buf()]), new Response(upstreamBody, { headers: { 'content-type': 'text/html' } }));
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
  });

  it('chainOverResponse: over the bound it rejects instead of giving a truncated Response', async () => {
    const p = chainOverResponse(compileChain([buf({ maxSize: 100 })]), new Response(body));
    await expect(p).rejects.toMatchObject({ status: 502 });
  });

  it('chainToDuplex and chainToTransformStream: onHead runs when the head is committed, with the length', async () => {
    const seenByDuplex: Array<string | undefined> = [];
    const d = chainToDuplex(compileChain([buf()]), { onHead: (run) => seenByDuplex.push(run.head.headers.get('content-length')) });
    const out: Buffer[] = [];
    d.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((r) => d.on('end', r));
    d.write(body.subarray(0, 10));
    d.end(body.subarray(10));
    await ended;
    expect(seenByDuplex).toEqual([String(body.length)]);
    expect(Buffer.concat(out).equals(body)).toBe(true);

    const seenByStream: Array<string | undefined> = [];
    const ts = chainToTransformStream(compileChain([buf()]), { onHead: (run) => seenByStream.push(run.head.headers.get('content-length')) });
    const collected = new Response(new Response(body).body!.pipeThrough(ts)).arrayBuffer();
    expect(Buffer.from(await collected).equals(body)).toBe(true);
    expect(seenByStream).toEqual([String(body.length)]);
  });
});

// ---- through the proxy --------------------------------------------------------------------

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
const seen = new Map<string, Seen>();

const upstream = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    seen.set(path, { headers: req.headers, body: Buffer.concat(chunks) });
    if (path.startsWith('/trickle')) {
      // chunked, in pieces with pauses: the proxy puts a flush mark at every pause
      res.writeHead(200, { 'content-type': 'text/html' });
      let i = 0;
      const size = path.includes('big') ? 40_000 : 1000;
      const t = setInterval(() => {
        res.write(Buffer.alloc(size, 97 + (i % 26)));
        if (++i === 8) {
          clearInterval(t);
          res.end();
        }
      }, 10);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`got ${chunks.reduce((n, c) => n + c.length, 0)}`);
  });
});

let front: Front;
let base = '';

beforeAll(async () => {
  front = await proxyInFront(upstream, (url) => ({
    upstreams: { app: { servers: [url] } },
    locations: [
      { path: '/', upstream: 'app', output: [{ filter: 'buffer', options: { maxSize: 65536 } }] },
      { path: '/in/', upstream: 'app', input: ['inflate', { filter: 'buffer', options: { maxSize: 65536 } }] },
    ],
  }));
  base = front.base;
});

afterAll(() => front.stop());

function request(path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; pieces?: Buffer[] } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', () => undefined);
    void (async () => {
      for (const p of opts.pieces ?? []) {
        req.write(p);
        await new Promise((r) => setTimeout(r, 10));
      }
      req.end();
    })();
  });
}

describe('buffer: through the proxy', () => {
  it('a chunked upstream response, paused between writes, reaches the client with a Content-Length', async () => {
    const r = await request('/trickle');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('8000');
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(r.body.length).toBe(8000);
    expect(r.body.subarray(1000, 1001).toString()).toBe('b');
  });

  it('a response over the bound is a clean 502, not a truncated 200', async () => {
    const r = await request('/trickle-big');
    expect(r.status).toBe(502);
    expect(r.body.toString()).toMatch(/response body is larger than 65536 bytes/);
  });

  it('a chunked gzip request body reaches the upstream inflated, with a Content-Length', async () => {
    const plain = Buffer.from('field=value&'.repeat(3000));
    const gz = zlib.gzipSync(plain);
    const r = await request('/in/form', {
      method: 'POST',
      headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-www-form-urlencoded' },
      pieces: [gz.subarray(0, 100), gz.subarray(100)],
    });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`got ${plain.length}`);
    const s = seen.get('/in/form')!;
    expect(s.headers['content-length']).toBe(String(plain.length));
    expect(s.headers['transfer-encoding']).toBeUndefined();
    expect(s.headers['content-encoding']).toBeUndefined();
    expect(s.body.equals(plain)).toBe(true);
  });

  it('a request body over the bound: 413, and the upstream never sees the request', async () => {
    const r = await request('/in/too-big', { method: 'POST', pieces: [Buffer.alloc(40_000), Buffer.alloc(40_000)] });
    expect(r.status).toBe(413);
    expect(r.body.toString()).toMatch(/request body is larger than 65536 bytes/);
    await new Promise((res) => setTimeout(res, 50));
    expect(seen.has('/in/too-big')).toBe(false);
  });

  it('a bodyless GET through an input chain with buffer: no Content-Length is invented', async () => {
    const r = await request('/in/get');
    expect(r.status).toBe(200);
    expect(seen.get('/in/get')!.headers['content-length']).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import {
  BodyTooLargeError,
  collectSink,
  compileChain,
  FilterError,
  processChain,
  pump,
  type ChainItem,
} from '../../src/index.js';
import { proxyInFront, type Front } from '../proxy-harness.js';
import { splitAt } from '../helpers.js';

const chain = (maxSize: number) => compileChain([{ filter: 'limit', options: { maxSize } }], { direction: 'input' });
const post = (headers: Record<string, string> = {}) => ({ request: { method: 'POST', headers } });

describe('limit: in the chain', () => {
  it('refuses a Content-Length over the limit in the header phase, before any body', async () => {
    const sink = collectSink();
    const run = chain(1000).run(post({ 'content-length': '1001' }), sink);
    const err = (await Promise.resolve(run.start()).catch((e: unknown) => e)) as FilterError;
    expect(err).toBeInstanceOf(FilterError);
    expect(err.status).toBe(413);
    expect(err.phase).toBe('head');
    expect(err.filter).toBe('limit');
    expect(err.cause).toBeInstanceOf(BodyTooLargeError);
    expect((err.cause as BodyTooLargeError).code).toBe('ERR_SLUICE_BODY_TOO_LARGE');
    expect(err.message).toContain('1000 bytes');
    expect(err.message).toContain('Content-Length: 1001');
    expect(sink.events).toHaveLength(0);
  });

  for (const [len, ok] of [
    [999, true],
    [1000, true],
    [1001, false],
    [0, true],
  ] as const) {
    it(`Content-Length ${len} against 1000: ${ok ? 'passes' : '413'}`, async () => {
      const body = Buffer.alloc(len, 'x');
      const p = processChain(chain(1000), [body], post({ 'content-length': String(len) }));
      if (ok) expect((await p).body().equals(body)).toBe(true);
      else await expect(p).rejects.toMatchObject({ status: 413 });
    });
  }

  for (const size of [1, 7, 100, 999, 1000, 4096]) {
    it(`without a length, in ${size}-byte chunks: exactly the limit passes, one byte more fails before it is passed on`, async () => {
      const limit = 1000;
      const exact = Buffer.alloc(limit, 'a');
      const ok = await processChain(chain(limit), splitAt(exact, range(size, limit)), post());
      expect(ok.body().equals(exact)).toBe(true);

      const over = Buffer.alloc(limit + 1, 'b');
      const sink = collectSink();
      const run = chain(limit).run(post(), sink);
      await run.start();
      const err = (await pump(run, splitAt(over, range(size, limit + 1))).catch((e: unknown) => e)) as FilterError;
      expect(err.status).toBe(413);
      expect(err.phase).toBe('data');
      // never more than the limit went on: the chunk that crossed it was dropped whole
      expect(sink.body().length).toBeLessThanOrEqual(limit);
      expect(sink.body().length).toBe(Math.floor(limit / size) * size);
      expect(sink.ended).toBe(false);
      expect(sink.aborted).toBeDefined();
    });
  }

  it('counts the body even when the declared length is a lie', async () => {
    const p = processChain(chain(1000), [Buffer.alloc(600), Buffer.alloc(600)], post({ 'content-length': '10' }));
    await expect(p).rejects.toMatchObject({ status: 413, phase: 'data' });
  });

  it('a malformed Content-Length is not trusted: the body is counted', async () => {
    await expect(processChain(chain(10), [Buffer.alloc(11)], post({ 'content-length': '5, 5' }))).rejects.toMatchObject({ status: 413 });
    const r = await processChain(chain(10), [Buffer.alloc(10)], post({ 'content-length': 'abc' }));
    expect(r.body().length).toBe(10);
  });

  it('maxSize 0 means no limit and steps aside', async () => {
    const r = await processChain(chain(0), [Buffer.alloc(100_000)], post({ 'content-length': '100000' }));
    expect(r.body().length).toBe(100_000);
    expect(r.active).toEqual([]);
  });

  it('keeps the declared Content-Length (it does not change the body)', async () => {
    const r = await processChain(chain(100), [Buffer.alloc(50)], post({ 'content-length': '50' }));
    expect(r.head.headers.get('content-length')).toBe('50');
  });

  it('each message is counted on its own', async () => {
    const c = chain(100);
    for (let i = 0; i < 3; i++) expect((await processChain(c, [Buffer.alloc(80)], post())).body().length).toBe(80);
  });

  it('defaults to 1 GiB', () => {
    expect((chain(5).entries[0]!.options as { maxSize: number }).maxSize).toBe(5);
    expect((compileChain(['limit'], { direction: 'input' }).entries[0]!.options as { maxSize: number }).maxSize).toBe(1073741824);
  });

  it('rejects bad options naming the option, and the output direction', () => {
    expect(() => chain(-1)).toThrow(/option "maxSize"/);
    expect(() => compileChain([{ filter: 'limit', options: { maxSize: '1m' } }] as ChainItem[], { direction: 'input' })).toThrow(/maxSize/);
    expect(() => compileChain([{ filter: 'limit', options: { max: 1 } }], { direction: 'input' })).toThrow(/unknown option/);
    expect(() => compileChain(['limit'], { direction: 'output' })).toThrow(/cannot be used in an output chain/);
  });

  it('sits at the protocol stage: it counts wire bytes, before inflate', () => {
    const c = compileChain(['inflate', { filter: 'limit', options: { maxSize: 10 } }], { direction: 'input' });
    expect(c.entries.map((e) => e.name)).toEqual(['limit', 'inflate']);
  });
});

function range(step: number, end: number): number[] {
  const out: number[] = [];
  for (let i = step; i < end; i += step) out.push(i);
  return out;
}

// ---- through the proxy --------------------------------------------------------------------

interface UpstreamSaw {
  url: string;
  bytes: number;
  complete: boolean;
  aborted: boolean;
}

const saw: UpstreamSaw[] = [];
const upstream = http.createServer((req, res) => {
  const rec: UpstreamSaw = { url: req.url ?? '', bytes: 0, complete: false, aborted: false };
  saw.push(rec);
  req.on('data', (c: Buffer) => (rec.bytes += c.length));
  req.on('end', () => {
    rec.complete = true;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`got ${rec.bytes}`);
  });
  req.on('error', () => undefined);
  req.on('close', () => {
    if (!rec.complete) rec.aborted = true;
  });
});

let front: Front;
let base = '';
const LIMIT = 4096;

beforeAll(async () => {
  front = await proxyInFront(upstream, (upstreamUrl) => ({
    upstreams: { app: { servers: [upstreamUrl] } },
    locations: [
      { path: '/', upstream: 'app', input: [{ filter: 'limit', options: { maxSize: LIMIT } }] },
    ],
  }));
  base = front.base;
});

afterAll(() => front.stop());

interface Reply {
  status: number;
  body: string;
  continued: boolean;
}

/** POST a body given as pieces written with a pause between them; chunked unless `length`. */
function send(path: string, pieces: Buffer[], opts: { length?: number; expect?: boolean; pauseMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
    if (opts.length !== undefined) headers['content-length'] = opts.length;
    if (opts.expect) headers['expect'] = '100-continue';
    let continued = false;
    const req = http.request(`${base}${path}`, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), continued }));
      res.on('error', reject);
    });
    // the server may answer and close while we are still sending: that is the point
    req.on('error', () => undefined);
    const write = async (): Promise<void> => {
      for (const p of pieces) {
        if (req.destroyed) return;
        req.write(p);
        await new Promise((r) => setTimeout(r, opts.pauseMs ?? 20));
      }
      req.end();
    };
    if (opts.expect) {
      req.on('continue', () => {
        continued = true;
        void write();
      });
      req.flushHeaders();
    } else void write();
  });
}

/** Wait for the upstream to settle what it saw of requests to `url` (closes are async). */
async function upstreamSaw(url: string): Promise<UpstreamSaw[]> {
  await new Promise((r) => setTimeout(r, 100));
  return saw.filter((s) => s.url === url);
}

describe('limit: through the proxy', () => {
  it('a Content-Length over the limit: 413, and the upstream never gets the request', async () => {
    const r = await send('/cl-over', [Buffer.alloc(LIMIT + 1, 'x')], { length: LIMIT + 1 });
    expect(r.status).toBe(413);
    expect(r.body).toContain('larger than 4096 bytes');
    expect(await upstreamSaw('/cl-over')).toEqual([]);
  });

  it('with Expect: 100-continue, 413 comes instead of 100 Continue and no body is sent', async () => {
    const r = await send('/cl-over-expect', [Buffer.alloc(LIMIT * 4, 'x')], { length: LIMIT * 4, expect: true });
    expect(r.status).toBe(413);
    expect(r.continued).toBe(false);
    expect(await upstreamSaw('/cl-over-expect')).toEqual([]);
  });

  it('a Content-Length within the limit goes through whole', async () => {
    const r = await send('/cl-ok', [Buffer.alloc(LIMIT, 'x')], { length: LIMIT });
    expect(r.status).toBe(200);
    expect(r.body).toBe(`got ${LIMIT}`);
    expect(await upstreamSaw('/cl-ok')).toMatchObject([{ bytes: LIMIT, complete: true }]);
  });

  it('a chunked body within the limit goes through whole', async () => {
    const r = await send('/chunked-ok', [Buffer.alloc(2000, 'a'), Buffer.alloc(2000, 'b')]);
    expect(r.status).toBe(200);
    expect(r.body).toBe('got 4000');
  });

  it('a chunked body over the limit: 413; the upstream sees an aborted request, never a complete one', async () => {
    const r = await send('/chunked-over', [Buffer.alloc(3000, 'a'), Buffer.alloc(3000, 'b'), Buffer.alloc(3000, 'c')], { pauseMs: 150 });
    expect(r.status).toBe(413);
    expect(r.body).toContain('larger than 4096 bytes');
    const seen = await upstreamSaw('/chunked-over');
    expect(seen.length).toBeLessThanOrEqual(1);
    // streaming started before the limit was crossed: the upstream had the request, then lost it
    for (const s of seen) {
      expect(s.complete).toBe(false);
      expect(s.aborted).toBe(true);
      expect(s.bytes).toBeLessThanOrEqual(LIMIT);
    }
  });
});

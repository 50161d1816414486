import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { compileChain, FLUSH, pump, type ChainSink, type Flush } from '../../src/index.js';
import { proxyInFront, type Front } from '../proxy-harness.js';
import { prng, splitAt } from '../helpers.js';

const KiB = 1024;

function randomBody(n: number, seed = 1): Buffer {
  const r = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
}

/** A sink that timestamps every write. */
function timedSink(): ChainSink & { writes: Array<{ t: number; n: number }>; bytes: Buffer[]; ended: boolean } {
  const s = {
    writes: [] as Array<{ t: number; n: number }>,
    bytes: [] as Buffer[],
    ended: false,
    write(c: Uint8Array) {
      s.writes.push({ t: performance.now(), n: c.length });
      s.bytes.push(Buffer.from(c));
    },
    end() {
      s.ended = true;
    },
  };
  return s;
}

async function timed(options: { rate: number; burst?: number }, chunks: Array<Uint8Array | Flush>) {
  const sink = timedSink();
  const run = compileChain([{ filter: 'ratelimit', options }]).run({ headers: { 'content-type': 'application/octet-stream' } }, sink);
  await run.start();
  const t0 = performance.now();
  await pump(run, chunks);
  return { ms: performance.now() - t0, t0, sink, body: Buffer.concat(sink.bytes) };
}

describe('ratelimit: timing (lower bounds only)', () => {
  it('64 KiB at 256 KiB/s, no burst, takes at least ~200 ms (the first 50 ms worth goes at once)', async () => {
    const body = randomBody(64 * KiB);
    const r = await timed({ rate: 256 }, splitAt(body, [16 * KiB, 32 * KiB, 48 * KiB]));
    expect(r.body.equals(body)).toBe(true);
    // (64 KiB - 12.8 KiB) / 256 KiB/s = 200 ms; timers only ever fire late
    expect(r.ms).toBeGreaterThanOrEqual(190);
  });

  it('one 64 KiB chunk is sliced, and the same bytes come out', async () => {
    const body = randomBody(64 * KiB, 2);
    const r = await timed({ rate: 256 }, [body]);
    expect(r.body.equals(body)).toBe(true);
    expect(r.sink.writes.length).toBeGreaterThanOrEqual(4);
    expect(r.ms).toBeGreaterThanOrEqual(190);
  });

  it('the initial burst goes at full speed, then the rate applies', async () => {
    const body = randomBody(64 * KiB, 3);
    const r = await timed({ rate: 256, burst: 32 }, splitAt(body, [8 * KiB, 16 * KiB, 24 * KiB, 32 * KiB, 40 * KiB, 48 * KiB, 56 * KiB]));
    expect(r.body.equals(body)).toBe(true);
    // the rest, 32 KiB, at 256 KiB/s: at least 125 ms
    expect(r.ms).toBeGreaterThanOrEqual(120);
  });

  it('never ahead of the allowance: by any moment, at most burst + rate × elapsed (+ one quantum) has been sent', async () => {
    const body = randomBody(96 * KiB, 4);
    const rate = 384 * KiB; // bytes/s
    const burst = 16 * KiB;
    const quantum = (rate * 50) / 1000;
    const cuts = Array.from({ length: 95 }, (_, i) => (i + 1) * KiB); // 1 KiB chunks: the many-small-chunks path
    const r = await timed({ rate: rate / KiB, burst: burst / KiB }, splitAt(body, cuts));
    expect(r.body.equals(body)).toBe(true);
    let sent = 0;
    for (const w of r.sink.writes) {
      sent += w.n;
      const allowed = Math.max(burst, quantum) + (rate * (w.t - r.t0)) / 1000 + quantum;
      expect(sent).toBeLessThanOrEqual(allowed);
    }
    expect(r.ms).toBeGreaterThanOrEqual(((96 * KiB - burst - quantum) / rate) * 1000 - 10);
  });

  it('a body within the first quantum passes at once, with no promise (synchronous fast path)', async () => {
    const sink = timedSink();
    const run = compileChain([{ filter: 'ratelimit', options: { rate: 1024 } }]).run({}, sink);
    await run.start();
    expect(run.write(Buffer.alloc(10 * KiB))).toBeUndefined();
    expect(sink.writes).toHaveLength(1);
    await run.end();
  });

  it('flush marks pass after the chunk before them has gone', async () => {
    const events: string[] = [];
    const sink: ChainSink = {
      write: (c) => void events.push(`data ${c.length}`),
      flush: () => void events.push('flush'),
      end: () => void events.push('end'),
    };
    const run = compileChain([{ filter: 'ratelimit', options: { rate: 64 } }]).run({}, sink);
    await run.start();
    await pump(run, [Buffer.alloc(6 * KiB), FLUSH, Buffer.alloc(100)]);
    const flushAt = events.indexOf('flush');
    const before = events.slice(0, flushAt).reduce((n, e) => n + Number(e.split(' ')[1] ?? 0), 0);
    expect(before).toBe(6 * KiB);
    expect(events.at(-1)).toBe('end');
  });
});

describe('ratelimit: backpressure and abort', () => {
  it('holds the source back: the writer waits instead of the filter queueing the body', async () => {
    const sink = timedSink();
    const run = compileChain([{ filter: 'ratelimit', options: { rate: 128 } }]).run({}, sink);
    await run.start();
    // the first chunk fits the first quantum; the second has to wait: its write returns a promise
    expect(run.write(Buffer.alloc(6 * KiB))).toBeUndefined();
    const r = run.write(Buffer.alloc(32 * KiB));
    expect(r).toBeInstanceOf(Promise);
    const t0 = performance.now();
    await r;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    await run.end();
  });

  it('an abort clears the timer at once: no timer left, no more output, the pending step settles', async () => {
    const timeouts = (): number => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const sink = timedSink();
    const run = compileChain([{ filter: 'ratelimit', options: { rate: 16 } }]).run({}, sink);
    await run.start();
    const pending = run.write(Buffer.alloc(256 * KiB)); // 16 s at this rate
    await new Promise((r) => setTimeout(r, 120));
    const written = sink.writes.length;
    expect(written).toBeGreaterThan(0);
    // the filter is asleep on its timer now; the abort, synchronously, removes exactly that one
    const before = timeouts();
    run.abort(new Error('client gone'));
    expect(timeouts()).toBe(before - 1);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_SLUICE_ABORTED' });
    await expect(run.done).rejects.toBeDefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(sink.writes.length).toBe(written);
    expect(sink.ended).toBe(false);
  });
});

describe('ratelimit: head and options', () => {
  it('steps aside for HEAD, 204 and 304', async () => {
    for (const init of [{ request: { method: 'HEAD' } }, { status: 204 }, { status: 304 }]) {
      const run = compileChain([{ filter: 'ratelimit', options: { rate: 1 } }]).run(init, timedSink());
      await run.start();
      expect(run.active).toEqual([]);
      run.abort();
    }
  });

  it('keeps Content-Length (it does not change the body) and sits at the protocol stage', async () => {
    const c = compileChain([{ filter: 'ratelimit', options: { rate: 100 } }, 'compress']);
    expect(c.entries.map((e) => e.name)).toEqual(['compress', 'ratelimit']);
    const run = compileChain([{ filter: 'ratelimit', options: { rate: 100 } }]).run({ headers: { 'content-length': '5' } }, timedSink());
    await run.start();
    expect(run.head.headers.get('content-length')).toBe('5');
    await pump(run, 'hello');
  });

  it.each<[unknown, RegExp]>([
    [{}, /option "rate"/],
    [{ rate: 0 }, /option "rate"/],
    [{ rate: -5 }, /option "rate"/],
    [{ rate: 10, burst: -1 }, /option "burst"/],
    [{ rate: 10, speed: 1 }, /unknown option/],
  ])('%j is refused', (options, message) => {
    expect(() => compileChain([{ filter: 'ratelimit', options }])).toThrow(message);
  });

  it('serves responses only', () => {
    expect(() => compileChain([{ filter: 'ratelimit', options: { rate: 1 } }], { direction: 'input' })).toThrow(/cannot be used in an input chain/);
  });
});

// ---- through the proxy --------------------------------------------------------------------

const PAGE = randomBody(64 * KiB, 9);
let upstreamClosed: Promise<void> = Promise.resolve();
const upstream = http.createServer((req, res) => {
  req.resume();
  if (req.url === '/long') {
    upstreamClosed = new Promise((r) => res.on('close', () => r()));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(4 * 1024 * KiB) });
    const t = setInterval(() => res.write(Buffer.alloc(64 * KiB)), 5);
    res.on('close', () => clearInterval(t));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(PAGE.length) });
  res.end(PAGE);
});
let front: Front;
let base = '';

beforeAll(async () => {
  front = await proxyInFront(upstream, (url) => ({
    upstreams: { app: { servers: [url] } },
    locations: [{ path: '/', upstream: 'app', output: [{ filter: 'ratelimit', options: { rate: 256 } }] }],
  }));
  base = front.base;
});

afterAll(() => front.stop());

describe('ratelimit: through the proxy', () => {
  it('a 64 KiB response at 256 KiB/s: whole, with its Content-Length, and not before ~200 ms', async () => {
    const t0 = performance.now();
    const res = await fetch(`${base}/page`);
    const body = Buffer.from(await res.arrayBuffer());
    const ms = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(PAGE.length));
    expect(body.equals(PAGE)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(190);
  });

  it('a client that leaves mid-response releases the upstream', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/long`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data')), 3000);
    });
    await expect(Promise.race([upstreamClosed, new Promise((_, rej) => setTimeout(() => rej(new Error('upstream still open')), 3000))])).resolves.toBeUndefined();
  });
});

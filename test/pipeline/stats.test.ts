import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { collectSink, compileChain, defineFilter, processChain, pump, traceMessage, type TraceLog } from '../../src/index.js';
import { asyncIdentity, holder, splitAt } from '../helpers.js';

const html = Buffer.from('<!doctype html><p>Hello, <b>world</b>, this line repeats.</p>\n'.repeat(400));
const gzipInit = { request: { headers: { 'accept-encoding': 'gzip' } }, headers: { 'content-type': 'text/html', 'content-length': String(html.length) } };

/** Doubles every byte: output is exactly twice its input. */
const doubler = defineFilter({
  name: 'doubler',
  create: () => ({ onData: (c, out) => out.push(Buffer.concat([c, c])) }),
});

/** Burns CPU synchronously in onData, so its time must dwarf an identity's. */
const busy = defineFilter({
  name: 'busy',
  preservesLength: true,
  create: () => ({
    onData: (c, out) => {
      const until = performance.now() + 2;
      while (performance.now() < until);
      return out.push(c);
    },
  }),
});

const stepAside = defineFilter({ name: 'step-aside', create: () => ({ onHead: (h) => h.passOn() }) });

function lines(): TraceLog & { got: Array<Record<string, unknown>> } {
  const got: Array<Record<string, unknown>> = [];
  return { got, debug: (obj, msg) => void got.push({ ...obj, msg }) };
}

describe('per-filter accounting (run.stats())', () => {
  it('is off by default: no stats, nothing wrapped', async () => {
    const r = await processChain(compileChain(['identity']), html);
    expect(r.stats).toBeUndefined();
  });

  it('counts bytes in and out per filter through a chain that changes sizes (gzip)', async () => {
    const chain = compileChain([doubler, 'identity', 'gzip'], { instrument: 'bytes' });
    const chunks = splitAt(html, [100, 5000, 5001, 20000]);
    const r = await processChain(chain, chunks, gzipInit);
    const gz = r.body();
    expect(zlib.gunzipSync(gz).equals(Buffer.concat(chunks.flatMap((c) => [c, c])))).toBe(true);
    const s = r.stats!;
    expect(s.filters.map((f) => [f.name, f.bytesIn, f.bytesOut])).toEqual([
      ['doubler', html.length, 2 * html.length],
      ['identity', 2 * html.length, 2 * html.length],
      ['gzip', 2 * html.length, gz.length],
    ]);
    expect(s.bytesIn).toBe(html.length);
    expect(s.bytesOut).toBe(gz.length);
    expect(gz.length).toBeLessThan(html.length / 10);
    expect(s.timed).toBe(false);
  });

  it("decompress grows what it is given: its out is the decoded size, the next filter's in", async () => {
    const body = zlib.gzipSync(html);
    const chain = compileChain(['decompress', 'identity'], { instrument: true });
    const r = await processChain(chain, splitAt(body, [7, 300]), { headers: { 'content-type': 'text/html', 'content-encoding': 'gzip' } });
    expect(r.body().equals(html)).toBe(true);
    const [dec, id] = r.stats!.filters;
    expect([dec!.bytesIn, dec!.bytesOut, id!.bytesIn, id!.bytesOut]).toEqual([body.length, html.length, html.length, html.length]);
  });

  it('filters that pass on are not listed; their bytes go to the next one', async () => {
    const r = await processChain(compileChain([stepAside, 'identity'], { instrument: true }), html);
    expect(r.stats!.filters.map((f) => f.name)).toEqual(['identity']);
    expect(r.stats!.filters[0]!.bytesIn).toBe(html.length);
  });

  it('time is exclusive: a busy filter is charged, the identity filters around it are not', async () => {
    const chain = compileChain(['identity', busy, 'identity'], { instrument: true });
    const r = await processChain(chain, splitAt(html, [1000, 2000, 3000, 4000]));
    const [a, b, c] = r.stats!.filters;
    expect(r.stats!.timed).toBe(true);
    expect(b!.ms).toBeGreaterThanOrEqual(9); // 5 chunks × 2 ms
    expect(a!.ms).toBeLessThan(b!.ms / 5);
    expect(c!.ms).toBeLessThan(b!.ms / 5);
  });

  it('async and holding filters: bytes are exact, flush marks and ends pass through the wrappers', async () => {
    const chain = compileChain([asyncIdentity, holder, 'identity'], { instrument: true });
    const sink = collectSink();
    const run = chain.run({}, sink);
    await run.start();
    await pump(run, [html.subarray(0, 10), Symbol.for('sluice.flush') as never, html.subarray(10)]);
    expect(sink.flushes).toBe(1);
    expect(Buffer.concat(sink.events.filter((e): e is Uint8Array => typeof e !== 'symbol')).equals(html)).toBe(true);
    const s = run.stats()!;
    expect(s.filters.every((f) => f.bytesIn === html.length && f.bytesOut === html.length)).toBe(true);
  });

  it('a run option overrides the chain default', async () => {
    const chain = compileChain(['identity']);
    const run = chain.run({}, collectSink(), { instrument: 'bytes' });
    await run.start();
    await pump(run, html);
    expect(run.stats()!.filters[0]!.bytesIn).toBe(html.length);
  });
});

describe('traceMessage: per-filter lines at the end of the message', () => {
  const tracer = defineFilter({
    name: 'tracer',
    directions: ['input', 'output'],
    create: () => ({
      onHead: (h) => {
        traceMessage(h);
        h.passOn();
      },
    }),
  });

  it('logs one line per filter that stayed, even when the chain was not instrumented', async () => {
    const log = lines();
    const chain = compileChain([tracer, doubler, 'gzip']);
    const sink = collectSink();
    const run = chain.run({ ...gzipInit, request: { ...gzipInit.request, url: '/page' } }, sink, { log });
    await run.start();
    expect(run.traced).toBe(true);
    await pump(run, html);
    expect(log.got.map((l) => [l['filter'], l['bytesIn'], l['bytesOut'], l['msg']])).toEqual([
      ['doubler', html.length, 2 * html.length, 'filter trace'],
      ['gzip', 2 * html.length, sink.body().length, 'filter trace'],
    ]);
    expect(log.got[0]).toMatchObject({ direction: 'output', url: '/page', position: 1 });
    expect(typeof log.got[0]!['ms']).toBe('number');
  });

  it('logs on failure too, with the error code', async () => {
    const log = lines();
    const boom = defineFilter({ name: 'boom', create: () => ({ onEnd: () => { throw new Error('no'); } }) });
    const run = compileChain([tracer, boom]).run({}, collectSink(), { log });
    await run.start();
    await expect(pump(run, 'abc')).rejects.toThrow(/boom/);
    expect(log.got).toHaveLength(1);
    expect(log.got[0]).toMatchObject({ filter: 'boom', bytesIn: 3, error: 'ERR_SLUICE_FILTER' });
  });

  it('outside onHead it is refused', async () => {
    let head: Parameters<typeof traceMessage>[0] | undefined;
    const keep = defineFilter({ name: 'keep', create: (ctx) => ((head = ctx.head), {}) });
    await processChain(compileChain([keep]), 'x');
    expect(() => traceMessage(head!)).toThrow(/committed/);
  });
});

import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  FLUSH,
  FilterError,
  chainToDuplex,
  compileChain,
  defineFilter,
  fromNodeTransform,
  processChain,
  type Flush,
} from '../../src/index.js';
import {
  bytesBeforeFlush,
  enc,
  gunzipPartial,
  nodeGzip,
  nodeUpper,
  quoteLines,
  quoteText,
  showEvents,
  slowWritable,
  splitBySizes,
} from './helpers.js';

const TEXT = Array.from({ length: 400 }, (_, i) => `line ${i}: ${'lorem ipsum '.repeat(i % 7)}\n`).join('');

/** Deterministic, poorly compressible bytes (so compressors really emit as they go). */
function noise(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const brotli = fromNodeTransform({
  name: 'node-br',
  stage: 'encoding',
  transform: () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
});

function brotliPartial(b: Uint8Array): string {
  return zlib.brotliDecompressSync(b, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }).toString('utf8');
}

describe('fromNodeTransform', () => {
  it('zlib.createGzip() as a filter: body gunzips to the input, C-L dropped', async () => {
    const res = await processChain(compileChain([nodeGzip]), splitBySizes(enc(TEXT), [1, 50, 4096]), {
      headers: { 'content-length': String(TEXT.length) },
    });
    expect(zlib.gunzipSync(res.body()).toString()).toBe(TEXT);
    expect(res.head.headers.has('content-length')).toBe(false);
    expect(res.flushes).toBe(0);
  });

  it('a flush mark in the middle makes everything before it decodable on its own (gzip)', async () => {
    const src: Array<Uint8Array | Flush> = [enc('data: first\n'), enc('\n'), FLUSH, enc('data: second\n\n'), FLUSH, enc('tail')];
    const res = await processChain(compileChain([nodeGzip]), src);
    expect(res.flushes).toBe(2);
    const first = bytesBeforeFlush(res.events, 0);
    expect(first.byteLength).toBeGreaterThan(10); // header + sync-flushed block
    expect(gunzipPartial(first)).toBe('data: first\n\n');
    // the sync flush ends on the empty stored block 00 00 ff ff
    expect([...first.subarray(-4)]).toEqual([0, 0, 0xff, 0xff]);
    expect(gunzipPartial(bytesBeforeFlush(res.events, 1))).toBe('data: first\n\ndata: second\n\n');
    expect(zlib.gunzipSync(res.body()).toString()).toBe('data: first\n\ndata: second\n\ntail');
  });

  it('inflateSync-style check: raw deflate via createDeflateRaw flushes too', async () => {
    const raw = fromNodeTransform({ name: 'raw', transform: () => zlib.createDeflateRaw() });
    const res = await processChain(compileChain([raw]), [enc('hello '), FLUSH, enc('world')]);
    const prefix = bytesBeforeFlush(res.events);
    expect(zlib.inflateRawSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString()).toBe('hello ');
    expect(zlib.inflateRawSync(res.body()).toString()).toBe('hello world');
  });

  it('brotli: a flush mark makes the prefix decodable, the whole body decodes', async () => {
    const res = await processChain(compileChain([brotli]), [enc('event one\n'), FLUSH, enc('event two\n'), FLUSH, enc('end')]);
    expect(res.flushes).toBe(2);
    expect(brotliPartial(bytesBeforeFlush(res.events, 0))).toBe('event one\n');
    expect(brotliPartial(bytesBeforeFlush(res.events, 1))).toBe('event one\nevent two\n');
    expect(zlib.brotliDecompressSync(res.body()).toString()).toBe('event one\nevent two\nend');
  });

  it('1 MB of noise through gzip with a slow downstream filter: backpressure, bytes intact', async () => {
    const slow = defineFilter({
      name: 'slow',
      stage: 'protocol',
      create: () => ({
        async onData(chunk, out) {
          await new Promise((r) => setImmediate(r));
          await out.push(chunk);
        },
      }),
    });
    const input = noise(1 << 20);
    const res = await processChain(compileChain([nodeGzip, slow]), splitBySizes(input, [16384]));
    expect(zlib.gunzipSync(res.body()).equals(input)).toBe(true);
  });

  it('an asynchronous Transform: a flush mark never overtakes output of earlier input', async () => {
    const delayed = fromNodeTransform({
      name: 'delayed',
      transform: () =>
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            setTimeout(() => cb(null, Buffer.from(chunk.toString().toUpperCase())), 3);
          },
        }),
    });
    const res = await processChain(compileChain([delayed]), [enc('a'), enc('b'), FLUSH, enc('c'), FLUSH]);
    expect(showEvents(res.events)).toBe('AB|C|');
  });

  it('a plain uppercase Transform keeps flush marks in place', async () => {
    const res = await processChain(compileChain([nodeUpper]), [enc('x'), FLUSH, enc('y')]);
    expect(showEvents(res.events)).toBe('X|Y');
  });

  it('a Transform error becomes a FilterError naming the filter', async () => {
    const picky = fromNodeTransform({
      name: 'picky',
      transform: () =>
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            if (chunk.includes('!')) cb(new Error('no shouting'));
            else cb(null, chunk);
          },
        }),
    });
    const err = await processChain(compileChain([picky]), [enc('fine'), enc('loud!'), enc('more')]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FilterError);
    expect(err).toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'picky' });
    expect((err as FilterError).message).toContain('no shouting');
  });

  it('gunzip of a corrupt body fails with a FilterError naming the filter (alias)', async () => {
    const gunzip = fromNodeTransform({ name: 'gunzip', stage: 9, transform: () => zlib.createGunzip() });
    const chain = compileChain([{ filter: gunzip, name: 'inflate-upstream' }]);
    const bad = Buffer.concat([zlib.gzipSync('ok'), Buffer.from('garbage that is not gzip')]);
    bad[12] = bad[12]! ^ 0xff;
    await expect(processChain(chain, bad)).rejects.toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'inflate-upstream' });
  });
});

describe('chainToDuplex', () => {
  it('in stream/promises pipeline from a Readable to a slow Writable: bytes match', async () => {
    const input = Buffer.from(TEXT);
    const dest = slowWritable({ highWaterMark: 256 });
    await pipeline(Readable.from(splitBySizes(input, [333, 1, 64])), chainToDuplex(compileChain([nodeUpper])), dest);
    expect(Buffer.concat(dest.received).toString()).toBe(TEXT.toUpperCase());
  });

  it('with gzip and a line rewriter: decompressed output matches', async () => {
    const dest = slowWritable({ delay: 1, highWaterMark: 64 });
    const src = Readable.from(splitBySizes(Buffer.from(TEXT.slice(0, 3000)), [17, 1, 250]));
    await pipeline(src, chainToDuplex(compileChain([nodeGzip, quoteLines])), dest);
    expect(zlib.gunzipSync(Buffer.concat(dest.received)).toString()).toBe(quoteText(TEXT.slice(0, 3000)));
  });

  it('backpressure: a slow destination keeps the duplex buffer bounded', async () => {
    const input = noise(2 << 20, 3);
    const duplex = chainToDuplex(compileChain([nodeUpper]));
    let maxBuffered = 0;
    const received: Buffer[] = [];
    const dest = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _e, cb) {
        maxBuffered = Math.max(maxBuffered, duplex.readableLength);
        received.push(chunk);
        setImmediate(cb);
      },
    });
    await pipeline(Readable.from(splitBySizes(input, [4096])), duplex, dest);
    const out = Buffer.concat(received);
    expect(out.byteLength).toBe(input.byteLength);
    for (let i = 0; i < input.byteLength; i += 65536) {
      expect(out[i]).toBe(input[i]! >= 97 && input[i]! <= 122 ? input[i]! - 32 : input[i]);
    }
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024);
  });

  it('onHead sees the committed head (a modPython filter makes the header phase async)', async () => {
    let cl: string | undefined = 'unset';
    let active: string[] = [];
    const duplex = chainToDuplex(compileChain([quoteLines]), {
      init: { headers: { 'content-length': '4' } },
      onHead: (run) => {
        cl = run.head.headers.get('content-length');
        active = run.active;
      },
    });
    const dest = slowWritable();
    await pipeline(Readable.from([Buffer.from('a\nb\n')]), duplex, dest);
    expect(Buffer.concat(dest.received).toString()).toBe('> a\n> b\n');
    expect(cl).toBeUndefined();
    expect(active).toEqual(['quote-lines']);
  });

  it('a filter error rejects the pipeline with the FilterError', async () => {
    const boom = defineFilter({
      name: 'boom',
      stage: 'content',
      create: () => ({
        onData(chunk, out) {
          if (chunk.includes(0x21)) throw new Error('bang');
          return out.push(chunk);
        },
      }),
    });
    const src = Readable.from([Buffer.from('ok'), Buffer.from('!'), Buffer.from('ok')]);
    await expect(pipeline(src, chainToDuplex(compileChain([boom])), slowWritable())).rejects.toMatchObject({
      code: 'ERR_SLUICE_FILTER',
      filter: 'boom',
    });
    expect(src.destroyed).toBe(true);
  });
});

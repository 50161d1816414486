import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  FLUSH,
  FilterError,
  chainOverResponse,
  chainToTransformStream,
  collectSink,
  compileChain,
  defineFilter,
  fromTransformStream,
  processChain,
  pump,
  type Flush,
} from '../../src/index.js';
import {
  IMPLS,
  bytesBeforeFlush,
  enc,
  gunzipPartial,
  nodeGzip,
  readAllWeb,
  showEvents,
  splitBySizes,
  text,
  tsUpper,
  webReadable,
  zlibGzipTransformStream,
} from './helpers.js';

const LOREM = 'The quick brown fox jumps over the lazy dog.\n'.repeat(200) + 'Ünïcödé tail ✓\n';
const LOREM_UPPER = LOREM.replace(/[a-z]/g, (c) => c.toUpperCase());

/** An inline filter that sets a header in the header phase and keeps the body. */
const tagHeader = defineFilter({
  name: 'tag-header',
  stage: 'content',
  preservesLength: true,
  create: () => ({
    onHead(head) {
      head.headers.set('x-tagged', 'yes');
    },
  }),
});

describe.each(IMPLS)('fromTransformStream (%s streams)', (_label, impl) => {
  const gzip = fromTransformStream({
    name: 'ts-gzip',
    stage: 'encoding',
    transform: () => new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>,
  });
  const implGzip = fromTransformStream({
    name: 'impl-gzip',
    stage: 'encoding',
    transform: () => zlibGzipTransformStream(impl),
  });

  it('uppercases bytes across many chunks, keeping Content-Length (preservesLength)', async () => {
    const chain = compileChain([tsUpper(impl)]);
    const res = await processChain(chain, splitBySizes(enc(LOREM), [1, 7, 300, 2]), {
      headers: { 'content-length': String(enc(LOREM).byteLength) },
    });
    expect(res.text()).toBe(LOREM_UPPER);
    expect(res.ended).toBe(true);
    expect(res.head.headers.get('content-length')).toBe(String(enc(LOREM).byteLength));
    expect(res.active).toEqual(['ts-upper']);
  });

  it('uppercase then CompressionStream(gzip): gunzip gives the uppercased text, C-L dropped', async () => {
    // listed in the "wrong" order: stage ordering must put gzip (encoding) after the rewrite
    const chain = compileChain([gzip, tsUpper(impl)]);
    expect(chain.entries.map((e) => e.name)).toEqual(['ts-upper', 'ts-gzip']);
    const res = await processChain(chain, splitBySizes(enc(LOREM), [5, 64, 1]), {
      headers: { 'content-length': '12345', 'content-type': 'text/plain' },
    });
    const body = res.body();
    expect(body[0]).toBe(0x1f);
    expect(body[1]).toBe(0x8b);
    expect(zlib.gunzipSync(body).toString('utf8')).toBe(LOREM_UPPER);
    expect(res.head.headers.has('content-length')).toBe(false);
    expect(res.lengthChanged).toBe(true);
  });

  it('gzip TransformStream built from this implementation gives the same text', async () => {
    const res = await processChain(compileChain([tsUpper(impl), implGzip]), splitBySizes(enc(LOREM), [3, 1000]));
    expect(zlib.gunzipSync(res.body()).toString('utf8')).toBe(LOREM_UPPER);
  });

  it('passes flush marks on, after the bytes written before them', async () => {
    const res = await processChain(compileChain([tsUpper(impl)]), [enc('one '), FLUSH, enc('two '), FLUSH, enc('three')]);
    expect(showEvents(res.events)).toBe('ONE |TWO |THREE');
    expect(res.flushes).toBe(2);
  });

  it('flush marks through CompressionStream still reach the sink and the body stays valid', async () => {
    const res = await processChain(compileChain([tsUpper(impl), gzip]), [enc('alpha\n'), FLUSH, enc('beta\n')]);
    expect(res.flushes).toBe(1);
    expect(zlib.gunzipSync(res.body()).toString('utf8')).toBe('ALPHA\nBETA\n');
  });

  it('encodes string output of a TransformStream as UTF-8', async () => {
    const toHex = fromTransformStream({
      name: 'ts-string',
      transform: () =>
        new impl.TransformStream<Uint8Array, string>({
          transform(chunk, c) {
            c.enqueue(`[${text(chunk)}→]`);
          },
        }),
    });
    const res = await processChain(compileChain([toHex]), [enc('a'), enc('b')]);
    expect(res.text()).toBe('[a→][b→]');
  });

  it('an error in the transform becomes a FilterError naming the filter', async () => {
    const boom = fromTransformStream({
      name: 'ts-boom',
      transform: () =>
        new impl.TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            if (text(chunk).includes('bad')) throw new Error('bad chunk');
            c.enqueue(chunk);
          },
        }),
    });
    const chain = compileChain([boom]);
    const sink = collectSink();
    const run = chain.run({}, sink);
    await run.start();
    const err = await pump(run, [enc('good '), enc('bad '), enc('never')]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FilterError);
    expect((err as FilterError).code).toBe('ERR_SLUICE_FILTER');
    expect((err as FilterError).filter).toBe('ts-boom');
    expect((err as FilterError).message).toContain('bad chunk');
    expect(sink.aborted).toBe(err);
    expect(sink.ended).toBe(false);
    expect(sink.text()).not.toContain('never');
  });

  it('an error in the transform flush (end of stream) is a FilterError too', async () => {
    const boomAtEnd = fromTransformStream({
      name: 'ts-boom-end',
      transform: () =>
        new impl.TransformStream<Uint8Array, Uint8Array>({
          flush() {
            throw new Error('no trailer');
          },
        }),
    });
    await expect(processChain(compileChain([boomAtEnd]), 'hello')).rejects.toMatchObject({
      code: 'ERR_SLUICE_FILTER',
      filter: 'ts-boom-end',
    });
  });

  it('keeps backpressure with a slow downstream filter (all bytes, in order)', async () => {
    const slow = defineFilter({
      name: 'slow',
      stage: 'transcode',
      create: () => ({
        async onData(chunk, out) {
          await new Promise((r) => setImmediate(r));
          await out.push(chunk);
        },
      }),
    });
    const input = enc(LOREM);
    const res = await processChain(compileChain([tsUpper(impl), slow]), splitBySizes(input, [97]));
    expect(res.text()).toBe(LOREM_UPPER);
  });
});

describe.each(IMPLS)('chainToTransformStream (%s streams)', (_label, impl) => {
  type Item = Uint8Array | Flush;

  it('pipes chunks through the fused chain', async () => {
    const ts = chainToTransformStream(compileChain([tsUpper(impl)]), { streams: impl });
    const out = await readAllWeb(webReadable<Item>(impl, splitBySizes(enc(LOREM), [1, 13, 200])).pipeThrough(ts));
    expect(out.includes(FLUSH)).toBe(false);
    expect(Buffer.concat(out as Uint8Array[]).toString('utf8')).toBe(LOREM_UPPER);
  });

  it('FLUSH symbols written in are flush marks; with emitFlush they come out in place', async () => {
    const chain = compileChain([tsUpper(impl)]);
    const items: Item[] = [enc('a'), enc('b'), FLUSH, enc('c'), FLUSH, FLUSH, enc('d')];
    const withMarks = await readAllWeb(
      webReadable(impl, items).pipeThrough(chainToTransformStream(chain, { streams: impl, emitFlush: true })),
    );
    expect(showEvents(withMarks)).toBe('AB|C||D');
    const without = await readAllWeb(webReadable(impl, items).pipeThrough(chainToTransformStream(chain, { streams: impl })));
    expect(without.includes(FLUSH)).toBe(false);
    expect(showEvents(without)).toBe('ABCD');
  });

  it('a flush mark makes a gzip filter emit what it holds: the prefix decodes alone', async () => {
    const chain = compileChain([nodeGzip, tsUpper(impl)]);
    const out = await readAllWeb(
      webReadable<Item>(impl, [enc('event: one\n\n'), FLUSH, enc('event: two\n\n')]).pipeThrough(
        chainToTransformStream(chain, { streams: impl, emitFlush: true }),
      ),
    );
    expect(gunzipPartial(bytesBeforeFlush(out))).toBe('EVENT: ONE\n\n');
    expect(zlib.gunzipSync(Buffer.concat(out.filter((e): e is Uint8Array => e !== FLUSH))).toString()).toBe(
      'EVENT: ONE\n\nEVENT: TWO\n\n',
    );
  });

  it('onHead sees the committed head with the filters’ edits and C-L dropped', async () => {
    const chain = compileChain([tagHeader, nodeGzip]);
    let seen: { tagged?: string; cl?: boolean; committed?: boolean; active?: string[] } = {};
    const ts = chainToTransformStream(chain, {
      streams: impl,
      init: { headers: { 'content-length': '3', 'content-type': 'text/plain' } },
      onHead: (run) => {
        seen = {
          tagged: run.head.headers.get('x-tagged'),
          cl: run.head.headers.has('content-length'),
          committed: run.head.committed,
          active: run.active,
        };
      },
    });
    const out = await readAllWeb(webReadable<Item>(impl, [enc('abc')]).pipeThrough(ts));
    expect(seen).toEqual({ tagged: 'yes', cl: false, committed: true, active: ['tag-header', 'node-gzip'] });
    expect(zlib.gunzipSync(Buffer.concat(out as Uint8Array[])).toString()).toBe('abc');
  });

  it('cancelling the readable or aborting the writable aborts the run (filters get onAbort)', async () => {
    const reasons: Error[] = [];
    const tracked = defineFilter({
      name: 'tracked',
      stage: 'content',
      create: () => ({
        onAbort(reason) {
          reasons.push(reason);
        },
      }),
    });
    const chain = compileChain([tracked]);
    const ts = chainToTransformStream(chain, { streams: impl });
    const writer = ts.writable.getWriter();
    writer.write(enc('x')).catch(() => undefined);
    const reader = ts.readable.getReader();
    expect(text((await reader.read()).value as Uint8Array)).toBe('x');
    await reader.cancel(new Error('client gone'));
    await writer.closed.catch(() => undefined);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ code: 'ERR_SLUICE_ABORTED' });

    const ts2 = chainToTransformStream(chain, { streams: impl });
    await ts2.writable.abort(new Error('upstream reset'));
    expect(reasons).toHaveLength(2);
    expect((reasons[1]!.cause as Error).message).toBe('upstream reset');
  });

  it('a filter error errors the readable side with the FilterError', async () => {
    const boom = defineFilter({
      name: 'boom',
      stage: 'content',
      create: () => ({
        onData(chunk, out) {
          if (text(chunk) === 'x') throw new Error('x is not allowed');
          return out.push(chunk);
        },
      }),
    });
    const ts = chainToTransformStream(compileChain([boom]), { streams: impl });
    const err = await readAllWeb(webReadable<Item>(impl, [enc('a'), enc('x'), enc('b')]).pipeThrough(ts)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FilterError);
    expect(err).toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'boom' });
  });
});

describe.each(IMPLS)('chainOverResponse (%s streams)', (_label, impl) => {
  const html = '<html><body>' + 'hello world '.repeat(500) + '</body></html>';

  it('length-changing chain: body transformed, Content-Length dropped, other headers kept', async () => {
    const upstream = new Response(html, {
      status: 200,
      statusText: 'Fine',
      headers: { 'content-length': String(html.length), 'content-type': 'text/html', 'x-up': '1' },
    });
    const res = await chainOverResponse(compileChain([nodeGzip, tsUpper(impl)]), upstream, { streams: impl });
    expect(res.status).toBe(200);
    expect(res.statusText).toBe('Fine');
    expect(res.headers.has('content-length')).toBe(false);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('x-up')).toBe('1');
    const body = Buffer.from(await res.arrayBuffer());
    expect(zlib.gunzipSync(body).toString('utf8')).toBe(html.toUpperCase());
  });

  it('length-preserving chain keeps Content-Length and the header edits', async () => {
    const upstream = new Response('abc', { headers: { 'content-length': '3' } });
    const res = await chainOverResponse(compileChain([tsUpper(impl), tagHeader]), upstream, { streams: impl });
    expect(res.headers.get('content-length')).toBe('3');
    expect(res.headers.get('x-tagged')).toBe('yes');
    expect(await res.text()).toBe('ABC');
  });

  it('a streamed upstream body arrives whole, through a slow reader', async () => {
    const chunks = splitBySizes(enc(html), [100, 1, 999]);
    const upstream = new Response(webReadable(impl, chunks) as ReadableStream<Uint8Array>, {
      headers: { 'content-length': String(html.length) },
    });
    const res = await chainOverResponse(compileChain([tsUpper(impl)]), upstream, { streams: impl });
    const reader = res.body!.getReader();
    const got: Uint8Array[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got.push(value);
      await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(got).toString()).toBe(html.toUpperCase());
  });

  it('204 keeps no body (and the chain is not run on one)', async () => {
    let data = 0;
    const counter = defineFilter({
      name: 'counter',
      stage: 'content',
      create: () => ({
        onData(chunk, out) {
          data++;
          return out.push(chunk);
        },
      }),
    });
    const res = await chainOverResponse(compileChain([counter, nodeGzip]), new Response(null, { status: 204 }), {
      streams: impl,
    });
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect(await res.text()).toBe('');
    expect(data).toBe(0);
  });

  it('a filter error mid-body makes reading the new body fail', async () => {
    const boom = defineFilter({
      name: 'boom',
      stage: 'content',
      create: () => ({
        onData() {
          throw new Error('nope');
        },
      }),
    });
    const res = await chainOverResponse(compileChain([boom]), new Response('abc'), { streams: impl });
    await expect(res.text()).rejects.toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'boom' });
  });
});

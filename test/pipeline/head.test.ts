import { describe, expect, it } from 'vitest';
import { compileChain, processChain, defineFilter, collectSink, HeaderMap, HeadersCommittedError } from '../../src/index.js';

const grow = defineFilter({ name: 'grow', create: () => ({ onEnd: (out) => out.push(Buffer.from('!')) }) });
const keep = defineFilter({ name: 'keep', preservesLength: true, create: () => ({}) });

describe('header phase', () => {
  it('drops Content-Length and Content-MD5 when a filter that stays changes length, and weakens a strong ETag', async () => {
    const r = await processChain(compileChain([grow]), 'abc', {
      headers: { 'content-length': '3', 'content-md5': 'xx', etag: '"v1"', 'content-type': 'text/plain' },
    });
    expect(r.text()).toBe('abc!');
    expect(r.lengthChanged).toBe(true);
    expect(r.head.headers.has('content-length')).toBe(false);
    expect(r.head.headers.has('content-md5')).toBe(false);
    expect(r.head.headers.get('etag')).toBe('W/"v1"');
    expect(r.head.headers.get('content-type')).toBe('text/plain');
  });

  it('keeps Content-Length when every filter that stays preserves length', async () => {
    const r = await processChain(compileChain([keep, 'identity']), 'abc', { headers: { 'content-length': '3', etag: '"v1"' } });
    expect(r.lengthChanged).toBe(false);
    expect(r.head.headers.get('content-length')).toBe('3');
    expect(r.head.headers.get('etag')).toBe('"v1"');
  });

  it('lets a filter declare per message that it changes or keeps length', async () => {
    const maybe = defineFilter({
      name: 'maybe',
      create: () => ({ onHead: (h) => h.changesLength(h.request.method !== 'HEAD') }),
    });
    const chain = compileChain([maybe]);
    const get = await processChain(chain, 'a', { headers: { 'content-length': '1' } });
    expect(get.head.headers.get('content-length')).toBeUndefined();
    const head = await processChain(chain, 'a', { request: { method: 'HEAD' }, headers: { 'content-length': '1' } });
    expect(head.head.headers.get('content-length')).toBe('1');
  });

  it('leaves an ETag a filter rewrote itself (a compressor adds -gzip) alone', async () => {
    const suffix = defineFilter({
      name: 'suffix',
      create: () => ({ onHead: (h) => void h.headers.set('etag', '"v1-gzip"') }),
    });
    const r = await processChain(compileChain([suffix]), 'a', { headers: { etag: '"v1"' } });
    expect(r.head.headers.get('etag')).toBe('"v1-gzip"');
  });

  it('each filter sees the edits of the ones before it, and may set the status', async () => {
    const a = defineFilter({ name: 'a', stage: 'resource', create: () => ({ onHead: (h) => void h.headers.set('x-a', '1') }) });
    const b = defineFilter({
      name: 'b',
      create: () => ({
        onHead: (h) => {
          h.headers.set('x-b', h.headers.get('x-a') === '1' ? 'saw-a' : 'no');
          h.status = 203;
        },
      }),
    });
    const r = await processChain(compileChain([b, a]), 'x');
    expect(r.head.headers.get('x-b')).toBe('saw-a');
    expect(r.head.status).toBe(203);
  });

  it('a header edit after the head is committed throws instead of vanishing', async () => {
    let caught: unknown;
    const late = defineFilter({
      name: 'late',
      create: () => ({
        onData: (c, out) => {
          try {
            // (a FilterContext's head is the same object the runtime committed)
            lateHead!.headers.set('x-late', '1');
          } catch (err) {
            caught = err;
          }
          out.push(c);
        },
        onHead: (h) => void (lateHead = h),
      }),
    });
    let lateHead: import('../../src/index.js').HeadPhase | undefined;
    const r = await processChain(compileChain([late]), 'x');
    expect(caught).toBeInstanceOf(HeadersCommittedError);
    expect((caught as HeadersCommittedError).code).toBe('ERR_SLUICE_HEADERS_COMMITTED');
    expect(r.head.headers.has('x-late')).toBe(false);
    expect(() => {
      r.head.status = 500;
    }).toThrow(HeadersCommittedError);
  });

  it('an input chain edits the request headers and drops the request Content-Length', async () => {
    const chain = compileChain([grow], { direction: 'input' });
    const headers = new HeaderMap({ 'content-length': '3', host: 'example.test' });
    const sink = collectSink();
    const run = chain.run({ request: { method: 'POST', url: '/up', headers } }, sink);
    await run.start();
    expect(run.head.headers).toBe(headers);
    expect(headers.has('content-length')).toBe(false);
    expect(headers.get('host')).toBe('example.test');
    await run.write(Buffer.from('abc'));
    await run.end();
    expect(sink.text()).toBe('abc!');
  });
});

describe('HeaderMap', () => {
  it('is case-insensitive, multi-valued, and merges list tokens without duplicates', () => {
    const h = new HeaderMap({ Vary: 'Origin', 'Set-Cookie': ['a=1', 'b=2'] });
    h.mergeToken('vary', 'Accept-Encoding').mergeToken('VARY', 'accept-encoding');
    expect(h.get('vary')).toBe('Origin, Accept-Encoding');
    expect(h.getAll('set-cookie')).toEqual(['a=1', 'b=2']);
    expect(h.toNode()['set-cookie']).toEqual(['a=1', 'b=2']);
    expect([...h.toWeb().entries()].filter(([k]) => k === 'set-cookie')).toHaveLength(2);
    h.set('Vary', '*');
    h.mergeToken('vary', 'Accept-Encoding');
    expect(h.get('vary')).toBe('*');
  });
});

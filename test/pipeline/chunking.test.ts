import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import zlib from 'node:zlib';
import iconv from 'iconv-lite';
import { builtins, compileChain, processChain, type ChainItem, type MessageInit } from '../../src/index.js';
import { asyncIdentity, holder, splitAt } from '../helpers.js';

/**
 * Every shipped filter must give the same bytes however its input is cut. Each builtin needs
 * an entry here (options and a sample body); a builtin without one fails the suite, so a new
 * filter cannot ship untested.
 */
interface Fixture {
  options?: unknown;
  input: string | Buffer;
  direction?: 'input' | 'output';
  /** What the output must decode to (default: the input). */
  expected?: string;
  init?: MessageInit;
  /** Map output to what must not depend on chunking (a compressor's decoded bytes). */
  decode?: (out: Buffer) => Buffer;
}

const html = '<!doctype html><p>Hello, <b>world</b> — ünïcödé ✓</p>\n'.repeat(40);
const compressible = (ae: string): MessageInit => ({
  request: { headers: { 'accept-encoding': ae } },
  headers: { 'content-type': 'text/html; charset=utf-8' },
});
const fixtures: Record<string, Fixture> = {
  identity: { input: html },
  gzip: { input: html, init: compressible('gzip'), decode: (b) => zlib.gunzipSync(b) },
  deflate: { input: html, init: compressible('deflate'), options: { backend: 'fflate' }, decode: (b) => zlib.inflateSync(b) },
  br: { input: html, init: compressible('br'), decode: (b) => zlib.brotliDecompressSync(b) },
  compress: { input: html, init: compressible('gzip;q=0.5, br'), decode: (b) => zlib.brotliDecompressSync(b) },
  decompress: {
    input: zlib.brotliCompressSync(zlib.gzipSync(html)),
    expected: html,
    init: { headers: { 'content-type': 'text/html', 'content-encoding': 'gzip, br' } },
  },
  charset: {
    input: iconv.encode('<html><head><meta charset="shift_jis"></head><body>日本語のテキスト、こんにちは。</body></html>\n'.repeat(3), 'shift_jis'),
    // only the document's own (first) declaration is rewritten
    expected:
      '<html><head><meta charset="utf-8"></head><body>日本語のテキスト、こんにちは。</body></html>\n' +
      '<html><head><meta charset="shift_jis"></head><body>日本語のテキスト、こんにちは。</body></html>\n'.repeat(2),
    options: { sniff: 64 },
    init: { headers: { 'content-type': 'text/html' } },
  },
  // a byte-level literal, a line-based regex and a non-ASCII case-insensitive literal
  substitute: {
    input: html,
    expected: '<!doctype html><p>Hello, <i>there</i> — unicode ✓</p>\n'.repeat(40),
    options: { rules: ['s/world/there/n', 's|<b>(\\w+)</b>|<i>$1</i>|', 's/ÜNÏCÖDÉ/unicode/ni'] },
    init: { headers: { 'content-type': 'text/html; charset=utf-8' } },
  },
  sed: {
    input: html,
    expected: '<!doctype html><p>Bye, <b>world</b> — ünïcödé ✓</p>\n'.repeat(37) + '<!doctype html><p>Bye, <b>world</b> — ünïcödé ✔</p>\n',
    options: { script: ['s/Hello/Bye/g', '2,3d', '$s/✓/✔/'] },
    init: { headers: { 'content-type': 'text/html; charset=utf-8' } },
  },
  'html-urlmap': {
    input: '<A HREF=http://in/a?x=1&amp;y>a</A><img srcset="http://in/1.png 1x, http://in/2.png 2x"><!-- <a href="http://in/c"> -->' +
      '<script>if (a </b) "<!--<script>"; x="</script>"</script><p style="background:url(\'http://in/bg\')">é</p>\n'.repeat(8),
    expected: '<A HREF=/out/a?x=1&amp;y>a</A><img srcset="/out/1.png 1x, /out/2.png 2x"><!-- <a href="http://in/c"> -->' +
      '<script>if (a </b) "<!--<script>"; x="</script>"</script><p style="background:url(\'/out/bg\')">é</p>\n'.repeat(8),
    options: { rules: ['http://in/ /out/'], css: true },
    init: { headers: { 'content-type': 'text/html; charset=utf-8' } },
  },
  // marks the message traced and steps aside: the body must pass untouched
  trace: { input: html },
  inflate: {
    input: zlib.gzipSync(html),
    expected: html,
    direction: 'input',
    options: { backend: 'fflate' },
    init: { request: { method: 'POST', headers: { 'content-encoding': 'gzip' } } },
  },
  limit: { input: html, direction: 'input', options: { maxSize: 1 << 20 }, init: { request: { method: 'POST' } } },
  // header-only: the body passes untouched however it is cut
  headers: { input: html, options: { actions: ['set X-Frame-Options DENY'] } },
  'proxy-reverse': { input: html, options: { rules: [{ from: 'http://backend/', to: '/' }] }, init: { headers: { location: 'http://backend/x' } } },
  buffer: { input: html, options: { maxSize: 1 << 20 } },
  // a burst larger than the body keeps the property runs fast; the slicing is tested in ratelimit.test.ts
  ratelimit: { input: html, options: { rate: 1024, burst: 64 } },
};

async function outputFor(items: ChainItem[], chunks: Uint8Array[], fx?: Fixture): Promise<Buffer> {
  const r = await processChain(compileChain(items, { direction: fx?.direction ?? 'output' }), chunks, fx?.init);
  if (fx?.decode && r.head.headers.get('content-encoding') === undefined) throw new Error('fixture did not compress');
  return fx?.decode ? fx.decode(r.body()) : r.body();
}

describe('chunk-boundary independence', () => {
  it('has a fixture for every registered builtin', () => {
    expect(Object.keys(fixtures).sort()).toEqual(builtins.names().map((n) => n.toLowerCase()).sort());
  });

  for (const name of builtins.names()) {
    it(`${name}: random splits, including 1-byte chunks, give byte-identical output`, async () => {
      const fx = fixtures[name.toLowerCase()]!;
      const input = Buffer.isBuffer(fx.input) ? fx.input : Buffer.from(fx.input);
      const items: ChainItem[] = [{ filter: name, options: fx.options }];
      const whole = await outputFor(items, [input], fx);
      if (fx.decode) expect(whole.equals(input)).toBe(true);
      if (fx.expected !== undefined) expect(whole.toString()).toBe(fx.expected);
      const bytewise = await outputFor(items, splitAt(input, Array.from({ length: input.length }, (_, i) => i)), fx);
      expect(bytewise.equals(whole)).toBe(true);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 40 }), async (cuts) => {
          const out = await outputFor(items, splitAt(input, cuts), fx);
          return out.equals(whole);
        }),
        { numRuns: fx.decode ? 25 : 60 },
      );
    });
  }

  it('the runtime itself: a mixed sync/async/holding chain is independent of chunking', async () => {
    const input = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789'.repeat(8));
    const items: ChainItem[] = ['identity', asyncIdentity, holder, 'identity', asyncIdentity];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 60 }), async (cuts) => {
        const out = await outputFor(items, splitAt(input, cuts));
        return out.equals(input);
      }),
      { numRuns: 40 },
    );
  });
});

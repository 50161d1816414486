import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import iconv from 'iconv-lite';
import { builtins, type ChainItem, type MessageInit } from '../../src/index.js';
import { assertSplits, type SplitOptions } from '../../src/testing/index.js';
import { asyncIdentity, holder } from '../helpers.js';

/**
 * Every shipped filter must give the same bytes and head however its input is cut and
 * wherever flush marks fall, checked with the kit users get (sluice/testing): every single cut
 * with and without a flush mark, 1-byte chunks, and random splits with random flush marks.
 * Each builtin needs an entry here (options and a sample body); a builtin without one fails
 * the suite, so a new filter cannot ship untested.
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
  /** Kit settings for this filter (say why next to them). */
  splits?: Pick<SplitOptions, 'flushes' | 'flushFrom' | 'maxCuts' | 'random' | 'ignoreHeaders'>;
}

const html = '<!doctype html><p>Hello, <b>world</b> — ünïcödé ✓</p>\n'.repeat(40);
const compressible = (ae: string): MessageInit => ({
  request: { headers: { 'accept-encoding': ae } },
  headers: { 'content-type': 'text/html; charset=utf-8' },
});
const fixtures: Record<string, Fixture> = {
  identity: { input: html },
  // each run starts an encoder: single cuts are sampled, random splits still cut anywhere
  gzip: { input: html, init: compressible('gzip'), decode: (b) => zlib.gunzipSync(b), splits: { maxCuts: 600 } },
  // fflate sets up 32 KiB-window tables per message (10-25 ms)
  deflate: { input: html, init: compressible('deflate'), options: { backend: 'fflate' }, decode: (b) => zlib.inflateSync(b), splits: { maxCuts: 100 } },
  br: { input: html, init: compressible('br'), decode: (b) => zlib.brotliDecompressSync(b), splits: { maxCuts: 400 } },
  compress: { input: html, init: compressible('gzip;q=0.5, br'), decode: (b) => zlib.brotliDecompressSync(b), splits: { maxCuts: 400 } },
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
    // a flush mark inside the sniff window makes it decide with what it has (docs/builtins.md)
    splits: { flushFrom: 64 },
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

describe('chunk-boundary independence', () => {
  it('has a fixture for every registered builtin', () => {
    expect(Object.keys(fixtures).sort()).toEqual(builtins.names().map((n) => n.toLowerCase()).sort());
  });

  for (const name of builtins.names()) {
    it(`${name}: every split, with flush marks anywhere, gives the same output and head (sluice/testing)`, async () => {
      const fx = fixtures[name.toLowerCase()]!;
      const input = Buffer.isBuffer(fx.input) ? fx.input : Buffer.from(fx.input);
      const decode = fx.decode;
      await assertSplits(name, input, {
        options: fx.options,
        direction: fx.direction ?? 'output',
        ...(fx.init && { init: fx.init }),
        ...(decode && {
          decode: (body: Buffer, head: { headers: { get(n: string): string | undefined } }) => {
            if (head.headers.get('content-encoding') === undefined) throw new Error('fixture did not compress');
            return decode(body);
          },
        }),
        // a compressor's output must decode to the input; a rewriter's is its fixture's
        ...((fx.expected !== undefined || decode) && { expected: fx.expected ?? input }),
        random: decode ? 25 : 60,
        ...fx.splits,
      });
    });
  }

  it('the runtime itself: a mixed sync/async/holding chain is independent of chunking', async () => {
    const input = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789'.repeat(8));
    const items: ChainItem[] = ['identity', asyncIdentity, holder, 'identity', asyncIdentity];
    await assertSplits(items, input, { expected: input, random: 40 });
  });
});

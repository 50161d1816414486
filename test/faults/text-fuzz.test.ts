/**
 * HTML and charset fuzzing: random and mutated inputs through html-urlmap and charset, cut
 * into random chunks, never throw anything but the documented errors, and never lose or
 * duplicate a byte outside the rewritten spans.
 */
import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { SluiceError } from '../../src/errors.js';
import { compileChain, processChain, type CompiledChain } from '../../src/pipeline/compile.js';
import { prng, splitAt } from '../helpers.js';

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** Cut `buf` into 1-6 random pieces. */
function cuts(buf: Buffer, rnd: Rnd): Uint8Array[] {
  return splitAt(buf, Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * buf.length)));
}

/** The body out of a chain, or the error it failed with. */
async function through(chain: CompiledChain, pieces: readonly Uint8Array[], headers: Record<string, string>): Promise<Buffer | Error> {
  try {
    return (await processChain(chain, pieces, { headers, request: { method: 'GET' } })).body();
  } catch (err) {
    return err as Error;
  }
}

// ---- html-urlmap ------------------------------------------------------------------------------

const URLS = ['http://in/', 'http://in/a/b?c=1&amp;d=2', 'http://in/x y', 'HTTP://IN/', 'http://inx/', 'http://in', '//in/', '/rel/path', 'http://other/'];
const FRAGMENTS: Array<(rnd: Rnd) => string> = [
  (r) => `<a href="${pick(r, URLS)}">link</a>`,
  (r) => `<a href='${pick(r, URLS)}' title="t">`,
  (r) => `<a href=${pick(r, URLS).replace(/ /g, '')}>`,
  (r) => `<img src="${pick(r, URLS)}" alt="${pick(r, URLS)}">`,
  (r) => `<form action="${pick(r, URLS)}"><input name=x></form>`,
  (r) => `<script>var u = "${pick(r, URLS)}"; if (a < b) {}</script>`,
  (r) => `<style>.x { background: url(${pick(r, URLS)}) }</style>`,
  (r) => `<div style="background:url('${pick(r, URLS)}')" onclick="go('${pick(r, URLS)}')">`,
  (r) => `<!-- a comment with ${pick(r, URLS)} -->`,
  () => '<![CDATA[ <a href="http://in/"> ]]>',
  () => '<!doctype html>',
  () => '<meta charset="utf-8">',
  (r) => `text ${pick(r, URLS)} &amp; &lt;a href="http://in/"&gt; caf\u00e9 \u65e5\u672c `,
  () => '<',
  () => '>',
  () => '<a href="',
  () => '"',
  () => "'",
  () => '</',
  () => '<a',
  () => '=',
  () => '<textarea><a href="http://in/"></textarea>',
  () => '<svg><a xlink:href="http://in/"/></svg>',
  (r) => '\n'.repeat(1 + Math.floor(r() * 3)),
];

/** Random HTML, sometimes mutated at the byte level (deleted, duplicated or random bytes). */
function randomHtml(rnd: Rnd): Buffer {
  let s = '';
  for (let i = 0, n = 1 + Math.floor(rnd() * 30); i < n; i++) s += pick(rnd, FRAGMENTS)(rnd);
  let b = Buffer.from(s);
  for (let i = 0, n = Math.floor(rnd() * 4); i < n; i++) {
    const p = Math.floor(rnd() * b.length);
    const op = Math.floor(rnd() * 3);
    if (op === 0) b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + Math.floor(rnd() * 8))]);
    else if (op === 1) b = Buffer.concat([b.subarray(0, p), b.subarray(p, p + 12), b.subarray(p)]);
    else b = Buffer.concat([b.subarray(0, p), Buffer.from([Math.floor(rnd() * 256)]), b.subarray(p)]);
  }
  // the marker of rewritten spans never occurs in the input
  return Buffer.from(b.toString('latin1').replace(/\u00a7/g, 'S'), 'latin1');
}

const MARK = '/\u00a7OUT\u00a7/';
/**
 * Scheme and host match case-insensitively (the upper-case spelling is the same URL), and a
 * rewritten URL is re-encoded, so a legacy `&amp` without its `;` inside one comes out `&amp;`.
 */
const sameUrl = (s: string): string => s.replace(/HTTP:\/\/IN\//g, 'http://in/').replace(/&amp;?/g, '&amp;');

/** The documented error of a filter, unwrapped from the chain's FilterError. */
function codeOf(err: Error): string | undefined {
  const inner = (err as { cause?: unknown }).cause;
  return inner instanceof SluiceError ? inner.code : err instanceof SluiceError ? err.code : undefined;
}

describe('html-urlmap fuzzing', () => {
  const plain = compileChain([{ filter: 'html-urlmap', options: { rules: [`http://in/ ${MARK}`] } }]);
  const extended = compileChain([{ filter: 'html-urlmap', options: { rules: [`http://in/ ${MARK}`], extended: true } }]);
  const tight = compileChain([{ filter: 'html-urlmap', options: { rules: [`http://in/ ${MARK}`], maxTagLength: 64 } }]);
  const HTML = { 'content-type': 'text/html; charset=utf-8' };

  for (const [name, chain] of [
    ['links only', plain],
    ['extended (scripts, styles, events)', extended],
    ['a 64-byte maxTagLength', tight],
  ] as const) {
    it(`${name}: 300 random documents in random chunks: the same output as in one chunk; only rewritten spans differ from the input; only MarkupTooLongError`, async () => {
      const rnd = prng(name.length * 7919);
      let rewritten = 0;
      for (let i = 0; i < 300; i++) {
        const input = randomHtml(rnd);
        const whole = await through(chain, [input], HTML);
        if (whole instanceof Error) {
          expect(codeOf(whole)).toBe('ERR_SLUICE_MARKUP_TOO_LONG');
          continue;
        }
        // no byte lost or duplicated outside rewritten spans: undo each rewrite, get the input back
        const back = whole.toString('latin1').split(Buffer.from(MARK).toString('latin1')).join('http://in/');
        expect(sameUrl(back)).toBe(sameUrl(input.toString('latin1')));
        if (!whole.equals(input)) rewritten++;
        for (let k = 0; k < 3; k++) {
          const pieces = await through(chain, cuts(input, rnd), HTML);
          // a tag held across a cut counts against maxTagLength: the documented error, or the same bytes
          if (pieces instanceof Error) expect(codeOf(pieces)).toBe('ERR_SLUICE_MARKUP_TOO_LONG');
          else expect(pieces.toString('latin1')).toBe(whole.toString('latin1'));
        }
      }
      expect(rewritten).toBeGreaterThan(30); // the fuzzer did reach the rewriting paths
    });
  }

  it('non-HTML and binary bodies pass byte for byte', async () => {
    const rnd = prng(3);
    for (let i = 0; i < 50; i++) {
      const input = Buffer.from(Array.from({ length: Math.floor(rnd() * 4000) }, () => Math.floor(rnd() * 256)));
      const r = await through(plain, cuts(input, rnd), { 'content-type': 'application/octet-stream' });
      expect(r instanceof Error ? r : r.equals(input)).toBe(true);
    }
  });
});

// ---- charset ----------------------------------------------------------------------------------

describe('charset fuzzing', () => {
  const w1252 = compileChain([{ filter: 'charset', options: { from: 'windows-1252', rewriteMeta: false } }]);
  const strictUtf8To1252 = compileChain([{ filter: 'charset', options: { to: 'windows-1252', onError: 'error', rewriteMeta: false } }]);
  const lenientUtf8To1252 = compileChain([{ filter: 'charset', options: { to: 'windows-1252', rewriteMeta: false } }]);
  const sjis = compileChain([{ filter: 'charset', options: { rewriteMeta: false } }]);

  it('random bytes as windows-1252 → UTF-8, in random chunks: exactly iconv-lite decoding them, every byte accounted for', async () => {
    const rnd = prng(11);
    for (let i = 0; i < 200; i++) {
      const input = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256)));
      const want = Buffer.from(iconv.decode(input, 'windows-1252'), 'utf8');
      const r = await through(w1252, cuts(input, rnd), { 'content-type': 'text/plain' });
      expect(r instanceof Error ? r.message : r.equals(want)).toBe(true);
    }
  });

  it('valid Shift_JIS text cut anywhere (inside multi-byte characters) → the same UTF-8 text', async () => {
    const rnd = prng(12);
    const alphabet = 'abc 123 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\uff71\uff72 <p>\n';
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: 1 + Math.floor(rnd() * 500) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      const input = iconv.encode(text, 'shift_jis');
      const r = await through(sjis, cuts(input, rnd), { 'content-type': 'text/html; charset=shift_jis' });
      expect(r instanceof Error ? r.message : r.toString('utf8')).toBe(text);
    }
  });

  it('random bytes declared UTF-8 → windows-1252: lenient never fails and is chunking-independent; strict fails only with ERR_SLUICE_CHARSET', async () => {
    const rnd = prng(13);
    const HEAD = { 'content-type': 'text/plain; charset=utf-8' };
    for (let i = 0; i < 200; i++) {
      const valid = Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => pick(rnd, ['a', ' ', '\u00e9', '\u20ac', '\n', '\u00ff'])).join(''));
      const input = Buffer.concat([valid, Buffer.from(Array.from({ length: Math.floor(rnd() * 4) }, () => 0x80 + Math.floor(rnd() * 128))), valid]);
      const whole = await through(lenientUtf8To1252, [input], HEAD);
      expect(whole).toBeInstanceOf(Buffer);
      const pieces = await through(lenientUtf8To1252, cuts(input, rnd), HEAD);
      expect(pieces instanceof Error ? pieces.message : pieces.equals(whole as Buffer)).toBe(true);
      const strict = await through(strictUtf8To1252, cuts(input, rnd), HEAD);
      if (strict instanceof Error) expect(codeOf(strict)).toBe('ERR_SLUICE_CHARSET');
      else expect(strict.equals(whole as Buffer)).toBe(true);
    }
  });
});

import { AssertionError } from 'node:assert';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compileChain, defineFilter, FLUSH, Type, type Emitter } from '../../src/index.js';
import { assertSplits, checkSplits, runFilter, SplitAssertionError, splitInput } from '../../src/testing/index.js';

/** The classic boundary bug: replace within each chunk, so a match cut in two is missed. */
const naiveReplace = defineFilter({
  name: 'naive-replace',
  directions: ['output'],
  options: Type.Object({ from: Type.String({ minLength: 1 }), to: Type.String() }, { additionalProperties: false }),
  create: ({ options }) => ({
    onData: (chunk, out) => out.push(Buffer.from(Buffer.from(chunk).toString('latin1').split(options.from).join(options.to), 'latin1')),
  }),
});

/**
 * The same replace done right: the longest tail that could start a match is held back until the
 * next chunk decides. That tail is shorter than the pattern, and is not let go on a flush mark:
 * a match cut by a flush is still replaced, so the output never depends on where marks fall.
 * `shortSighted` has a bug that no single cut shows: it looks for a partial match only in the
 * newest chunk, so a match spread over three chunks is lost.
 */
function replaceFilter(name: string, shortSighted = false) {
  return defineFilter({
    name,
    directions: ['output'],
    options: Type.Object({ from: Type.String({ minLength: 1 }), to: Type.String() }, { additionalProperties: false }),
    create: ({ options }) => {
      let held = '';
      const emit = (text: string, out: Emitter): void => {
        if (text) void out.push(Buffer.from(text, 'latin1'));
      };
      return {
        onData: (chunk, out) => {
          const text = (held + Buffer.from(chunk).toString('latin1')).split(options.from).join(options.to);
          let keep = 0;
          for (let k = Math.min(options.from.length - 1, shortSighted ? chunk.length : text.length); k > 0; k--) {
            if (options.from.startsWith(text.slice(-k))) {
              keep = k;
              break;
            }
          }
          held = text.slice(text.length - keep);
          emit(text.slice(0, text.length - keep), out);
        },
        onEnd: (out) => emit(held, out),
      };
    },
  });
}
const carefulReplace = replaceFilter('careful-replace');

/** Right about bytes, wrong about a header: it says how many chunks it got. */
const chunkCounter = defineFilter({
  name: 'chunk-counter',
  directions: ['output'],
  create: () => {
    const held: Uint8Array[] = [];
    let setHeader: ((n: number) => void) | undefined;
    return {
      onHead: (h) => {
        h.deferCommit();
        setHeader = (n) => void h.headers.set('x-chunks', n > 1 ? 'many' : 'one');
      },
      onData: (chunk) => void held.push(chunk),
      onEnd: (out) => {
        setHeader!(held.length);
        for (const c of held) void out.push(c);
      },
    };
  },
});

const opts = { options: { from: 'needle', to: 'NEEDLE' }, init: { headers: { 'content-type': 'text/plain' } } };

describe('sluice/testing: assertSplits and checkSplits', () => {
  it('catches a boundary-buggy filter and reports the smallest split and the first differing byte', async () => {
    const input = 'hay needle hay';
    const report = await checkSplits(naiveReplace, input, opts);
    expect(report.ok).toBe(false);
    expect(report.reference.decoded.toString()).toBe('hay NEEDLE hay');
    const f = report.failure!;
    // the first single cut inside "needle": after "hay n"
    expect(f.split).toEqual({ cuts: [5], flushes: [] });
    expect(f.kind).toBe('body');
    expect(f.offset).toBe(4);
    expect(String.fromCharCode(f.expectedByte!, f.actualByte!)).toBe('Nn');
    expect(f.actual!.decoded.toString()).toBe('hay needle hay');
    expect(f.message).toContain('smallest failing split: [0,5) [5,14) (2 chunks)');
    expect(f.message).toContain('as pieces: "hay n" | "eedle hay"');
    expect(f.message).toContain(`expected 0x4e "N", actual 0x6e "n"`);
    expect(f.message).toContain('expected: hay NEEDLE hay');
    expect(f.message).toContain('actual:   hay needle hay');
  });

  it('assertSplits throws an AssertionError with that message, for any test runner', async () => {
    const err = await assertSplits(naiveReplace, 'hay needle hay', opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SplitAssertionError);
    expect(err).toBeInstanceOf(AssertionError);
    const e = err as SplitAssertionError;
    expect(e.code).toBe('ERR_ASSERTION');
    expect(e.message).toMatch(/^filter "naive-replace": output depends on how the input is split\.\nsmallest failing split: \[0,5\) \[5,14\)/);
    expect(e.report.failure!.offset).toBe(4);
    expect(e.expected).toBe('hay NEEDLE hay');
    expect(e.actual).toBe('hay needle hay');
  });

  it('passes a correct filter: every single cut with and without a flush, every pair, random splits', async () => {
    const short = await assertSplits(carefulReplace, 'needle: a needlneedle, needle', opts);
    expect(short.reference.decoded.toString()).toBe('NEEDLE: a needlNEEDLE, NEEDLE');
    const n = 29;
    // 2 × (n-1) single cuts, flush-only, every pair, 1-byte chunks (plain and with flushes), the reference
    expect(short.runs).toBe(2 * (n - 1) + 1 + ((n - 1) * (n - 2)) / 2 + 2 + 1);
    const long = await assertSplits(carefulReplace, 'a needle in a haystack, nee, needleneedle; '.repeat(40), { ...opts, random: 150 });
    expect(long.runs).toBe(2 * (43 * 40 - 1) + 1 + 2 + 150 + 1);
    expect(long.reference.decoded.toString()).not.toContain('needle');
  });

  it('finds a bug only a split in three shows, and shrinks what it found to the smallest', async () => {
    const report = await checkSplits(replaceFilter('short-sighted', true), 'xx needle xx', opts);
    expect(report.failure!.split).toEqual({ cuts: [4, 5], flushes: [] }); // "xx n" | "e" | "edle xx"
    expect(report.failure!.message).toContain('as pieces: "xx n" | "e" | "edle xx"');
    // found among random splits of a long input (no pairs tried), then shrunk to three chunks
    const long = await checkSplits(replaceFilter('short-sighted', true), 'a needle in the hay; '.repeat(10), { ...opts, pairsUpTo: 0 });
    expect(long.failure!.foundAs).toBeDefined();
    expect(long.failure!.split.cuts.length).toBe(2);
    expect(long.failure!.split.flushes).toEqual([]);
    expect(long.failure!.message).toMatch(/\(shrunk from .*chunks/);
  });

  it('compares headers and status too', async () => {
    const report = await checkSplits(chunkCounter, 'abc');
    expect(report.failure!.kind).toBe('headers');
    expect(report.failure!.split).toEqual({ cuts: [1], flushes: [] });
    expect(report.failure!.message).toContain('header x-chunks: expected ["one"], actual ["many"]');
    expect((await checkSplits(chunkCounter, 'abc', { ignoreHeaders: ['X-Chunks'] })).ok).toBe(true);
  });

  it('reports a split that makes the filter fail where the unsplit input does not', async () => {
    const strict = defineFilter({
      name: 'strict',
      create: () => ({
        onData: (chunk, out) => {
          if (chunk.length < 3) throw new Error('short chunk');
          return out.push(chunk);
        },
      }),
    });
    const report = await checkSplits(strict, 'abcdef');
    expect(report.failure!.kind).toBe('error');
    expect(report.failure!.split).toEqual({ cuts: [1], flushes: [] });
    expect(report.failure!.message).toContain('this split fails, the unsplit input does not: FilterError');
  });

  it('decode: a compressor passes once its output is decoded, and fails without', async () => {
    const html = '<p>Hello, compressed world</p>\n'.repeat(30);
    const init = { request: { headers: { 'accept-encoding': 'gzip' } }, headers: { 'content-type': 'text/html' } };
    const ok = await assertSplits('gzip', html, { init, decode: (b) => zlib.gunzipSync(b), random: 20, expected: html });
    expect(ok.reference.headers['content-encoding']).toEqual(['gzip']);
    const raw = await checkSplits('gzip', html, { init, random: 0 });
    expect(raw.ok).toBe(false); // a flush mark changes gzip's bytes
    expect(raw.failure!.split.flushes.length).toBeGreaterThan(0);
  });

  it('expected: the unsplit output is checked too', async () => {
    await expect(assertSplits(carefulReplace, 'a needle', { ...opts, expected: 'a NEEDLE!' })).rejects.toThrow(
      /the unsplit output is not the expected one: first difference at byte 8\n {2}expected 0x21 "!", actual end of output/,
    );
  });

  it('takes a whole chain, items or compiled, and runFilter runs one input plainly', async () => {
    const chain = compileChain([{ filter: carefulReplace, options: { from: 'a', to: 'b' } }, { filter: carefulReplace, options: { from: 'bb', to: 'c' } }]);
    expect((await assertSplits(chain, 'aa ab ba')).reference.decoded.toString()).toBe('c c c');
    expect((await checkSplits([{ filter: naiveReplace, options: { from: 'ab', to: 'x' } }], 'aab')).ok).toBe(false);
    const r = await runFilter(carefulReplace, ['a nee', FLUSH, 'dle'], opts);
    expect(r.text).toBe('a NEEDLE'); // a flush mark inside a match does not stop the replace
    expect(r.flushes).toBe(1);
    expect(splitInput(Buffer.from('abc'), { cuts: [1], flushes: [1, 3] })).toEqual([Buffer.from('a'), FLUSH, Buffer.from('bc'), FLUSH]);
  });

  it('maxCuts samples single cuts evenly; flushFrom keeps flush marks out of an early window', async () => {
    const input = 'abcdefghij'.repeat(20);
    const all = await assertSplits('identity', input, { random: 0 });
    const sampled = await assertSplits('identity', input, { random: 0, maxCuts: 10 });
    expect(all.runs - sampled.runs).toBe(2 * (199 - 10));
    // a filter that decides at its first flush mark differs only when one comes early
    const decidesAtFlush = defineFilter({
      name: 'decides-at-flush',
      create: () => {
        let seen = 0;
        let decided: string | undefined;
        return {
          onData: (chunk, out) => {
            seen += chunk.length;
            if (decided === undefined && seen >= 8) decided = 'full';
            return out.push(chunk);
          },
          onFlush: () => void (decided ??= 'early'),
          onEnd: (out) => out.push(Buffer.from(decided ?? 'full')),
        };
      },
    });
    expect((await checkSplits(decidesAtFlush, input)).failure!.split).toEqual({ cuts: [1], flushes: [1] });
    expect((await checkSplits(decidesAtFlush, input, { flushFrom: 8 })).ok).toBe(true);
  });

  it('is reproducible: the same seed gives the same runs', async () => {
    const a = await checkSplits(naiveReplace, 'x needle y '.repeat(20), { ...opts, seed: 7, pairsUpTo: 0 });
    const b = await checkSplits(naiveReplace, 'x needle y '.repeat(20), { ...opts, seed: 7, pairsUpTo: 0 });
    expect(a.failure!.split).toEqual(b.failure!.split);
    expect(a.runs).toBe(b.runs);
  });
});

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLUSH,
  chainToDuplex,
  chainToTransformStream,
  compileChain,
  nativeStreams,
  processChain,
  type CompiledChain,
  type Flush,
} from '../../src/index.js';
import {
  IMPLS,
  enc,
  nodeUpper,
  quoteLines,
  quoteText,
  readAllWeb,
  slowWritable,
  splitBySizes,
  tsUpper,
  upperBytes,
  webReadable,
} from './helpers.js';

/** Deterministic by default; set FC_SEED to explore other inputs. */
const FC_PARAMS = { numRuns: 50, seed: Number(process.env.FC_SEED ?? 0x51ce) };

/** Text with plenty of newlines, multi-byte characters and ASCII letters to uppercase. */
const textArb = fc
  .array(fc.constantFrom('a', 'b', 'Z', ' ', '\n', '\n', 'é', '✓', '🙂', 'xyz', '\r\n', '0'), { maxLength: 120 })
  .map((parts) => parts.join(''));

/** Chunk sizes: often 1 byte, sometimes larger; an empty list means "one chunk". */
const sizesArb = fc.oneof(
  fc.constant([1]),
  fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 12 }),
  fc.array(fc.constantFrom(1, 2, 3, 64), { minLength: 1, maxLength: 6 }),
);

function upperAscii(s: string): string {
  return Buffer.from(upperBytes(enc(s))).toString('utf8');
}

async function viaProcess(chain: CompiledChain, chunks: Uint8Array[]): Promise<Buffer> {
  return (await processChain(chain, chunks)).body();
}

async function viaTransformStream(chain: CompiledChain, chunks: Uint8Array[]): Promise<Buffer> {
  const impl = nativeStreams!;
  const out = await readAllWeb(
    webReadable<Uint8Array | Flush>(impl, chunks).pipeThrough(chainToTransformStream(chain, { streams: impl })),
  );
  return Buffer.concat(out.filter((e): e is Uint8Array => e !== FLUSH));
}

async function viaDuplex(chain: CompiledChain, chunks: Uint8Array[]): Promise<Buffer> {
  const dest = slowWritable({ highWaterMark: 16 });
  await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), chainToDuplex(chain), dest);
  return Buffer.concat(dest.received);
}

interface Case {
  name: string;
  chain: CompiledChain;
  run: (chain: CompiledChain, chunks: Uint8Array[]) => Promise<Buffer>;
  expected: (s: string) => string;
}

const cases: Case[] = [
  ...IMPLS.map(
    ([label, impl]): Case => ({
      name: `fromTransformStream uppercase (${label})`,
      chain: compileChain([tsUpper(impl)]),
      run: viaProcess,
      expected: upperAscii,
    }),
  ),
  { name: 'fromNodeTransform uppercase', chain: compileChain([nodeUpper]), run: viaProcess, expected: upperAscii },
  { name: 'modPython readline rewriter', chain: compileChain([quoteLines]), run: viaProcess, expected: quoteText },
  ...IMPLS.map(
    ([label, impl]): Case => ({
      name: `chainToTransformStream (rewriter + TransformStream uppercase, ${label} inside)`,
      chain: compileChain([quoteLines, tsUpper(impl)]),
      run: viaTransformStream,
      expected: (s) => upperAscii(quoteText(s)),
    }),
  ),
  {
    name: 'chainToDuplex (rewriter + Node uppercase)',
    chain: compileChain([quoteLines, nodeUpper]),
    run: viaDuplex,
    expected: (s) => upperAscii(quoteText(s)),
  },
];

describe('adapters are split-invariant (fast-check)', () => {
  it.each(cases)('$name: any chunking gives the same bytes as one chunk', async ({ chain, run, expected }) => {
    await fc.assert(
      fc.asyncProperty(textArb, sizesArb, async (s, sizes) => {
        const bytes = enc(s);
        const whole = await run(chain, bytes.byteLength ? [bytes] : []);
        const split = await run(chain, splitBySizes(bytes, sizes));
        expect(split.equals(whole)).toBe(true);
        expect(whole.toString('utf8')).toBe(expected(s));
      }),
      FC_PARAMS,
    );
  });

  it('the polyfill TransformStream gives the same bytes as native for the same chunks', async () => {
    const [, native] = IMPLS[0]!;
    const [, poly] = IMPLS[1]!;
    await fc.assert(
      fc.asyncProperty(textArb, sizesArb, async (s, sizes) => {
        const chunks = splitBySizes(enc(s), sizes);
        const a = await viaProcess(compileChain([quoteLines, tsUpper(native)]), chunks);
        const b = await viaProcess(compileChain([quoteLines, tsUpper(poly)]), chunks);
        expect(a.equals(b)).toBe(true);
      }),
      FC_PARAMS,
    );
  });
});

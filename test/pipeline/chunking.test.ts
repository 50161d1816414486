import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { builtins, compileChain, processChain, type ChainItem } from '../../src/index.js';
import { asyncIdentity, holder, splitAt } from '../helpers.js';

/**
 * Every shipped filter must give the same bytes however its input is cut. Each builtin needs
 * an entry here (options and a sample body); a builtin without one fails the suite, so a new
 * filter cannot ship untested.
 */
const fixtures: Record<string, { options?: unknown; input: string }> = {
  identity: { input: 'Hello, <b>world</b> — ünïcödé ✓\n'.repeat(20) },
};

async function outputFor(items: ChainItem[], chunks: Uint8Array[]): Promise<Buffer> {
  return (await processChain(compileChain(items), chunks)).body();
}

describe('chunk-boundary independence', () => {
  it('has a fixture for every registered builtin', () => {
    expect(Object.keys(fixtures).sort()).toEqual(builtins.names().map((n) => n.toLowerCase()).sort());
  });

  for (const name of builtins.names()) {
    it(`${name}: random splits, including 1-byte chunks, give byte-identical output`, async () => {
      const fx = fixtures[name.toLowerCase()]!;
      const input = Buffer.from(fx.input);
      const items: ChainItem[] = [{ filter: name, options: fx.options }];
      const whole = await outputFor(items, [input]);
      const bytewise = await outputFor(items, splitAt(input, Array.from({ length: input.length }, (_, i) => i)));
      expect(bytewise.equals(whole)).toBe(true);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 40 }), async (cuts) => {
          const out = await outputFor(items, splitAt(input, cuts));
          return out.equals(whole);
        }),
        { numRuns: 60 },
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

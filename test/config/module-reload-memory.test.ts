import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { growth, measure } from '../../bench/module-reload-memory.js';

/**
 * Reloading a filter module leaves nothing behind: 200 config reloads, each with a new version
 * of a ~5 KB TypeScript module (and the file it imports), in a fresh `node --expose-gc`
 * running the built package; the heap after a full GC must not grow with the reloads. The
 * control, Node's own `?v=` cache busting, keeps every version and must fail the same bound,
 * or the bound proves nothing. Figures for 300 reloads: `npx tsx bench/module-reload-memory.ts`.
 */
const built = existsSync(fileURLToPath(new URL('../../dist/pipeline/config/fresh-import.js', import.meta.url)));
const BOUND = 4096; // bytes of heap per reload, after warm-up; a kept module version is several times that

describe.skipIf(!built)('module reload memory (built package; run `npm run build` first)', () => {
  it('200 reloads of a .ts module: the heap after GC stays flat; native ?v= imports grow past the bound', async () => {
    const [ours, native] = await Promise.all([measure('sluice', 'ts', 200, 50), measure('native', 'mjs', 200, 50)]);
    const g = growth(ours);
    expect(g.heap, `heap per reload: ${JSON.stringify(ours.samples)}`).toBeLessThan(BOUND);
    expect(growth(native).heap, `control: ${JSON.stringify(native.samples)}`).toBeGreaterThan(BOUND);
  }, 120_000);
});

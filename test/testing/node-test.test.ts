import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * sluice/testing from node:test, as a user's project imports it: the package (built) under
 * node_modules/sluice, a test file in plain JavaScript, `node --test`. A correct filter
 * passes; a boundary-buggy one fails with the smallest split and the first differing byte.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(root, 'dist/testing/index.js'));
const run = promisify(execFile);
let dir = '';

beforeAll(() => {
  if (!built) return;
  dir = mkdtempSync(join(tmpdir(), 'sluice-kit-node-test-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/sluice'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(dir, 'splits.test.mjs'),
    `import { test } from 'node:test';
import { defineFilter } from 'sluice';
import { assertSplits } from 'sluice/testing';

const replace = (name, naive) => defineFilter({
  name,
  create: () => {
    let held = '';
    return {
      onData: (chunk, out) => {
        const text = (naive ? '' : held) + Buffer.from(chunk).toString('latin1');
        const done = text.replaceAll('cat', 'dog');
        held = naive ? '' : ['ca', 'c'].find((p) => done.endsWith(p)) ?? '';
        return out.push(Buffer.from(done.slice(0, done.length - held.length), 'latin1'));
      },
      onEnd: (out) => out.push(Buffer.from(held, 'latin1')),
    };
  },
});

test('a careful replace passes at every split', async () => {
  await assertSplits(replace('careful', false), 'the cat sat on the cat mat', { expected: 'the dog sat on the dog mat' });
});

test('a naive replace fails', async () => {
  await assertSplits(replace('naive', true), 'the cat sat');
});
`,
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!built)('sluice/testing under node:test (built package)', () => {
  it('passes the correct filter and fails the naive one with the smallest split', async () => {
    const err = (await run(process.execPath, ['--test', '--test-reporter=spec', 'splits.test.mjs'], { cwd: dir }).catch((e: unknown) => e)) as {
      code: number;
      stdout: string;
    };
    expect(err.code).toBe(1);
    expect(err.stdout).toMatch(/✔ a careful replace passes at every split/);
    expect(err.stdout).toMatch(/✖ a naive replace fails/);
    expect(err.stdout).toContain('filter "naive": output depends on how the input is split.');
    expect(err.stdout).toContain('smallest failing split: [0,5) [5,11) (2 chunks)');
    expect(err.stdout).toContain('as pieces: "the c" | "at sat"');
    expect(err.stdout).toContain('first differing byte of the output at offset 4:');
    expect(err.stdout).toContain('expected 0x64 "d", actual 0x63 "c"');
    expect(err.stdout).toContain("code: 'ERR_ASSERTION'");
  }, 60_000);
});

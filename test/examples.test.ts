import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

/** The README sends people to examples/: they must run and print what they claim. */
describe('examples', () => {
  it.each([
    ['examples/shout.ts', /body: HELLO, WORLD!!/],
    ['examples/modpython-style.ts', /1 {2}first line\n\s+2 {2}second line\n\s+3 {2}third line[\s\S]*json passed through untouched: \{"a":1\} active filters: \[\]/],
    ['examples/adapters.ts', /decoded before the flush mark: "event one\\n"[\s\S]*response: 200 \{ 'content-type': 'text\/html' \}/],
  ])('%s runs', async (file, expected) => {
    const { stdout } = await run(tsx, [file], { cwd: root, timeout: 30_000 });
    expect(stdout).toMatch(expected);
  });
});

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkName, scaffold } from '../../src/proxy/new-filter.js';

/**
 * `sluice new-filter` as a user runs it: in a project of its own that depends on sluice (the
 * built package linked as node_modules/sluice, with vitest, tsx and @types/node beside it),
 * the generated test passes as written under vitest and under node:test, the generated files
 * type-check under strict settings, the config passes `sluice check`, `sluice filters --config`
 * lists the new filter, and the generated test catches the bug it is there for.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/proxy/cli.js');
const built = existsSync(join(root, 'dist/testing/index.js'));
const exec = promisify(execFile);
let project = '';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}
async function run(args: string[], cwd = project): Promise<Ran> {
  try {
    // as from a shell: nothing of this vitest run's environment
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'TEST'));
    const { stdout, stderr } = await exec(process.execPath, args, { cwd, timeout: 120_000, env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const vitest = (file: string, cwd = project): Promise<Ran> => run([join(root, 'node_modules/vitest/vitest.mjs'), 'run', file, '--root', cwd], cwd);
const nodeTest = (file: string, cwd = project): Promise<Ran> => run(['--import', 'tsx', '--test', file], cwd);

beforeAll(() => {
  if (!built) return;
  project = mkdtempSync(join(tmpdir(), 'sluice-new-filter-'));
  mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
  symlinkSync(root, join(project, 'node_modules/sluice'), 'dir');
  for (const dep of ['vitest', 'tsx', '@types/node']) symlinkSync(join(root, 'node_modules', dep), join(project, 'node_modules', dep), 'dir');
  writeFileSync(join(project, 'package.json'), '{ "name": "my-app", "private": true }\n'); // CommonJS by default
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('checkName and scaffold', () => {
  it('refuses names that are not usable or are built in', () => {
    expect(checkName('my-filter')).toBeUndefined();
    expect(checkName('GZIP')).toMatch(/is a built-in filter/);
    expect(checkName('a.b')).toMatch(/not a usable filter name/);
    expect(checkName('9lives')).toMatch(/start with a letter/);
  });

  it('names the files after the filter, .mts outside an ES module package', () => {
    const files = scaffold('my-filter', { dir: '/x', ext: 'mts' });
    expect(files.map((f) => f.path)).toEqual(['/x/my-filter.mts', '/x/my-filter.test.mts', '/x/my-filter.sluice.yaml']);
    expect(files[1]!.content).toContain("import { myFilter } from './my-filter.mjs';");
    expect(files[2]!.content).toContain('modules: [./my-filter.mts]');
  });
});

describe.skipIf(!built)('sluice new-filter in a project (built package)', () => {
  it('writes the filter, its test and a config, and says what to run next', async () => {
    const r = await run([cli, 'new-filter', 'my-filter']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('created my-filter.mts');
    expect(r.stdout).toContain('created my-filter.test.mts');
    expect(r.stdout).toContain('created my-filter.sluice.yaml');
    expect(r.stdout).toContain('npx vitest run my-filter.test.mts');
    expect(r.stdout).toContain('node --import tsx --test my-filter.test.mts');
    const again = await run([cli, 'new-filter', 'my-filter']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not overwriting my-filter.mts, my-filter.test.mts, my-filter.sluice.yaml (--force to replace)');
    expect((await run([cli, 'new-filter', 'Compress'])).stderr).toContain('"Compress" is a built-in filter');
    expect((await run([cli, 'new-filter'])).code).toBe(2);
  }, 30_000);

  it('the generated test passes as written, under vitest and under node:test', async () => {
    const [v, n] = await Promise.all([vitest('my-filter.test.mts'), nodeTest('my-filter.test.mts')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/Tests\s+4 passed \(4\)/);
    expect(n.code, n.stdout + n.stderr).toBe(0);
    expect(n.stdout).toMatch(/# pass 4\n# fail 0/);
  }, 120_000);

  it('the generated files type-check under strict settings', async () => {
    const tsc = await run(
      [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--noImplicitReturns', '--noUncheckedIndexedAccess', '--exactOptionalPropertyTypes',
        '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', 'my-filter.mts', 'my-filter.test.mts'],
    );
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
  }, 120_000);

  it('the config passes sluice check, and sluice filters --config lists the new filter with the built-in ones', async () => {
    const check = await run([cli, 'check', '--config', 'my-filter.sluice.yaml']);
    expect(check.stdout).toBe('my-filter.sluice.yaml: ok (1 locations)\n');
    const list = await run([cli, 'filters', '--config', 'my-filter.sluice.yaml']);
    expect(list.stdout).toMatch(/^ {2}name +directions +stage +description\n/);
    expect(list.stdout).toContain('  gzip ');
    expect(list.stdout).toMatch(/\n\nfrom \.\/my-filter\.mts:\n {2}my-filter +output +content +Replaces a string in text responses\.\n +options: from, to\n$/);
  }, 60_000);

  it('the generated test catches a boundary bug: hold nothing back, and it fails with the smallest split', async () => {
    const file = join(project, 'my-filter.mts');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('let keep = Math.min(from.length - 1, data.length - at);', 'let keep = 0;'));
    try {
      const n = await nodeTest('my-filter.test.mts');
      expect(n.code).toBe(1);
      expect(n.stdout).toContain('filter "my-filter": output depends on how the input is split.');
      expect(n.stdout).toContain('smallest failing split: [0,1) [1,31) (2 chunks)');
      expect(n.stdout).toContain('as pieces: "H" | "ello, world. Hello again! Hell"');
    } finally {
      writeFileSync(file, good);
    }
  }, 60_000);

  it('in an ES module package (or with --dir into one) the files are .ts', async () => {
    mkdirSync(join(project, 'esm'));
    writeFileSync(join(project, 'esm/package.json'), '{ "type": "module" }\n');
    const r = await run([cli, 'new-filter', 'shout', '--dir', 'esm/filters']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('created esm/filters/shout.ts');
    const v = await vitest('esm/filters/shout.test.ts');
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 120_000);
});

import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processChain } from '../../src/index.js';
import { formatProblems, loadConfigFile, validateConfig, type ConfigProblem, type ConfigResult } from '../../src/pipeline/config/load.js';
import { loadConfigFileWithModules, loadFilterModules, validateConfigWithModules } from '../../src/pipeline/config/modules.js';
import type { CompiledConfig } from '../../src/pipeline/config/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/proxy/cli.js');
const run = promisify(execFile);

/** A filter definition as module source: appends `tag` to the body; optional `level` option schema. */
const def = (name: string, tag = name): string =>
  `{ name: ${JSON.stringify(name)}, directions: ['output'], stage: 'content', create: () => ({ onEnd: (out) => out.push(new TextEncoder().encode(${JSON.stringify(tag)})) }) }`;
/** A TypeScript module importing the library (as a user's would import 'sluice'): a filter with a typed option. */
const typedModule = (name: string): string => `import { defineFilter, Type } from ${JSON.stringify(join(root, 'src/index.js'))};
interface Level { level: number }
const f = defineFilter({
  name: ${JSON.stringify(name)},
  directions: ['output'],
  options: Type.Object({ level: Type.Integer({ minimum: 1, maximum: 9, default: 6 }) }, { additionalProperties: false }),
  create: ({ options }: { options: Level }) => ({ onEnd: (out) => out.push(new TextEncoder().encode('L' + options.level)) }),
});
export default f;
`;

let dir: string;
const file = (rel: string, text: string): string => {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-modules-'));
  // ESM scope for f/ (a .ts there is an ES module); cjs/ has no package.json above it but /tmp's
  file('f/package.json', '{ "type": "module" }');
  file('f/single.mjs', `export default ${def('single')};`);
  file('f/list.mjs', `export default [${def('one')}, ${def('two')}];`);
  file('f/named.js', `export const a = ${def('alpha')};\nexport const b = a;\nexport default a;\nexport const helper = () => 1;\nexport const VERSION = '1';`);
  file('f/opts.ts', typedModule('leveled'));
  file('f/json-schema.mjs', `export default { name: 'plain', directions: ['output'], stage: 'content', options: { type: 'object' }, create: () => ({}) };\n`);
  file('cjs/typed.ts', `export const typed = ${def('typed')};`);
  file('f/common.cjs', `module.exports = { common: ${def('common')}, notAFilter: 42 };`);
  file('f/bad-syntax.ts', `export const a = 1;\n\nconst b = ;\n`);
  file('f/bad-syntax.mjs', `export const a = 1;\nexport const b = 2;\nconst c = );\n`);
  file('f/throws.mjs', `export const a = ${def('never')};\nthrow new Error('no database at load time');\n`);
  file('f/none.mjs', `export const x = 1;\n`);
  file('f/factory.mjs', `export default function upper() {}\n`);
  file('f/dup-builtin.mjs', `export default ${def('GZIP')};\n`);
  file('f/dup-single.mjs', `export default ${def('Single')};\n`);
  file('f/bad-def.mjs', `export default { name: 'sideways', directions: ['up'], stage: 'content', create: () => ({}) };\n`);
  file('f/mixed-list.mjs', `export default [${def('fine')}, 7];\n`);
  file('f/readme.txt', 'not code');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ok(r: ConfigResult): CompiledConfig {
  if (!r.ok) throw new Error(`expected a valid config, got:\n${formatProblems(r.errors)}`);
  return r.config;
}

function problems(r: ConfigResult): ConfigProblem[] {
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.errors;
}

const config = (modules: string[], output: unknown[]): string =>
  [
    `modules:`,
    ...modules.map((m) => `  - ${m}`),
    `upstreams:`,
    `  app: { servers: ["http://127.0.0.1:1"] }`,
    `locations:`,
    `  - path: /`,
    `    upstream: app`,
    `    output: ${JSON.stringify(output)}`,
    '',
  ].join('\n');

async function body(c: CompiledConfig, input = 'x'): Promise<string> {
  return (await processChain(c.match('/')!.output, [Buffer.from(input)], { headers: { 'content-type': 'text/plain' } })).text();
}

describe('filters from files', () => {
  it('loads default, array, named and CommonJS exports, .js/.mjs/.cjs/.ts, relative to the config file', async () => {
    const cfg = file(
      'conf/site.yaml',
      config(['../f/single.mjs', '../f/list.mjs', '../f/named.js', '../f/common.cjs', '../f/opts.ts', '../cjs/typed.ts'], ['single', 'one', 'two', 'alpha', 'common', 'typed', { filter: 'leveled', options: { level: 3 } }]),
    );
    const c = ok(await loadConfigFileWithModules(cfg));
    expect(c.modules!.map((m) => [m.path, m.filters])).toEqual([
      ['../f/single.mjs', ['single']],
      ['../f/list.mjs', ['one', 'two']],
      ['../f/named.js', ['alpha']], // exported three times, counted once; helpers ignored
      ['../f/common.cjs', ['common']],
      ['../f/opts.ts', ['leveled']],
      ['../cjs/typed.ts', ['typed']],
    ]);
    expect(c.modules![0]!.file).toBe(join(dir, 'f/single.mjs'));
    expect(await body(c)).toBe('xsingleonetwoalphacommontypedL3');
  });

  it("validates a module filter's options like a builtin's: every problem with its path and line", async () => {
    const cfg = file('conf/opts.yaml', config(['../f/opts.ts'], [{ filter: 'leveled', options: { level: 12, speed: 1 } }]));
    const got = problems(await loadConfigFileWithModules(cfg));
    expect(got.map((p) => [p.path, p.line])).toEqual([
      ['locations[0].output[0].options.speed', 8],
      ['locations[0].output[0].options.level', 8],
    ]);
    expect(got[0]!.message).toContain('filter "leveled": unknown option');
    expect(got[1]!.message).toMatch(/filter "leveled": .*9/);
  });

  it('names the file, and the line where the loader gives one, for every module that cannot be used', async () => {
    const cfg = file(
      'conf/broken.yaml',
      config(
        [
          '../f/bad-syntax.ts',
          '../f/bad-syntax.mjs',
          '../f/throws.mjs',
          '../f/missing.mjs',
          'some-package',
          '../f/readme.txt',
          '../f/none.mjs',
          '../f/factory.mjs',
          '../f/single.mjs',
          '../f/dup-builtin.mjs',
          '../f/dup-single.mjs',
          '../f/bad-def.mjs',
          '../f/mixed-list.mjs',
          '../f/json-schema.mjs',
        ],
        ['single'],
      ),
    );
    const got = problems(await loadConfigFileWithModules(cfg));
    expect(got.map((p) => `${p.line} ${p.path}: ${p.message}`)).toEqual([
      `2 modules[0]: ../f/bad-syntax.ts:3:11: syntax error: Unexpected ";"`,
      `3 modules[1]: ../f/bad-syntax.mjs:3:11: syntax error: Unexpected ")"`,
      `4 modules[2]: ../f/throws.mjs:2:7: cannot load: no database at load time`,
      `5 modules[3]: ../f/missing.mjs: no such file (${join(dir, 'f/missing.mjs')})`,
      '6 modules[4]: some-package: a module is a file path: start it with ./ or ../ (relative to the config file) or /',
      '7 modules[5]: ../f/readme.txt: cannot load ".txt" files: a filter module is .js, .mjs, .cjs, .ts, .mts, .cts',
      '8 modules[6]: ../f/none.mjs: exports no filter definition (export default defineFilter({...}), an array of them, or named definitions)',
      '9 modules[7]: ../f/factory.mjs: export default is not a filter definition (a function); export default defineFilter({...}) or an array of definitions',
      '11 modules[9]: ../f/dup-builtin.mjs: export default: a filter named "GZIP" is already built in (filter names are case-insensitive)',
      '12 modules[10]: ../f/dup-single.mjs: export default: a filter named "Single" is already defined by ../f/single.mjs (filter names are case-insensitive)',
      '13 modules[11]: ../f/bad-def.mjs: export default: filter "sideways": unknown direction "up"',
      '14 modules[12]: ../f/mixed-list.mjs: export default[1] is not a filter definition (number)',
      `15 modules[13]: ../f/json-schema.mjs: export default: filter "plain": options must be a TypeBox schema (import { Type } from 'sluice'), not plain JSON Schema`,
    ]);
  });

  it('names the imported file where a problem is, and refuses top-level await with the reason', async () => {
    file('f/uses-helper.ts', `import { tag } from './lib/helper.js';\nexport default ${def('helped')};\nexport const t = tag;\n`);
    file('f/lib/helper.ts', `export const tag = 'x';\n\nthrow new Error('helper cannot start');\n`);
    file('f/uses-missing.mjs', `import { nope } from './lib/nope.mjs';\nexport default ${def('missing-dep')};\n`);
    file('f/tla.mts', `const data = await Promise.resolve(1);\nexport default ${def('tla')};\n`);
    const cfg = file('conf/deps.yaml', config(['../f/uses-helper.ts', '../f/uses-missing.mjs', '../f/tla.mts'], []));
    expect(problems(await loadConfigFileWithModules(cfg)).map((p) => p.message)).toEqual([
      '../f/uses-helper.ts: lib/helper.ts:3:7: cannot load: helper cannot start',
      '../f/uses-missing.mjs:1:22: cannot load: Could not resolve "./lib/nope.mjs"',
      expect.stringMatching(/^\.\.\/f\/tla\.mts:1:14: top-level await is not supported in a filter module \(modules are reloaded in place/),
    ]);
  });

  it('reports the chains that name a filter from a module that failed, after the module', async () => {
    const cfg = file('conf/missing-filter.yaml', config(['../f/bad-syntax.ts'], ['never-loaded']));
    const got = problems(await loadConfigFileWithModules(cfg));
    expect(got.map((p) => p.path)).toEqual(['modules[0]', 'locations[0].output[0]']);
    expect(got[1]!.message).toContain('unknown filter "never-loaded"');
  });

  it('works for a config object too (validateConfigWithModules), and never touches the parent registry', async () => {
    const raw = { modules: ['./f/single.mjs'], upstreams: { app: { servers: ['http://127.0.0.1:1'] } }, locations: [{ path: '/', upstream: 'app', output: ['single'] }] };
    const c = ok(await validateConfigWithModules(raw, { baseDir: dir }));
    expect(await body(c)).toBe('xsingle');
    const { builtins } = await import('../../src/index.js');
    expect(builtins.has('single')).toBe(false);
    // Each load gets its own registry: the same module loads twice without a duplicate.
    const again = await loadFilterModules(['./f/single.mjs'], { baseDir: dir });
    expect(again.problems).toEqual([]);
    expect(again.registry.has('single')).toBe(true);
  });

  it('the synchronous loaders refuse a config with modules instead of failing on its filter names', () => {
    const raw = { modules: ['./f/single.mjs'], upstreams: { app: { servers: ['http://127.0.0.1:1'] } }, locations: [{ path: '/', upstream: 'app' }] };
    const got = problems(validateConfig(raw));
    expect(got.map((p) => p.path)).toEqual(['modules']);
    expect(got[0]!.message).toContain('loadConfigFileWithModules');
    const cfg = file('conf/sync.yaml', config(['../f/single.mjs'], []));
    expect(problems(loadConfigFile(cfg))[0]!.line).toBe(1);
  });
});

describe('sluice command with modules (built package)', () => {
  it('check: the example configs are valid; a broken module exits 1 naming the file and line', async () => {
    const checks = ['upper', 'redact-json', 'banner'].map((name) => run(process.execPath, [cli, 'check', '--config', join(root, `examples/configs/${name}.yaml`)]));
    for (const { stdout } of await Promise.all(checks)) expect(stdout).toMatch(/: ok \(1 locations\)/);
    const cfg = file('conf/cli-broken.yaml', config(['../f/bad-syntax.ts', '../f/bad-syntax.mjs'], []));
    const err = (await run(process.execPath, [cli, 'check', '--config', cfg]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('cli-broken.yaml:2: modules[0]: ../f/bad-syntax.ts:3:11: syntax error: Unexpected ";"');
    expect(err.stderr).toContain('cli-broken.yaml:3: modules[1]: ../f/bad-syntax.mjs:3:11: syntax error: Unexpected ")"');
  }, 30_000);

  it('--config serves a .ts filter module with no build step', async () => {
    const upstream = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const cfg = file(
      'conf/serve.yaml',
      [`modules: [${join(root, 'examples/filters/upper.ts')}]`, 'upstreams:', `  app: { servers: ["http://127.0.0.1:${port}"] }`, 'locations:', '  - { path: /, upstream: app, output: [upper] }', ''].join('\n'),
    );
    const child = spawn(process.execPath, [cli, '--config', cfg, '--port', '0', '--no-watch'], { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn' } });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /listening on (http:\/\/[^\s,]+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
        setTimeout(() => reject(new Error(`no banner: ${out}`)), 20_000);
      });
      const res = await fetch(`${url}/`);
      expect(await res.text()).toBe('HELLO FROM UPSTREAM');
    } finally {
      child.kill('SIGTERM');
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    }
  }, 30_000);
});

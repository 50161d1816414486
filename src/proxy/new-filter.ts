/**
 * `sluice new-filter NAME [--dir DIR] [--force]`: write a filter to start from, its tests
 * (with sluice/testing: every split of the input, flush marks anywhere) and a config that
 * uses it, so the first thing a new filter does is pass its tests and `sluice check`.
 *
 * The files are TypeScript ES modules: `.ts` where the nearest package.json says
 * `"type": "module"`, else `.mts` (an ES module anywhere, so the test's top-level await and
 * `import` work whatever the project's default is). They import `sluice` and `sluice/testing`
 * as a project that depends on the package does.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins } from '../builtin/index.js';

export interface ScaffoldOptions {
  /** Where the files go (created if missing); default the working directory. */
  dir?: string;
  /** `ts` or `mts`; default: from the nearest package.json's "type". */
  ext?: 'ts' | 'mts';
}

export interface ScaffoldFile {
  readonly path: string;
  readonly role: string;
  readonly content: string;
}

/** Why a name cannot be scaffolded, or undefined. */
export function checkName(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) return `"${name}" is not a usable filter name: start with a letter, then letters, digits, - or _ (it names files too)`;
  if (builtins.has(name)) return `"${name}" is a built-in filter (names are case-insensitive): choose another`;
  return undefined;
}

/** The files for a new filter, not yet written. */
export function scaffold(name: string, opts: ScaffoldOptions = {}): ScaffoldFile[] {
  const problem = checkName(name);
  if (problem) throw new Error(problem);
  const dir = resolve(opts.dir ?? '.');
  const ext = opts.ext ?? (isModuleScope(dir) ? 'ts' : 'mts');
  const jsExt = ext === 'ts' ? 'js' : 'mjs';
  const ident = identifier(name);
  return [
    { path: join(dir, `${name}.${ext}`), role: 'the filter', content: filterSource(name, ident, ext) },
    { path: join(dir, `${name}.test.${ext}`), role: 'its tests (sluice/testing: every split)', content: testSource(name, ident, ext, jsExt) },
    { path: join(dir, `${name}.sluice.yaml`), role: 'a config that uses it', content: configSource(name, ext) },
  ];
}

/** The command: writes the files, prints what to do next. */
export async function runNewFilter(argv: string[], io: { out(s: string): void; err(s: string): void } = stdio): Promise<{ code: number }> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { dir: { type: 'string', short: 'd' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    io.err(`sluice new-filter: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return { code: 2 };
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return { code: 0 };
  }
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) {
    io.err(`sluice new-filter: ${name === undefined ? 'a NAME is needed' : `one NAME only (got ${positionals.join(' ')})`}\n${USAGE}`);
    return { code: 2 };
  }
  const problem = checkName(name);
  if (problem) {
    io.err(`sluice new-filter: ${problem}\n`);
    return { code: 2 };
  }
  const files = scaffold(name, values.dir !== undefined ? { dir: values.dir } : {});
  const existing = files.filter((f) => existsSync(f.path));
  if (existing.length > 0 && !values.force) {
    io.err(`sluice new-filter: not overwriting ${existing.map((f) => rel(f.path)).join(', ')} (--force to replace)\n`);
    return { code: 1 };
  }
  mkdirSync(dirname(files[0]!.path), { recursive: true });
  for (const f of files) writeFileSync(f.path, f.content);
  const [filter, test, config] = files.map((f) => rel(f.path)) as [string, string, string];
  const next: Array<[string, string]> = [
    [`npx vitest run ${test}`, `or: node --import tsx --test ${test}`],
    [`npx sluice check --config ${config}`, ''],
    [`npx sluice --config ${config}`, `edit ${filter} while it runs: it reloads`],
  ];
  const width = Math.max(...next.map(([c]) => c.length)) + 2;
  io.out(
    [
      ...files.map((f) => `created ${rel(f.path).padEnd(Math.max(...files.map((g) => rel(g.path).length)) + 2)}${f.role}`),
      '',
      'next:',
      ...next.map(([c, note]) => `  ${note ? `${c.padEnd(width)}# ${note}` : c}`),
      '',
    ].join('\n'),
  );
  return { code: 0 };
}

const USAGE = `usage: sluice new-filter NAME [--dir DIR] [--force]
  writes NAME.ts (the filter), NAME.test.ts (its tests, with sluice/testing) and
  NAME.sluice.yaml (a config using it) in DIR (default: here); .mts instead of .ts
  unless the nearest package.json has "type": "module"
`;

const stdio = { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) };

function rel(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith('..') ? path : r || '.';
}

/** Is a .ts file in `dir` an ES module (nearest package.json has "type": "module")? */
function isModuleScope(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(d) === d) return false;
  }
}

/** `my-filter` → `myFilter`. */
function identifier(name: string): string {
  return name.replace(/[-_]+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase()).replace(/[-_]/g, '');
}

function filterSource(name: string, ident: string, ext: string): string {
  return `/**
 * ${name}: a Sluice filter. It replaces every \`from\` with \`to\` in text responses: a start to
 * make your own (keep the shape, change the work).
 *
 * Chunks arrive cut anywhere, so a match can start at the end of one chunk and end in the
 * next: the tail that could still become a match (shorter than \`from\`) is held back until
 * the next chunk decides. A flush mark passes on at once; the held tail waits, since sending
 * it would lose a match cut by the mark. Nothing else is held, so streams stay live.
 *
 *   npx vitest run ${name}.test.${ext}        (or: node --import tsx --test ${name}.test.${ext})
 *   npx sluice check --config ${name}.sluice.yaml
 */
import { defineFilter, Type } from 'sluice';

const TEXT = /^\\s*text\\//i;

export const ${ident} = defineFilter({
  name: '${name}',
  description: 'Replaces a string in text responses.',
  directions: ['output'],
  stage: 'content',
  options: Type.Object(
    {
      from: Type.String({ minLength: 1, default: 'Hello', description: 'What to replace (bytes, case-sensitive).' }),
      to: Type.String({ default: 'Goodbye', description: 'What to write instead.' }),
    },
    { additionalProperties: false },
  ),
  create: ({ options }) => {
    const from = Buffer.from(options.from);
    const to = Buffer.from(options.to);
    let held = Buffer.alloc(0);
    return {
      onHead(head) {
        // Decide from the headers: uncompressed text only (put decompress before this filter
        // for an upstream that compresses). A filter that steps aside costs nothing.
        const coding = head.headers.get('content-encoding') ?? 'identity';
        if (!TEXT.test(head.headers.get('content-type') ?? '') || coding.toLowerCase() !== 'identity') head.passOn();
      },
      onData(chunk, out) {
        const data = held.length > 0 ? Buffer.concat([held, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        const pieces: Uint8Array[] = [];
        let at = 0;
        for (let i = data.indexOf(from); i !== -1; i = data.indexOf(from, at)) {
          pieces.push(data.subarray(at, i), to);
          at = i + from.length;
        }
        // Hold back the longest tail that is the start of \`from\`.
        let keep = Math.min(from.length - 1, data.length - at);
        while (keep > 0 && !data.subarray(data.length - keep).equals(from.subarray(0, keep))) keep--;
        pieces.push(data.subarray(at, data.length - keep));
        held = Buffer.from(data.subarray(data.length - keep)); // a copy: the input is not ours to keep
        const bytes = Buffer.concat(pieces); // a new buffer: what is pushed belongs to the chain
        return bytes.length > 0 ? out.push(bytes) : undefined;
      },
      onEnd(out) {
        return held.length > 0 ? out.push(held) : undefined;
      },
    };
  },
});

export default ${ident};
`;
}

function testSource(name: string, ident: string, ext: string, jsExt: string): string {
  return `/**
 * Tests for the ${name} filter. The split kit (sluice/testing) runs each input whole, then cut
 * at every point, with flush marks anywhere, and fails with the smallest split that changes
 * the output, and the first byte that differs.
 *
 *   npx vitest run ${name}.test.${ext}
 *   node --import tsx --test ${name}.test.${ext}     (node:test; tsx runs the TypeScript)
 */
import assert from 'node:assert/strict';
import { assertSplits, runFilter } from 'sluice/testing';
import { ${ident} } from './${name}.${jsExt}';

// One file for both runners: the kit throws AssertionError, which both report as a failure.
// node --test marks the processes it starts; vitest marks its workers.
const runner = process.env['VITEST'] && !process.env['NODE_TEST_CONTEXT'] ? 'vitest' : 'node:test';
const { test } = (await import(runner)) as { test: (name: string, fn: () => Promise<void>) => unknown };

const text = { headers: { 'content-type': 'text/plain; charset=utf-8' } };
const options = { from: 'Hello', to: 'Goodbye' };

test('replaces every match, at every split of the input', async () => {
  await assertSplits(${ident}, 'Hello, world. Hello again! Hell', { init: text, options, expected: 'Goodbye, world. Goodbye again! Hell' });
});

test('a long body: every single cut, and random splits with flush marks', async () => {
  const body = 'Hello there, HelloHello; Hel-lo. '.repeat(50);
  const report = await assertSplits(${ident}, body, { init: text, options });
  assert.equal(report.reference.decoded.toString(), body.replaceAll('Hello', 'Goodbye'));
});

test('drops Content-Length: the body changes length', async () => {
  const r = await runFilter(${ident}, 'Hello', { init: { headers: { ...text.headers, 'content-length': '5' } }, options });
  assert.equal(r.text, 'Goodbye');
  assert.equal(r.headers.get('content-length'), undefined);
});

test('steps aside for what is not text, and for compressed bodies', async () => {
  const json = await runFilter(${ident}, '{"Hello":1}', { init: { headers: { 'content-type': 'application/json' } }, options });
  assert.equal(json.text, '{"Hello":1}');
  const gz = await runFilter(${ident}, 'Hello', { init: { headers: { ...text.headers, 'content-encoding': 'gzip' } }, options });
  assert.equal(gz.text, 'Hello');
});
`;
}

function configSource(name: string, ext: string): string {
  return `# A config that uses the ${name} filter (modules are relative to this file). Merge the
# modules line and the location into your own config, or run this one as it is:
#   npx sluice check --config ${name}.sluice.yaml
#   npx sluice --config ${name}.sluice.yaml      (edit ${name}.${ext} while it runs: it reloads)
listen: { host: 127.0.0.1, port: 8080 }
modules: [./${name}.${ext}]
upstreams:
  app: { servers: [http://127.0.0.1:3000] }
locations:
  - path: /
    upstream: app
    output:
      - filter: ${name}
        options: { from: Hello, to: Goodbye }
`;
}

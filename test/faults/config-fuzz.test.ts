/**
 * Config fuzzing: thousands of generated broken configs (mutated objects, mutated YAML and
 * JSON text, pathological shapes) never crash `sluice check`'s logic, and each gets a clear
 * message: validateConfig and parseConfigText in-process for speed, a few through the CLI.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfigText, validateConfig, type ConfigResult } from '../../src/pipeline/config/load.js';
import { prng } from '../helpers.js';

/** A config that uses most of what a config can say. */
const BASE = {
  listen: { host: '127.0.0.1', port: 8080, maxConnections: 100 },
  upstreams: {
    app: { servers: ['http://127.0.0.1:3000', 'http://127.0.0.1:3001'], preserveHost: false, connectTimeout: 500, headersTimeout: 1000, bodyTimeout: 2000, requestBodyTimeout: 3000 },
    api: { servers: ['http://127.0.0.1:4000'] },
  },
  filters: { gz: { filter: 'compress', options: { br: { quality: 5 } } }, cs: { filter: 'charset', options: { to: 'utf-8' } } },
  locations: [
    { path: '/app', upstream: 'app', output: ['gz'] },
    { path: '/app/legacy/', output: ['+cs', { filter: 'substitute', options: { rules: ['s/internal/public/i'] }, when: { contentType: 'text/*', status: '2xx' } }] },
    { path: '/api', upstream: 'api', input: ['inflate', { filter: 'limit', options: { maxSize: 1000 } }], output: [{ filter: 'headers', options: { actions: ['set X-A 1'] } }] },
    { path: '^/static/.*\\.css$', match: 'regex', upstream: 'app', output: ['!'] },
    { path: '/exact', match: 'exact', upstream: 'app', output: [{ filter: 'sed', options: { script: 's/a/b/g' }, when: { not: { method: ['HEAD'] } } }] },
    { path: '/app/html/', output: [{ filter: 'html-urlmap', options: { rules: ['http://internal/ /'] } }, '-gz'] },
  ],
};

const ODD_VALUES: unknown[] = [
  null,
  undefined,
  0,
  -1,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  0.5,
  '',
  ' ',
  'x'.repeat(10_000),
  '\u0000',
  '\r\n',
  '../../etc/passwd',
  '${header.x}',
  'http://',
  'ftp://x',
  '*',
  '(',
  '(a+)+$',
  '🙂',
  true,
  false,
  [],
  [null],
  [[]],
  {},
  { filter: 'nope' },
  { __proto__: { polluted: true } },
  Object.create(null) as object,
  new Array(50).fill('identity'),
];

const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'x'.repeat(500), '0', '-1', '$schema', 'Path', 'upstream ', 'méthode'];

type Json = unknown;

function clone(x: Json): Json {
  return JSON.parse(JSON.stringify(x)) as Json;
}

/** Every path (keys and indices) to a value inside `x`. */
function paths(x: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(x)) x.forEach((v, i) => paths(v, [...at, i], out));
  else if (x && typeof x === 'object') for (const k of Object.keys(x)) paths((x as Record<string, Json>)[k], [...at, k], out);
  return out;
}

function mutate(root: Json, rnd: () => number): Json {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const all = paths(root);
  const at = pick(all);
  if (at.length === 0) return pick(ODD_VALUES);
  const parentPath = at.slice(0, -1);
  let parent = root as Record<string | number, Json>;
  for (const k of parentPath) parent = parent[k] as Record<string | number, Json>;
  const key = at[at.length - 1]!;
  const value = parent[key];
  switch (Math.floor(rnd() * 8)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 1:
    case 2:
      parent[key] = clone(pick(ODD_VALUES) ?? null);
      break;
    case 3: // a typo in a key
      if (!Array.isArray(parent) && typeof key === 'string') {
        delete parent[key];
        parent[key.length > 1 ? key.slice(0, -1) : `${key}x`] = value;
      }
      break;
    case 4: // an odd key beside it
      if (!Array.isArray(parent)) Object.defineProperty(parent, pick(ODD_KEYS), { value: clone(pick(ODD_VALUES) ?? null), enumerable: true, configurable: true, writable: true });
      break;
    case 5: // wrong container
      parent[key] = Array.isArray(value) ? { ...(value as Json[]) } : value && typeof value === 'object' ? Object.values(value) : [value];
      break;
    case 6: // duplicate an array entry, or a deep copy of the whole config inside itself
      if (Array.isArray(parent)) parent.push(clone(value));
      else parent[key] = clone(BASE);
      break;
    default: // a string where a number is, and so on
      parent[key] = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.length : typeof value === 'boolean' ? String(value) : null;
  }
  return root;
}

/** The checks every result must pass: no exception, problems that read as sentences. */
function expectClear(r: ConfigResult): void {
  if (r.ok) return;
  expect(r.errors.length).toBeGreaterThan(0);
  for (const e of r.errors) {
    expect(typeof e.message).toBe('string');
    expect(e.message.length).toBeGreaterThan(3);
    expect(typeof e.path).toBe('string');
    // the signs of an internal error turned into a message
    expect(e.message).not.toMatch(/Cannot read propert|is not a function|undefined is not|\[object Object\]|Maximum call stack|^TypeError|^RangeError/);
  }
}

function check(raw: Json): ConfigResult {
  let r: ConfigResult;
  try {
    r = validateConfig(raw);
  } catch (err) {
    throw new Error(`validateConfig threw on ${JSON.stringify(raw)?.slice(0, 500)}`, { cause: err });
  }
  expectClear(r);
  if (r.ok) r.config.match('/app/legacy/x');
  return r;
}

describe('config fuzzing', () => {
  it('the base config is valid (so mutations start from something real)', () => {
    const r = validateConfig(BASE);
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it('1200 mutated config objects: never an exception, every problem a clear message', () => {
    const rnd = prng(20261130);
    let refused = 0;
    for (let i = 0; i < 1200; i++) {
      let c = clone(BASE);
      const n = 1 + Math.floor(rnd() * 4);
      for (let j = 0; j < n; j++) c = mutate(c, rnd);
      if (!check(c).ok) refused++;
    }
    // most mutations break something; all of them were answered
    expect(refused).toBeGreaterThan(800);
  });

  it('1000 mutated YAML and JSON texts: never an exception, syntax errors with their line', () => {
    const rnd = prng(7);
    const texts = { yaml: stringify(BASE), json: JSON.stringify(BASE, null, 2) } as const;
    const junk = [':', '- ', '{', '}', '[', ']', '\t', '&a ', '*a', '<<: *a\n', '!!js/function "x"', '\n  ', '"', "'", '#', '%YAML 1.1\n', '---\n', '\u0000', '\ufeff', 'x'.repeat(2000), '? ', '|', '>-\n'];
    for (let i = 0; i < 1000; i++) {
      const format = i % 2 ? 'json' : 'yaml';
      let t: string = texts[format];
      for (let j = 0, n = 1 + Math.floor(rnd() * 3); j < n; j++) {
        const p = Math.floor(rnd() * t.length);
        const op = Math.floor(rnd() * 4);
        if (op === 0) t = t.slice(0, p) + junk[Math.floor(rnd() * junk.length)]! + t.slice(p);
        else if (op === 1) t = t.slice(0, p) + t.slice(p + 1 + Math.floor(rnd() * 20));
        else if (op === 2) t = t.slice(0, p) + t.slice(p, p + 40) + t.slice(p);
        else t = t.slice(0, p) + String.fromCharCode(32 + Math.floor(rnd() * 95)) + t.slice(p + 1);
      }
      let r: ConfigResult;
      try {
        r = parseConfigText(t, { format, file: `fuzz.${format}` });
      } catch (err) {
        throw new Error(`parseConfigText threw on ${JSON.stringify(t).slice(0, 500)}`, { cause: err });
      }
      expectClear(r);
    }
  });

  it('pathological shapes: deep nesting, an alias bomb, a huge config, every type at the top', () => {
    const deep = (n: number): Json => {
      let x: Json = {};
      for (let i = 0; i < n; i++) x = { not: x };
      return x;
    };
    check({ ...BASE, locations: [{ path: '/', upstream: 'app', output: [{ filter: 'identity', when: deep(5000) }] }] });
    check({ ...BASE, locations: [{ path: '/', upstream: 'app', output: [{ filter: 'identity', options: deep(20000) }] }] });
    let nested: Json = [];
    for (let i = 0; i < 20000; i++) nested = [nested];
    check({ ...BASE, locations: nested });
    for (const top of ODD_VALUES) check(top);
    check({ ...BASE, locations: Array.from({ length: 5000 }, (_, i) => ({ path: `/p${i}`, upstream: 'app', output: ['compress'] })) });
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n`;
    expectClear(parseConfigText(bomb, { format: 'yaml' }));
    // a stack overflow inside the yaml library used to poison the next parse (an OOM crash):
    // deep texts are refused before parsing, and a good config parses afterwards
    for (const [text, format] of [
      [`${'- '.repeat(5_000)}x`, 'yaml'],
      [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'json'],
      [`a:${'\n'.padEnd(2000, ' ')}b: 1`, 'yaml'],
      [`${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`, 'json'],
    ] as const) {
      const r = parseConfigText(text, { format });
      expectClear(r);
      expect(r.ok ? '' : r.errors[0]!.message).toMatch(/nested more than \d+ levels/);
    }
    expect(parseConfigText(`${'['.repeat(1000)}${']'.repeat(1000)}`, { format: 'json' }).ok).toBe(false);
    expect(parseConfigText(stringify(BASE), { format: 'yaml' }).ok).toBe(true);
  });

  it('through the CLI: `sluice check` exits 1 and names every problem, for a few broken files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'));
    const files = {
      'types.yaml': 'upstreams: { app: { servers: http://x, connectTimeout: soon } }\nlocations: [{ path: 5, upstream: nope, output: [zstd] }]\n',
      'syntax.json': '{"upstreams": {"app": {"servers": ["http://x"]}}, "locations": [{"path": "/",,}]}',
      'regex.yaml': 'upstreams: { app: { servers: [http://127.0.0.1:9] } }\nlocations:\n  - { path: "^(a|a)*$", match: regex, upstream: app }\n',
    };
    const runs = Object.entries(files).map(([name, text]) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return new Promise<{ name: string; code: number; err: string }>((resolve) => {
        const child = execFile(process.execPath, ['--import', 'tsx', 'src/proxy/cli.ts', 'check', '--config', file], { cwd: process.cwd(), timeout: 30_000 }, (_e, _o, stderr) =>
          resolve({ name, code: child.exitCode ?? -1, err: stderr }),
        );
      });
    });
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.code, r.name).toBe(1);
      expect(r.err).toMatch(/problem/);
      expect(r.err).not.toMatch(/at .*\.ts:\d+|TypeError|RangeError/); // a message, not a stack trace
    }
    expect(results.find((r) => r.name === 'types.yaml')!.err).toMatch(/servers[\s\S]*connectTimeout[\s\S]*path/);
    expect(results.find((r) => r.name === 'regex.yaml')!.err).toMatch(/backtrack/);
  }, 60_000);
});

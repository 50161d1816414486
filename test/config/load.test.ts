import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { builtins, defineFilter, processChain } from '../../src/index.js';
import {
  ConfigError,
  configJsonSchema,
  ConfigSchema,
  formatProblems,
  loadConfigFile,
  parseConfigText,
  validateConfig,
  type ConfigProblem,
  type ConfigResult,
} from '../../src/pipeline/config/load.js';
import type { CompiledConfig, SluiceConfig } from '../../src/pipeline/config/types.js';
import { demoConfig } from '../../src/proxy/demo-config.js';

const text = (...lines: string[]): string => lines.join('\n') + '\n';

function problems(r: ConfigResult): ConfigProblem[] {
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.errors;
}

function compiled(r: ConfigResult): CompiledConfig {
  if (!r.ok) throw new Error(`expected a valid config, got:\n${formatProblems(r.errors)}`);
  return r.config;
}

/** [path, line, a fragment of the message]; the problems must be exactly these, in this order. */
type Expected = Array<[string, number | undefined, string]>;

function expectProblems(r: ConfigResult, expected: Expected): void {
  const got = problems(r);
  expect(got.map((p) => [p.path, p.line])).toEqual(expected.map(([path, line]) => [path, line]));
  got.forEach((p, i) => expect(p.message).toContain(expected[i]![2]));
}

const UP = '  app: { servers: ["http://127.0.0.1:1"] }';

describe('broken configs: every problem, with its path and line', () => {
  const cases: Array<{ name: string; format: 'yaml' | 'json'; source: string; expected: Expected }> = [
    {
      name: 'a missing section and an unknown top-level key',
      format: 'yaml',
      source: text('upstreams:', '  app:', '    servers: [http://127.0.0.1:3000]', 'extra: 1'),
      expected: [
        ['locations', 1, 'required property missing'],
        ['extra', 4, 'unknown property (expected one of: $schema, admin, listen, upstreams, modules, filters, locations)'],
      ],
    },
    {
      name: 'server URLs that are not http(s) origins, a mistyped and a misspelt upstream option',
      format: 'yaml',
      source: text(
        'upstreams:',
        '  app:',
        '    servers:',
        '      - http://127.0.0.1:3000',
        '      - ftp://files',
        '      - not a url',
        '      - http://h:1/base',
        '    headersTimeout: soon',
        '    conectTimeout: 5',
        'locations:',
        '  - path: /',
        '    upstream: app',
      ),
      expected: [
        ['upstreams.app.servers[1]', 5, '"ftp://files" is not an http:// or https:// URL'],
        ['upstreams.app.servers[2]', 6, '"not a url" is not a URL'],
        ['upstreams.app.servers[3]', 7, 'has a path, query or fragment'],
        ['upstreams.app.headersTimeout', 8, 'expected integer'],
        ['upstreams.app.conectTimeout', 9, 'unknown property'],
      ],
    },
    {
      name: 'unknown upstream, duplicate location (after normalisation), relative path, bad match kind',
      format: 'yaml',
      source: text(
        'upstreams:',
        UP,
        'locations:',
        '  - path: /a',
        '    upstream: app',
        '  - path: /x/../a',
        '    upstream: app',
        '  - path: /a',
        '    match: exact',
        '    upstream: ghost',
        '  - path: api',
        '    upstream: app',
        '  - path: /b',
        '    match: glob',
        '    upstream: app',
      ),
      expected: [
        ['locations[1].path', 6, 'duplicate prefix location "/a" (first at locations[0])'],
        ['locations[2].upstream', 10, 'unknown upstream "ghost" (defined: app)'],
        ['locations[3].path', 11, 'must start with "/"'],
        ['locations[4].match', 14, 'must be one of "prefix", "exact", "regex", not "glob"'],
      ],
    },
    {
      name: 'invalid regexes: a regex location, and condition path and header regexes',
      format: 'yaml',
      source: text(
        'upstreams:',
        UP,
        'locations:',
        '  - path: "^/(unclosed"',
        '    match: regex',
        '    upstream: app',
        '  - path: /',
        '    upstream: app',
        '    output:',
        '      - filter: gzip',
        '        when:',
        '          path: "[a-"',
        '          requestHeader:',
        '            user-agent: "*x"',
        '          not:',
        '            responseHeader:',
        '              etag: "(?<"',
      ),
      expected: [
        ['locations[0].path', 4, 'invalid regular expression'],
        ['locations[1].output[0].when.path', 12, 'invalid regular expression'],
        ['locations[1].output[0].when.requestHeader.user-agent', 14, 'invalid regular expression'],
        ['locations[1].output[0].when.not.responseHeader.etag', 17, 'invalid regular expression'],
      ],
    },
    {
      name: 'unknown filters: in a declaration (reported once), in chains, with a suggestion',
      format: 'yaml',
      source: text(
        'upstreams:',
        UP,
        'filters:',
        '  squeeze:',
        '    filter: zstd',
        'locations:',
        '  - path: /',
        '    upstream: app',
        '    output: [gzipp, squeeze, { filter: nothere }]',
      ),
      expected: [
        ['filters.squeeze.filter', 5, 'unknown filter "zstd" (registered: br, buffer, charset,'],
        ['locations[0].output[0]', 9, 'unknown filter "gzipp": not declared in filters and not registered (did you mean "gzip"?)'],
        ['locations[0].output[2].filter', 9, 'unknown filter "nothere"'],
      ],
    },
    {
      name: 'filter options: every bad option of an entry, a declaration, a filter without options',
      format: 'yaml',
      source: text(
        'upstreams:',
        UP,
        'filters:',
        '  fast:',
        '    filter: gzip',
        '    options:',
        '      level: 0',
        'locations:',
        '  - path: /',
        '    upstream: app',
        '    output:',
        '      - fast',
        '      - filter: br',
        '        options:',
        '          quality: 20',
        '          lgwin: 22',
        '      - filter: identity',
        '        options: { x: 1 }',
      ),
      expected: [
        ['filters.fast.options.level', 7, 'filter "gzip": expected integer to be greater or equal to 1'],
        ['locations[0].output[1].options.quality', 15, 'filter "br": expected integer to be less or equal to 11'],
        ['locations[0].output[1].options.lgwin', 16, 'filter "br": unknown option'],
        ['locations[0].output[2].options.x', 18, 'filter "identity": this filter takes no options'],
      ],
    },
    {
      name: 'directions: output-only filters in an input chain (also through a declaration), and the reverse',
      format: 'yaml',
      source: text(
        'upstreams:',
        UP,
        'filters:',
        '  gz: { filter: gzip }',
        'locations:',
        '  - path: /upload',
        '    upstream: app',
        '    input: [gz, decompress]',
        '    output:',
        '      - inflate',
      ),
      expected: [
        ['locations[0].input[0]', 8, 'filter "gzip" cannot be used in an input chain: it serves output only ("gz" is declared as filter "gzip")'],
        ['locations[0].input[1]', 8, 'filter "decompress" cannot be used in an input chain'],
        ['locations[0].output[0]', 10, 'filter "inflate" cannot be used in an output chain: it serves input only'],
      ],
    },
    {
      name: 'conditions: status patterns, content types, unknown keys, output-only keys in an input chain',
      format: 'yaml',
      source: text(
        'upstreams:',
        UP,
        'locations:',
        '  - path: /',
        '    upstream: app',
        '    output:',
        '      - filter: gzip',
        '        when:',
        '          status: [200, 2xx, "600-700", abc]',
        '          contentType: html',
        '          colour: red',
        '    input:',
        '      - filter: inflate',
        '        when: { status: 200, responseHeader: { etag: true } }',
      ),
      expected: [
        ['locations[0].output[0].when.status[2]', 9, 'status range "600-700" is outside 100-599'],
        ['locations[0].output[0].when.status[3]', 9, '"abc" is not a status pattern'],
        ['locations[0].output[0].when.contentType', 10, '"html" is not a media type pattern'],
        ['locations[0].output[0].when.colour', 11, 'unknown property'],
        ['locations[0].input[0].when.status', 14, 'status applies to output chains only'],
        ['locations[0].input[0].when.responseHeader', 14, 'responseHeader applies to output chains only'],
      ],
    },
    {
      name: 'wrong types: listen, upstreams, locations, chain entries',
      format: 'yaml',
      source: text(
        'listen: 8080',
        'upstreams: [app]',
        'locations:',
        '  - path: /',
        '    upstream: app',
        '    output: [42, { name: x }, [gzip]]',
        '  - /b',
      ),
      expected: [
        ['listen', 1, 'expected object'],
        ['upstreams', 2, 'expected object'],
        ['locations[0].output[0]', 6, 'expected a string or an object, not 42'],
        ['locations[0].output[1].filter', 6, 'required property missing'],
        ['locations[0].output[2]', 6, 'expected a string or an object, not a list'],
        ['locations[1]', 7, 'expected object'],
      ],
    },
    {
      name: 'a YAML syntax error',
      format: 'yaml',
      source: text('upstreams:', UP, 'locations:', '  - path: /', '    upstream: app', '   output: []'),
      expected: [['', 6, 'YAML: ']],
    },
    {
      name: 'YAML duplicate keys',
      format: 'yaml',
      source: text('upstreams:', UP, UP, 'locations: []'),
      expected: [['', 3, 'YAML: Map keys must be unique']],
    },
    {
      name: 'not a mapping',
      format: 'yaml',
      source: text('- just', '- a list'),
      expected: [['', 1, 'the config must be an object (a mapping) with upstreams and locations, not a list']],
    },
    {
      name: 'an empty file',
      format: 'yaml',
      source: '# nothing yet\n',
      expected: [['', undefined, 'the config must be an object (a mapping) with upstreams and locations, not null']],
    },
    {
      name: 'JSON: several problems, each with its line',
      format: 'json',
      source: text(
        '{',
        '  "listen": { "port": 70000 },',
        '  "upstreams": {',
        '    "app": { "servers": ["http://127.0.0.1:1"], "preserveHost": "yes" }',
        '  },',
        '  "locations": [',
        '    { "path": "/a", "match": "exact", "upstream": "app" },',
        '    { "path": "/a", "match": "exact", "upstream": "api" },',
        '    { "path": "/b", "upstream": "app", "output": [{ "filter": "gzip", "options": { "level": "max" } }] }',
        '  ]',
        '}',
      ),
      expected: [
        ['listen.port', 2, 'expected integer to be less or equal to 65535'],
        ['upstreams.app.preserveHost', 4, 'expected boolean'],
        ['locations[1].path', 8, 'duplicate exact location "/a" (first at locations[0])'],
        ['locations[1].upstream', 8, 'unknown upstream "api"'],
        ['locations[2].output[0].options.level', 9, 'filter "gzip": expected integer'],
      ],
    },
    {
      name: 'JSON: a syntax error, with its line',
      format: 'json',
      source: text('{', '  "upstreams": {},', '  "locations": [', '    { "path": "/a" "upstream": "x" }', '  ]', '}'),
      expected: [['', 4, 'invalid JSON: ']],
    },
    {
      name: 'JSON: duplicate keys (JSON.parse would drop one silently)',
      format: 'json',
      source: text('{', '  "upstreams": {},', '  "upstreams": {},', '  "locations": []', '}'),
      expected: [['', 3, 'JSON: map keys must be unique']],
    },
    {
      name: 'JSON: a regex location behind a "/" catch-all is never used',
      format: 'json',
      source: text(
        '{',
        '  "upstreams": { "app": { "servers": ["http://127.0.0.1:1"] } },',
        '  "locations": [',
        '    { "path": "/", "upstream": "app" },',
        '    { "path": "\\\\.php$", "match": "regex", "upstream": "app" }',
        '  ]',
        '}',
      ),
      expected: [['locations[1].path', 5, 'this regex location is never used: prefix locations take precedence over regex ones, and the prefix "/" (locations[0]) matches every path']],
    },
  ];

  it.each(cases)('$format: $name', ({ format, source, expected }) => {
    expectProblems(parseConfigText(source, { format, file: `broken.${format}` }), expected);
  });

  it('the same problems without lines for a config given as an object', () => {
    const r = validateConfig({ upstreams: { app: { servers: ['gopher://x'] } }, locations: [{ path: '/', upstream: 'web', output: ['gzip', 'nope'] }] });
    expect(problems(r)).toEqual([
      { path: 'upstreams.app.servers[0]', message: '"gopher://x" is not an http:// or https:// URL' },
      { path: 'locations[0].upstream', message: 'unknown upstream "web" (defined: app)' },
      { path: 'locations[0].output[1]', message: expect.stringContaining('unknown filter "nope"') },
    ]);
  });

  it('never throws, whatever it is given: it reports', () => {
    const name = fc.constantFrom('app', 'gzip', 'gz', 'identity', 'inflate', 'nope', '', 'GZIP');
    const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), name);
    const when = fc.dictionary(fc.constantFrom('status', 'path', 'contentType', 'method', 'requestHeader', 'responseHeader', 'not', 'x'), anything, { maxKeys: 3 });
    const entry = fc.oneof(name, fc.record({ filter: anything, options: anything, when: fc.oneof(when, anything), name: anything }, { requiredKeys: [] }));
    const location = fc.record(
      {
        path: fc.oneof(fc.constantFrom('/', '/a', '/a/', 'x', '(', '^/r', '/a?b'), anything),
        match: fc.oneof(fc.constantFrom('prefix', 'exact', 'regex'), anything),
        upstream: fc.oneof(name, anything),
        output: fc.oneof(fc.array(entry, { maxLength: 3 }), anything),
        input: fc.oneof(fc.array(entry, { maxLength: 3 }), anything),
      },
      { requiredKeys: [] },
    );
    const config = fc.record(
      {
        listen: anything,
        upstreams: fc.oneof(fc.dictionary(name, fc.record({ servers: fc.oneof(fc.array(fc.constantFrom('http://x', 'x', 'ftp://y'), { maxLength: 2 }), anything) }, { requiredKeys: [] })), anything),
        filters: fc.oneof(fc.dictionary(name, fc.record({ filter: fc.oneof(name, anything), options: anything }, { requiredKeys: [] })), anything),
        locations: fc.oneof(fc.array(location, { maxLength: 4 }), anything),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(config, anything), (raw) => {
        const r = validateConfig(raw);
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const p of r.errors) expect(typeof p.message).toBe('string');
        }
        // and the YAML text of it, with lines
        const y = parseConfigText(JSON.stringify(raw) ?? 'null', { format: 'json' });
        expect(y.ok).toBe(r.ok);
      }),
      { numRuns: 500 },
    );
  });

  it('quotes keys that are not plain identifiers in paths', () => {
    const r = validateConfig({ upstreams: { 'my.app': { servers: ['http://x/y'] } }, locations: [] });
    expect(problems(r)[0]!.path).toBe('upstreams["my.app"].servers[0]');
  });
});

describe('a valid config', () => {
  const yaml = text(
    '# a comment',
    'upstreams:',
    '  app:',
    '    servers: [http://127.0.0.1:3000, "https://10.0.0.2:8443/"]',
    '    preserveHost: false',
    '  static: { servers: [http://127.0.0.1:3001], bodyTimeout: 0 }',
    'filters:',
    '  gz9: { filter: gzip, options: { level: 9, minLength: 0 } }',
    'locations:',
    '  - path: /',
    '    upstream: app',
    '    output:',
    '      - gz9',
    '      - filter: charset',
    '        when: { contentType: text/*, status: 2xx }',
    '  - path: /static/',
    '    upstream: static',
    '  - path: /health',
    '    match: exact',
    '    upstream: app',
    '    output: [identity]',
    '  - path: /upload',
    '    upstream: app',
    '    input: [inflate]',
  );

  it('compiles, with defaults filled in', () => {
    const config = compiled(parseConfigText(yaml, { format: 'yaml' }));
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080, maxConnections: 0 });
    const app = config.upstreams.get('app')!;
    expect(app.servers.map(String)).toEqual(['http://127.0.0.1:3000/', 'https://10.0.0.2:8443/']);
    expect(app).toMatchObject({ name: 'app', preserveHost: false, connectTimeout: 5000, headersTimeout: 30000, bodyTimeout: 60000, requestBodyTimeout: 60000 });
    expect(config.upstreams.get('static')).toMatchObject({ preserveHost: true, bodyTimeout: 0 });
    expect(config.locations.map((l) => l.name)).toEqual(['prefix /', 'prefix /static/', 'exact /health', 'prefix /upload']);
  });

  it('compiles chains once, in stage order, with conditions attached', () => {
    const config = compiled(parseConfigText(yaml, { format: 'yaml' }));
    const root = config.locations[0]!;
    expect(root.output.describe()).toBe('charset (transcode) → gz9 (encoding)'); // gzip goes after charset
    expect(root.output.entries[0]!.when).toBeTypeOf('function');
    expect(root.output.entries[1]!.when).toBeUndefined();
    expect(root.output.entries[1]!.options).toMatchObject({ level: 9, minLength: 0 });
    expect(root.input.entries).toEqual([]);
    expect(config.locations[3]!.input.describe()).toBe('inflate (encoding)');
    expect(config.locations[3]!.input.direction).toBe('input');
  });

  it('outputChangesBody: unless every output filter preserves length (locations without output inherit /)', () => {
    const config = compiled(parseConfigText(yaml, { format: 'yaml' }));
    expect(config.locations.map((l) => l.outputChangesBody)).toEqual([true, true, false, true]);
  });

  it('matches by the documented precedence', () => {
    const config = compiled(parseConfigText(yaml, { format: 'yaml' }));
    const at = (p: string): string | undefined => config.match(p)?.name;
    expect(at('/health')).toBe('exact /health');
    expect(at('/health/x')).toBe('prefix /');
    expect(at('/static/a.css')).toBe('prefix /static/');
    expect(at('/static')).toBe('prefix /');
    expect(at('/uploads')).toBe('prefix /');
    expect(at('/upload/1')).toBe('prefix /upload');
  });

  it('the same config in JSON compiles to the same thing', () => {
    const raw: unknown = parseYaml(yaml);
    const fromJson = compiled(parseConfigText(JSON.stringify(raw, null, 2), { format: 'json' }));
    const fromYaml = compiled(parseConfigText(yaml, { format: 'yaml' }));
    expect(fromJson.locations.map((l) => [l.name, l.output.describe(), l.input.describe()])).toEqual(
      fromYaml.locations.map((l) => [l.name, l.output.describe(), l.input.describe()]),
    );
  });

  it('a condition gates its filter when a message runs', async () => {
    const config = compiled(
      validateConfig({
        upstreams: { app: { servers: ['http://127.0.0.1:1'] } },
        locations: [{ path: '/', upstream: 'app', output: [{ filter: 'gzip', options: { minLength: 0 }, when: { status: 200, not: { path: '^/raw/' } } }] }],
      }),
    );
    const chain = config.match('/')!.output;
    const run = (status: number, url: string) =>
      processChain(chain, 'hello hello hello', {
        status,
        request: { url, headers: { 'accept-encoding': 'gzip' } },
        headers: { 'content-type': 'text/plain' },
      });
    expect((await run(200, '/a')).head.headers.get('content-encoding')).toBe('gzip');
    expect((await run(404, '/a')).head.headers.get('content-encoding')).toBeUndefined();
    expect((await run(200, '/raw/a')).head.headers.get('content-encoding')).toBeUndefined();
  });

  it('the embedded demo config is valid', () => {
    const config = compiled(validateConfig(demoConfig('http://127.0.0.1:9', 8080)));
    expect(config.match('/legacy')?.name).toBe('exact /legacy');
    expect(config.match('/anything')?.name).toBe('prefix /');
  });

  it('accepts $schema (for editors) and a port of 0', () => {
    const config = compiled(
      validateConfig({ $schema: './sluice.schema.json', listen: { port: 0 }, upstreams: { a: { servers: ['http://x'] } }, locations: [] }),
    );
    expect(config.listen.port).toBe(0);
    expect(config.match('/')).toBeUndefined();
  });

  it('does not modify the object it is given', () => {
    const raw: SluiceConfig = { upstreams: { a: { servers: ['http://x'] } }, locations: [{ path: '/', upstream: 'a' }] };
    const copy = structuredClone(raw);
    compiled(validateConfig(raw));
    expect(raw).toEqual(copy);
  });
});

describe('named filter declarations', () => {
  const base = (filters: Record<string, unknown>, output: unknown[]): unknown => ({
    upstreams: { app: { servers: ['http://127.0.0.1:1'] } },
    filters,
    locations: [{ path: '/', upstream: 'app', output }],
  });
  const entries = (raw: unknown) => compiled(validateConfig(raw)).locations[0]!.output.entries;

  it('a declared name gives its filter and options; the entry is named after the declaration', () => {
    const [e] = entries(base({ gz9: { filter: 'gzip', options: { level: 9 } } }, ['gz9']));
    expect(e!.name).toBe('gz9');
    expect(e!.def.name).toBe('gzip');
    expect(e!.options).toMatchObject({ level: 9, windowBits: 15 });
  });

  it('a declaration named like a registered filter shadows it', () => {
    const [e] = entries(base({ gzip: { filter: 'gzip', options: { level: 1 } } }, ['gzip']));
    expect(e!.options).toMatchObject({ level: 1 });
  });

  it('names are case-insensitive, as in the registry', () => {
    const [a, b] = entries(base({ Fast: { filter: 'GZIP', options: { level: 1 } } }, ['fast', 'IDENTITY']));
    expect(a!.name).toBe('identity');
    expect(b!.name).toBe('Fast');
    expect(b!.options).toMatchObject({ level: 1 });
    const dup = validateConfig(base({ fast: { filter: 'gzip' }, FAST: { filter: 'br' } }, []));
    expect(problems(dup)).toEqual([{ path: 'filters.FAST', message: expect.stringContaining('declared twice') }]);
  });

  it('an object entry over a declaration merges its options and may set an alias', () => {
    const [e] = entries(base({ gz9: { filter: 'gzip', options: { level: 9, minLength: 100 } } }, [{ filter: 'gz9', options: { minLength: 0 }, name: 'tiny' }]));
    expect(e!.name).toBe('tiny');
    expect(e!.options).toMatchObject({ level: 9, minLength: 0 });
  });

  it('a declaration refers to a registered filter, not to another declaration', () => {
    const r = validateConfig(base({ a: { filter: 'gzip' }, b: { filter: 'a' } }, ['b']));
    expect(problems(r)).toEqual([
      { path: 'filters.b.filter', message: expect.stringContaining('a declaration refers to a registered filter, not to another declaration') },
    ]);
  });

  it('resolves names in the registry given', () => {
    const shout = defineFilter({ name: 'shout', directions: ['output'], create: () => ({}) });
    const registry = builtins.extend().register(shout);
    const raw = base({ loud: { filter: 'shout' } }, ['loud', 'shout']);
    expect(problems(validateConfig(raw)).map((p) => p.path)).toEqual(['filters.loud.filter', 'locations[0].output[1]']);
    expect(compiled(validateConfig(raw, { registry })).locations[0]!.output.describe()).toBe('loud (content) → shout (content)');
  });
});

describe('files, errors and the schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const good = { upstreams: { a: { servers: ['http://127.0.0.1:1'] } }, locations: [{ path: '/', upstream: 'a' }] };

  it('loadConfigFile picks the format from the extension', () => {
    for (const [name, body] of [
      ['c.json', JSON.stringify(good)],
      ['c.yaml', 'upstreams: { a: { servers: [http://127.0.0.1:1] } }\nlocations: [{ path: /, upstream: a }]\n'],
      ['c.YML', 'upstreams: { a: { servers: [http://127.0.0.1:1] } }\nlocations: []\n'],
    ] as const) {
      writeFileSync(join(dir, name), body);
      expect(loadConfigFile(join(dir, name)).ok).toBe(true);
    }
    writeFileSync(join(dir, 'c.toml'), '');
    expect(problems(loadConfigFile(join(dir, 'c.toml')))[0]!.message).toContain('.json, .yaml or .yml');
    expect(problems(loadConfigFile(join(dir, 'missing.yaml')))[0]!.message).toContain('cannot read the file');
  });

  it('formatProblems and ConfigError: FILE:LINE: path: message, one per line', () => {
    writeFileSync(join(dir, 'bad.yaml'), text('upstreams:', UP, 'locations:', '  - path: /', '    upstream: nope', '    output: [zz]'));
    const file = join(dir, 'bad.yaml');
    const errs = problems(loadConfigFile(file));
    expect(formatProblems(errs, file).split('\n')).toEqual([
      `${file}:5: locations[0].upstream: unknown upstream "nope" (defined: app)`,
      expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6: locations\\[0\\]\\.output\\[0\\]: unknown filter "zz"`)),
    ]);
    expect(formatProblems([{ path: 'a', line: 3, message: 'm' }, { path: '', message: 'n' }])).toBe('line 3: a: m\nn');
    const err = new ConfigError(errs, file);
    expect(err.code).toBe('ERR_SLUICE_CONFIG');
    expect(err.problems).toEqual(errs);
    expect(err.message.split('\n').slice(1)).toEqual(formatProblems(errs, file).split('\n'));
  });

  it('configJsonSchema is plain JSON Schema with defaults, closed objects', () => {
    const s = configJsonSchema as { additionalProperties: boolean; properties: Record<string, any> };
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s.additionalProperties).toBe(false);
    expect(s.properties['listen'].properties.port.default).toBe(8080);
    expect(s.properties['listen'].properties.host.default).toBe('127.0.0.1');
    const up = s.properties['upstreams'].patternProperties['^(.*)$'];
    expect(up.additionalProperties).toBe(false);
    expect(up.properties).toMatchObject({
      preserveHost: { default: true },
      connectTimeout: { default: 5000 },
      headersTimeout: { default: 30000 },
      bodyTimeout: { default: 60000 },
    });
    expect(s.properties['locations'].items.properties.match.default).toBe('prefix');
    expect(Value.Check(ConfigSchema, good)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { validateConfig, type LocationSpec } from '../../src/index.js';

const base = { upstreams: { app: { servers: ['http://127.0.0.1:3000'] }, other: { servers: ['http://127.0.0.1:3001'] } } };

function chains(locations: LocationSpec[]): Record<string, { output: string[]; input: string[]; upstream: string }> {
  const r = validateConfig({ ...base, locations });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return Object.fromEntries(
    r.config.locations.map((l) => [
      l.name,
      { output: l.output.entries.map((e) => e.name), input: l.input.entries.map((e) => e.name), upstream: l.upstream.name },
    ]),
  );
}

function problems(locations: unknown[]): string[] {
  const r = validateConfig({ ...base, locations });
  if (r.ok) throw new Error('expected problems');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('location inheritance (Apache FilterChain operators)', () => {
  const root: LocationSpec = { path: '/', upstream: 'app', output: ['charset', 'compress'], input: ['inflate'] };

  it.each<[string, LocationSpec, string[]]>([
    ['no output key: inherits the enclosing chain', { path: '/a/' }, ['charset', 'compress']],
    ['a plain list replaces it (nginx)', { path: '/a/', output: ['gzip'] }, ['gzip']],
    ['an empty list replaces it with nothing', { path: '/a/', output: [] }, []],
    ['+name appends (the result is still in stage order: identity is a content filter)', { path: '/a/', output: ['+identity'] }, ['identity', 'charset', 'compress']],
    ['a bare name among operators appends, as in FilterChain', { path: '/a/', output: ['-compress', 'gzip'] }, ['charset', 'gzip']],
    ['@name prepends (within its stage)', { path: '/a/', output: ['@decompress'] }, ['decompress', 'charset', 'compress']],
    ['-name removes', { path: '/a/', output: ['-compress'] }, ['charset']],
    ['=name replaces everything', { path: '/a/', output: ['=gzip'] }, ['gzip']],
    ['! empties, then later entries add', { path: '/a/', output: ['!', '+identity'] }, ['identity']],
    ['object entries carry operators too', { path: '/a/', output: [{ filter: '+gzip', name: 'gz', options: { level: 1 } }, '-compress'] }, ['charset', 'gz']],
  ])('%s', (_, loc, expected) => {
    const c = chains([root, { upstream: 'app', ...loc }]);
    expect(c['prefix /a/']!.output).toEqual(expected);
    expect(c['prefix /a/']!.input).toEqual(['inflate']); // input untouched: inherited
  });

  it('inherits through several levels, each editing the result of its parent, whatever the order in the file', () => {
    const c = chains([
      { path: '/a/b/c', output: ['-charset'] },
      root,
      { path: '/a/', output: ['+identity'] },
      { path: '/a/b/', output: ['-compress'] },
      { path: '/a/b/x', match: 'exact' },
    ]);
    expect(c['prefix /a/']!.output).toEqual(['identity', 'charset', 'compress']);
    expect(c['prefix /a/b/']!.output).toEqual(['identity', 'charset']);
    expect(c['prefix /a/b/c']!.output).toEqual(['identity']);
    expect(c['exact /a/b/x']!.output).toEqual(['identity', 'charset']);
    expect(c['prefix /a/b/c']!.upstream).toBe('app');
  });

  it('upstream is inherited, and may be overridden', () => {
    const c = chains([root, { path: '/x/' }, { path: '/x/y/', upstream: 'other' }, { path: '/x/y/z' }]);
    expect(c['prefix /x/']!.upstream).toBe('app');
    expect(c['prefix /x/y/']!.upstream).toBe('other');
    expect(c['prefix /x/y/z']!.upstream).toBe('other');
  });

  it('enclosure is segment-aware: /apple does not inherit from /app', () => {
    const c = chains([
      { path: '/app', upstream: 'app', output: ['gzip'] },
      { path: '/apple', upstream: 'app' },
      { path: '/app/x', upstream: 'app' },
    ]);
    expect(c['prefix /apple']!.output).toEqual([]);
    expect(c['prefix /app/x']!.output).toEqual(['gzip']);
  });

  it('regex locations inherit nothing (a prefix that matched would win over them)', () => {
    const c = chains([
      { path: '/a/', upstream: 'app', output: ['gzip'] },
      { path: '\\.php$', match: 'regex', upstream: 'app' },
    ]);
    expect(c['regex \\.php$']!.output).toEqual([]);
  });

  it.each<[string, unknown[], RegExp]>([
    ['-name that removes nothing', [root, { path: '/a/', output: ['-gzip'] }], /locations\[1\]\.output\[0\]: "-gzip" removes nothing: the inherited chain is \[charset, compress\]/],
    ['! with a name', [root, { path: '/a/', output: ['!gzip'] }], /"!" empties the inherited chain and takes no name \(to empty it and add "gzip", write "=gzip"\)/],
    ['an operator alone', [root, { path: '/a/', output: ['+'] }], /locations\[1\]\.output\[0\]: "\+" needs a filter name after it/],
    ['-name with options', [root, { path: '/a/', output: [{ filter: '-compress', options: {} }] }], /locations\[1\]\.output\[0\]: "-compress" removes an entry: it takes no options/],
    ['an unknown filter after an operator', [root, { path: '/a/', output: ['+gzipp'] }], /unknown filter "gzipp"/],
    ['no upstream and nothing to inherit it from', [{ path: '/a/' }], /locations\[0\]: no upstream: name one/],
    ['an input filter in an output chain, after an operator', [root, { path: '/a/', output: ['+inflate'] }], /filter "inflate" cannot be used in an output chain/],
  ])('%s is a problem with its place', (_, locations, expected) => {
    expect(problems(locations).join('\n')).toMatch(expected);
  });
});

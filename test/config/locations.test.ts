import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileLocations, normalisePath, type LocationRule } from '../../src/pipeline/locations.js';

describe('normalisePath', () => {
  const table: Array<[string, string, string?]> = [
    ['/', '/'],
    ['', '/'],
    ['/public/../admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/%41%5a%30%2D%2e%5F%7e', '/AZ0-._~'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%3a%40', '/a%3A%40'],
    ['/a/./b//c', '/a/b/c'],
    ['/../x', '/x'],
    ['/../../..', '/'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/', '/a/b/'],
    ['//a///b', '/a/b'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/%2E/b', '/a/b'],
    ['/a/.%2e/b', '/b'],
    ['/.well-known/x', '/.well-known/x'],
    ['/a..b/c.', '/a..b/c.'],
    ['/%252e%252e/x', '/%252e%252e/x'],
    ['/50%', '/50%25'],
    ['/a%zz', '/a%25zz'],
    ['/a#b', '/a%23b'],
    ['/a\\b', '/a%5Cb'],
    ['/café', '/caf%C3%A9'],
    ['admin', '/admin'],
    ['http://example.com:81/x/../y', '/y'],
  ];
  it.each(table)('%s → %s', (raw, path) => {
    expect(normalisePath(raw)).toEqual({ path, query: '' });
  });

  it('keeps the query string apart and untouched', () => {
    expect(normalisePath('/a/../b?x=/../%2e&y')).toEqual({ path: '/b', query: '?x=/../%2e&y' });
    expect(normalisePath('/a?')).toEqual({ path: '/a', query: '?' });
    expect(normalisePath('http://h/p?q=1')).toEqual({ path: '/p', query: '?q=1' });
  });

  it('is idempotent, and its result never holds dot segments or empty segments', () => {
    const piece = fc.constantFrom('a', 'B', '.', '..', '', '%2e', '%2E', '%2f', '%41', '%', '%zz', '~', '?', '#', 'é', '%25', '\\');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.constantFrom('/', ''), { maxLength: 12 }), (pieces, seps) => {
        const raw = pieces.map((p, i) => (seps[i] ?? '/') + p).join('');
        const once = normalisePath(raw);
        const twice = normalisePath(once.path);
        expect(twice.path).toBe(once.path);
        expect(once.path.startsWith('/')).toBe(true);
        const segs = once.path.split('/').slice(1, -1);
        expect(segs.every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
      }),
    );
  });
});

describe('location precedence', () => {
  const rules: LocationRule<string>[] = [
    { match: 'prefix', path: '/', value: 'root' },
    { match: 'prefix', path: '/app', value: 'app' },
    { match: 'prefix', path: '/app/static/', value: 'static' },
    { match: 'exact', path: '/app/login', value: 'login-exact' },
    { match: 'prefix', path: '/app/login', value: 'login-prefix' },
    { match: 'exact', path: '/', value: 'home' },
  ];
  const match = compileLocations(rules);

  it.each([
    ['/', 'home'], // exact beats the "/" prefix
    ['/index.html', 'root'],
    ['/app', 'app'],
    ['/app/', 'app'],
    ['/app/x/y', 'app'],
    ['/apple', 'root'], // segment-aware: "/app" does not match "/apple"
    ['/app/login', 'login-exact'], // exact beats a prefix of the same path
    ['/app/login/2fa', 'login-prefix'], // longest prefix
    ['/app/loginx', 'app'],
    ['/app/static/a.css', 'static'],
    ['/app/static/', 'static'],
    ['/app/static', 'app'], // a prefix ending in "/" needs the slash
    ['/APP', 'root'], // case-sensitive
  ])('%s → %s', (path, want) => {
    expect(match(path)).toBe(want);
  });

  it('tries regexes, in config order, only when no exact or prefix location matches', () => {
    const m = compileLocations<string>([
      { match: 'regex', path: '\\.php$', value: 'php' },
      { match: 'regex', path: '^/api/v\\d+/', value: 'api-regex' },
      { match: 'regex', path: '^/api/', value: 'api-later' },
      { match: 'prefix', path: '/api/v1', value: 'v1-prefix' },
      { match: 'exact', path: '/api/v2/ping', value: 'ping' },
    ]);
    expect(m('/api/v2/ping')).toBe('ping'); // exact first
    expect(m('/api/v1/users.php')).toBe('v1-prefix'); // a prefix beats every regex
    expect(m('/api/v2/users')).toBe('api-regex'); // then the first regex in order
    expect(m('/api/x')).toBe('api-later');
    expect(m('/x/index.php')).toBe('php');
    expect(m('/nothing')).toBeUndefined(); // no match: 404
  });

  it('normalises the paths of exact and prefix rules, and ignores later duplicates', () => {
    const m = compileLocations<string>([
      { match: 'prefix', path: '/%7euser/', value: 'tilde' },
      { match: 'exact', path: '/a//b', value: 'ab' },
      { match: 'exact', path: '/a/b', value: 'dup' },
    ]);
    expect(m('/~user/x')).toBe('tilde');
    expect(m('/a/b')).toBe('ab');
  });

  it('cannot be dodged: match the normalised path', () => {
    const m = compileLocations<string>([
      { match: 'prefix', path: '/', value: 'public' },
      { match: 'prefix', path: '/admin', value: 'admin' },
    ]);
    for (const raw of ['/public/../admin', '/%61dmin/x', '//admin', '/./admin', '/public/%2e%2e/admin/']) {
      expect(m(normalisePath(raw).path)).toBe('admin');
    }
    expect(m(normalisePath('/admin%2Fx').path)).toBe('public'); // an encoded slash is not a separator
  });

  it('reports a regex that does not compile', () => {
    expect(() => compileLocations([{ match: 'regex', path: '(', value: 1 }])).toThrow(/locations\[0\]\.path/);
  });
});

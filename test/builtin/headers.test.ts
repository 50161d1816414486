import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import {
  compileChain,
  FilterError,
  FilterOptionsError,
  HeaderValueError,
  processChain,
  type HeaderInput,
} from '../../src/index.js';
import { proxyInFront, type Front } from '../proxy-harness.js';

type Action = string | Record<string, string>;

interface Msg {
  direction?: 'input' | 'output';
  req?: HeaderInput;
  res?: HeaderInput;
  url?: string;
  method?: string;
  status?: number;
  remoteAddress?: string;
}

/** Run the filter over one message; the committed headers (lines kept apart) and the body. */
async function run(actions: Action[], m: Msg = {}): Promise<{ lines: Array<[string, string]>; get(n: string): string | undefined; all(n: string): readonly string[]; body: string; active: readonly string[] }> {
  const direction = m.direction ?? 'output';
  const chain = compileChain([{ filter: 'headers', options: { actions } }], { direction });
  const request = {
    method: m.method ?? 'GET',
    url: m.url ?? '/',
    headers: m.req ?? {},
    ...(m.remoteAddress !== undefined && { remoteAddress: m.remoteAddress }),
  };
  const r = await processChain(chain, 'body bytes', direction === 'output' ? { request, headers: m.res ?? {}, status: m.status ?? 200 } : { request });
  const h = r.head.headers;
  return { lines: [...h.entries()], get: (n) => h.get(n), all: (n) => h.getAll(n), body: r.text(), active: r.active };
}

const compileError = (actions: unknown[]): FilterOptionsError => {
  try {
    compileChain([{ filter: 'headers', options: { actions } }]);
  } catch (err) {
    return err as FilterOptionsError;
  }
  throw new Error('expected the options to be refused');
};

describe('headers: actions (mod_headers semantics)', () => {
  // [actions, response headers before, expected header name, expected lines]
  const table: Array<[string, Action[], HeaderInput, string, string[]]> = [
    ['set adds a header', ['set X-Frame-Options DENY'], {}, 'x-frame-options', ['DENY']],
    ['set replaces every line', ['set X-A new'], [['x-a', '1'], ['x-a', '2']], 'x-a', ['new']],
    ['set with a quoted value keeps spaces', ['set Cache-Control "no-store, max-age=0"'], {}, 'cache-control', ['no-store, max-age=0']],
    ['set with single quotes and an escaped quote', [`set X-Q 'it\\'s "ok"'`], {}, 'x-q', [`it's "ok"`]],
    ['set an empty value', ['set X-Empty ""'], {}, 'x-empty', ['']],
    ['header names are case-insensitive', ['set x-frame-options SAMEORIGIN'], { 'X-Frame-Options': 'DENY' }, 'x-frame-options', ['SAMEORIGIN']],
    ['append joins with a comma', ['append Cache-Control private'], { 'cache-control': 'no-cache' }, 'cache-control', ['no-cache, private']],
    ['append to a missing header sets it', ['append Vary Accept'], {}, 'vary', ['Accept']],
    ['append joins repeated lines into one', ['append X-L c'], [['x-l', 'a'], ['x-l', 'b']], 'x-l', ['a, b, c']],
    ['append to Set-Cookie adds a line (cookies cannot be comma-joined)', ['append Set-Cookie b=2'], { 'set-cookie': 'a=1' }, 'set-cookie', ['a=1', 'b=2']],
    ['add keeps the existing line and adds another', ['add Set-Cookie b=2'], { 'set-cookie': 'a=1' }, 'set-cookie', ['a=1', 'b=2']],
    ['add to a missing header', ['add Link "</s.css>; rel=preload"'], {}, 'link', ['</s.css>; rel=preload']],
    ['merge adds a value not yet present', ['merge Vary Origin'], { vary: 'Accept-Encoding' }, 'vary', ['Accept-Encoding, Origin']],
    ['merge does not repeat a value already present', ['merge Vary Accept-Encoding'], { vary: 'Origin, Accept-Encoding' }, 'vary', ['Origin, Accept-Encoding']],
    ['merge compares case-sensitively (as mod_headers)', ['merge Cache-Control No-Cache'], { 'cache-control': 'no-cache' }, 'cache-control', ['no-cache, No-Cache']],
    ['merge onto nothing sets', ['merge Vary Origin'], {}, 'vary', ['Origin']],
    ['setifempty sets a missing header', ['setifempty X-Id abc'], {}, 'x-id', ['abc']],
    ['setifempty leaves a present header', ['setifempty X-Id abc'], { 'x-id': 'keep' }, 'x-id', ['keep']],
    ['unset removes every line', ['unset Set-Cookie'], [['set-cookie', 'a=1'], ['set-cookie', 'b=2']], 'set-cookie', []],
    ['unset a missing header is fine', ['unset X-None'], {}, 'x-none', []],
    ['edit replaces the first match in each line', ['edit X-E a b'], [['x-e', 'aaa'], ['x-e', 'cab']], 'x-e', ['baa', 'cbb']],
    ['edit* replaces every match', ['edit* X-E a b'], [['x-e', 'aaa'], ['x-e', 'cab']], 'x-e', ['bbb', 'cbb']],
    ['edit with groups', ['edit Location ^http://internal(:\\d+)?/(.*)$ https://www.example.com/$2'], { location: 'http://internal:8080/a/b?c=1' }, 'location', ['https://www.example.com/a/b?c=1']],
    ['edit with $0 and $& for the whole match', ['edit X-W \\d+ [$0|$&]'], { 'x-w': 'v12x' }, 'x-w', ['v[12|12]x']],
    ['edit: $$ is a literal dollar', ['edit X-P \\d+ $$$1'], { 'x-p': 'cost 5' }, 'x-p', ['cost $']],
    ['edit without a match changes nothing', ['edit X-E zzz y'], { 'x-e': 'abc' }, 'x-e', ['abc']],
    ['edit* on each Set-Cookie line', ['edit* Set-Cookie "(?:^|; *)Secure(?=;|$)" ""'], [['set-cookie', 'a=1; Secure; HttpOnly'], ['set-cookie', 'b=2; Path=/; Secure']], 'set-cookie', ['a=1; HttpOnly', 'b=2; Path=/']],
    ['an edit that leaves a line empty removes the line', ['edit X-E ^.*$ ""'], [['x-e', 'gone'], ['x-e', '']], 'x-e', []],
    ['edit with flags (object form)', [{ action: 'edit', header: 'Server', pattern: '^apache.*', replacement: 'web', flags: 'i' }], { server: 'Apache/2.4.58 (Unix)' }, 'server', ['web']],
    ['edit of a missing header does nothing', ['edit X-None a b'], {}, 'x-none', []],
    ['actions apply in order', ['set X-O 1', 'append X-O 2', 'edit X-O 1 one', 'merge X-O 2'], {}, 'x-o', ['one, 2']],
    ['object form for set', [{ action: 'set', header: 'Strict-Transport-Security', value: 'max-age=63072000' }], {}, 'strict-transport-security', ['max-age=63072000']],
    ['the action word is case-insensitive', ['SET X-C yes'], {}, 'x-c', ['yes']],
  ];
  for (const [name, actions, res, header, expected] of table) {
    it(name, async () => {
      const r = await run(actions, { res });
      expect(r.all(header)).toEqual(expected);
      expect(r.body).toBe('body bytes');
    });
  }

  it('echo copies matching request headers into the response (names case-insensitive)', async () => {
    const r = await run(['echo ^X-Request-'], {
      req: { 'X-Request-Id': 'r1', 'x-request-start': 't=1', 'x-other': 'no', 'content-length': '3' },
      res: { 'x-request-id': 'upstream' },
    });
    expect(r.all('x-request-id')).toEqual(['upstream', 'r1']);
    expect(r.get('x-request-start')).toBe('t=1');
    expect(r.get('x-other')).toBeUndefined();
  });

  it('echo never copies framing headers', async () => {
    const r = await run(['echo .*'], { req: { 'content-length': '3', 'x-a': '1' }, res: {} });
    expect(r.get('content-length')).toBeUndefined();
    expect(r.get('x-a')).toBe('1');
  });

  it('is header-only: it steps aside and the body passes untouched', async () => {
    const r = await run(['set X-A 1'], { res: { 'content-length': '10' } });
    expect(r.active).toEqual([]);
    expect(r.body).toBe('body bytes');
    expect(r.get('content-length')).toBe('10');
  });
});

describe('headers: request variables', () => {
  const req = {
    host: 'upstream.internal:8080',
    'x-forwarded-host': 'spoofed.example, www.example.com',
    'x-forwarded-proto': 'https',
    'user-agent': 'curl/8',
    accept: ['text/html', 'application/json'],
  };
  const table: Array<[string, string, string]> = [
    ['${method}', 'POST', 'method'],
    ['${path}', '/a/b', 'path without query'],
    ['${query}', 'x=1&y=2', 'query without ?'],
    ['${uri}', '/a/b?x=1&y=2', 'path and query'],
    ['${host}', 'www.example.com', 'the host the client asked for (last X-Forwarded-Host)'],
    ['${scheme}', 'https', 'the scheme the client used'],
    ['${remote_addr}', '192.0.2.7', 'client address'],
    ['${status}', '201', 'response status'],
    ['${header.user-agent}', 'curl/8', 'a request header'],
    ['${header.Accept}', 'text/html, application/json', 'repeated lines joined'],
    ['${header.x-missing}', '', 'a missing header is empty'],
    ['${response.content-type}', 'text/plain', 'a response header'],
    ['a=${method};b=${path}', 'a=POST;b=/a/b', 'several in one value'],
    ['cost $$5 and $1', 'cost $5 and $1', '$$ is a literal $, and $1 is text outside edit'],
    ['price: $', 'price: $', 'a trailing $ is itself'],
    ['${METHOD}', 'POST', 'variable names are case-insensitive'],
  ];
  for (const [value, expected, what] of table) {
    it(`${value} → ${JSON.stringify(expected)} (${what})`, async () => {
      const r = await run([{ action: 'set', header: 'X-V', value }], {
        req,
        res: { 'content-type': 'text/plain' },
        method: 'POST',
        url: '/a/b?x=1&y=2',
        status: 201,
        remoteAddress: '192.0.2.7',
      });
      expect(r.get('x-v')).toBe(expected);
    });
  }

  it('${host} falls back to Host, ${scheme} to http', async () => {
    const r = await run(['set X-H ${scheme}://${host}'], { req: { host: 'site.example' } });
    expect(r.get('x-h')).toBe('http://site.example');
  });

  it('${time_us} is microseconds since the epoch, like httpd\'s %t', async () => {
    const before = Date.now() * 1000;
    const r = await run(['set X-Request-Start t=${time_us}']);
    const t = Number(/^t=(\d+)$/.exec(r.get('x-request-start')!)![1]);
    expect(t).toBeGreaterThanOrEqual(before - 1000);
    expect(t).toBeLessThan(before + 60_000_000);
  });

  it('edit replacements may use variables and groups together', async () => {
    const r = await run(['edit Location ^/(.*) ${scheme}://${host}/$1'], { req: { host: 'pub.example' }, res: { location: '/x/y' } });
    expect(r.get('location')).toBe('http://pub.example/x/y');
  });

  it('${status} and ${response.*} are empty in an input chain', async () => {
    const r = await run(['set X-S [${status}${response.host}]'], { direction: 'input', req: { host: 'h' } });
    expect(r.get('x-s')).toBe('[]');
  });
});

describe('headers: input direction (request headers sent upstream)', () => {
  it('edits the request headers, reading request variables as they stand', async () => {
    const r = await run(['unset Cookie', 'set X-Real-IP ${remote_addr}', 'setifempty Accept */*', 'edit User-Agent ^ via-sluice+', 'set X-Copy ${header.x-real-ip}'], {
      direction: 'input',
      req: { cookie: 'secret=1', 'user-agent': 'curl/8' },
      remoteAddress: '10.1.2.3',
    });
    expect(r.get('cookie')).toBeUndefined();
    expect(r.get('x-real-ip')).toBe('10.1.2.3');
    expect(r.get('accept')).toBe('*/*');
    expect(r.get('user-agent')).toBe('via-sluice+curl/8');
    // an earlier action's result is visible to a later one
    expect(r.get('x-copy')).toBe('10.1.2.3');
  });

  it('echo does nothing in an input chain', async () => {
    const r = await run(['echo .*'], { direction: 'input', req: { 'x-a': '1' } });
    expect(r.all('x-a')).toEqual(['1']);
  });
});

describe('headers: CR, LF and other bad characters are refused', () => {
  it.each([
    ['set X-A "a\rb"', /actions\/0.*CR/],
    ['set X-A "a\nSet-Cookie: x=1"', /actions\/0.*LF/],
    ['set X-A "a\u0000b"', /control character U\+0000/],
    ['set X-A "✓"', /U\+2713.*Latin-1/],
  ])('at load when static: %j', (action, message) => {
    const err = compileError([action]);
    expect(err).toBeInstanceOf(FilterOptionsError);
    expect(err.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect(err.message).toMatch(message);
  });

  it('at load in an object value or an edit replacement, naming the field', () => {
    expect(compileError([{ action: 'set', header: 'X-A', value: 'a\r\nb' }]).option).toBe('actions/0/value');
    expect(compileError([{ action: 'edit', header: 'X-A', pattern: 'a', replacement: 'x\ny' }]).option).toBe('actions/0/replacement');
  });

  it('at run time when a variable brings one: a FilterError with code and status 400', async () => {
    // Node's parser never lets CR/LF into a request header; a caller building a head by hand might
    const err = (await run(['set X-UA ${header.user-agent}'], { req: { 'user-agent': 'x\r\nSet-Cookie: admin=1' } }).catch((e: unknown) => e)) as FilterError;
    expect(err).toBeInstanceOf(FilterError);
    expect(err.filter).toBe('headers');
    expect(err.phase).toBe('head');
    expect(err.status).toBe(400);
    expect(err.cause).toBeInstanceOf(HeaderValueError);
    expect((err.cause as HeaderValueError).code).toBe('ERR_SLUICE_HEADER_VALUE');
    expect(err.message).toMatch(/header "x-ua": contains CR/);
  });

  it('at run time through an edit replacement too', async () => {
    const err = (await run(['edit X-A ^ ${path}'], { res: { 'x-a': 'v' }, url: '/p\nq' }).catch((e: unknown) => e)) as FilterError;
    expect((err.cause as HeaderValueError).code).toBe('ERR_SLUICE_HEADER_VALUE');
  });
});

describe('headers: options checked at load', () => {
  it.each<[unknown, RegExp]>([
    ['frob X-A 1', /"frob" is not an action/],
    ['set X-A', /expected set HEADER VALUE/],
    ['set X-A 1 2', /expected set HEADER VALUE/],
    ['unset X-A extra', /expected unset HEADER/],
    ['edit X-A onlypattern', /expected edit HEADER REGEX REPLACEMENT/],
    ['set "X A" 1', /"X A" is not a header name/],
    ['set X-A "unclosed', /unclosed "/],
    ['edit X-A ( x', /invalid regular expression/],
    ['set X-A ${nope}', /unknown variable "\$\{nope\}" \(known: .*\$\{method\}/],
    ['set X-A ${header.}', /is not a header name/],
    ['set X-A ${method', /is not closed/],
    ['set Content-Length 5', /Content-Length is set by the runtime/],
    ['edit Transfer-Encoding a b', /Transfer-Encoding is set by the runtime/],
    [{ action: 'set', header: 'X-A' }, /"set" needs a value/],
    [{ action: 'unset', header: 'X-A', value: '1' }, /not used by "unset"/],
    [{ action: 'edit', header: 'X-A', replacement: 'x' }, /needs a pattern/],
    [{ action: 'set', header: 'X-A', value: '1', flags: 'i' }, /not used by "set"/],
    [{ action: 'edit', header: 'X-A', pattern: 'a', replacement: 'b', flags: 'g' }, /option "actions\/0\/flags": "g": only i, m, s and u/],
  ])('%j', (action, message) => {
    expect(compileError([action]).message).toMatch(message);
  });

  it('unset Content-Length is allowed (the body then goes chunked)', async () => {
    const r = await run(['unset Content-Length'], { res: { 'content-length': '10' } });
    expect(r.get('content-length')).toBeUndefined();
  });

  it('needs at least one action; errors name the option path', () => {
    expect(compileError([]).message).toMatch(/option "actions"/);
    expect(compileError(['set X-A 1', 'bogus']).option).toBe('actions/1');
  });

  it('sits at the protocol stage: last in a response chain, first in a request chain', () => {
    const h = { filter: 'headers', options: { actions: ['unset X'] } };
    expect(compileChain([h, 'compress']).entries.map((e) => e.name)).toEqual(['compress', 'headers']);
    expect(compileChain([h, 'inflate'], { direction: 'input' }).entries.map((e) => e.name)).toEqual(['headers', 'inflate']);
  });
});

// ---- through the proxy --------------------------------------------------------------------

let seenHeaders: http.IncomingHttpHeaders = {};
const upstream = http.createServer((req, res) => {
  seenHeaders = req.headers;
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', server: 'Apache/2.4', 'x-powered-by': 'PHP/8' });
    res.end('ok');
  });
});
let front: Front;
let base = '';

beforeAll(async () => {
  front = await proxyInFront(upstream, (url) => ({
    upstreams: { app: { servers: [url] } },
    locations: [
      {
        path: '/',
        upstream: 'app',
        input: [{ filter: 'headers', options: { actions: ['set X-Real-IP ${remote_addr}', 'unset X-Secret', 'set X-Public-Host ${host}'] } }],
        output: [{ filter: 'headers', options: { actions: ['unset X-Powered-By', 'set Server sluice', 'set X-Path ${path}', 'echo ^x-trace'] } }],
      },
    ],
  }));
  base = front.base;
});

afterAll(() => front.stop());

describe('headers: through the proxy', () => {
  it('a bodyless GET gets its request headers edited, and the response headers too', async () => {
    const res = await fetch(`${base}/p/q?x=1`, { headers: { 'x-secret': 'token', 'x-trace-id': 't1' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(seenHeaders['x-secret']).toBeUndefined();
    expect(seenHeaders['x-real-ip']).toBe('127.0.0.1');
    expect(seenHeaders['x-public-host']).toBe(new URL(base).host);
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('server')).toBe('sluice');
    expect(res.headers.get('x-path')).toBe('/p/q');
    expect(res.headers.get('x-trace-id')).toBe('t1');
  });

  it('a POST with a body too', async () => {
    const res = await fetch(`${base}/form`, { method: 'POST', body: 'a=1', headers: { 'x-secret': 'token' } });
    expect(res.status).toBe(200);
    expect(seenHeaders['x-secret']).toBeUndefined();
    expect(seenHeaders['x-real-ip']).toBe('127.0.0.1');
    expect(seenHeaders['content-length']).toBe('3');
  });
});

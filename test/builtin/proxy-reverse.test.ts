import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { compileChain, FilterOptionsError, processChain, type HeaderInput } from '../../src/index.js';
import { proxyInFront, type Front } from '../proxy-harness.js';

const PUBLIC_REQUEST = { host: 'backend:8080', 'x-forwarded-host': 'www.example.com', 'x-forwarded-proto': 'https' };

async function reverse(options: Record<string, unknown>, res: HeaderInput, req: HeaderInput = PUBLIC_REQUEST) {
  const r = await processChain(compileChain([{ filter: 'proxy-reverse', options }]), 'the body', {
    request: { headers: req },
    status: 302,
    headers: res,
  });
  expect(r.text()).toBe('the body');
  expect(r.active).toEqual([]);
  return r.head.headers;
}

const APP = { from: 'http://backend:8080/app/', to: '/public/' };

describe('proxy-reverse: URLs in Location', () => {
  // [what, rules, Location from the upstream, expected]
  const table: Array<[string, Array<{ from: string; to: string }>, string, string]> = [
    ['an absolute upstream URL becomes the public one, absolute from the request', [APP], 'http://backend:8080/app/x?y=1#f', 'https://www.example.com/public/x?y=1#f'],
    ['the prefix itself', [APP], 'http://backend:8080/app/', 'https://www.example.com/public/'],
    ['scheme and host compare case-insensitively', [APP], 'HTTP://BackEnd:8080/app/x', 'https://www.example.com/public/x'],
    ['the path compares case-sensitively', [APP], 'http://backend:8080/App/x', 'http://backend:8080/App/x'],
    ['a default port equals no port (rule without)', [{ from: 'http://backend/app/', to: '/p/' }], 'http://backend:80/app/x', 'https://www.example.com/p/x'],
    ['a default port equals no port (rule with)', [{ from: 'https://backend:443/', to: '/p/' }], 'https://backend/x', 'https://www.example.com/p/x'],
    ['another port does not match', [APP], 'http://backend:8081/app/x', 'http://backend:8081/app/x'],
    ['another host does not match', [APP], 'http://other:8080/app/x', 'http://other:8080/app/x'],
    ['another scheme does not match', [APP], 'https://backend:8080/app/x', 'https://backend:8080/app/x'],
    ['a path without the prefix\'s trailing slash does not match', [APP], 'http://backend:8080/app', 'http://backend:8080/app'],
    ['a relative Location does not match an absolute rule (as httpd)', [APP], '/app/x', '/app/x'],
    ['a path rule matches a relative Location', [{ from: '/app/', to: '/public/' }], '/app/x', 'https://www.example.com/public/x'],
    ['a path rule matches the path of any absolute URL (as httpd)', [{ from: '/app/', to: '/public/' }], 'http://10.0.0.5:9000/app/x', 'https://www.example.com/public/x'],
    ['an absolute `to` is used as it is', [{ from: 'http://backend:8080/', to: 'https://cdn.example/assets/' }], 'http://backend:8080/img/a.png', 'https://cdn.example/assets/img/a.png'],
    ['an origin alone matches a rule for its root', [{ from: 'http://backend:8080/', to: '/' }], 'http://backend:8080', 'https://www.example.com/'],
    ['the first matching rule wins', [{ from: 'http://backend:8080/', to: '/root/' }, APP], 'http://backend:8080/app/x', 'https://www.example.com/root/app/x'],
    ['a later rule applies when the first does not match', [{ from: 'http://elsewhere/', to: '/e/' }, APP], 'http://backend:8080/app/x', 'https://www.example.com/public/x'],
    ['a protocol-relative `to` takes the request scheme', [{ from: 'http://backend:8080/', to: '//static.example/' }], 'http://backend:8080/a', 'https://static.example/a'],
    ['an unrelated URL is left byte for byte', [APP], 'https://login.example/?next=http://backend:8080/app/', 'https://login.example/?next=http://backend:8080/app/'],
  ];
  for (const [what, rules, location, expected] of table) {
    it(what, async () => {
      const h = await reverse({ rules }, { location });
      expect(h.get('location')).toBe(expected);
    });
  }

  it('absolute: false keeps a path `to` relative', async () => {
    const h = await reverse({ rules: [APP], absolute: false }, { location: 'http://backend:8080/app/x' });
    expect(h.get('location')).toBe('/public/x');
  });

  it('publicOrigin fixes the origin instead of the request\'s (UseCanonicalName On)', async () => {
    const h = await reverse({ rules: [APP], publicOrigin: 'https://canonical.example:8443' }, { location: 'http://backend:8080/app/x' });
    expect(h.get('location')).toBe('https://canonical.example:8443/public/x');
  });

  it('the request host comes from the last X-Forwarded-Host (the one this proxy added), else Host', async () => {
    const spoofed = await reverse({ rules: [APP] }, { location: 'http://backend:8080/app/' }, { host: 'h', 'x-forwarded-host': 'evil.example, real.example' });
    expect(spoofed.get('location')).toBe('http://real.example/public/');
    const plain = await reverse({ rules: [APP] }, { location: 'http://backend:8080/app/' }, { host: 'site.example:8000' });
    expect(plain.get('location')).toBe('http://site.example:8000/public/');
  });

  it('without any host to go by, the mapped URL stays relative', async () => {
    const h = await reverse({ rules: [APP] }, { location: 'http://backend:8080/app/x' }, {});
    expect(h.get('location')).toBe('/public/x');
  });
});

describe('proxy-reverse: the other URL headers', () => {
  const table: Array<[string, string, string, string]> = [
    ['content-location', 'Content-Location', 'http://backend:8080/app/doc.en', 'https://www.example.com/public/doc.en'],
    ['uri', 'URI in angle brackets', '<http://backend:8080/app/doc>; vary="type"', '<https://www.example.com/public/doc>; vary="type"'],
    ['uri', 'URI bare', 'http://backend:8080/app/doc', 'https://www.example.com/public/doc'],
    ['refresh', 'Refresh with url=', '5; url=http://backend:8080/app/next', '5; url=https://www.example.com/public/next'],
    ['refresh', 'Refresh with URL= and quotes', "0;URL='http://backend:8080/app/next'", "0;URL='https://www.example.com/public/next'"],
    ['refresh', 'Refresh with a comma and no url=', '3, http://backend:8080/app/n', '3, https://www.example.com/public/n'],
    ['refresh', 'Refresh with only a delay', '30', '30'],
    ['refresh', 'Refresh to somewhere else', '1; url=https://other.example/', '1; url=https://other.example/'],
  ];
  for (const [header, what, value, expected] of table) {
    it(what, async () => {
      const h = await reverse({ rules: [APP] }, { [header]: value });
      expect(h.get(header)).toBe(expected);
    });
  }

  it('only the listed headers: Link and custom headers are left alone by default', async () => {
    const h = await reverse({ rules: [APP] }, { link: '<http://backend:8080/app/s.css>; rel=preload', destination: 'http://backend:8080/app/d' });
    expect(h.get('link')).toBe('<http://backend:8080/app/s.css>; rel=preload');
    expect(h.get('destination')).toBe('http://backend:8080/app/d');
  });

  it('headers: [...] chooses them (e.g. Destination, as httpd also maps)', async () => {
    const h = await reverse({ rules: [APP], headers: ['Destination'] }, { destination: 'http://backend:8080/app/d', location: 'http://backend:8080/app/l' });
    expect(h.get('destination')).toBe('https://www.example.com/public/d');
    expect(h.get('location')).toBe('http://backend:8080/app/l');
  });
});

describe('proxy-reverse: Set-Cookie Domain and Path', () => {
  const cookies = {
    cookieDomains: [{ from: 'internal.example', to: 'www.example.com' }],
    cookiePaths: [{ from: '/app/', to: '/public/' }],
  };
  // [what, upstream Set-Cookie, expected]
  const table: Array<[string, string, string]> = [
    ['domain and path', 'sid=1; Domain=internal.example; Path=/app/; HttpOnly', 'sid=1; Domain=www.example.com; Path=/public/; HttpOnly'],
    ['a leading dot in the domain', 'sid=1; Domain=.internal.example', 'sid=1; Domain=www.example.com'],
    ['attribute names and domains compare case-insensitively; spelling kept', 'sid=1; domain=INTERNAL.Example; PATH=/app/', 'sid=1; domain=www.example.com; PATH=/public/'],
    ['another domain is kept', 'sid=1; Domain=other.example', 'sid=1; Domain=other.example'],
    ['a subdomain is not the domain', 'sid=1; Domain=a.internal.example', 'sid=1; Domain=a.internal.example'],
    ['a longer path keeps its tail', 'sid=1; Path=/app/admin/', 'sid=1; Path=/public/admin/'],
    ['the prefix without its trailing slash', 'sid=1; Path=/app', 'sid=1; Path=/public'],
    ['a path that only shares letters is kept', 'sid=1; Path=/application', 'sid=1; Path=/application'],
    ['paths compare case-sensitively', 'sid=1; Path=/App/', 'sid=1; Path=/App/'],
    ['a cookie named path or domain is never touched (PR 61560)', 'path=/app/; Path=/app/', 'path=/app/; Path=/public/'],
    ['a cookie named domain alone', 'domain=internal.example', 'domain=internal.example'],
    ['no spaces after ; are kept as they were', 'sid=1;Path=/app/x;Secure', 'sid=1;Path=/public/x;Secure'],
    ['spaces around = are kept', 'sid=1; Path = /app/x ; Secure', 'sid=1; Path = /public/x ; Secure'],
    ['Expires with its comma is left alone', 'sid=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/app/', 'sid=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/public/'],
    ['a cookie without attributes', 'sid=1', 'sid=1'],
    ['an empty segment stays', 'sid=1;; Path=/app/', 'sid=1;; Path=/public/'],
  ];
  for (const [what, line, expected] of table) {
    it(what, async () => {
      const h = await reverse(cookies, { 'set-cookie': line });
      expect(h.getAll('set-cookie')).toEqual([expected]);
    });
  }

  it('each of several Set-Cookie lines is mapped on its own', async () => {
    const h = await reverse(cookies, { 'set-cookie': ['a=1; Path=/app/', 'b=2; Domain=internal.example', 'c=3; Path=/other/'] });
    expect(h.getAll('set-cookie')).toEqual(['a=1; Path=/public/', 'b=2; Domain=www.example.com', 'c=3; Path=/other/']);
  });

  it('an empty `to` domain removes the attribute: a host-only cookie', async () => {
    const h = await reverse({ cookieDomains: [{ from: 'internal.example', to: '' }] }, { 'set-cookie': 'sid=1; Domain=internal.example; Secure' });
    expect(h.getAll('set-cookie')).toEqual(['sid=1; Secure']);
  });

  it('the first matching cookie rule wins', async () => {
    const h = await reverse({ cookiePaths: [{ from: '/app/admin/', to: '/adm/' }, { from: '/app/', to: '/public/' }] }, { 'set-cookie': ['a=1; Path=/app/admin/x', 'b=2; Path=/app/y'] });
    expect(h.getAll('set-cookie')).toEqual(['a=1; Path=/adm/x', 'b=2; Path=/public/y']);
  });

  it('cookies and URLs together; other headers untouched', async () => {
    const h = await reverse({ rules: [APP], ...cookies }, { location: 'http://backend:8080/app/home', 'set-cookie': 'sid=1; Path=/app/', 'x-other': 'http://backend:8080/app/' });
    expect(h.get('location')).toBe('https://www.example.com/public/home');
    expect(h.getAll('set-cookie')).toEqual(['sid=1; Path=/public/']);
    expect(h.get('x-other')).toBe('http://backend:8080/app/');
  });
});

describe('proxy-reverse: options checked at load', () => {
  const refused = (options: unknown): FilterOptionsError => {
    try {
      compileChain([{ filter: 'proxy-reverse', options }]);
    } catch (err) {
      return err as FilterOptionsError;
    }
    throw new Error('expected the options to be refused');
  };
  it.each<[unknown, string, RegExp]>([
    [{}, '', /nothing to do/],
    [{ rules: [{ from: 'backend/app', to: '/p/' }] }, 'rules/0', /neither an absolute http\(s\) URL nor a path/],
    [{ rules: [{ from: 'ftp://backend/', to: '/p/' }] }, 'rules/0', /not an http\(s\) URL/],
    [{ rules: [{ from: 'http://backend/a?x=1', to: '/p/' }] }, 'rules/0', /query or fragment/],
    [{ rules: [{ from: 'http://backend/', to: 'public/' }] }, 'rules/0', /"public\/" is neither/],
    [{ rules: [{ from: 'http://backend/', to: '/p\r\nX: y' }] }, 'rules/0/to', /CR/],
    [{ rules: [{ from: 'http://backend/' }] }, 'rules/0/to', /required/i],
    [{ cookiePaths: [{ from: 'app', to: '/p' }] }, 'cookiePaths/0/from', /not a cookie path/],
    [{ cookieDomains: [{ from: 'a b', to: 'c' }] }, 'cookieDomains/0/from', /not a cookie domain/],
    [{ cookieDomains: [{ from: 'a', to: 'c;d' }] }, 'cookieDomains/0/to', /not a cookie domain/],
    [{ rules: [APP], headers: ['bad header'] }, 'headers/0', /not a header name/],
    [{ rules: [APP], publicOrigin: 'https://x.example/path' }, 'publicOrigin', /no path/],
    [{ rules: [APP], bogus: 1 }, 'bogus', /unknown option/],
  ])('%j', (options, option, message) => {
    const err = refused(options);
    expect(err).toBeInstanceOf(FilterOptionsError);
    expect(err.option).toBe(option);
    expect(err.message).toMatch(message);
  });

  it('serves responses only', () => {
    expect(() => compileChain([{ filter: 'proxy-reverse', options: { rules: [APP] } }], { direction: 'input' })).toThrow(/cannot be used in an input chain/);
  });
});

// ---- through the proxy --------------------------------------------------------------------

let upstreamOrigin = '';
const upstream = http.createServer((req, res) => {
  req.resume();
  res.writeHead(302, {
    location: `${upstreamOrigin}/app/login?next=%2Fapp%2F`,
    'set-cookie': ['sid=abc; Domain=127.0.0.1; Path=/app/; HttpOnly', 'theme=dark; Path=/app/prefs'],
    'content-type': 'text/html',
    'content-length': '9',
  });
  res.end('redirect!');
});
let front: Front;
let base = '';

beforeAll(async () => {
  front = await proxyInFront(upstream, (origin) => {
    upstreamOrigin = origin;
    return {
      upstreams: { app: { servers: [upstreamOrigin], preserveHost: false } },
      locations: [
        {
          path: '/',
          upstream: 'app',
          output: [
            {
              filter: 'proxy-reverse',
              options: {
                rules: [{ from: `${upstreamOrigin}/app/`, to: '/public/' }],
                cookieDomains: [{ from: '127.0.0.1', to: '' }],
                cookiePaths: [{ from: '/app/', to: '/public/' }],
              },
            },
          ],
        },
      ],
    };
  });
  base = front.base;
});

afterAll(() => front.stop());

describe('proxy-reverse: through the proxy', () => {
  it('a redirect and its cookies come back in public form, built from the client\'s Host', async () => {
    const res = await fetch(`${base}/public/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    // preserveHost is off, so the upstream saw its own Host: the public one comes from X-Forwarded-Host
    expect(res.headers.get('location')).toBe(`${base}/public/login?next=%2Fapp%2F`);
    expect(res.headers.getSetCookie()).toEqual(['sid=abc; Path=/public/; HttpOnly', 'theme=dark; Path=/public/prefs']);
    expect(res.headers.get('content-length')).toBe('9');
    expect(await res.text()).toBe('redirect!');
  });
});

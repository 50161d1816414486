/**
 * Path escapes: dot segments, encoded dots and slashes, backslashes, double slashes, path
 * parameters and NUL cannot make a request escape its location's rules. Three upstreams stand
 * for three locations; whichever receives a request, the path it receives, read the way a
* lenient backend would (percent-decoded once, backslashes as slashes, ;params and
 * anything after a NUL dropped, dot segments resolved), belongs to that location. Or it is 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createProxy } from '../../src/proxy/create.js';
import { rawExchange } from './support.js';

const received: Array<{ upstream: string; url: string }> = [];
function named(name: string): http.Server {
  return http.createServer((req, res) => {
    received.push({ upstream: name, url: req.url ?? '' });
    res.setHeader('connection', 'close');
    res.end(name);
  });
}
const servers = { root: named('root'), pub: named('pub'), adm: named('adm') };
let proxy: FastifyInstance;
let port = 0;

beforeAll(async () => {
  const urls: Record<string, string> = {};
  for (const [k, s] of Object.entries(servers)) {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    urls[k] = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  proxy = createProxy({
    upstreams: { root: { servers: [urls['root']!] }, pub: { servers: [urls['pub']!] }, adm: { servers: [urls['adm']!] } },
    locations: [
      { path: '/', upstream: 'root' },
      { path: '/public', upstream: 'pub' },
      { path: '/admin', upstream: 'adm', output: [{ filter: 'identity', name: 'admin-rules' }] },
    ],
  });
  await proxy.listen({ port: 0, host: '127.0.0.1' });
  port = (proxy.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await proxy.close();
  for (const s of Object.values(servers)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** The most lenient reading of a path a backend might make (decoding once, as HTTP says). */
function lenient(url: string): string {
  let p = url.split('?')[0]!;
  try {
    p = decodeURIComponent(p);
  } catch {
    p = unescape(p);
  }
  p = p.replace(/\\/g, '/').split('\0')[0]!.replace(/;[^/]*/g, '');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

function owner(path: string): string {
  if (path === '/admin' || path.startsWith('/admin/')) return 'adm';
  if (path === '/public' || path.startsWith('/public/')) return 'pub';
  return 'root';
}

const ATTEMPTS = [
  '/public/../admin',
  '/public/../admin/secret',
  '/public/%2e%2e/admin',
  '/public/%2E%2E/admin',
  '/public/.%2e/admin',
  '/public/%2e./admin',
  '/public/..%2fadmin',
  '/public/..%2Fadmin/secret',
  '/public%2f..%2fadmin',
  '/public/..%5cadmin',
  '/public/..\\admin',
  '/public\\..\\admin',
  '//admin',
  '///admin/x',
  '/./admin',
  '/public/./../admin',
  '/admin%2fsecret',
  '/admin%5csecret',
  '/admin;x=1',
  '/admin;/secret',
  '/public/..;/admin',
  '/public;/../admin',
  '/%61dmin',
  '/%2561dmin',
  '/admin%00',
  '/admin%00.html',
  '/public/%00/../admin',
  '/public/x/..%2f..%2fadmin',
  '/public/%252e%252e/admin',
  '/public/%252e%252e%252fadmin',
  '/admin%252fx',
  '/public/%c0%ae%c0%ae/admin',
  '/public/..%c0%afadmin',
  'http://x/public/../admin',
  '/public/../../../../admin',
  '/public/.../admin',
  '/public/..../admin',
];

describe('a request cannot escape its location', () => {
  for (const attempt of ATTEMPTS) {
    it(`${JSON.stringify(attempt)}: served under the rules of the location a backend would see, or 400`, async () => {
      const before = received.length;
      const r = await rawExchange(port, { request: `GET ${attempt} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n` });
      if (r.status === 400) {
        expect(received.length).toBe(before);
        return;
      }
      // a double-encoded separator is always refused (a backend that decodes twice is common enough)
      expect(attempt).not.toMatch(/%25(2e|2f|5c|00)/i);
      expect(r.status).toBe(200);
      const got = received.slice(before);
      expect(got).toHaveLength(1);
      const { upstream, url } = got[0]!;
      expect({ attempt, upstream, url, lenient: lenient(url) }).toEqual({ attempt, upstream: owner(lenient(url)), url, lenient: lenient(url) });
    });
  }

  it('the plain cases still work: /public/../admin is /admin (admin rules), /public/x stays public, an encoded slash within one location is forwarded as is', async () => {
    for (const [path, upstream, url] of [
      ['/public/../admin/x', 'adm', '/admin/x'],
      ['/public/a%2Fb', 'pub', '/public/a%2Fb'],
      ['/public/x;v=1', 'pub', '/public/x;v=1'],
    ] as const) {
      const before = received.length;
      const r = await rawExchange(port, { request: `GET ${path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n` });
      expect(r.status).toBe(200);
      expect(received.slice(before)).toEqual([{ upstream, url }]);
    }
  });

  it('an upgrade request with an escaping path is refused the same way', async () => {
    const r = await rawExchange(port, {
      request: `GET /public/..%2Fadmin HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n`,
      waitClose: true,
    });
    expect(r.status).toBe(400);
  });
});

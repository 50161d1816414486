import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createProxy } from '../../src/proxy/create.js';

/** Two live upstreams that say who they are, and a port nobody listens on. */
const hits: string[] = [];
function named(name: string): http.Server {
  const s = http.createServer((req, res) => {
    hits.push(name);
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(`${name} ${n}`));
  });
  s.on('upgrade', (_req, socket: net.Socket) => {
    hits.push(`${name}:upgrade`);
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nupgrade: test\r\nconnection: upgrade\r\n\r\n${name}`);
  });
  return s;
}
const a = named('a');
const b = named('b');
let dead = '';
let proxy: FastifyInstance;
let base = '';
let port = 0;

const origin = (s: http.Server): string => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  await Promise.all([a, b].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  // a port that was just free: connections to it are refused
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  dead = `http://127.0.0.1:${(tmp.address() as AddressInfo).port}`;
  await new Promise((r) => tmp.close(r));
  proxy = createProxy({
    upstreams: { two: { servers: [origin(a), origin(b)] }, flaky: { servers: [dead, origin(a)] } },
    locations: [
      { path: '/rr', upstream: 'two' },
      { path: '/flaky', upstream: 'flaky' },
    ],
  });
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
  port = (proxy.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await proxy.close();
  await Promise.all([a, b].map((s) => new Promise((r) => s.close(r))));
});

async function text(path: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const r = await fetch(`${base}${path}`, init);
  return { status: r.status, body: await r.text() };
}

function upgrade(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nupgrade: test\r\nconnection: upgrade\r\n\r\n`));
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

describe('several servers per upstream', () => {
  it('round robin: requests alternate between the servers', async () => {
    hits.length = 0;
    for (let i = 0; i < 6; i++) expect((await text('/rr')).status).toBe(200);
    expect(hits).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('a server that refuses is skipped: a request without a body goes to the next server (no 502), and the refusing one is left alone afterwards', async () => {
    hits.length = 0;
    const results = await Promise.all([0, 1, 2, 3].map(async () => (await text('/flaky')).body));
    expect(results).toEqual(['a 0', 'a 0', 'a 0', 'a 0']);
    expect(hits).toEqual(['a', 'a', 'a', 'a']);
  });

  it('a request with a body is not replayed on another server after a refusal: 502, then the next one goes to the healthy server', async () => {
    const p2 = createProxy({ upstreams: { flaky: { servers: [dead, origin(a)] } }, locations: [{ path: '/', upstream: 'flaky' }] });
    const url = await p2.listen({ port: 0, host: '127.0.0.1' });
    try {
      const first = await fetch(`${url}/x`, { method: 'POST', body: 'hello' });
      expect(first.status).toBe(502);
      await first.text();
      const second = await fetch(`${url}/x`, { method: 'POST', body: 'hello' });
      expect(await second.text()).toBe('a 5');
    } finally {
      await p2.close();
    }
  });

  it('upgrades take turns too', async () => {
    hits.length = 0;
    const got = [await upgrade('/rr'), await upgrade('/rr')];
    expect(got.map((g) => g.slice(-1))).toEqual(['a', 'b']);
    expect(hits).toEqual(['a:upgrade', 'b:upgrade']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { builtins, defineFilter, SluiceError } from '../../src/index.js';
import { createProxy } from '../../src/proxy/create.js';

let seenExpect: string | undefined;
let requests = 0;
const upstream = http.createServer((req, res) => {
  requests++;
  seenExpect = req.headers.expect;
  let n = 0;
  req.on('data', (c: Buffer) => (n += c.length));
  req.on('end', () => res.end(`got ${n} bytes`));
});

/** Refuses a declared length over 10 bytes in the header phase, as `limit` does. */
const small = defineFilter({
  name: 'small-only',
  directions: ['input'],
  create: () => ({
    onHead(head) {
      if (Number(head.headers.get('content-length') ?? 0) > 10) throw new SluiceError('ERR_TEST_TOO_BIG', 'too big', { status: 413 });
    },
  }),
});

let proxy: FastifyInstance;
let port = 0;
beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const servers = [`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`];
  proxy = createProxy(
    { upstreams: { app: { servers } }, locations: [{ path: '/', upstream: 'app' }, { path: '/small', upstream: 'app', input: ['small-only'] }] },
    { registry: builtins.extend().register(small) },
  );
  await proxy.listen({ port: 0, host: '127.0.0.1' });
  port = (proxy.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await proxy.close();
  await new Promise((r) => upstream.close(r));
});

/** A client that sends the body only after 100 Continue, as curl does for large uploads. */
function postExpecting(path: string, body: Buffer): Promise<{ status: number; text: string; continued: boolean }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { expect: '100-continue', 'content-length': body.length } });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, continued }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('Expect: 100-continue', () => {
  it('100 Continue is sent when the proxy starts reading the body; the body reaches the upstream; Expect is not forwarded', async () => {
    const r = await postExpecting('/', Buffer.alloc(50_000, 'x'));
    expect(r).toEqual({ status: 200, text: 'got 50000 bytes', continued: true });
    expect(seenExpect).toBeUndefined();
  });

  it('an input chain that refuses the head answers 413 without 100 Continue: the client never sends the body', async () => {
    const before = requests;
    const r = await postExpecting('/small', Buffer.alloc(5000, 'x'));
    expect(r.status).toBe(413);
    expect(r.continued).toBe(false);
    expect(requests).toBe(before);
  });
});

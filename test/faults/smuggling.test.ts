/**
 * Request smuggling and framing: ambiguous or broken requests are refused with 400 and never
 * reach the upstream in a form it could read differently. What the upstream receives is
 * captured on a raw socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createProxy } from '../../src/proxy/create.js';
import { baseline, expectSettled, logCapture, rawExchange, rawHead, startScriptedUpstream, type ScriptedUpstream } from './support.js';

let upstream: ScriptedUpstream;
let proxy: FastifyInstance;
let port = 0;
const logs = logCapture();

beforeAll(async () => {
  // answers once it has seen the head and whatever body came within 100 ms
  upstream = await startScriptedUpstream(() => (s) => {
    setTimeout(() => {
      if (!s.destroyed) s.end(rawHead(200, [['content-length', 2], ['connection', 'close']]) + 'ok');
    }, 100);
  });
  proxy = createProxy(
    { upstreams: { app: { servers: [upstream.url], requestBodyTimeout: 1000 } }, locations: [{ path: '/', upstream: 'app' }] },
    { logger: { level: 'info', stream: logs.stream } },
  );
  await proxy.listen({ port: 0, host: '127.0.0.1' });
  port = (proxy.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n';

/** Requests the proxy must refuse with 400 before the upstream sees anything. */
const refusedBeforeForwarding: Record<string, string> = {
  'both Content-Length and Transfer-Encoding': `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  'Transfer-Encoding then Content-Length': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 40\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  'two Content-Length headers that differ': `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ncontent-length: 40\r\n\r\nabcd${SMUGGLED}`,
  'two equal Content-Length headers': `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ncontent-length: 4\r\n\r\nabcd`,
  'a Content-Length list': `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4, 4\r\n\r\nabcd`,
  'a signed Content-Length': `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: +4\r\n\r\nabcd`,
  'a Transfer-Encoding that does not end in chunked': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  'an unknown Transfer-Encoding': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: xchunked\r\n\r\n0\r\n\r\n`,
  'whitespace before the colon': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding : chunked\r\ncontent-length: 4\r\n\r\nabcd`,
  'obs-fold (a header continued on the next line)': `GET /a HTTP/1.1\r\nhost: x\r\nx-folded: one\r\n two\r\n\r\n`,
  'obs-fold hiding Transfer-Encoding': `POST /a HTTP/1.1\r\nhost: x\r\nx-a: b\r\n transfer-encoding: chunked\r\ncontent-length: 4\r\n\r\nabcd`,
  'bare LF line endings': `GET /a HTTP/1.1\nhost: x\n\n`,
  'a bare LF inside the head': `GET /a HTTP/1.1\r\nhost: x\nx-b: y\r\n\r\n`,
  'a bare CR inside a header value': `GET /a HTTP/1.1\r\nhost: x\r\nx-b: y\rz\r\n\r\n`,
  'a NUL in a header value': `GET /a HTTP/1.1\r\nhost: x\r\nx-b: y\0z\r\n\r\n`,
  'a space in the request target': `GET /a b HTTP/1.1\r\nhost: x\r\n\r\n`,
  'two Host headers': `GET /a HTTP/1.1\r\nhost: x\r\nhost: y\r\n\r\n`,
  'no Host header (HTTP/1.1)': `GET /a HTTP/1.1\r\nx-a: b\r\n\r\n`,
};

describe('framing and smuggling', () => {
  for (const [name, request] of Object.entries(refusedBeforeForwarding)) {
    it(`${name}: 400, the connection is closed, the upstream receives nothing`, async () => {
      const before = baseline();
      const seen = upstream.requests.length;
      const r = await rawExchange(port, { request, timeoutMs: 3000, waitClose: true });
      await new Promise((res) => setTimeout(res, 150));
      expect(r.status).toBe(400);
      expect(r.timedOut).toBe(false); // the proxy closed the connection
      expect(upstream.requests.slice(seen)).toEqual([]);
      await expectSettled(before);
    });
  }

  it('oversized headers (over 16 KiB): 431, the upstream receives nothing', async () => {
    const seen = upstream.requests.length;
    const r = await rawExchange(port, { request: `GET /a HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n` });
    expect(r.status).toBe(431);
    expect(upstream.requests.slice(seen)).toEqual([]);
  });

  const brokenBodies: Record<string, string> = {
    'a chunk size that is not hex': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n${SMUGGLED}`,
    'a chunk size that overflows': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffffff\r\nhello\r\n0\r\n\r\n`,
    'a chunk without its CRLF': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n${SMUGGLED}`,
    'a chunk extension with a bare LF': `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5;a=b\nhello\r\n0\r\n\r\n`,
  };
  for (const [name, request] of Object.entries(brokenBodies)) {
    it(`${name}: 400 or a cut connection; the upstream never receives a complete request nor the smuggled one`, async () => {
      const before = baseline();
      const seen = upstream.requests.length;
      const r = await rawExchange(port, { request, timeoutMs: 3000 });
      expect(r.timedOut).toBe(false);
      if (r.status !== 0) expect(r.status).toBe(400);
      expect(r.complete && r.status === 200).toBe(false);
      await new Promise((res) => setTimeout(res, 300));
      const got = upstream.requests.slice(seen);
      for (const g of got) {
        // a head may have gone out (the body streams), but never the end of a chunked body
        expect(g.body.toString('latin1')).not.toContain('0\r\n\r\n');
        expect(g.body.toString('latin1')).not.toContain('smuggled');
      }
      expect(got.map((g) => g.target)).not.toContain('/smuggled');
      await expectSettled(before);
    });
  }

  it('a smuggling attempt in a well-framed chunked body is just body bytes: the upstream gets them re-framed, and no second request', async () => {
    const seen = upstream.requests.length;
    const body = `0\r\n\r\n${SMUGGLED}`;
    const r = await rawExchange(port, {
      request: `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 150));
    const got = upstream.requests.slice(seen);
    expect(got.map((g) => g.target)).toEqual(['/a']);
    expect(got[0]!.head.toLowerCase()).toContain(`content-length: ${body.length}`);
    expect(got[0]!.head.toLowerCase()).not.toContain('transfer-encoding');
    expect(got[0]!.body.toString('latin1')).toBe(body);
  });

  it('pipelined requests after a chunked body are separate requests to the proxy, each matched and framed on its own', async () => {
    const seen = upstream.requests.length;
    const r = await rawExchange(port, {
      request: `POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      timeoutMs: 3000,
    });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 300));
    const got = upstream.requests.slice(seen);
    expect(got.map((g) => `${g.method} ${g.target}`)).toEqual(['POST /a', 'GET /b']);
    // each went on its own connection, with its own framing
    expect(got[0]!.body.toString('latin1')).toMatch(/^(3\r\nabc\r\n0\r\n\r\n|abc)$/);
    expect(got[1]!.body.length).toBe(0);
  });

  it("the refusals are logged, with the parser's reason, and the proxy goes on serving", async () => {
    const mark = logs.lines.length;
    await rawExchange(port, { request: refusedBeforeForwarding['two Content-Length headers that differ']! });
    await expect.poll(() => logs.since(mark).some((l) => l.msg === 'bad request refused' && /HPE_/.test(String(l['code'])))).toBe(true);
    const r = await rawExchange(port, { request: `GET /fine HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n` });
    expect(r.status).toBe(200);
  });
});

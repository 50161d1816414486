import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { Socket } from 'node:net';
import { proxyInFront, type Front } from '../proxy-harness.js';

/** An upstream that accepts an "echo" upgrade and then echoes bytes, as a WebSocket server would frames. */
const upstream = http.createServer((_req, res) => res.end('plain'));
let upgradeHeaders: http.IncomingHttpHeaders | undefined;
upstream.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
  upgradeHeaders = req.headers;
  socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\n\r\n');
  if (head.length) socket.write(head);
  socket.pipe(socket);
});

let front: Front;
let port = 0;

beforeAll(async () => {
  front = await proxyInFront(upstream, (up) => ({
    upstreams: { app: { servers: [up] }, dead: { servers: ['http://127.0.0.1:1'] } },
    locations: [
      { path: '/', upstream: 'app', output: ['compress'] },
      { path: '/dead', upstream: 'dead' },
    ],
  }));
  port = front.port;
});

afterAll(() => front.stop());

function upgrade(path: string): Promise<{ status: number; socket?: Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { connection: 'Upgrade', upgrade: 'echo' } });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('upgrade pass-through', () => {
  it('hands the upgrade to the upstream and then moves bytes both ways untouched', async () => {
    const { status, socket } = await upgrade('/chat/../ws?room=1');
    expect(status).toBe(101);
    expect(upgradeHeaders!['upgrade']).toBe('echo');
    expect(upgradeHeaders!['x-forwarded-for']).toBe('127.0.0.1');
    const echoed = await new Promise<string>((resolve) => {
      let got = '';
      socket!.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.length >= 9) resolve(got);
      });
      socket!.write('ping-pong');
    });
    expect(echoed).toBe('ping-pong');
    socket!.destroy();
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const { status } = await upgrade('/dead/ws');
    expect(status).toBe(502);
  });
});

/**
 * Overload: with more connections than listen.maxConnections, the ones over the limit are
 * closed at once (never served half-way), the admitted requests keep a bounded latency, memory
 * stays bounded, the refusals are logged, and capacity comes back when connections close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { proxyInFront, type Front } from '../proxy-harness.js';
import { logCapture, parseResponse } from './support.js';

const MAX = 16;
const upstream = http.createServer((req, res) => {
  const delay = req.url?.startsWith('/slow') ? 200 : 0;
  setTimeout(() => res.end('x'.repeat(2048)), delay);
});
let front: Front;
let port = 0;
const logs = logCapture();

beforeAll(async () => {
  front = await proxyInFront(
    upstream,
    (url) => ({
      listen: { maxConnections: MAX },
      upstreams: { app: { servers: [url] } },
      locations: [{ path: '/', upstream: 'app', output: ['compress'] }],
    }),
    { logger: { level: 'info', stream: logs.stream } },
  );
  port = front.port;
});

afterAll(() => front.stop());

/** A keep-alive connection that sends one request at a time and times each exchange. */
class Conn {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #waiting: ((ms: number) => void) | undefined;
  #started = 0;
  closed = false;
  constructor() {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      const r = parseResponse(this.#buf, 'open');
      if (r.complete && this.#waiting) {
        this.#buf = this.#buf.subarray(r.length);
        const done = this.#waiting;
        this.#waiting = undefined;
        done(performance.now() - this.#started);
      }
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }
  ready(): Promise<void> {
    return new Promise((r) => (this.socket.connecting ? this.socket.once('connect', () => r()) : r()));
  }
  get(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#started = performance.now();
      this.socket.write(`GET ${path} HTTP/1.1\r\nhost: t\r\naccept-encoding: gzip\r\n\r\n`);
      this.socket.once('close', () => reject(new Error('closed')));
    });
  }
}

/** Whether a new connection is served: 'served', or 'refused' (closed before any response). */
function attempt(): Promise<'served' | 'refused'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    s.on('connect', () => s.write('GET /fast HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n'));
    s.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
    s.on('error', () => undefined);
    s.on('close', () => resolve(parseResponse(got, 'end').status === 200 ? 'served' : 'refused'));
    setTimeout(() => s.destroy(), 5000);
  });
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

describe(`listen.maxConnections: ${MAX}`, () => {
  it('connections over the limit are closed at once without a response; the admitted ones keep a bounded latency; memory stays bounded; refusals are logged', async () => {
    const admitted = Array.from({ length: MAX }, () => new Conn());
    await Promise.all(admitted.map((c) => c.ready()));
    // every admitted connection is really in: one request each
    await Promise.all(admitted.map((c) => c.get('/fast')));
    const rssBefore = process.memoryUsage().rss;

    // the flood: 400 more connection attempts, 50 at a time, while the admitted ones work
    const outcomes: string[] = [];
    const flood = (async () => {
      for (let round = 0; round < 8; round++) outcomes.push(...(await Promise.all(Array.from({ length: 50 }, attempt))));
    })();
    const latencies: number[] = [];
    const work = Promise.all(
      admitted.map(async (c) => {
        for (let i = 0; i < 15; i++) latencies.push(await c.get('/fast'));
      }),
    );
    await Promise.all([flood, work]);

    expect(outcomes.filter((o) => o === 'served')).toEqual([]);
    expect(outcomes).toHaveLength(400);
    expect(admitted.every((c) => !c.closed)).toBe(true);
    expect(latencies).toHaveLength(MAX * 15);
    // bounded: a refused connection costs an accept and a close, not a request
    expect(quantile(latencies, 0.99)).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    await expect.poll(() => logs.lines.some((l) => l.msg === 'connections refused: maxConnections reached' && Number(l['dropped']) > 0), { timeout: 3000 }).toBe(true);

    // capacity comes back when admitted connections go
    for (const c of admitted.slice(0, 4)) c.socket.destroy();
    await expect.poll(async () => attempt(), { timeout: 3000 }).toBe('served');
    for (const c of admitted) c.socket.destroy();
  });

  it('slow requests holding every connection do not let more in, and each still completes', async () => {
    const held = Array.from({ length: MAX }, () => new Conn());
    await Promise.all(held.map((c) => c.ready()));
    const slow = held.map((c) => c.get('/slow'));
    expect(await attempt()).toBe('refused');
    const times = await Promise.all(slow);
    expect(Math.max(...times)).toBeLessThan(2000);
    for (const c of held) c.socket.destroy();
    await expect.poll(async () => attempt(), { timeout: 3000 }).toBe('served');
  });
});

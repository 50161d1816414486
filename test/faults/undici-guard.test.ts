/**
 * undici 7 throws an uncatchable AssertionError (the process dies) when an upstream sends FIN
 * while undici's parser is paused by backpressure (nodejs/undici#5360). The proxy's upstream
 * pools connect through guardedConnector, which resumes the parser first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { guardedConnector } from '../../src/proxy/undici-guard.js';

/** Answers every request with `size` bytes, Content-Length and Connection: close, then FIN. */
const server = net.createServer((sock) => {
  sock.on('error', () => undefined);
  sock.once('data', (c: Buffer) => {
    const size = Number(/size=(\d+)/.exec(c.toString())?.[1]);
    sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\nconnection: close\r\n\r\n`);
    sock.end(Buffer.alloc(size, 0x61));
  });
});
let origin = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('guardedConnector', () => {
  for (const size of [65536, 70000, 131072]) {
    it(`a ${size}-byte Connection: close response read only after the upstream closed arrives complete (no crash)`, async () => {
      const pool = new Pool(origin, { connect: guardedConnector({}) });
      try {
        const res = await pool.request({ path: `/?size=${size}`, method: 'GET' });
        await new Promise((r) => setTimeout(r, 200)); // the body is not read: the parser pauses, then FIN arrives
        let n = 0;
        for await (const c of res.body) n += (c as Buffer).length;
        expect(n).toBe(size);
      } finally {
        await pool.close();
      }
    });
  }

  it('without the guard the same exchange kills the process (when this fails, undici is fixed and the guard can go)', async () => {
    const script = `
      import { Pool } from 'undici';
      const pool = new Pool(${JSON.stringify(origin)});
      const res = await pool.request({ path: '/?size=65536', method: 'GET' });
      await new Promise((r) => setTimeout(r, 200));
      for await (const c of res.body);
      await pool.close();
    `;
    // (in a child process: this one must serve the upstream meanwhile, and survive)
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 10_000 }, (err, _out, stderr) =>
        resolve({ code: err ? (child.exitCode ?? 1) : 0, stderr }),
      );
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('assert(!this.paused)');
  });
});

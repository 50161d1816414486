import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The `sluice` command's admin listener: from the config, in the banner, fed by the reloader. */

const root = resolve(__dirname, '../..');
let release: (() => void) | undefined;
const upstream = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  if (req.url === '/slow') {
    res.write('a');
    release = () => res.end('b');
    return;
  }
  res.end('hello');
});
let dir = '';
let upstreamUrl = '';

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'sluice-admin-'));
});

afterAll(async () => {
  release?.();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function start(config: string, extra: string[] = []): { child: ChildProcess; banner: Promise<{ proxy: string; admin: string | undefined }> } {
  const file = join(dir, 'sluice.yaml');
  writeFileSync(file, config);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/proxy/cli.ts'), '--config', file, '--port', '0', '--no-watch', ...extra], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  let out = '';
  const banner = new Promise<{ proxy: string; admin: string | undefined }>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/[^\s,()]+)[^\n]*\n(?:admin: (http:\/\/\S+))?/.exec(out);
      if (m && out.endsWith('\n')) resolve({ proxy: m[1]!, admin: m[2] });
    });
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`no banner: ${out}`)), 60_000); // workers compile the sources with tsx: slow on a loaded machine
  });
  return { child, banner };
}

async function text(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

describe('sluice --config with an admin section', () => {
  it('prints the admin URL, serves metrics that follow requests and reloads, and turns unready on SIGTERM', async () => {
    const { child, banner } = start(
      ['admin: { port: 0 }', 'upstreams:', `  app: { servers: [${upstreamUrl}] }`, 'locations:', '  - path: /', '    upstream: app', ''].join('\n'),
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const { proxy, admin } = await banner;
      expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await text(`${proxy}/x`)).body).toBe('hello');
      expect((await text(`${admin}/readyz`)).status).toBe(200);
      let m = (await text(`${admin}/metrics`)).body;
      expect(m).toMatch(/^sluice_requests_total\{location="prefix \/",status="2xx"\} 1$/m);
      child.kill('SIGHUP');
      for (let i = 0; i < 100 && !/sluice_config_generation 2/.test(m); i++) {
        await new Promise((r) => setTimeout(r, 50));
        m = (await text(`${admin}/metrics`)).body;
      }
      expect(m).toMatch(/^sluice_config_reloads_total\{result="accepted"\} 1$/m);
      // a request in flight keeps the process draining; readiness is already gone
      // (agent: false: a keep-alive connection left idle after its response would hold the drain
      // until the grace period ends)
      const slow = new Promise<string>((resolve, reject) => {
        http.get(`${proxy}/slow`, { agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      for (let i = 0; i < 100 && !release; i++) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGTERM');
      let ready = 200;
      for (let i = 0; i < 100 && ready === 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        ready = (await text(`${admin}/readyz`)).status;
      }
      expect(ready).toBe(503);
      release!();
      release = undefined;
      expect(await slow).toBe('ab');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('--workers 2: the primary listens and sums the workers\' counts; ready when every worker is', async () => {
    const { child, banner } = start(
      ['admin: { port: 0 }', 'upstreams:', `  app: { servers: [${upstreamUrl}] }`, 'locations:', '  - path: /', '    upstream: app', ''].join('\n'),
      ['--workers', '2'],
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const { proxy, admin } = await banner;
      expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // new connections go round robin: each worker serves some of them
      for (let i = 0; i < 6; i++) {
        await new Promise<void>((resolve, reject) => {
          http.get(`${proxy}/r${i}`, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
        });
      }
      let m = '';
      for (let i = 0; i < 50 && !/status="2xx"\} 6$/m.test(m); i++) {
        await new Promise((r) => setTimeout(r, 40));
        m = (await text(`${admin}/metrics`)).body;
      }
      expect(m).toMatch(/^sluice_requests_total\{location="prefix \/",status="2xx"\} 6$/m);
      expect(m).toMatch(/^sluice_request_duration_seconds_count\{location="prefix \/"\} 6$/m);
      expect(m).toMatch(/^sluice_response_body_bytes_total\{location="prefix \/"\} 30$/m);
      expect(m).toMatch(/^sluice_config_generation 1$/m);
      expect((await text(`${admin}/readyz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('enabled: false: no admin listener, no admin line', async () => {
    const { child, banner } = start(
      ['admin: { enabled: false, port: 0 }', 'upstreams:', `  app: { servers: [${upstreamUrl}] }`, 'locations:', '  - path: /', '    upstream: app', ''].join('\n'),
    );
    try {
      expect((await banner).admin).toBeUndefined();
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});

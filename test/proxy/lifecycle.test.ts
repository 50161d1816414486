import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PAGE = '<p>a page that takes a while</p>\n'.repeat(200);

let release: (() => void) | undefined;
const upstream = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  if (req.url === '/slow') {
    res.write(PAGE.slice(0, 500));
    release = () => res.end(PAGE.slice(500));
    return;
  }
  res.end(PAGE);
});
let upstreamUrl = '';
let dir = '';

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'sluice-life-'));
});
afterAll(() => new Promise((r) => upstream.close(r)));

const yaml = (output: string): string => `upstreams:\n  app: { servers: ["${upstreamUrl}"] }\nlocations:\n  - path: /\n    upstream: app\n    output: ${output}\n`;

interface Running {
  child: ChildProcess;
  url: string;
  out: () => string;
  exited: Promise<number | null>;
}

/** The CLI from source (tsx), so the test does not depend on a build. */
function start(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/proxy/cli.ts', ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/[^\s,()]+)/.exec(out);
      if (m) {
        clearInterval(t);
        resolve({ child, url: m[1]!, out: () => out, exited });
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(t);
      reject(new Error(`exited ${code} before listening:\n${out}`));
    });
    setTimeout(() => {
      clearInterval(t);
      child.kill('SIGKILL');
      reject(new Error(`no banner:\n${out}`));
    }, 60_000); // tsx compiles the sources in each process: slow on a loaded machine
  });
}

function get(url: string, agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'gzip' }, agent }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('running sluice', () => {
  it('SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    const file = join(dir, 'term.yaml');
    writeFileSync(file, yaml('[]'));
    const p = await start(['--config', file, '--port', '0']);
    release = undefined;
    const inFlight = get(`${p.url}/slow`);
    await until(() => release !== undefined, 'the slow request upstream');
    p.child.kill('SIGTERM');
    await until(() => p.out().includes('shutting down'), 'the shutdown log line');
    await expect(get(`${p.url}/`)).rejects.toThrow(/ECONNREFUSED/);
    release!();
    const r = await inFlight;
    expect(r.complete).toBe(true);
    expect(r.body).toBe(PAGE);
    expect(await p.exited).toBe(0);
  }, 90_000);

  it('SIGTERM with a keep-alive client: the connection closes once its response is done, and the process exits long before --grace', async () => {
    const file = join(dir, 'keepalive.yaml');
    writeFileSync(file, yaml('[]'));
    const p = await start(['--config', file, '--port', '0', '--grace', '30']);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await get(`${p.url}/`, agent)).complete).toBe(true); // the connection is now kept alive
      release = undefined;
      const inFlight = get(`${p.url}/slow`, agent);
      await until(() => release !== undefined, 'the slow request upstream');
      p.child.kill('SIGTERM');
      await until(() => p.out().includes('shutting down'), 'the shutdown log line');
      release!();
      expect((await inFlight).body).toBe(PAGE);
      const t0 = Date.now();
      expect(await p.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      agent.destroy();
    }
  }, 90_000);

  it('--workers 2: one banner, both serve; SIGHUP reloads every worker; SIGTERM ends them all with exit 0', async () => {
    const file = join(dir, 'workers.yaml');
    writeFileSync(file, yaml('[]'));
    const p = await start(['--config', file, '--port', '0', '--workers', '2', '--no-watch']);
    expect(p.out()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(.*workers\.yaml, 2 workers\)/);
    expect((await get(`${p.url}/`)).headers['content-encoding']).toBeUndefined();
    writeFileSync(file, yaml('[compress]'));
    p.child.kill('SIGHUP');
    // each worker reloads on its own; once both have, every request is compressed
    await until(() => (p.out().match(/config reloaded/g) ?? []).length >= 2, 'both workers to reload');
    for (let i = 0; i < 8; i++) expect((await get(`${p.url}/`)).headers['content-encoding']).toBe('gzip');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 90_000);

  it('--workers with a bad config: exits non-zero before any worker listens', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml('[nope]'));
    await expect(start(['--config', file, '--port', '0', '--workers', '2'])).rejects.toThrow(/exited 1 before listening:[\s\S]*unknown filter "nope"/);
  }, 90_000);

  it.each([
    [['--workers', '0'], /--workers: a number of processes \(1-256\) or "auto", not 0/],
    [['--grace', 'soon'], /--grace: seconds to finish in-flight requests at shutdown, not soon/],
  ])('%j is refused with a clear message', async (args, expected) => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, yaml('[]'));
    await expect(start(['--config', file, '--port', '0', ...args])).rejects.toThrow(expected);
  }, 90_000);
});

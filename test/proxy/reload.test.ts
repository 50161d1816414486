import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { loadConfigFile } from '../../src/pipeline/config/load.js';
import { LiveConfig } from '../../src/proxy/live-config.js';
import { startReloader, type Reloader } from '../../src/proxy/reloader.js';
import { createProxyServer } from '../../src/proxy/server.js';

const PAGE = '<p>reload me, I am a page of some length.</p>\n'.repeat(100);

/** /slow sends half the page, waits for the test to say go, then the rest. */
let release: (() => void) | undefined;
const upstream = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  if (req.url === '/slow') {
    res.write(PAGE.slice(0, 1000));
    release = () => res.end(PAGE.slice(1000));
    return;
  }
  res.end(PAGE);
});

let dir = '';
let file = '';
let proxy: FastifyInstance;
let live: LiveConfig;
let reloader: Reloader;
let base = '';
let upstreamUrl = '';
const logs: string[] = [];
const log = { info: (o: object, m: string) => void logs.push(`info ${m} ${JSON.stringify(o)}`), error: (o: object, m: string) => void logs.push(`error ${m} ${JSON.stringify(o)}`) };

const yaml = (output: string): string => `upstreams:\n  app: { servers: ["${upstreamUrl}"] }\nlocations:\n  - path: /\n    upstream: app\n    output: ${output}\n`;

function get(path: string): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${path}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 5_000) throw new Error(`timed out waiting for ${what}; logs:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'sluice-reload-'));
  file = join(dir, 'sluice.yaml');
  writeFileSync(file, yaml('[]'));
  const first = loadConfigFile(file);
  if (!first.ok) throw new Error('bad test config');
  live = new LiveConfig(first.config);
  proxy = createProxyServer(live);
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
  reloader = startReloader({ file, live, load: (f) => loadConfigFile(f), log, debounceMs: 30 });
});

afterAll(async () => {
  reloader.close();
  await proxy.close();
  await new Promise((r) => upstream.close(r));
});

describe('hot reload', () => {
  it('a changed file serves new requests; a request in flight finishes on the chain it started with', async () => {
    const before = await get('/');
    expect(before.headers['content-encoding']).toBeUndefined();

    const inFlight = get('/slow');
    await until(() => release !== undefined, 'the slow request to reach the upstream');
    const generation = live.generation;
    writeFileSync(file, yaml('[compress]'));
    await until(() => live.generation > generation, 'the reload');

    const after = await get('/');
    expect(after.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(after.body).toString()).toBe(PAGE);

    release!();
    const old = await inFlight;
    expect(old.headers['content-encoding']).toBeUndefined(); // the old chain, to the end
    expect(old.body.toString()).toBe(PAGE);
  });

  it('a broken new config is refused with its problems logged, and the old one keeps serving', async () => {
    const generation = live.generation;
    const refused = reloader.counts.refused;
    writeFileSync(file, yaml('[compresss]'));
    await until(() => reloader.counts.refused > refused, 'the refusal');
    expect(live.generation).toBe(generation);
    expect(logs.join('\n')).toMatch(/config reload refused, the previous config keeps serving:[\s\S]*unknown filter "compresss"[\s\S]*did you mean/);
    const still = await get('/');
    expect(still.headers['content-encoding']).toBe('gzip');
  });

  it('a file replaced by rename (as editors and config tools do) is picked up', async () => {
    const generation = live.generation;
    const tmp = join(dir, '.sluice.yaml.tmp');
    writeFileSync(tmp, yaml('[]'));
    renameSync(tmp, file);
    await until(() => live.generation > generation, 'the reload after rename');
    expect((await get('/')).headers['content-encoding']).toBeUndefined();
  });

  it('reload() on demand (what SIGHUP calls) reports whether the new config serves', async () => {
    writeFileSync(join(dir, 'other.yaml'), 'x'); // a change to another file in the directory does not reload
    const generation = live.generation;
    await new Promise((r) => setTimeout(r, 100));
    expect(live.generation).toBe(generation);
    await expect(reloader.reload('SIGHUP')).resolves.toBe(true);
    expect(live.generation).toBe(generation + 1);
  });

  it('the old generation closes its upstream pools once its last request is done', async () => {
    const gen = live.current;
    await reloader.reload('SIGHUP');
    expect(gen.inFlight).toBe(0);
    await expect(gen.retire()).resolves.toBeUndefined();
  });
});

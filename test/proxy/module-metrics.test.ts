import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { formatProblems } from '../../src/pipeline/config/errors.js';
import { loadConfigFileWithModules } from '../../src/pipeline/config/modules.js';
import { LiveConfig } from '../../src/proxy/live-config.js';
import { startReloader, type Reloader } from '../../src/proxy/reloader.js';
import { createProxyServer } from '../../src/proxy/server.js';

/**
 * A filter loaded from a file by a config's `modules:` shows in /metrics and in `trace` like a
 * builtin, with no code of its own for either; after its module is edited and reloaded, its
 * counters run on under the same name and trace shows the new code's figures.
 */
const root = join(import.meta.dirname, '../..');
const BODY = 'just some text from the upstream\n'.repeat(20);

/** The module as an author writes it: the work, nothing about metrics or tracing. */
const stampModule = (stamp: string): string => `import { defineFilter } from ${JSON.stringify(join(root, 'src/index.js'))};
export default defineFilter({
  name: 'stamp',
  directions: ['output'],
  create: () => ({ onEnd: (out) => out.push(new TextEncoder().encode(${JSON.stringify(stamp)})) }),
});
`;

const upstream = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(BODY));
const logLines: Array<Record<string, unknown>> = [];
const logStream = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  },
});

let dir = '';
let base = '';
let admin = '';
let proxy: FastifyInstance;
let live: LiveConfig;
let reloader: Reloader;

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  dir = mkdtempSync(join(tmpdir(), 'sluice-module-metrics-'));
  mkdirSync(join(dir, 'filters'));
  writeFileSync(join(dir, 'filters/stamp.ts'), stampModule('[one]'));
  writeFileSync(
    join(dir, 'sluice.yaml'),
    [
      'admin: { port: 0 }',
      'modules: [./filters/stamp.ts]',
      'upstreams:',
      `  app: { servers: ["http://127.0.0.1:${(upstream.address() as AddressInfo).port}"] }`,
      'locations:',
      '  - { path: /t, upstream: app, output: [trace, stamp] }',
      '  - { path: /, upstream: app, output: [stamp] }',
      '',
    ].join('\n'),
  );
  const first = await loadConfigFileWithModules(join(dir, 'sluice.yaml'));
  if (!first.ok) throw new Error(formatProblems(first.errors));
  live = new LiveConfig(first.config);
  proxy = createProxyServer(live, { logger: { level: 'debug', stream: logStream } });
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
  admin = proxy.sluiceAdmin!.url!;
  reloader = startReloader({ file: join(dir, 'sluice.yaml'), live, load: (f) => loadConfigFileWithModules(f), log: proxy.log, debounceMs: 30 });
});

afterAll(async () => {
  reloader.close();
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

/** `name{labels} value` of the exposition, for one filter of one location. */
async function filterBytes(location: string, filter: string): Promise<{ in: number | undefined; out: number | undefined }> {
  const exposition = await text(`${admin}/metrics`);
  const find = (metric: string): number | undefined => {
    const line = exposition.split('\n').find((l) => l.startsWith(`${metric}{location="${location}",direction="output",filter="${filter}"} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return { in: find('sluice_filter_in_bytes_total'), out: find('sluice_filter_out_bytes_total') };
}

describe('a filter from a module, in metrics and trace', () => {
  it('is counted per location in /metrics, like a builtin', async () => {
    expect(await text(`${base}/t/a`)).toBe(`${BODY}[one]`);
    expect(await text(`${base}/t/b`)).toBe(`${BODY}[one]`);
    expect(await text(`${base}/other`)).toBe(`${BODY}[one]`);
    expect(await filterBytes('prefix /t', 'stamp')).toEqual({ in: 2 * BODY.length, out: 2 * (BODY.length + 5) });
    expect(await filterBytes('prefix /', 'stamp')).toEqual({ in: BODY.length, out: BODY.length + 5 });
  });

  it('is traced where the location has trace: one debug line per message with its bytes and time', () => {
    const traced = logLines.filter((l) => l['msg'] === 'filter trace');
    expect(traced.map((l) => [l['url'], l['filter'], l['position'], l['bytesIn'], l['bytesOut']])).toEqual([
      ['/t/a', 'stamp', 1, BODY.length, BODY.length + 5],
      ['/t/b', 'stamp', 1, BODY.length, BODY.length + 5],
    ]);
    for (const l of traced) expect(typeof l['ms']).toBe('number');
  });

  it('after its module is edited and reloaded, its counters run on and trace shows the new code', async () => {
    const generation = live.generation;
    writeFileSync(join(dir, 'filters/stamp.ts'), stampModule('[second]'));
    for (let t0 = Date.now(); live.generation === generation; ) {
      if (Date.now() - t0 > 10_000) throw new Error(`no reload: ${JSON.stringify(reloader.counts)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await text(`${base}/t/c`)).toBe(`${BODY}[second]`);
    expect(await filterBytes('prefix /t', 'stamp')).toEqual({ in: 3 * BODY.length, out: 3 * BODY.length + 2 * 5 + 8 });
    expect(logLines.filter((l) => l['msg'] === 'filter trace').at(-1)).toMatchObject({ url: '/t/c', filter: 'stamp', bytesOut: BODY.length + 8 });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { formatProblems } from '../../src/pipeline/config/errors.js';
import { loadConfigFileWithModules } from '../../src/pipeline/config/modules.js';
import { LiveConfig } from '../../src/proxy/live-config.js';
import { startReloader, type Reloader } from '../../src/proxy/reloader.js';
import { createProxyServer } from '../../src/proxy/server.js';

/**
 * Filter modules reloaded while the proxy serves: edit a module (or a file it imports), and
 * new requests get the new code while a request in flight ends on the old; a module that
 * does not load or validate is refused and the old code keeps serving.
 */

const root = join(import.meta.dirname, '../..');

/** A module appending `tag` at the end of the body: onEnd runs late, so it shows which code finished a request. */
const tagModule = (tag: string): string => `import { defineFilter } from ${JSON.stringify(join(root, 'src/index.js'))};
export default defineFilter({
  name: 'tag',
  directions: ['output'],
  create: () => ({ onEnd: (out) => out.push(new TextEncoder().encode(${JSON.stringify(tag)})) }),
});
`;
/** A TypeScript module whose suffix comes from a file it imports. */
const shoutModule = `import { defineFilter, Type } from ${JSON.stringify(join(root, 'src/index.js'))};
import { suffix } from './lib/suffix.js';
interface Opts { times: number }
export const shout = defineFilter({
  name: 'shout',
  directions: ['output'],
  options: Type.Object({ times: Type.Integer({ minimum: 1, default: 1 }) }, { additionalProperties: false }),
  create: ({ options }: { options: Opts }) => ({
    onHead: (head) => {
      head.headers.set('x-shout', suffix);
    },
    onData: (chunk, out) => out.push(new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase())),
    onEnd: (out) => out.push(new TextEncoder().encode(suffix.repeat(options.times))),
  }),
});
`;

let release: (() => void) | undefined;
const upstream = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  if (req.url === '/slow') {
    res.write('slow ');
    release = () => res.end('body');
    return;
  }
  res.end('body');
});

let dir = '';
let file = '';
let base = '';
let proxy: FastifyInstance;
let live: LiveConfig;
let reloader: Reloader;
const logs: string[] = [];
const log = {
  info: (o: object, m: string) => void logs.push(`info ${m} ${JSON.stringify(o)}`),
  error: (o: object, m: string) => void logs.push(`error ${m} ${JSON.stringify(o)}`),
};

const write = (rel: string, text: string): void => {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), text);
};

function get(path: string): Promise<{ headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${path}`, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ headers: res.headers, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${what}; logs:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Write, then wait for the reload that the change causes (accepted or refused). */
async function change(rel: string, text: string, expect: 'accepted' | 'refused'): Promise<void> {
  const before = reloader.counts[expect];
  write(rel, text);
  await until(() => reloader.counts[expect] > before, `a reload to be ${expect} after writing ${rel}`);
}

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'sluice-module-reload-'));
  write('filters/package.json', '{ "type": "module" }');
  write('filters/tag.mjs', tagModule('[v1]'));
  write('filters/shout.ts', shoutModule);
  write('filters/lib/suffix.ts', `export const suffix = '!';\n`);
  file = join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    [
      'modules: [./filters/tag.mjs, ./filters/shout.ts]',
      'upstreams:',
      `  app: { servers: ["${upstreamUrl}"] }`,
      'locations:',
      '  - { path: /, upstream: app, output: [shout, tag] }',
      '',
    ].join('\n'),
  );
  const first = await loadConfigFileWithModules(file);
  if (!first.ok) throw new Error(formatProblems(first.errors));
  live = new LiveConfig(first.config);
  proxy = createProxyServer(live);
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
  reloader = startReloader({ file, live, load: (f) => loadConfigFileWithModules(f), log, format: (e) => formatProblems(e, file), debounceMs: 40 });
});

afterAll(async () => {
  reloader.close();
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('filter modules reloaded without a restart', () => {
  it('loads and uses both modules; the files watched include what a module imports', async () => {
    expect(await get('/')).toMatchObject({ body: 'BODY![v1]', headers: { 'x-shout': '!' } });
    expect(live.current.config.modules!.map((m) => m.files.map((f) => f.slice(dir.length)))).toEqual([['/filters/tag.mjs'], ['/filters/shout.ts', '/filters/lib/suffix.ts']]);
  });

  it('a changed module serves new requests while a request in flight finishes on the old code', async () => {
    const inFlight = get('/slow');
    await until(() => release !== undefined, 'the slow request to reach the upstream');
    await change('filters/tag.mjs', tagModule('[v2]'), 'accepted');
    expect(logs.at(-1)).toContain('"reason":"module changed: ');
    expect((await get('/')).body).toBe('BODY![v2]');
    release!();
    expect((await inFlight).body).toBe('SLOW BODY![v1]'); // its onEnd ran after the reload, on v1
  });

  it('a change to a file the module imports reloads it too', async () => {
    await change('filters/lib/suffix.ts', `export const suffix = '?';\n`, 'accepted');
    expect(await get('/')).toMatchObject({ body: 'BODY?[v2]', headers: { 'x-shout': '?' } });
  });

  it('a module that does not compile is refused, naming file and line; the old code keeps serving, requests in flight too', async () => {
    release = undefined;
    const inFlight = get('/slow');
    await until(() => release !== undefined, 'the slow request to reach the upstream');
    const generation = live.generation;
    await change('filters/tag.mjs', tagModule('[v3]').replace('create:', 'create: =>'), 'refused');
    expect(live.generation).toBe(generation);
    expect(logs.at(-1)).toMatch(/^error config reload refused, the previous config keeps serving:\n.*sluice\.yaml:1: modules\[0\]: \.\/filters\/tag\.mjs:5:11: syntax error: /);
    expect((await get('/')).body).toBe('BODY?[v2]');
    release!();
    expect((await inFlight).body).toBe('SLOW BODY?[v2]');
  });

  it('a module that throws while loading, or whose filter is invalid, is refused too', async () => {
    await change('filters/tag.mjs', `${tagModule('[v3]')}\nthrow new Error('not today');\n`, 'refused');
    expect(logs.at(-1)).toContain('modules[0]: ./filters/tag.mjs:8:7: cannot load: not today');
    await change('filters/tag.mjs', tagModule('[v3]').replace("['output']", "['sideways']"), 'refused');
    // defineFilter checks the definition as the module loads, so the line is known
    expect(logs.at(-1)).toContain('modules[0]: ./filters/tag.mjs:2:16: cannot load: filter "tag": unknown direction "sideways"');
    await change('filters/lib/suffix.ts', `export const suffix = ;\n`, 'refused');
    expect(logs.at(-1)).toContain('modules[1]: ./filters/shout.ts: lib/suffix.ts:1:23: syntax error: Unexpected ";"');
    expect((await get('/')).body).toBe('BODY?[v2]');
  });

  it('the fixed module is picked up, including when written by rename', async () => {
    await change('filters/tag.mjs', tagModule('[v3]'), 'refused'); // suffix.ts is still broken
    await change('filters/lib/suffix.ts', `export const suffix = '.';\n`, 'accepted');
    expect((await get('/')).body).toBe('BODY.[v3]');
    const accepted = reloader.counts.accepted;
    write('filters/.tag.mjs.tmp', tagModule('[v4]'));
    renameSync(join(dir, 'filters/.tag.mjs.tmp'), join(dir, 'filters/tag.mjs'));
    await until(() => reloader.counts.accepted > accepted, 'the reload after rename');
    expect((await get('/')).body).toBe('BODY.[v4]');
  });

  it('SIGHUP (reload()) loads the modules fresh; an unrelated file in their folder does not reload', async () => {
    const generation = live.generation;
    write('filters/notes.txt', 'not a module');
    await new Promise((r) => setTimeout(r, 150));
    expect(live.generation).toBe(generation);
    await expect(reloader.reload('SIGHUP')).resolves.toBe(true);
    expect(live.generation).toBe(generation + 1);
    expect((await get('/')).body).toBe('BODY.[v4]');
  });

  it('a module dropped from the config is no longer watched', async () => {
    const accepted = reloader.counts.accepted;
    writeFileSync(file, (await import('node:fs')).readFileSync(file, 'utf8').replace(', ./filters/shout.ts', '').replace('[shout, tag]', '[tag]'));
    await until(() => reloader.counts.accepted > accepted, 'the reload of the config');
    expect((await get('/')).body).toBe('body[v4]');
    const generation = live.generation;
    write('filters/shout.ts', shoutModule.replace('toUpperCase', 'toLowerCase'));
    await new Promise((r) => setTimeout(r, 200));
    expect(live.generation).toBe(generation);
  });
});

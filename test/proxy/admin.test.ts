import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { builtins, defineFilter } from '../../src/index.js';
import { createProxy } from '../../src/proxy/create.js';
import { ChainAbortedError, FilterError } from '../../src/errors.js';
import { ProxyMetrics, upstreamErrorKind } from '../../src/proxy/metrics.js';
import type { SluiceConfig } from '../../src/pipeline/config/types.js';
import { validateConfig } from '../../src/pipeline/config/load.js';

/**
 * The admin listener over real sockets: a real upstream, a proxy with the `trace` filter and a
 * custom filter on some locations, a refused upstream, and pino's output captured as lines.
 */

const PAGE = Buffer.from('<!doctype html><title>t</title>' + '<p>Hello from the upstream, all of it in lower case.</p>\n'.repeat(300));

/** A custom filter, defined here with no tracing or metrics code: upper case, and a mark after each chunk. */
const shout = defineFilter({
  name: 'shout',
  directions: ['input', 'output'],
  create: () => ({ onData: (c, out) => out.push(Buffer.from(`${Buffer.from(c).toString('latin1').toUpperCase()}!`, 'latin1')) }),
});
const registry = builtins.extend().register(shout);

let release: (() => void) | undefined;
const upstream = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first ');
      release = () => res.end('last');
      return;
    }
    if (req.url === '/hang/x') return; // never answers: the proxy's headersTimeout fires
    if (req.url === '/cut/x') {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(PAGE.length) });
      res.write(PAGE.subarray(0, 100));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (req.url === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.concat(chunks));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(PAGE.length) });
    res.end(PAGE);
  });
});

const logLines: Array<Record<string, unknown>> = [];
const logStream = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  },
});

let upstreamUrl = '';
let proxy: FastifyInstance;
let base = '';
let admin = '';

function config(): SluiceConfig {
  return {
    admin: { port: 0 },
    upstreams: {
      app: { servers: [upstreamUrl] },
      dead: { servers: ['http://127.0.0.1:1'] },
      hang: { servers: [upstreamUrl], headersTimeout: 150 },
      cut: { servers: [upstreamUrl] },
    },
    locations: [
      { path: '/', upstream: 'app' },
      { path: '/z', upstream: 'app', output: ['trace', 'shout', 'gzip'] },
      { path: '/echo', match: 'exact', upstream: 'app', input: ['trace', 'shout'] },
      { path: '/dead', upstream: 'dead' },
      { path: '/hang', upstream: 'hang' },
      { path: '/cut', upstream: 'cut' },
    ],
  };
}

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = createProxy(config(), { registry, logger: { level: 'debug', stream: logStream } });
  base = await proxy.listen({ port: 0, host: '127.0.0.1' });
  admin = proxy.sluiceAdmin!.url!;
});

afterAll(async () => {
  release?.();
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(url: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

// ---- a Prometheus text-format reader, strict enough to catch a malformed exposition ----------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      helps.add(line.split(' ')[2]!);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(types.has(name!)).toBe(false); // one TYPE line per family
      types.set(name!, type!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|\+Inf|NaN))$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    if (m![2]) {
      const rest = m![2].replace(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g, (_s, k: string, v: string) => {
        labels[k] = v.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
        return '';
      });
      expect(rest, `bad labels in: ${line}`).toBe('');
    }
    const name = m![1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(family), `sample before its TYPE: ${line}`).toBe(true);
    expect(helps.has(family)).toBe(true);
    samples.push({ name, labels, value: Number(m![3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(): Promise<{ samples: Sample[]; types: Map<string, string> }> {
  const r = await request(`${admin}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(r.body.toString());
}

/** Exchanges are counted when the server side closes, a moment after the client has its bytes. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await check();
    } catch (err) {
      if (i > 40) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe('admin listener: /metrics', () => {
  const zBodies: Buffer[] = [];
  const echoBody = Buffer.from('a request body, in lower case');

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) expect((await request(`${base}/page${i}`)).body.equals(PAGE)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const r = await request(`${base}/z/x`, { headers: { 'accept-encoding': 'gzip' } });
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(zlib.gunzipSync(r.body).toString()).toBe(`${PAGE.toString().toUpperCase()}!`);
      zBodies.push(r.body);
    }
    const e = await request(`${base}/echo`, { method: 'POST', body: echoBody, headers: { 'content-type': 'text/plain' } });
    expect(e.body.toString()).toBe(`${echoBody.toString().toUpperCase()}!`);
    expect((await request(`${base}/dead/x`)).status).toBe(502);
    expect((await request(`${base}/hang/x`)).status).toBe(504);
    await expect(request(`${base}/cut/x`)).rejects.toThrow(); // cut mid-body: the client sees an aborted response
  });

  it('counts requests by location and status class', async () => {
    await eventually(async () => {
      const { samples } = await scrape();
      expect(value(samples, 'sluice_requests_total', { location: 'prefix /', status: '2xx' })).toBe(3);
      expect(value(samples, 'sluice_requests_total', { location: 'prefix /z', status: '2xx' })).toBe(2);
      expect(value(samples, 'sluice_requests_total', { location: 'exact /echo', status: '2xx' })).toBe(1);
      expect(value(samples, 'sluice_requests_total', { location: 'prefix /dead', status: '5xx' })).toBe(1);
      expect(value(samples, 'sluice_requests_total', { location: 'prefix /dead', status: '2xx' })).toBeUndefined();
    });
  });

  it('counts body bytes per location and per filter, on the real bytes', async () => {
    const { samples } = await scrape();
    const sent = zBodies[0]!.length + zBodies[1]!.length;
    const shouted = PAGE.length + 1;
    expect(value(samples, 'sluice_response_body_bytes_total', { location: 'prefix /' })).toBe(3 * PAGE.length);
    expect(value(samples, 'sluice_response_body_bytes_total', { location: 'prefix /z' })).toBe(sent);
    const filter = (metric: string, location: string, direction: string, f: string): number | undefined =>
      value(samples, metric, { location, direction, filter: f });
    // the custom filter: in = the page, out = the page plus its mark, per response (one chunk or more: +1 per chunk)
    const shoutIn = filter('sluice_filter_in_bytes_total', 'prefix /z', 'output', 'shout')!;
    const shoutOut = filter('sluice_filter_out_bytes_total', 'prefix /z', 'output', 'shout')!;
    expect(shoutIn).toBe(2 * PAGE.length);
    expect(shoutOut).toBeGreaterThanOrEqual(2 * shouted);
    // what shout passed on is what gzip was handed; gzip's output is what the clients got
    expect(filter('sluice_filter_in_bytes_total', 'prefix /z', 'output', 'gzip')).toBe(shoutOut);
    expect(filter('sluice_filter_out_bytes_total', 'prefix /z', 'output', 'gzip')).toBe(sent);
    // trace stepped aside: it is not a filter that handled bytes
    expect(filter('sluice_filter_in_bytes_total', 'prefix /z', 'output', 'trace')).toBeUndefined();
    // request bodies: as received, before the input chain; the input chain's filter grew it
    expect(value(samples, 'sluice_request_body_bytes_total', { location: 'exact /echo' })).toBe(echoBody.length);
    expect(filter('sluice_filter_in_bytes_total', 'exact /echo', 'input', 'shout')).toBe(echoBody.length);
    expect(filter('sluice_filter_out_bytes_total', 'exact /echo', 'input', 'shout')).toBe(echoBody.length + 1);
    expect(value(samples, 'sluice_response_body_bytes_total', { location: 'exact /echo' })).toBe(echoBody.length + 1);
  });

  it('counts a refused upstream as an upstream error of kind refused', async () => {
    const { samples } = await scrape();
    expect(value(samples, 'sluice_upstream_errors_total', { upstream: 'dead', kind: 'refused' })).toBe(1);
    expect(value(samples, 'sluice_upstream_errors_total', { upstream: 'dead', kind: 'timeout' })).toBe(0);
    expect(value(samples, 'sluice_upstream_errors_total', { upstream: 'app', kind: 'refused' })).toBeUndefined();
  });

  it('counts a head timeout (504) and a reset mid-body, and the cut response as aborted', async () => {
    await eventually(async () => {
      const { samples } = await scrape();
      expect(value(samples, 'sluice_upstream_errors_total', { upstream: 'hang', kind: 'timeout' })).toBe(1);
      expect(value(samples, 'sluice_requests_total', { location: 'prefix /hang', status: '5xx' })).toBe(1);
      expect(value(samples, 'sluice_upstream_errors_total', { upstream: 'cut', kind: 'reset' })).toBe(1);
      expect(value(samples, 'sluice_requests_total', { location: 'prefix /cut', status: '2xx' })).toBe(1);
      expect(value(samples, 'sluice_responses_aborted_total', { location: 'prefix /cut' })).toBe(1);
      expect(value(samples, 'sluice_responses_aborted_total', { location: 'prefix /' })).toBe(0);
    });
  });

  it('has a latency histogram per location: monotonic buckets, +Inf = _count = requests', async () => {
    const { samples, types } = await scrape();
    expect(types.get('sluice_request_duration_seconds')).toBe('histogram');
    for (const [location, n] of [['prefix /', 3], ['prefix /z', 2], ['exact /echo', 1], ['prefix /dead', 1], ['prefix /hang', 1]] as const) {
      const buckets = samples.filter((s) => s.name === 'sluice_request_duration_seconds_bucket' && s.labels['location'] === location);
      expect(buckets.length).toBeGreaterThan(5);
      const les = buckets.map((b) => (b.labels['le'] === '+Inf' ? Infinity : Number(b.labels['le'])));
      expect([...les].sort((a, b) => a - b)).toEqual(les);
      expect(les.at(-1)).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(buckets.at(-1)!.value).toBe(n);
      expect(value(samples, 'sluice_request_duration_seconds_count', { location })).toBe(n);
      const sum = value(samples, 'sluice_request_duration_seconds_sum', { location })!;
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(n * 5);
    }
  });

  it('shows the config generation and reloads', async () => {
    const { samples } = await scrape();
    expect(value(samples, 'sluice_config_generation', {})).toBe(1);
    expect(value(samples, 'sluice_config_reloads_total', { result: 'accepted' })).toBe(0);
    expect(value(samples, 'process_resident_memory_bytes', {})).toBeGreaterThan(1e6);
  });

  it('adds bytes in and out to the proxied log line', () => {
    const z = logLines.filter((l) => l['msg'] === 'proxied' && l['location'] === 'prefix /z');
    expect(z.map((l) => l['bytes'])).toEqual(zBodies.map((b) => ({ in: 0, out: b.length })));
    const echo = logLines.find((l) => l['msg'] === 'proxied' && l['location'] === 'exact /echo');
    expect(echo?.['bytes']).toEqual({ in: echoBody.length, out: echoBody.length + 1 });
  });

  it('trace logs one debug line per filter, the custom one included, with the same figures', () => {
    const traced = logLines.filter((l) => l['msg'] === 'filter trace');
    const out = traced.filter((l) => l['direction'] === 'output');
    expect(out.map((l) => l['filter'])).toEqual(['shout', 'gzip', 'shout', 'gzip']);
    for (const l of out) {
      expect(l['level']).toBe(20); // pino's debug
      expect(typeof l['reqId']).toBe('string');
      expect(l['url']).toBe('/z/x');
      expect(typeof l['ms']).toBe('number');
    }
    expect(out[0]).toMatchObject({ position: 1, bytesIn: PAGE.length });
    expect(out[1]).toMatchObject({ position: 2, bytesIn: out[0]!['bytesOut'], bytesOut: zBodies[0]!.length });
    const input = traced.filter((l) => l['direction'] === 'input');
    expect(input).toEqual([expect.objectContaining({ filter: 'shout', bytesIn: echoBody.length, bytesOut: echoBody.length + 1, url: '/echo' })]);
    // locations without trace log none
    expect(traced.every((l) => l['url'] === '/z/x' || l['url'] === '/echo')).toBe(true);
  });

  it('answers 404 and 405 outside its endpoints', async () => {
    expect((await request(`${admin}/nope`)).status).toBe(404);
    const post = await request(`${admin}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });
});

describe('admin listener: health and readiness', () => {
  it('/healthz and /readyz answer 200 while serving; /readyz turns 503 as soon as a shutdown starts', async () => {
    const local = createProxy(config(), { registry });
    await local.listen({ port: 0, host: '127.0.0.1' });
    const url = local.sluiceAdmin!.url!;
    expect((await request(`${url}/healthz`)).status).toBe(200);
    expect((await request(`${url}/readyz`)).status).toBe(200);
    // a request in flight holds the shutdown open
    const localBase = `http://127.0.0.1:${(local.server.address() as AddressInfo).port}`;
    const slow = request(`${localBase}/slow`);
    await eventually(async () => expect(release).toBeDefined());
    const closed = local.close();
    await eventually(async () => expect((await request(`${url}/readyz`)).status).toBe(503));
    expect((await request(`${url}/healthz`)).status).toBe(200); // alive, draining
    release!();
    release = undefined;
    expect((await slow).body.toString()).toBe('first last');
    await closed;
    // the admin listener closed with the server
    await expect(request(`${url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('is not ready before the proxy listens', async () => {
    const local = createProxy(config(), { registry });
    await local.ready();
    const url = local.sluiceAdmin!.url!;
    expect((await request(`${url}/readyz`)).status).toBe(503);
    expect((await request(`${url}/healthz`)).status).toBe(200);
    await local.close();
  });

  it('is off unless configured in the library; enabled: false turns it off', async () => {
    const { admin: _dropped, ...plain } = config();
    const a = createProxy(plain, { registry });
    await a.ready();
    expect(a.sluiceAdmin).toBeUndefined();
    await a.close();
    const b = createProxy({ ...plain, admin: { enabled: false, port: 0 } }, { registry });
    await b.ready();
    expect(b.sluiceAdmin).toBeUndefined();
    await b.close();
  });

  it('classifies upstream failures by code, through a chain abort; a filter failure is not the upstream\'s', () => {
    const coded = (code: string): Error => Object.assign(new Error(code), { code });
    expect(upstreamErrorKind(coded('ECONNREFUSED'))).toBe('refused');
    expect(upstreamErrorKind(coded('UND_ERR_CONNECT_TIMEOUT'))).toBe('timeout');
    expect(upstreamErrorKind(new ChainAbortedError(coded('UND_ERR_BODY_TIMEOUT')))).toBe('timeout');
    expect(upstreamErrorKind(new ChainAbortedError(coded('UND_ERR_SOCKET')))).toBe('reset');
    expect(upstreamErrorKind(new ChainAbortedError(new Error('source closed before its end')), 'reset')).toBe('reset');
    expect(upstreamErrorKind(new Error('odd'))).toBe('other');
    expect(upstreamErrorKind(new FilterError('gzip', 'data', coded('ECONNRESET')))).toBeUndefined();
  });

  it('a metrics object can be shared and rendered by the caller', () => {
    const m = new ProxyMetrics({ buckets: [0.1, 1] });
    m.exchange('exact /a"b', 204, 0.5, undefined, undefined, false);
    const { samples } = parseExposition(m.render({ generation: 3 }));
    expect(value(samples, 'sluice_requests_total', { location: 'exact /a"b', status: '2xx' })).toBe(1);
    expect(value(samples, 'sluice_request_duration_seconds_bucket', { le: '0.1' })).toBe(0);
    expect(value(samples, 'sluice_request_duration_seconds_bucket', { le: '1' })).toBe(1);
    expect(value(samples, 'sluice_config_reloads_total', { result: 'accepted' })).toBe(2);
  });
});

describe('admin config', () => {
  it('has defaults (127.0.0.1:9080) and refuses unknown keys and bad ports, naming them', () => {
    const base0 = { upstreams: { app: { servers: ['http://127.0.0.1:3000'] } }, locations: [{ path: '/', upstream: 'app' }] };
    const ok = validateConfig({ ...base0, admin: {} });
    expect(ok.ok && ok.config.admin).toEqual({ enabled: true, host: '127.0.0.1', port: 9080 });
    const none = validateConfig(base0);
    expect(none.ok && none.config.admin).toBeUndefined();
    const bad = validateConfig({ ...base0, admin: { port: 70000, prot: 1 } });
    expect(bad.ok).toBe(false);
    const text = !bad.ok ? bad.errors.map((e) => `${e.path}: ${e.message}`).join('\n') : '';
    expect(text).toMatch(/admin\.port/);
    expect(text).toMatch(/admin\.prot/);
  });
});

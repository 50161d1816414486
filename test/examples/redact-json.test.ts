import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { processChain } from '../../src/index.js';
import type { CompiledConfig } from '../../src/pipeline/config/types.js';
import { everyCut, get, loadExampleConfig, startProxy, startUpstream, type Upstream } from './harness.js';

// Values of every kind under a field, an escaped field name, a field name as a value (kept),
// near-miss names (kept), strings holding brackets and quotes, whitespace as sent.
const DOC =
  '{"user": {"name": "Ada \\"A\\" {x}", "password": "hunter2", "ssn": 123456789,\n' +
  '  "apiKey": {"id": "k1", "secret": ["s", {"password": "inner"}]}, "tags": ["a", "b"]},\n' +
  ' "pass\\u0077ord": "escaped-name", "items": [{"apiKey": null}, {"note": "password"}, {"ssn": -1.5e3}],\n' +
  ' "password2": "keep", "Password": "case differs", "empty": {}, "list": []}';
const REDACTED =
  '{"user": {"name": "Ada \\"A\\" {x}", "password": "[redacted]", "ssn": "[redacted]",\n' +
  '  "apiKey": "[redacted]", "tags": ["a", "b"]},\n' +
  ' "pass\\u0077ord": "[redacted]", "items": [{"apiKey": "[redacted]"}, {"note": "password"}, {"ssn": "[redacted]"}],\n' +
  ' "password2": "keep", "Password": "case differs", "empty": {}, "list": []}';
const NDJSON = '{"id":1,"password":"a"}\n{"id":2,"password":"b","apiKey":7}\n';
const SECRETS = ['hunter2', '123456789', 'k1', 'inner', 'escaped-name', '-1.5e3'];

let upstream: Upstream;
let config: CompiledConfig;
let proxy: FastifyInstance;
let base: string;

beforeAll(async () => {
  const doc = Buffer.from(DOC);
  upstream = await startUpstream({
    // cut inside a field name, inside a redacted string and inside the redacted object
    '/user': { headers: { 'content-type': 'application/json', 'content-length': String(doc.length) }, chunks: [doc.subarray(0, 45), doc.subarray(45, 52), doc.subarray(52, 130), doc.subarray(130)] },
    '/gz': { headers: { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' }, chunks: [gzipSync(doc)] },
    '/ndjson': { headers: { 'content-type': 'application/x-ndjson' }, chunks: [NDJSON.slice(0, 30), NDJSON.slice(30)] },
    '/broken': { headers: { 'content-type': 'application/json' }, chunks: ['{"password": "x", "a": 1', ' "b": 2}'] },
    '/page': { headers: { 'content-type': 'text/html' }, chunks: ['<p>"password": "visible"</p>'] },
  });
  config = await loadExampleConfig('redact-json', upstream.url);
  ({ app: proxy, base } = await startProxy(config));
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('examples/filters/redact-json.ts through the proxy', () => {
  it('replaces the values of the configured fields at any depth, keeping the rest byte for byte', async () => {
    const r = await get(`${base}/user`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(REDACTED);
    for (const s of SECRETS) expect(r.body.toString()).not.toContain(s);
    expect(JSON.parse(r.body.toString())).toMatchObject({ user: { password: '[redacted]' }, password2: 'keep' });
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.complete).toBe(true);
  });

  it('redacts a gzip response after decompress (listed in the config)', async () => {
    const r = await get(`${base}/gz`);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe(REDACTED);
  });

  it('redacts a stream of documents (NDJSON)', async () => {
    const r = await get(`${base}/ndjson`);
    expect(r.body.toString()).toBe('{"id":1,"password":"[redacted]"}\n{"id":2,"password":"[redacted]","apiKey":"[redacted]"}\n');
  });

  it('fails closed on a body that is not JSON: the response never ends as if complete', async () => {
    const r = await get(`${base}/broken`);
    expect(r.status === 502 || !r.complete).toBe(true);
    expect(r.body.toString()).not.toContain('"x"');
  });

  it('leaves other content types alone', async () => {
    const r = await get(`${base}/page`);
    expect(r.body.toString()).toBe('<p>"password": "visible"</p>');
  });

  it('gives the same bytes at every cut point, with and without a flush mark there', async () => {
    const chain = config.match('/user')!.output;
    const { whole, mismatches } = await everyCut(chain, Buffer.from(DOC), { headers: { 'content-type': 'application/json' } });
    expect(whole.toString()).toBe(REDACTED);
    expect(mismatches).toEqual([]);
  });

  it('refuses an encoded body it was not given decoded, a document that ends inside a value or nests too deep', async () => {
    const chain = config.match('/user')!.output.entries.find((e) => e.def.name === 'redact-json')!;
    const { compileChain } = await import('../../src/index.js');
    const alone = compileChain([{ filter: chain.def as never, options: chain.options }]);
    await expect(processChain(alone, [Buffer.from('{}')], { headers: { 'content-type': 'application/json', 'content-encoding': 'br' } })).rejects.toThrow(/put decompress/);
    await expect(processChain(alone, [Buffer.from('{"a": [1, 2')], { headers: { 'content-type': 'application/json' } })).rejects.toThrow(/ends inside/);
    await expect(processChain(alone, [Buffer.from('[1] ]')], { headers: { 'content-type': 'application/json' } })).rejects.toThrow(/at byte 4/);
    // memory is bounded by maxDepth (512 by default), not by what a body asks for
    await expect(processChain(alone, [Buffer.from('['.repeat(513))], { headers: { 'content-type': 'application/json' } })).rejects.toThrow(/deeper than maxDepth \(512\)/);
    expect((await processChain(alone, [Buffer.from('['.repeat(512) + ']'.repeat(512))], { headers: { 'content-type': 'application/json' } })).body().length).toBe(1024);
  });
});

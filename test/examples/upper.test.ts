import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { CompiledConfig } from '../../src/pipeline/config/types.js';
import { everyCut, get, loadExampleConfig, startProxy, startUpstream, type Upstream } from './harness.js';

// Multi-byte characters (2, 3 and 4 bytes) so cuts land inside them; "ß" upper-cases to "SS".
const TEXT = 'Grüße aus Köln — ½ price, naïve café 🙂 straße\nsecond line\n';
const EXPECTED = TEXT.toUpperCase();

let upstream: Upstream;
let config: CompiledConfig;
let proxy: FastifyInstance;
let base: string;

beforeAll(async () => {
  upstream = await startUpstream({
    '/text': { headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(TEXT)) }, chunks: [Buffer.from(TEXT).subarray(0, 3), Buffer.from(TEXT).subarray(3)] },
    '/json': { headers: { 'content-type': 'application/json' }, chunks: ['{"name":"köln"}'] },
    '/latin1': { headers: { 'content-type': 'text/plain; charset=iso-8859-1' }, chunks: [Buffer.from('café', 'latin1')] },
  });
  config = await loadExampleConfig('upper', upstream.url);
  ({ app: proxy, base } = await startProxy(config));
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('examples/filters/upper.ts (mod_python style) through the proxy', () => {
  it('is loaded from the file the config names', () => {
    expect(config.modules?.map((m) => [m.path, m.filters])).toEqual([['../filters/upper.ts', ['upper']]]);
  });

  it('upper-cases a UTF-8 text response cut inside a character, and drops Content-Length', async () => {
    const r = await get(`${base}/text`);
    expect(r.status).toBe(200);
    expect(r.body.toString('utf8')).toBe(EXPECTED);
    expect(r.headers['x-upper']).toBe('yes');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.complete).toBe(true);
  });

  it('steps aside for non-text and for other charsets: the bytes arrive untouched', async () => {
    const json = await get(`${base}/json`);
    expect(json.body.toString('utf8')).toBe('{"name":"köln"}');
    expect(json.headers['x-upper']).toBeUndefined();
    const latin1 = await get(`${base}/latin1`);
    expect(latin1.body.equals(Buffer.from('café', 'latin1'))).toBe(true);
  });

  it('gives the same bytes and headers at every cut point, with and without a flush mark there', async () => {
    const chain = config.match('/text')!.output;
    const { whole, mismatches } = await everyCut(chain, Buffer.from(TEXT), { headers: { 'content-type': 'text/plain' } });
    expect(whole.toString('utf8')).toBe(EXPECTED);
    expect(mismatches).toEqual([]);
  });
});

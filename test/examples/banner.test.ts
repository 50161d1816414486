import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { CompiledConfig } from '../../src/pipeline/config/types.js';
import { everyCut, get, loadExampleConfig, startProxy, startUpstream, type Upstream } from './harness.js';

const BANNER = '<div class="staging-banner">Staging: data here is not real</div>';
const TAG = `<BODY class="main" data-x='a>b'>`;
// Everything that only looks like a body tag comes first: a title, a comment, script and style
// contents, another tag's attribute value; after the real tag, a <bodyguard> and a second <body>.
const HEAD =
  '<!doctype html><html><head><title>The <body> tag</title>\n' +
  '<!-- <body class="commented"> --><script>document.write("<body>")</script>\n' +
  '<style>/* <body> */</style><link rel="x" title="<body>"></head>';
const TAIL = '<bodyguard></bodyguard><p>Hello <body> again</p></body></html>\n';
const PAGE = HEAD + TAG + TAIL;
const EXPECTED = HEAD + TAG + BANNER + TAIL;

let upstream: Upstream;
let config: CompiledConfig;
let proxy: FastifyInstance;
let base: string;

beforeAll(async () => {
  const page = Buffer.from(PAGE);
  const at = PAGE.indexOf('<BODY');
  upstream = await startUpstream({
    // cut inside "<BO|DY" and inside the quoted ">" of the attribute
    '/page': { headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) }, chunks: [page.subarray(0, at + 3), page.subarray(at + 3, at + 28), page.subarray(at + 28)] },
    '/gz': { headers: { 'content-type': 'text/html', 'content-encoding': 'gzip' }, chunks: [gzipSync(page)] },
    // the rest of the page comes much later: the banner must not wait for it
    '/slow': { headers: { 'content-type': 'text/html' }, chunks: ['<html><body>', '<p>later</p></body></html>'], gapMs: 400 },
    '/nobody': { headers: { 'content-type': 'text/html' }, chunks: ['<p>a fragment, no body tag</p>'] },
    '/json': { headers: { 'content-type': 'application/json' }, chunks: ['{"html": "<body>"}'] },
  });
  config = await loadExampleConfig('banner', upstream.url);
  ({ app: proxy, base } = await startProxy(config));
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('examples/filters/banner.ts through the proxy', () => {
  it('inserts the banner once, right after the real <body ...> tag', async () => {
    const r = await get(`${base}/page`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(EXPECTED);
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.complete).toBe(true);
  });

  it('works on a gzip upstream: decoded, banner inserted, encoded again as the client asks', async () => {
    const gz = await get(`${base}/gz`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(EXPECTED);
    const plain = await get(`${base}/gz`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(EXPECTED);
  });

  it('holds nothing back: the banner reaches the client before the rest of the page exists', async () => {
    let bannerAt = 0;
    const start = Date.now();
    const r = await get(`${base}/slow`, {}, (soFar) => {
      if (!bannerAt && soFar.toString().includes(BANNER)) bannerAt = Date.now() - start;
    });
    const total = Date.now() - start;
    expect(r.body.toString()).toBe(`<html><body>${BANNER}<p>later</p></body></html>`);
    expect(bannerAt).toBeGreaterThan(0);
    expect(total - bannerAt).toBeGreaterThan(250);
  });

  it('leaves pages without a body tag and non-HTML responses byte for byte', async () => {
    expect((await get(`${base}/nobody`)).body.toString()).toBe('<p>a fragment, no body tag</p>');
    expect((await get(`${base}/json`)).body.toString()).toBe('{"html": "<body>"}');
  });

  it('gives the same bytes at every cut point, with and without a flush mark there', async () => {
    const chain = config.match('/page')!.output;
    const { whole, mismatches } = await everyCut(chain, Buffer.from(PAGE), { headers: { 'content-type': 'text/html' } });
    expect(whole.toString()).toBe(EXPECTED);
    expect(mismatches).toEqual([]);
  });
});

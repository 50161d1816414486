import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import * as fflate from 'fflate';
import {
  compileChain,
  defineFilter,
  FilterOptionsError,
  FLUSH,
  processChain,
  type ChainItem,
  type ChainSource,
  type Flush,
  type HeaderInput,
  type MessageInit,
  type Processed,
} from '../../src/index.js';
import { prng } from '../helpers.js';

/**
 * The compressors (gzip, deflate, br, compress) end to end through processChain: every output
 * is decoded by an independent decoder (node:zlib and fflate) and compared byte for byte, and
 * every skip rule is checked to leave the body byte-identical.
 */

type Coding = 'gzip' | 'deflate' | 'br';
type Backend = 'node' | 'fflate';

const { Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH } = zlib.constants;

// ---- bodies ------------------------------------------------------------------------------


const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua filter brigade bucket sluice apache httpd'.split(' ');

/** ~100 KB of realistic, repetitive HTML. */
function html(size: number): Buffer {
  const rnd = prng(7);
  const parts: string[] = ['<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Sluice</title>'];
  parts.push('<style>body{font-family:sans-serif;margin:0}.row{display:flex;gap:1rem}</style></head><body>\n');
  let n = 0;
  let len = parts.join('').length;
  while (len < size) {
    const words = Array.from({ length: 8 + Math.floor(rnd() * 20) }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
    const row = `<div class="row" id="r${n++}"><a href="/items/${n}?ref=list">Item ${n}</a><p>${words} &amp; café ✓</p></div>\n`;
    parts.push(row);
    len += Buffer.byteLength(row);
  }
  parts.push('</body></html>\n');
  return Buffer.from(parts.join(''), 'utf8');
}

/** ~1 MB of random-ish text: random words, numbers and punctuation (compresses, but not trivially). */
function randomText(size: number): Buffer {
  const rnd = prng(42);
  const buf = Buffer.alloc(size);
  let i = 0;
  while (i < size) {
    const r = rnd();
    const token = r < 0.7 ? WORDS[Math.floor(rnd() * WORDS.length)]! : r < 0.9 ? String(Math.floor(rnd() * 1e6)) : String.fromCharCode(33 + Math.floor(rnd() * 94));
    i += buf.write(`${token}${rnd() < 0.1 ? '\n' : ' '}`, i, 'latin1');
  }
  return buf;
}

const HTML_100K = html(100 * 1024);
const TEXT_1M = randomText(1024 * 1024);

/** Split into chunks of varying sizes (1 byte up to ~16 KB). */
function chunked(buf: Buffer, seed = 1): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = 1 + Math.floor(rnd() * 16384);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

const BODIES: ReadonlyArray<readonly [string, Buffer, () => ChainSource]> = [
  ['empty body', Buffer.alloc(0), () => []],
  ['1 byte', Buffer.from('x'), () => Buffer.from('x')],
  ['100 KB HTML in chunks', HTML_100K, () => chunked(HTML_100K, 3)],
  ['1 MB random-ish text in chunks', TEXT_1M, () => chunked(TEXT_1M, 5)],
];

// ---- decoders ----------------------------------------------------------------------------

const nodeDecode: Record<Coding, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b),
  deflate: (b) => zlib.inflateSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
};

/** fflate has no brotli decoder worth trusting here; gzip and zlib-wrapped deflate only. */
const fflateDecode: Partial<Record<Coding, (b: Uint8Array) => Uint8Array>> = {
  gzip: (b) => fflate.gunzipSync(b),
  deflate: (b) => fflate.unzlibSync(b),
};

/** Decode a prefix cut at a flush point (no end-of-stream marker yet). */
const partialDecode: Record<Coding, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b, { finishFlush: Z_SYNC_FLUSH }),
  deflate: (b) => zlib.inflateSync(b, { finishFlush: Z_SYNC_FLUSH }),
  br: (b) => zlib.brotliDecompressSync(b, { finishFlush: BROTLI_OPERATION_FLUSH }),
};

/** Magic bytes: gzip 1f 8b; zlib CMF 0x78 (deflate, 32 K window). */
function checkMagic(coding: Coding, body: Buffer): void {
  if (coding === 'gzip') expect([body[0], body[1]]).toEqual([0x1f, 0x8b]);
  if (coding === 'deflate') expect(body[0]).toBe(0x78);
}

// ---- running ------------------------------------------------------------------------------

const HTML_HEADERS = { 'content-type': 'text/html; charset=utf-8' };
const PLAIN = Buffer.from('<p>plain text body</p>\n'.repeat(40)); // 920 bytes, above minLength

function init(acceptEncoding: string | undefined, headers: HeaderInput = HTML_HEADERS, extra: Partial<MessageInit> = {}): MessageInit {
  return {
    request: { method: 'GET', url: '/', headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } },
    status: 200,
    headers,
    ...extra,
  };
}

function run(items: readonly ChainItem[], source: ChainSource, message: MessageInit): Promise<Processed> {
  return processChain(compileChain(items), source, message);
}

/** Bytes that reached the sink before the n-th flush mark (1-based). */
function bytesBeforeFlush(events: ReadonlyArray<Uint8Array | Flush>, n: number): Buffer {
  const out: Uint8Array[] = [];
  let seen = 0;
  for (const e of events) {
    if (e === FLUSH) {
      if (++seen === n) return Buffer.concat(out);
    } else out.push(e);
  }
  throw new Error(`only ${seen} flush marks reached the sink, wanted ${n}`);
}

function compileError(item: ChainItem): FilterOptionsError {
  try {
    compileChain([item]);
  } catch (err) {
    expect(err).toBeInstanceOf(FilterOptionsError);
    return err as FilterOptionsError;
  }
  throw new Error('compileChain accepted the options');
}

/** Each configuration that produces a coding: [label, chain item, coding, backend]. */
const CONFIGS: ReadonlyArray<readonly [string, (minLength: number) => ChainItem, Coding, Backend]> = (() => {
  const out: Array<readonly [string, (minLength: number) => ChainItem, Coding, Backend]> = [];
  for (const backend of ['node', 'fflate'] as const) {
    for (const coding of ['gzip', 'deflate', 'br'] as const) {
      if (backend === 'fflate' && coding === 'br') continue;
      out.push([`${coding} [${backend}]`, (minLength) => ({ filter: coding, options: { backend, minLength } }), coding, backend]);
      out.push([
        `compress→${coding} [${backend}]`,
        (minLength) => ({ filter: 'compress', options: { encodings: [coding], backend, minLength } }),
        coding,
        backend,
      ]);
    }
  }
  return out;
})();

// ---- 1. round trips ----------------------------------------------------------------------

describe('round trips', () => {
  for (const [label, item, coding] of CONFIGS) {
    describe(label, () => {
      it.each(BODIES)('%s', async (_name, expected, source) => {
        const res = await run([item(0)], source(), init('gzip, deflate, br'));
        expect(res.head.headers.get('content-encoding')).toBe(coding);
        expect(res.active).toHaveLength(1);
        expect(res.ended).toBe(true);
        const body = res.body();
        checkMagic(coding, body);
        if (expected.length > 1000) expect(body.length).toBeLessThan(expected.length);
        expect(nodeDecode[coding](body).equals(expected)).toBe(true);
        const viaFflate = fflateDecode[coding];
        if (viaFflate) expect(Buffer.from(viaFflate(body)).equals(expected)).toBe(true);
      });
    });
  }

  it('compress chooses each of its codings by Accept-Encoding and each decodes', async () => {
    for (const coding of ['br', 'gzip', 'deflate'] as const) {
      const res = await run(
        [{ filter: 'compress', options: { encodings: ['br', 'gzip', 'deflate'] } }],
        chunked(HTML_100K, 9),
        init(coding),
      );
      expect(res.head.headers.get('content-encoding')).toBe(coding);
      expect(nodeDecode[coding](res.body()).equals(HTML_100K)).toBe(true);
    }
  });

  it('a single-chunk string source and a many-chunk source give the same decoded body', async () => {
    const text = HTML_100K.toString('utf8');
    const one = await run(['gzip'], text, init('gzip'));
    const tiny = await run(['gzip'], chunked(HTML_100K, 11).flatMap((c) => [c.subarray(0, 1), c.subarray(1)]).filter((c) => c.length > 0), init('gzip'));
    expect(zlib.gunzipSync(one.body()).toString('utf8')).toBe(text);
    expect(zlib.gunzipSync(tiny.body()).toString('utf8')).toBe(text);
  });

  it('compress fills nested per-coding defaults (level 6, windowBits 15, quality 4, window 22)', () => {
    const chain = compileChain(['compress']);
    expect(chain.entries[0]!.options).toMatchObject({
      encodings: ['br', 'gzip'],
      gzip: { level: 6, windowBits: 15 },
      deflate: { level: 6, windowBits: 15 },
      br: { quality: 4, window: 22 },
      minLength: 256,
      etag: 'suffix',
      backend: 'auto',
    });
  });

  it('compression level is honoured (level 1 output differs from level 9, both decode)', async () => {
    const l1 = await run([{ filter: 'gzip', options: { level: 1 } }], HTML_100K, init('gzip'));
    const l9 = await run([{ filter: 'gzip', options: { level: 9 } }], HTML_100K, init('gzip'));
    expect(l1.body().equals(l9.body())).toBe(false);
    expect(l9.body().length).toBeLessThan(l1.body().length);
    expect(zlib.gunzipSync(l1.body()).equals(HTML_100K)).toBe(true);
    expect(zlib.gunzipSync(l9.body()).equals(HTML_100K)).toBe(true);
  });
});

// ---- 2. flush ------------------------------------------------------------------------------

describe('flush marks', () => {
  for (const [label, item, coding] of CONFIGS) {
    it(`${label}: bytes before each mark decode alone to exactly the text before it`, async () => {
      const parts = ['data: first event\n\n', `data: ${'second '.repeat(50)}\n\n`, HTML_100K.toString('utf8'), 'data: last\n\n'];
      const source: Array<Uint8Array | Flush> = [];
      parts.forEach((p, i) => {
        if (i > 0) source.push(FLUSH);
        source.push(Buffer.from(p));
      });
      const res = await run([item(0)], source, init('gzip, deflate, br'));
      expect(res.head.headers.get('content-encoding')).toBe(coding);
      expect(res.flushes).toBe(parts.length - 1);
      for (let k = 1; k < parts.length; k++) {
        const prefix = bytesBeforeFlush(res.events, k);
        expect(partialDecode[coding](prefix).toString('utf8')).toBe(parts.slice(0, k).join(''));
        // a sync flush ends on a byte boundary with an empty stored block: 00 00 ff ff
        if (coding !== 'br') expect([...prefix.subarray(-4)]).toEqual([0x00, 0x00, 0xff, 0xff]);
      }
      expect(nodeDecode[coding](res.body()).toString('utf8')).toBe(parts.join(''));
      const viaFflate = fflateDecode[coding];
      if (viaFflate) expect(Buffer.from(viaFflate(res.body())).toString('utf8')).toBe(parts.join(''));
    });

    it(`${label}: a mark before any data, and two marks in a row, keep the stream valid`, async () => {
      const res = await run([item(0)], [FLUSH, Buffer.from('hello '), FLUSH, FLUSH, Buffer.from('world')], init('gzip, deflate, br'));
      expect(res.flushes).toBe(3);
      expect(partialDecode[coding](bytesBeforeFlush(res.events, 1)).toString()).toBe('');
      expect(partialDecode[coding](bytesBeforeFlush(res.events, 2)).toString()).toBe('hello ');
      expect(partialDecode[coding](bytesBeforeFlush(res.events, 3)).toString()).toBe('hello ');
      expect(nodeDecode[coding](res.body()).toString()).toBe('hello world');
      const viaFflate = fflateDecode[coding];
      if (viaFflate) expect(Buffer.from(viaFflate(res.body())).toString()).toBe('hello world');
    });
  }

  it('a flush mark still reaches the sink when the compressor stepped aside', async () => {
    const res = await run(['gzip'], [Buffer.from('a'), FLUSH, Buffer.from('b')], init('identity'));
    expect(res.active).toEqual([]);
    expect(res.flushes).toBe(1);
    expect(res.text()).toBe('ab');
  });
});

// ---- 3. skip rules -------------------------------------------------------------------------

/** The response went through untouched: same bytes, filter not active, no Content-Encoding added. */
function expectSkipped(res: Processed, body: Buffer, name: string, contentEncoding?: string): void {
  expect(res.body().equals(body)).toBe(true);
  expect(res.active).not.toContain(name);
  expect(res.head.headers.get('content-encoding')).toBe(contentEncoding);
}

describe('skip rules', () => {
  const FILTERS = ['gzip', 'deflate', 'br', 'compress'] as const;

  const CODING = { gzip: 'gzip', deflate: 'deflate', br: 'br', compress: 'br' } as const;

  it.each(FILTERS)('%s: HEAD gets the headers a GET would, and no body is encoded', async (f) => {
    const res = await run([f], PLAIN, init('gzip, deflate, br', { ...HTML_HEADERS, 'content-length': String(PLAIN.length), etag: '"h1"' }, { request: { method: 'HEAD', headers: { 'accept-encoding': 'gzip, deflate, br' } } }));
    expect(res.body().equals(PLAIN)).toBe(true); // whatever came (a HEAD has none) is not encoded
    expect(res.head.headers.get('content-encoding')).toBe(CODING[f]);
    expect(res.head.headers.get('vary')).toBe('Accept-Encoding');
    expect(res.head.headers.has('content-length')).toBe(false);
    expect(res.head.headers.get('etag')).toBe(`"h1-${CODING[f]}"`);
  });

  it.each(FILTERS)('%s: a 304 gets the Vary and ETag of the 200, no Content-Encoding and no body', async (f) => {
    const res = await run([f], Buffer.alloc(0), init('gzip, deflate, br', { etag: '"v7"' }, { status: 304 }));
    expect(res.body().length).toBe(0);
    expect(res.head.status).toBe(304);
    expect(res.head.headers.get('vary')).toBe('Accept-Encoding');
    expect(res.head.headers.get('etag')).toBe(`"v7-${CODING[f]}"`);
    expect(res.head.headers.has('content-encoding')).toBe(false);
  });

  for (const status of [101, 204, 205, 206]) {
    it.each(FILTERS)(`%s: status ${status}`, async (f) => {
      const res = await run([f], PLAIN, init('gzip, deflate, br', HTML_HEADERS, { status }));
      expectSkipped(res, PLAIN, f);
      expect(res.head.status).toBe(status);
    });
  }

  it.each(FILTERS)('%s: Content-Range present (on a 200)', async (f) => {
    const res = await run([f], PLAIN, init('gzip, deflate, br', { ...HTML_HEADERS, 'content-range': 'bytes 0-919/2000' }));
    expectSkipped(res, PLAIN, f);
    expect(res.head.headers.get('content-range')).toBe('bytes 0-919/2000');
  });

  it.each(FILTERS)('%s: already gzip-encoded body is never compressed twice', async (f) => {
    const pre = zlib.gzipSync(HTML_100K);
    const res = await run([f], pre, init('gzip, deflate, br', { ...HTML_HEADERS, 'content-encoding': 'gzip', 'content-length': String(pre.length) }));
    expectSkipped(res, pre, f, 'gzip');
    expect(res.head.headers.get('content-length')).toBe(String(pre.length));
    expect(zlib.gunzipSync(res.body()).equals(HTML_100K)).toBe(true);
  });

  it('chained compressors: only the first that applies encodes', async () => {
    const res = await run(['br', 'gzip', 'compress'], HTML_100K, init('gzip, br'));
    expect(res.head.headers.get('content-encoding')).toBe('br');
    expect(res.active).toEqual(['br']);
    expect(zlib.brotliDecompressSync(res.body()).equals(HTML_100K)).toBe(true);
    // without br acceptable, br steps aside and gzip (the next) encodes; compress sees gzip and skips
    const res2 = await run(['br', 'gzip', 'compress'], HTML_100K, init('gzip'));
    expect(res2.head.headers.get('content-encoding')).toBe('gzip');
    expect(res2.active).toEqual(['gzip']);
    expect(zlib.gunzipSync(res2.body()).equals(HTML_100K)).toBe(true);
    expect(res2.head.headers.tokens('vary')).toEqual(['Accept-Encoding']);
  });

  it.each(['identity', 'Identity'])('Content-Encoding: %s does not skip, and is replaced by the coding', async (ce) => {
    const res = await run(['gzip'], PLAIN, init('gzip', { ...HTML_HEADERS, 'content-encoding': ce }));
    expect(res.active).toEqual(['gzip']);
    expect(res.head.headers.get('content-encoding')).toBe('gzip');
    expect(res.head.headers.getAll('content-encoding')).toEqual(['gzip']);
    expect(zlib.gunzipSync(res.body()).equals(PLAIN)).toBe(true);
  });

  it.each(['no-transform', 'public, No-Transform, max-age=60'])('Cache-Control: %s skips', async (cc) => {
    const res = await run(['compress'], PLAIN, init('gzip, br', { ...HTML_HEADERS, 'cache-control': cc }));
    expectSkipped(res, PLAIN, 'compress');
    expect(res.head.headers.get('cache-control')).toBe(cc);
  });

  it('Cache-Control without no-transform does not skip', async () => {
    const res = await run(['gzip'], PLAIN, init('gzip', { ...HTML_HEADERS, 'cache-control': 'no-cache, no-store' }));
    expect(res.head.headers.get('content-encoding')).toBe('gzip');
  });

  describe('minLength', () => {
    const small = Buffer.from('<p>small</p>'.repeat(8)); // 96 bytes
    const at = (n: number): Buffer => Buffer.alloc(n, 'a');

    it('Content-Length below the default 256 skips', async () => {
      const res = await run(['gzip'], small, init('gzip', { ...HTML_HEADERS, 'content-length': String(small.length) }));
      expectSkipped(res, small, 'gzip');
      expect(res.head.headers.get('content-length')).toBe(String(small.length));
    });

    it('the same response with minLength: 0 is compressed', async () => {
      const res = await run([{ filter: 'gzip', options: { minLength: 0 } }], small, init('gzip', { ...HTML_HEADERS, 'content-length': String(small.length) }));
      expect(res.head.headers.get('content-encoding')).toBe('gzip');
      expect(res.head.headers.has('content-length')).toBe(false);
      expect(zlib.gunzipSync(res.body()).equals(small)).toBe(true);
    });

    it('boundary: 255 skips, 256 compresses', async () => {
      const r255 = await run(['gzip'], at(255), init('gzip', { ...HTML_HEADERS, 'content-length': '255' }));
      expectSkipped(r255, at(255), 'gzip');
      const r256 = await run(['gzip'], at(256), init('gzip', { ...HTML_HEADERS, 'content-length': '256' }));
      expect(r256.head.headers.get('content-encoding')).toBe('gzip');
      expect(zlib.gunzipSync(r256.body()).equals(at(256))).toBe(true);
    });

    it('a small body with no Content-Length is compressed (length unknown)', async () => {
      const res = await run(['gzip'], small, init('gzip'));
      expect(res.head.headers.get('content-encoding')).toBe('gzip');
      expect(zlib.gunzipSync(res.body()).equals(small)).toBe(true);
    });
  });

  describe('content types', () => {
    it.each([
      'text/html',
      'text/html; charset=utf-8',
      'TEXT/HTML',
      'text/css',
      'text/plain',
      'application/json',
      'application/ld+json',
      'application/problem+json',
      'application/javascript',
      'image/svg+xml',
      'application/xml',
      'application/atom+xml',
    ])('%s is compressed', async (ct) => {
      const res = await run(['gzip'], PLAIN, init('gzip', { 'content-type': ct }));
      expect(res.active).toEqual(['gzip']);
      expect(res.head.headers.get('content-encoding')).toBe('gzip');
      expect(zlib.gunzipSync(res.body()).equals(PLAIN)).toBe(true);
    });

    it.each(['image/png', 'application/octet-stream', 'video/mp4', 'application/jsonp', 'application/xjson', undefined])('%s is skipped', async (ct) => {
      const res = await run(['gzip'], PLAIN, init('gzip', ct === undefined ? {} : { 'content-type': ct }));
      expectSkipped(res, PLAIN, 'gzip');
    });

    it('a custom types list replaces the defaults (exact and wildcard)', async () => {
      const item = { filter: 'gzip', options: { types: ['application/x-custom', 'font/*'] } };
      for (const ct of ['application/x-custom', 'font/ttf', 'application/X-Custom; v=1']) {
        const res = await run([item], PLAIN, init('gzip', { 'content-type': ct }));
        expect(res.head.headers.get('content-encoding'), ct).toBe('gzip');
        expect(zlib.gunzipSync(res.body()).equals(PLAIN)).toBe(true);
      }
      for (const ct of ['text/html', 'application/json', 'application/x-customer']) {
        const res = await run([item], PLAIN, init('gzip', { 'content-type': ct }));
        expectSkipped(res, PLAIN, 'gzip');
      }
    });
  });
});

// ---- 4. Vary -------------------------------------------------------------------------------

describe('Vary', () => {
  it.each([
    ['gzip', 'gzip'],
    ['identity', undefined],
    [undefined, undefined],
    ['br', undefined], // gzip filter, client only takes br
  ])('eligible response, Accept-Encoding %s → Vary: Accept-Encoding (coding %s)', async (ae, coding) => {
    const res = await run(['gzip'], PLAIN, init(ae, { ...HTML_HEADERS, 'content-length': String(PLAIN.length) }));
    expect(res.head.headers.get('vary')).toBe('Accept-Encoding');
    expect(res.head.headers.get('content-encoding')).toBe(coding);
    if (coding === undefined) {
      expectSkipped(res, PLAIN, 'gzip');
      expect(res.head.headers.get('content-length')).toBe(String(PLAIN.length));
    }
  });

  it('is merged after an existing Vary: Origin', async () => {
    const res = await run(['compress'], PLAIN, init('br', { ...HTML_HEADERS, vary: 'Origin' }));
    expect(res.head.headers.get('vary')).toBe('Origin, Accept-Encoding');
    expect(res.head.headers.get('content-encoding')).toBe('br');
  });

  it('is merged across several existing Vary lines', async () => {
    const res = await run(['gzip'], PLAIN, init('gzip', [['content-type', 'text/html'], ['vary', 'Origin'], ['vary', 'Cookie']]));
    expect(res.head.headers.tokens('vary')).toEqual(['Origin', 'Cookie', 'Accept-Encoding']);
  });

  it.each(['accept-encoding', 'Origin, ACCEPT-ENCODING', '*'])('existing Vary: %s is not duplicated', async (vary) => {
    const res = await run(['gzip'], PLAIN, init('gzip', { ...HTML_HEADERS, vary }));
    expect(res.head.headers.get('vary')).toBe(vary);
    expect(res.head.headers.get('content-encoding')).toBe('gzip');
  });

  it('chained compressors add it once', async () => {
    const res = await run(['br', 'gzip', 'deflate'], PLAIN, init('deflate'));
    expect(res.head.headers.get('content-encoding')).toBe('deflate');
    expect(res.head.headers.get('vary')).toBe('Accept-Encoding');
  });

  it.each([
    ['status 204', init('gzip', HTML_HEADERS, { status: 204 })],
    ['status 206', init('gzip', HTML_HEADERS, { status: 206 })],
    ['status 205', init('gzip', HTML_HEADERS, { status: 205 })],
    ['type image/png', init('gzip', { 'content-type': 'image/png' })],
    ['no content type', init('gzip', {})],
  ])('not added when skipped for %s', async (_label, message) => {
    const res = await run(['gzip'], PLAIN, message);
    expect(res.head.headers.has('vary')).toBe(false);
    expectSkipped(res, PLAIN, 'gzip');
  });
});

// ---- 5. headers on compression -------------------------------------------------------------

describe('headers when compressing', () => {
  const upstream = {
    ...HTML_HEADERS,
    'content-length': String(PLAIN.length),
    'content-md5': 'Q2hlY2sgSW50ZWdyaXR5IQ==',
    'accept-ranges': 'bytes',
    'last-modified': 'Tue, 01 Jul 2025 10:00:00 GMT',
  };

  it.each(['gzip', 'deflate', 'br', 'compress'] as const)('%s removes Content-Length, Content-MD5, Accept-Ranges and keeps the rest', async (f) => {
    const res = await run([f], PLAIN, init('gzip, deflate, br', upstream));
    const h = res.head.headers;
    expect(h.has('content-encoding')).toBe(true);
    expect(h.has('content-length')).toBe(false);
    expect(h.has('content-md5')).toBe(false);
    expect(h.has('accept-ranges')).toBe(false);
    expect(h.get('last-modified')).toBe(upstream['last-modified']);
    expect(h.get('content-type')).toBe(HTML_HEADERS['content-type']);
    expect(res.lengthChanged).toBe(true);
  });

  it.each([
    ['gzip', 'suffix', '"abc"', '"abc-gzip"'],
    ['gzip', undefined, '"abc"', '"abc-gzip"'],
    ['gzip', 'suffix', 'W/"abc"', 'W/"abc-gzip"'],
    ['gzip', 'weaken', '"abc"', 'W/"abc"'],
    ['gzip', 'weaken', 'W/"abc"', 'W/"abc"'],
    ['gzip', 'remove', '"abc"', undefined],
    ['gzip', 'remove', 'W/"abc"', undefined],
    ['deflate', 'suffix', '"abc"', '"abc-deflate"'],
    ['br', 'suffix', '"abc"', '"abc-br"'],
    ['br', 'suffix', 'W/"abc"', 'W/"abc-br"'],
    ['br', 'weaken', '"abc"', 'W/"abc"'],
    ['br', 'remove', '"abc"', undefined],
    ['gzip', 'suffix', '""', '"-gzip"'],
  ] as const)('%s etag:%s  %s → %s', async (f, etag, before, after) => {
    const options = etag === undefined ? {} : { etag };
    const res = await run([{ filter: f, options }], PLAIN, init('gzip, deflate, br', { ...HTML_HEADERS, etag: before }));
    expect(res.head.headers.get('content-encoding')).toBe(f);
    expect(res.head.headers.get('etag')).toBe(after);
  });

  it('compress suffixes the ETag with the coding it chose', async () => {
    for (const coding of ['br', 'gzip', 'deflate'] as const) {
      const res = await run([{ filter: 'compress', options: { encodings: ['br', 'gzip', 'deflate'] } }], PLAIN, init(coding, { ...HTML_HEADERS, etag: '"v1"' }));
      expect(res.head.headers.get('etag')).toBe(`"v1-${coding}"`);
    }
  });

  it('a response that is not compressed keeps its ETag, Content-Length and Accept-Ranges', async () => {
    const res = await run(['gzip'], PLAIN, init('identity', { ...upstream, etag: '"abc"' }));
    expect(res.head.headers.get('etag')).toBe('"abc"');
    expect(res.head.headers.get('content-length')).toBe(String(PLAIN.length));
    expect(res.head.headers.get('accept-ranges')).toBe('bytes');
    expect(res.head.headers.get('content-md5')).toBe(upstream['content-md5']);
    expect(res.lengthChanged).toBe(false);
  });
});

// ---- 6. negotiation --------------------------------------------------------------------------

describe('negotiation through compress', () => {
  const ALL = { filter: 'compress', options: { encodings: ['br', 'gzip', 'deflate'] } };

  it.each([
    ['gzip, br', 'br'],
    ['br, gzip', 'br'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['deflate', 'deflate'],
    ['deflate, gzip', 'gzip'],
    ['*', 'br'],
    ['identity', undefined],
    ['br;q=0, *', 'gzip'],
    ['br;q=0, gzip;q=0, *;q=0.3', 'deflate'],
    ['x-gzip', 'gzip'],
    ['GZIP;Q=0.8, Deflate;q=0.9', 'deflate'],
    ['gzip;q=0', undefined],
    ['gzip, gzip;q=0', 'gzip'],
    ['br;q=0, gzip;q=0.5, br', 'gzip'],
    ['compress, sdch', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('Accept-Encoding %j → %s', async (ae, coding) => {
    const res = await run([ALL], PLAIN, init(ae));
    expect(res.head.headers.get('content-encoding')).toBe(coding);
    expect(res.head.headers.get('vary')).toBe('Accept-Encoding');
    if (coding === undefined) {
      expectSkipped(res, PLAIN, 'compress');
    } else {
      expect(res.active).toEqual(['compress']);
      expect(nodeDecode[coding as Coding](res.body()).equals(PLAIN)).toBe(true);
    }
  });

  it("encodings: ['gzip'] with Accept-Encoding: br → no compression (Vary still added)", async () => {
    const res = await run([{ filter: 'compress', options: { encodings: ['gzip'] } }], PLAIN, init('br'));
    expectSkipped(res, PLAIN, 'compress');
    expect(res.head.headers.get('vary')).toBe('Accept-Encoding');
  });

  it('default encodings are br then gzip (deflate is not offered)', async () => {
    expect((await run(['compress'], PLAIN, init('gzip, deflate, br'))).head.headers.get('content-encoding')).toBe('br');
    expect((await run(['compress'], PLAIN, init('gzip, deflate'))).head.headers.get('content-encoding')).toBe('gzip');
    expect((await run(['compress'], PLAIN, init('deflate'))).head.headers.get('content-encoding')).toBeUndefined();
  });

  it('compress uses each coding\'s own parameters', async () => {
    const body = (encodings: string[], extra: object): Promise<Buffer> =>
      run([{ filter: 'compress', options: { encodings, ...extra } }], HTML_100K, init('br, gzip, deflate')).then((r) => r.body());
    // deflate.level matters for deflate; gzip.level does not
    const d1 = await body(['deflate'], { deflate: { level: 1 } });
    const d9 = await body(['deflate'], { deflate: { level: 9 } });
    expect(d1.equals(d9)).toBe(false);
    expect((await body(['deflate'], { deflate: { level: 1 }, gzip: { level: 9 } })).equals(d1)).toBe(true);
    expect(zlib.inflateSync(d1).equals(HTML_100K)).toBe(true);
    // and the other way round
    const g1 = await body(['gzip'], { gzip: { level: 1 } });
    expect((await body(['gzip'], { gzip: { level: 9 } })).equals(g1)).toBe(false);
    expect((await body(['gzip'], { gzip: { level: 1 }, deflate: { level: 9 } })).equals(g1)).toBe(true);
    // br.quality
    const b0 = await body(['br'], { br: { quality: 0 } });
    const b6 = await body(['br'], { br: { quality: 6 } });
    expect(b0.equals(b6)).toBe(false);
    expect(zlib.brotliDecompressSync(b0).equals(HTML_100K)).toBe(true);
    expect(zlib.brotliDecompressSync(b6).equals(HTML_100K)).toBe(true);
  });

  it('server order in encodings breaks ties', async () => {
    const res = await run([{ filter: 'compress', options: { encodings: ['deflate', 'gzip', 'br'] } }], PLAIN, init('br, gzip, deflate'));
    expect(res.head.headers.get('content-encoding')).toBe('deflate');
    expect(zlib.inflateSync(res.body()).equals(PLAIN)).toBe(true);
  });

  it('the single-coding filters honour q=0 and *', async () => {
    expect((await run(['gzip'], PLAIN, init('gzip;q=0, br'))).head.headers.get('content-encoding')).toBeUndefined();
    expect((await run(['gzip'], PLAIN, init('*'))).head.headers.get('content-encoding')).toBe('gzip');
    expect((await run(['br'], PLAIN, init('gzip, *;q=0'))).head.headers.get('content-encoding')).toBeUndefined();
    expect((await run(['deflate'], PLAIN, init('deflate;q=0.1, identity;q=0.5'))).head.headers.get('content-encoding')).toBeUndefined();
  });
});

// ---- 7. option validation -------------------------------------------------------------------

describe('option validation at compile', () => {
  it.each([0, 10, 1.5])('gzip level %s is rejected naming option "level"', (level) => {
    const err = compileError({ filter: 'gzip', options: { level } });
    expect(err.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect(err.filter).toBe('gzip');
    expect(err.option).toBe('level');
    expect(err.message).toContain('"level"');
  });

  it.each([1, 9])('gzip level %s is accepted', (level) => {
    expect(() => compileChain([{ filter: 'gzip', options: { level } }])).not.toThrow();
  });

  it('deflate windowBits 8 is rejected', () => {
    const err = compileError({ filter: 'deflate', options: { windowBits: 8 } });
    expect([err.filter, err.option]).toEqual(['deflate', 'windowBits']);
  });

  it('br quality 12 is rejected, 11 and 0 accepted', () => {
    const err = compileError({ filter: 'br', options: { quality: 12 } });
    expect(err.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect([err.filter, err.option]).toEqual(['br', 'quality']);
    expect(() => compileChain([{ filter: 'br', options: { quality: 11 } }])).not.toThrow();
    expect(() => compileChain([{ filter: 'br', options: { quality: 0 } }])).not.toThrow();
  });

  it('compress nested level is checked (gzip.level 0)', () => {
    const err = compileError({ filter: 'compress', options: { gzip: { level: 0 } } });
    expect(err.filter).toBe('compress');
    expect(err.option).toBe('gzip/level');
  });

  it("compress encodings ['zstd'] is rejected", () => {
    const err = compileError({ filter: 'compress', options: { encodings: ['zstd'] } });
    expect(err.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect(err.filter).toBe('compress');
    expect(err.option).toMatch(/^encodings/);
  });

  it('compress encodings [] and duplicates are rejected', () => {
    expect(compileError({ filter: 'compress', options: { encodings: [] } }).option).toMatch(/^encodings/);
    expect(compileError({ filter: 'compress', options: { encodings: ['gzip', 'gzip'] } }).option).toMatch(/^encodings/);
  });

  it('compress with backend fflate and the default encodings (br included) is rejected, mentioning brotli', () => {
    const err = compileError({ filter: 'compress', options: { backend: 'fflate' } });
    expect(err.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect(err.filter).toBe('compress');
    expect(err.message).toMatch(/brotli/i);
  });

  it('br with backend fflate is rejected; compress fflate with gzip/deflate only is accepted', () => {
    expect(compileError({ filter: 'br', options: { backend: 'fflate' } }).message).toMatch(/brotli/i);
    expect(() => compileChain([{ filter: 'compress', options: { backend: 'fflate', encodings: ['gzip', 'deflate'] } }])).not.toThrow();
  });

  it.each(['gzip', 'deflate', 'br', 'compress'])('%s rejects an unknown option', (f) => {
    const err = compileError({ filter: f, options: { levle: 5 } });
    expect(err.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect(err.filter).toBe(f);
    expect(err.option).toBe('levle');
    expect(err.message).toMatch(/unknown option/);
  });

  it('bad etag, backend, minLength and types values are rejected', () => {
    expect(compileError({ filter: 'gzip', options: { etag: 'nochange' } }).option).toBe('etag');
    expect(compileError({ filter: 'gzip', options: { backend: 'wasm' } }).option).toBe('backend');
    expect(compileError({ filter: 'gzip', options: { minLength: -1 } }).option).toBe('minLength');
    expect(compileError({ filter: 'gzip', options: { types: ['html'] } }).option).toMatch(/^types/);
  });
});

// ---- 8. stage order ------------------------------------------------------------------------

describe('stage order', () => {
  it.each(['gzip', 'compress'])('%s listed first still runs after a content filter, which sees plain text', async (f) => {
    const seen: Buffer[] = [];
    const upper = defineFilter({
      name: 'upper-recorder',
      create: () => ({
        onData: (chunk, out) => {
          seen.push(Buffer.from(chunk));
          return out.push(Buffer.from(Buffer.from(chunk).toString('latin1').toUpperCase(), 'latin1'));
        },
      }),
    });
    const chain = compileChain([f, upper]);
    expect(chain.entries.map((e) => e.name)).toEqual(['upper-recorder', f]);
    const res = await processChain(chain, chunked(HTML_100K, 13), init('gzip'));
    expect(Buffer.concat(seen).equals(HTML_100K)).toBe(true);
    expect(res.head.headers.get('content-encoding')).toBe('gzip');
    expect(res.active).toEqual(['upper-recorder', f]);
    const decoded = zlib.gunzipSync(res.body());
    expect(decoded.equals(Buffer.from(HTML_100K.toString('latin1').toUpperCase(), 'latin1'))).toBe(true);
  });
});

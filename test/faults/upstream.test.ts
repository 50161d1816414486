/**
 * A misbehaving upstream, through each relevant chain. For every case: the documented outcome
 * (a status, or an abort that cannot be mistaken for a complete response), a log line, and
 * afterwards the proxy still serves, with no socket, file descriptor or timer left behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { createProxy } from '../../src/proxy/create.js';
import type { ChainEntryConfig, SluiceConfig } from '../../src/pipeline/config/types.js';
import {
  baseline,
  chunked,
  expectSettled,
  get,
  logCapture,
  rawExchange,
  rawHead,
  refusedPort,
  startScriptedUpstream,
  type Behaviour,
  type RawResponse,
  type ScriptedUpstream,
} from './support.js';

const PAGE = Buffer.from(`<!doctype html><meta charset="windows-1252"><title>t</title>${'<p>caf\xe9 from the upstream</p>\n'.repeat(400)}`, 'latin1');
const GZ = zlib.gzipSync(PAGE);
const BR = zlib.brotliCompressSync(PAGE);
/** 64 MiB of zeros in ~64 KiB: a decompression bomb (ratio ~1000 : 1). */
const BOMB = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
const corrupt = (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  for (let i = 20; i < 60; i++) c[i] = c[i]! ^ 0x5a;
  return c;
};

const HTML = ['content-type', 'text/html; charset=windows-1252'] as const;
const close = ['connection', 'close'] as const;

/** Each behaviour is one way an upstream can misbehave (or not, for `ok`). */
const behaviours: Record<string, Behaviour> = {
  ok: (s) => s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', PAGE.length], close])), PAGE])),
  // accepts and never answers: headersTimeout
  silent: () => undefined,
  // answers the head and a little, then stalls: bodyTimeout
  stall: (s) => s.write(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', PAGE.length], close])), PAGE.subarray(0, 100)])),
  // resets the connection mid-body
  reset: (s) => {
    s.write(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', PAGE.length], close])), PAGE.subarray(0, 1000)]));
    setTimeout(() => s.resetAndDestroy(), 20);
  },
  // Content-Length says more than is sent, then a clean FIN
  'cl-long': (s) => s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', PAGE.length + 5000], close])), PAGE])),
  // Content-Length says less than is sent
  'cl-short': (s) => s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', 100], close])), PAGE])),
  'gzip-corrupt': (s) => s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-encoding', 'gzip'], ['content-length', GZ.length], close])), corrupt(GZ)])),
  'gzip-truncated': (s) => {
    const t = GZ.subarray(0, GZ.length >> 1);
    s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-encoding', 'gzip'], ['content-length', t.length], close])), t]));
  },
  // corrupt from the first bytes while the upstream is still sending (the chain fails mid-stream)
  'gzip-corrupt-streaming': (s) => {
    s.write(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-encoding', 'gzip'], ['transfer-encoding', 'chunked'], close])), chunked([corrupt(GZ)]).subarray(0, -5)]));
    const t = setInterval(() => s.write(chunked([Buffer.alloc(16384, 7)]).subarray(0, -5)), 10);
    s.on('close', () => clearInterval(t));
    setTimeout(() => s.destroy(), 300);
  },
  'gzip-bomb': (s) => s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-encoding', 'gzip'], ['content-length', BOMB.length], close])), BOMB])),
  'br-corrupt': (s) => s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-encoding', 'br'], ['content-length', BR.length], close])), corrupt(BR)])),
  'br-truncated': (s) => {
    const t = BR.subarray(0, BR.length >> 1);
    s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-encoding', 'br'], ['content-length', t.length], close])), t]));
  },
  // a valid first chunk, then a chunk size that is not hex
  'chunk-bad': (s) => {
    const good = chunked([PAGE.subarray(0, 500)]).subarray(0, -5); // without the final 0-chunk
    s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['transfer-encoding', 'chunked'], close])), good, Buffer.from('zz\r\nnot a chunk\r\n0\r\n\r\n')]));
  },
  // a chunk that claims more bytes than follow before the connection closes
  'chunk-short': (s) => {
    s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['transfer-encoding', 'chunked'], close])), Buffer.from('1000\r\n'), PAGE.subarray(0, 300)]));
  },
  // a 100 KiB header: over Node's 16 KiB limit
  'huge-header': (s) => s.end(rawHead(200, [HTML, ['x-huge', 'a'.repeat(100 * 1024)], ['content-length', 2], close]) + 'ok'),
  // two informational responses before the real one
  'two-1xx': (s) => {
    s.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
    s.write('HTTP/1.1 102 Processing\r\n\r\n');
    s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', PAGE.length], close])), PAGE]));
  },
  // unsolicited 100 Continue, twice (the proxy never forwards Expect)
  'two-100': (s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\n');
    s.write('HTTP/1.1 100 Continue\r\n\r\n');
    s.end(Buffer.concat([Buffer.from(rawHead(200, [HTML, ['content-length', PAGE.length], close])), PAGE]));
  },
};

const CHAINS: Record<string, ChainEntryConfig[]> = {
  none: [],
  compress: ['compress'],
  rewrite: ['decompress', { filter: 'substitute', options: { rules: ['s/upstream/proxy/'] } }, 'compress'],
  charset: ['charset'],
};

type Outcome = { status: number } | 'abort' | { status: number; complete: true; check?: (r: RawResponse, chain: string) => void };

/** The documented outcome of each fault through each chain (docs/reliability.md). */
function expected(fault: string, chain: string): Outcome {
  switch (fault) {
    case 'refuse':
      return { status: 502 };
    case 'silent':
      return { status: 504 };
    case 'huge-header':
      return { status: 502 };
    case 'two-100':
      // undici refuses a 100 it did not ask for as a bad response (a known limit, documented)
      return { status: 502 };
    case 'stall':
    case 'reset':
    case 'cl-long':
    case 'chunk-bad':
    case 'chunk-short':
      return 'abort';
    case 'cl-short':
      // the upstream framed 100 bytes: those are the response, the rest is not read
      return {
        status: 200,
        complete: true,
        check: (r, c) => {
          if (c === 'none') expect(r.body.equals(PAGE.subarray(0, 100))).toBe(true);
          // rewritten, but from those 100 bytes only
          const first = PAGE.subarray(0, 100).toString('latin1');
          if (c === 'compress') expect(decoded(r).equals(PAGE.subarray(0, 100))).toBe(true);
          if (c === 'rewrite') expect(decoded(r).toString('latin1')).toBe(first.replace('upstream', 'proxy'));
          if (c === 'charset') expect(r.body.toString('utf8')).toBe(first.replace('windows-1252', 'utf-8'));
        },
      };
    case 'gzip-bomb':
      // decompress stops at its ratio limit (200:1 by default) after at most a few 64 KiB steps
      return chain === 'rewrite' ? 'abort' : { status: 200, complete: true, check: (r) => expect(r.body.length).toBe(BOMB.length) };
    case 'gzip-corrupt':
    case 'gzip-corrupt-streaming':
    case 'gzip-truncated':
    case 'br-corrupt':
    case 'br-truncated':
      // only a chain that decodes can tell; the others pass the encoded bytes on untouched
      return chain === 'rewrite'
        ? 'abort'
        : fault === 'gzip-corrupt-streaming'
          ? 'abort' // passed on as it comes, then the upstream goes away mid-body
          : { status: 200, complete: true, check: (r) => expect(r.headers['content-encoding']).toBe(fault.startsWith('gzip') ? 'gzip' : 'br') };
    case 'two-1xx':
    case 'ok':
      return {
        status: 200,
        complete: true,
        check: (r, c) => {
          const body = decoded(r);
          if (c === 'rewrite') expect(body.toString('latin1')).toContain('from the proxy');
          else if (c === 'charset') expect(body.toString('utf8')).toContain('café from the upstream');
          else expect(body.equals(PAGE)).toBe(true);
        },
      };
    default:
      throw new Error(fault);
  }
}

function decoded(r: RawResponse): Buffer {
  const enc = r.headers['content-encoding'];
  if (enc === 'gzip') return zlib.gunzipSync(r.body);
  if (enc === 'br') return zlib.brotliDecompressSync(r.body);
  return r.body;
}

/** The log line a fault leaves, by outcome. */
function expectedLog(outcome: Outcome): { level: number; msg: RegExp } {
  if (outcome === 'abort') return { level: 40, msg: /aborted mid-body/ };
  if (outcome.status >= 500) return { level: 40, msg: /upstream fault/ };
  return { level: 30, msg: /^proxied$/ };
}

let upstream: ScriptedUpstream;
let proxy: FastifyInstance;
let port = 0;
const logs = logCapture();

beforeAll(async () => {
  upstream = await startScriptedUpstream((req) => behaviours[req.target.split('?')[0]!.split('/').pop()!] ?? behaviours['ok']!);
  const dead = `http://127.0.0.1:${await refusedPort()}`;
  const config: SluiceConfig = {
    upstreams: {
      app: { servers: [upstream.url], connectTimeout: 500, headersTimeout: 250, bodyTimeout: 250 },
      dead: { servers: [dead], connectTimeout: 500 },
    },
    locations: Object.entries(CHAINS).flatMap(([name, output]) => [
      { path: `/${name}/`, upstream: 'app', output },
      { path: `/${name}/refuse`, upstream: 'dead' },
    ]),
  };
  proxy = createProxy(config, { logger: { level: 'info', stream: logs.stream } });
  await proxy.listen({ port: 0, host: '127.0.0.1' });
  port = (proxy.server.address() as AddressInfo).port;
  // one request per chain first, so lazily created things (pools, codecs) are in the baseline
  for (const chain of Object.keys(CHAINS)) await rawExchange(port, { request: get(`/${chain}/ok`, { 'accept-encoding': 'gzip' }) });
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

const FAULTS = ['refuse', 'silent', 'stall', 'reset', 'cl-long', 'cl-short', 'gzip-corrupt', 'gzip-corrupt-streaming', 'gzip-bomb', 'gzip-truncated', 'br-corrupt', 'br-truncated', 'chunk-bad', 'chunk-short', 'huge-header', 'two-1xx', 'two-100'];

function describeOutcome(o: Outcome): string {
  if (o === 'abort') return 'the client connection is cut (never a clean end)';
  return 'complete' in o ? `${o.status}, complete` : `${o.status}`;
}

describe.each(Object.keys(CHAINS))('through the %s chain', (chain) => {
  for (const fault of FAULTS) {
    const outcome = expected(fault, chain);
    it(`upstream ${fault}: ${describeOutcome(outcome)}, logged; then the proxy serves and nothing is left open`, async () => {
      const before = baseline();
      const mark = logs.lines.length;
      const r = await rawExchange(port, { request: get(`/${chain}/${fault}`, { 'accept-encoding': 'gzip' }), timeoutMs: 5000 });
      expect(r.timedOut).toBe(false); // the proxy never leaves a client hanging
      if (outcome === 'abort') {
        // either no response at all, or one whose framing says it is not complete
        expect(r.complete).toBe(false);
      } else {
        expect(r.status).toBe(outcome.status);
        expect(r.complete).toBe(true);
        if ('check' in outcome) outcome.check?.(r, chain);
      }
      // the log line
      const want = expectedLog(outcome);
      await expect.poll(() => logs.since(mark).some((l) => l.level === want.level && want.msg.test(l.msg)), { timeout: 1000 }).toBe(true);
      // the next request is served
      const next = await rawExchange(port, { request: get(`/${chain}/ok`) });
      expect(next.status).toBe(200);
      expect(next.complete).toBe(true);
      await expectSettled(before);
    });
  }
});

/**
 * The built-in demo upstream that `npm start` puts behind Sluice: an ordinary origin server
 * (node:http only) whose locations each give one filter something to do. It knows nothing of
 * Sluice and behaves like real applications do, including some that misbehave: a legacy
 * charset, a charset declared only in <meta>, gzip regardless of Accept-Encoding, absolute
 * links to its internal address.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';

export interface DemoUpstream {
  /** Base URL to reach it, e.g. `http://127.0.0.1:40123` (unspecified addresses map to loopback). */
  readonly url: string;
  readonly port: number;
  /** Stops listening, destroys open connections (streams included) and clears every timer. */
  close(): Promise<void>;
}

/** The address the application believes it lives at: what URL-rewriting filters map to public URLs. */
const INTERNAL = 'http://internal.example:8000';
const SERVER_NAME = 'sluice-demo';
const SAFE_METHODS = 'GET, HEAD';
const KiB = 1024;
const MiB = 1024 * KiB;
const DOWNLOAD_CHUNK = 64 * KiB;

// ---------------------------------------------------------------------------------------------
// Request plumbing

/** What a route handler gets: the exchange, its parsed URL, and timers tied to its lifetime. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** setTimeout that is cleared when the response closes (client gone) or the server closes. */
  later(ms: number, fn: () => void): void;
}

interface Route {
  readonly path: string;
  /** Link used on the index page (may carry a query showing the parameters). */
  readonly href: string;
  /** One line on the index: what this location demonstrates. */
  readonly summary: string;
  /** Only /echo: it exists to show what a proxy forwards, whatever the method. */
  readonly anyMethod?: boolean;
  readonly handle: (ex: Exchange) => void | Promise<void>;
}

const isHead = (ex: Exchange): boolean => ex.req.method === 'HEAD';

/** A complete response with Content-Length; the body is left out for HEAD, as RFC 9110 wants. */
function send(ex: Exchange, status: number, headers: OutgoingHttpHeaders, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  ex.res.writeHead(status, { ...headers, 'content-length': buf.byteLength });
  ex.res.end(isHead(ex) ? undefined : buf);
}

const sendText = (ex: Exchange, status: number, text: string, headers: OutgoingHttpHeaders = {}): void =>
  send(ex, status, { 'content-type': 'text/plain; charset=utf-8', ...headers }, `${text}\n`);

/**
 * An integer query parameter, clamped: demo links are typed by hand, so an out-of-range or
 * malformed value falls back to something sensible instead of an error page.
 */
function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  const n = raw === null || raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

// ---------------------------------------------------------------------------------------------
// Fixed representations: built once, on first use, each with a strong ETag

interface Representation {
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly etag: string;
}

function represent(headers: OutgoingHttpHeaders, body: Buffer): Representation {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { headers, body, etag };
}

function memo<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

/** If-None-Match (RFC 9110 §13.1.2 uses weak comparison): does the client hold this version? */
function clientHas(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  const weak = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || weak(t) === weak(etag));
}

/** A route serving a fixed body: 200 with Content-Length and ETag, or 304 when the client has it. */
function fixed(build: () => Representation): Route['handle'] {
  const get = memo(build);
  return (ex) => {
    const r = get();
    if (clientHas(ex.req, r.etag)) {
      ex.res.writeHead(304, { etag: r.etag });
      ex.res.end();
      return;
    }
    send(ex, 200, { ...r.headers, etag: r.etag }, r.body);
  };
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// ---------------------------------------------------------------------------------------------
// The index page

function indexPage(): Representation {
  const entries = ROUTES.map(
    (r) => `  <dt><a href="${escapeHtml(r.href)}">${escapeHtml(r.href)}</a></dt>\n  <dd>${r.summary}</dd>`,
  ).join('\n');
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice demo upstream</title>
<link rel="canonical" href="${INTERNAL}/">
<link rel="icon" type="image/svg+xml" href="${INTERNAL}/logo.svg">
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
  header { display: flex; align-items: center; gap: 1rem; }
  code { background: #f2f4f7; padding: 0 .25em; border-radius: 3px; }
  dt { font-weight: 600; margin-top: .8rem; }
  dd { margin-left: 1.5rem; }
  footer { margin-top: 2rem; font-size: .9em; color: #5a6473; }
</style>
</head>
<body>
<header>
  <img src="${INTERNAL}/logo.svg" alt="Sluice" width="48" height="48">
  <h1>Sluice demo upstream</h1>
</header>
<p>This is the application behind the demo proxy. It knows nothing about Sluice: it answers the
way an ordinary, sometimes slightly misbehaving, origin server does, and the filter chains of
the proxy do the rest. Open a location here and through the proxy, and compare the headers
(<code>curl -si</code>) and the bytes.</p>

<h2>Locations</h2>
<dl>
${entries}
</dl>

<h2>Internal links</h2>
<p>The application believes it lives at <code>${INTERNAL}</code> and writes absolute links to
itself, as many do behind a reverse proxy. A URL-rewriting filter maps them to the public
address; without one they leak to the client and lead nowhere:</p>
<ul>
  <li><a href="${INTERNAL}/api/items">${INTERNAL}/api/items</a>, the item list</li>
  <li><a href="${INTERNAL}/legacy">${INTERNAL}/legacy</a>, the windows-1252 page</li>
  <li><a href="${INTERNAL}/events?interval=500&amp;count=20">${INTERNAL}/events?interval=500&amp;count=20</a>, a faster event stream</li>
  <li><a href="${INTERNAL}/download?size=1048576">${INTERNAL}/download?size=1048576</a>, one mebibyte</li>
</ul>

<h2>Send something</h2>
<form action="/echo" method="post">
  <label>Text <input name="q" value="Grüße aus Sluice"></label>
  <button type="submit">POST to /echo</button>
</form>
<p>The reply lists the method, URL, headers, body length and SHA-256 that reached this server:
send a gzip-encoded body through the proxy and see it arrive inflated.</p>

<footer>
  <p>Served by <code>${SERVER_NAME}</code> (src/proxy/demo-upstream.ts); the proxy's config for
  these locations is in src/proxy/demo-config.ts.</p>
</footer>
</body>
</html>
`;
  return represent({ 'content-type': 'text/html; charset=utf-8' }, Buffer.from(html, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Pages in other charsets and encodings

/** Every character outside ASCII here exists in windows-1252; €, “ ” – … sit in 0x80-0x9F. */
const LEGACY_HTML = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>Café Müller – Speisekarte</title>
</head>
<body>
<h1>Café Müller – “Spezialitäten des Hauses”</h1>
<p>This page is encoded in windows-1252 and says so in its Content-Type header, as sites of
the early 2000s did. Through the proxy the <code>charset</code> filter converts it to UTF-8 and
rewrites the header; read raw, its bytes are not valid UTF-8.</p>
<table border="1" cellpadding="4">
<tr><th>Gericht</th><th>Preis</th></tr>
<tr><td>Crème brûlée</td><td>6,50 €</td></tr>
<tr><td>Apfelstrudel mit Schlagobers</td><td>5,20 €</td></tr>
<tr><td>Käsespätzle – vegetarisch</td><td>11,90 €</td></tr>
<tr><td>Grüner Veltliner, ¼ l</td><td>4,80 €</td></tr>
<tr><td>Café au lait, süß</td><td>3,60 €</td></tr>
</table>
<p>‘Single’ and “double” quotes, the en dash –, the em dash —, the ellipsis …, the trade mark ™
and the per-mille sign ‰ all live in the 0x80–0x9F range that ISO-8859-1 leaves to control
codes: a converter that treats windows-1252 as Latin-1 mangles exactly these.</p>
<p><a href="/">Zurück zur Übersicht</a></p>
</body>
</html>
`;

/**
 * Shift_JIS declared only by <meta> (within the first bytes, where sniffers look). ソ 表 能 予
 * have 0x5C, an ASCII backslash, as their second byte: byte-level processing trips on them.
 */
const SJIS_HTML = `<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="shift_jis">
<title>スルース デモ：日本語のページ</title>
</head>
<body>
<h1>日本語のページ（Shift_JIS）</h1>
<p>このページは Shift_JIS で符号化されています。Content-Type ヘッダーには charset がなく、文字コードを宣言しているのは meta 要素だけです。</p>
<p>プロキシの charset フィルターは先頭のバイトからこの宣言を読み取り（スニッフィング）、本文を UTF-8 に変換して、meta 要素も書き換えます。</p>
<ul>
<li>ソフトウェア開発・表示・能力・予約</li>
<li>東京都千代田区丸の内一丁目</li>
<li>「こんにちは、世界。」</li>
</ul>
<p><a href="/">トップへ戻る</a></p>
</body>
</html>
`;

const LINKS_HTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Internal links</title>
<meta http-equiv="refresh" content="300; url=${INTERNAL}/links">
<link rel="icon" href="${INTERNAL}/logo.svg">
<style>h1 { background: url(${INTERNAL}/logo.svg) no-repeat right; }</style></head>
<body>
<h1>Written with internal URLs</h1>
<p>The application that wrote this page believes it lives at <code>${INTERNAL}</code>. Every link
below was written that way; through the proxy, <code>html-urlmap</code> maps them.</p>
<ul>
<li><a href="${INTERNAL}/">The index</a> (href)</li>
<li><img src="${INTERNAL}/logo.svg" srcset="${INTERNAL}/logo.svg 1x, ${INTERNAL}/logo.svg?size=2 2x" alt="logo" width="32" height="32"> (src, srcset)</li>
<li><form action="${INTERNAL}/echo" method="post"><button formaction="${INTERNAL}/echo?via=button">Post to /echo</button></form> (action, formaction)</li>
<li><a HREF=${INTERNAL}/legacy>Unquoted, upper-case attribute</a></li>
<li><a href="https://example.org/">An external link: left alone</a></li>
</ul>
<!-- a comment mentioning ${INTERNAL}/ is not a link: left alone -->
<script>const api = "${INTERNAL}/api/items"; // script text: left alone unless "extended"</script>
</body>
</html>
`;

const GZIPPED_HTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Always gzipped</title></head>
<body>
<h1>Always gzipped</h1>
<p>This page left the application compressed with gzip, whatever your Accept-Encoding said,
as some frameworks and pre-compressed static stores do. A client that cannot decode gzip gets
bytes it cannot read.</p>
<p>Through the proxy the <code>decompress</code> filter decodes it, so filters further down the
chain see the HTML, and <code>compress</code> encodes it again only if the client asked (and
with the encoding it prefers). The response carries <code>Vary: Accept-Encoding</code> either way.</p>
<p><img src="${INTERNAL}/logo.svg" alt="Sluice" width="32" height="32">
<a href="${INTERNAL}/">Back to the index</a></p>
</body>
</html>
`;

const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" aria-label="Sluice">
  <title>Sluice</title>
  <rect x="4" y="4" width="56" height="56" rx="12" fill="#1d4ed8"/>
  <rect x="14" y="12" width="8" height="30" fill="#e0e7ff"/>
  <rect x="42" y="12" width="8" height="30" fill="#e0e7ff"/>
  <rect x="22" y="16" width="20" height="14" fill="#93c5fd"/>
  <path d="M10 48 q5.5 -5 11 0 t11 0 t11 0 t11 0" fill="none" stroke="#e0e7ff" stroke-width="3" stroke-linecap="round"/>
</svg>
`;

// ---------------------------------------------------------------------------------------------
// JSON

const ITEM_KINDS = ['Sluice gate', 'Weir plank', 'Flow meter', 'Penstock valve', 'Fish ladder', 'Spillway grate', 'Lock seal', 'Culvert liner', 'Trash rack', 'Tailrace vane'];
const ITEM_FINISHES = ['steel', 'bronze', 'oak', 'granite', 'copper'];

/** Fifty deterministic items, so the body, its Content-Length and its ETag never change. */
function itemsJson(): Representation {
  const items = Array.from({ length: 50 }, (_, i) => ({
    id: i + 1,
    sku: `SLC-${String(i + 1).padStart(4, '0')}`,
    name: `${ITEM_KINDS[i % ITEM_KINDS.length]} (${ITEM_FINISHES[Math.floor(i / ITEM_KINDS.length) % ITEM_FINISHES.length]})`,
    price: { amount: Math.round((9.5 + ((i * 37) % 190)) * 100 + 49) / 100, currency: 'EUR' },
    inStock: i % 3 !== 0,
    tags: i % 4 === 0 ? ['heavy', 'freight'] : ['parcel'],
    url: `${INTERNAL}/api/items/${i + 1}`,
  }));
  return represent({ 'content-type': 'application/json' }, Buffer.from(`${JSON.stringify(items, null, 2)}\n`, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Streams and timing

/** Server-sent events, each written (and so flushed to the socket) as soon as it is due. */
function events(ex: Exchange): void {
  const interval = intParam(ex.url, 'interval', 1000, 10, 60_000);
  const count = intParam(ex.url, 'count', 10, 0, 1000);
  // No Content-Length: the stream is chunked and its length unknown until the last event
  ex.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (isHead(ex) || count === 0) return void ex.res.end();
  let n = 0;
  const tick = (): void => {
    n++;
    const data = JSON.stringify({ n, of: count, at: new Date().toISOString(), message: `event ${n} of ${count}` });
    ex.res.write(`id: ${n}\ndata: ${data}\n\n`);
    if (n < count) ex.later(interval, tick);
    else ex.res.end();
  };
  tick();
}

/** One 64 KiB block of 64-byte text lines, reused for every chunk (never mutated, so sharing is safe). */
const downloadBlock = memo(() => {
  const lines: string[] = [];
  for (let i = 0; i < DOWNLOAD_CHUNK / 64; i++) lines.push(`sluice demo download, line ${String(i).padStart(4, '0')} of each block`.padEnd(63, '.') + '\n');
  return Buffer.from(lines.join(''), 'latin1');
});

/**
 * `size` bytes in 64 KiB chunks, writing only while the socket keeps up: when write() says the
 * buffer is full we wait for 'drain', so a slow client slows this loop instead of growing memory.
 */
function download(ex: Exchange): void {
  const size = intParam(ex.url, 'size', 10 * MiB, 0, 1024 * MiB);
  ex.res.writeHead(200, { 'content-type': 'text/plain; charset=us-ascii', 'content-length': size });
  if (isHead(ex)) return void ex.res.end();
  const block = downloadBlock();
  let sent = 0;
  const writeSome = (): void => {
    while (sent < size) {
      const chunk = size - sent >= block.byteLength ? block : block.subarray(0, size - sent);
      sent += chunk.byteLength;
      if (sent === size) return void ex.res.end(chunk);
      // A destroyed response never drains; the listener then goes with it
      if (!ex.res.write(chunk)) return void ex.res.once('drain', writeSome);
    }
    ex.res.end();
  };
  writeSome();
}

/** The whole response (head included) only after `delay` ms: something for upstream timeouts. */
function slow(ex: Exchange): void {
  const delay = intParam(ex.url, 'delay', 2000, 0, 60_000);
  ex.later(delay, () => sendText(ex, 200, `answered after ${delay} ms`));
}

/** Reads the whole request body, hashing as it goes, and reports what arrived. */
async function echo(ex: Exchange): Promise<void> {
  const hash = createHash('sha256');
  let bodyBytes = 0;
  for await (const chunk of ex.req as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bodyBytes += chunk.byteLength;
  }
  const report = { method: ex.req.method, url: ex.req.url, headers: ex.req.headers, bodyBytes, bodySha256: hash.digest('hex') };
  send(ex, 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, `${JSON.stringify(report, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The routes, in the order the index lists them

const ROUTES: readonly Route[] = [
  {
    path: '/',
    href: '/',
    summary: 'This page: UTF-8 HTML with a Content-Length and a strong ETag. The proxy compresses it (br or gzip, as the client asks) and drops the Content-Length, since the length changes.',
    handle: fixed(indexPage),
  },
  {
    path: '/legacy',
    href: '/legacy',
    summary: 'A windows-1252 page (é, ü, €, “quotes”) declared in Content-Type. <code>charset</code> converts it to UTF-8 and rewrites the header.',
    handle: fixed(() => represent({ 'content-type': 'text/html; charset=windows-1252' }, iconv.encode(LEGACY_HTML, 'windows-1252'))),
  },
  {
    path: '/legacy-sjis',
    href: '/legacy-sjis',
    summary: 'A Shift_JIS page with no charset in Content-Type, only <code>&lt;meta charset="shift_jis"&gt;</code>. <code>charset</code> sniffs the declaration, converts the body and rewrites the meta element.',
    handle: fixed(() => represent({ 'content-type': 'text/html' }, iconv.encode(SJIS_HTML, 'shift_jis'))),
  },
  {
    path: '/api/items',
    href: '/api/items',
    summary: 'A JSON list of 50 items with a Content-Length: compressed when it is large enough to be worth it.',
    handle: fixed(itemsJson),
  },
  {
    path: '/events',
    href: '/events?interval=1000&count=10',
    summary: 'Server-sent events, one every <code>interval</code> ms (at least 10) for <code>count</code> events (at most 1000). Through <code>compress</code> each event still arrives when it is sent, because the proxy flushes whenever the upstream pauses.',
    handle: events,
  },
  {
    path: '/download',
    href: '/download?size=10485760',
    summary: 'A streamed text body of <code>size</code> bytes (default 10 MiB, at most 1 GiB) in 64 KiB chunks, written with backpressure: a slow client slows the server instead of filling memory anywhere on the way.',
    handle: download,
  },
  {
    path: '/gzipped',
    href: '/gzipped',
    summary: 'An HTML page that is always gzip-encoded, whatever the client accepts, as a misbehaving application might send it. <code>decompress</code> decodes it; <code>compress</code> re-encodes only if the client asked.',
    handle: fixed(() =>
      represent(
        { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip', vary: 'Accept-Encoding' },
        gzipSync(Buffer.from(GZIPPED_HTML, 'utf8')),
      ),
    ),
  },
  {
    path: '/links',
    href: '/links',
    summary: `An HTML page written with the application's internal URLs (${INTERNAL}/…) in href, src, srcset, action, a meta refresh and inline CSS. <code>html-urlmap</code> maps them to this proxy's paths while the page streams; everything else stays byte for byte.`,
    handle: fixed(() => represent({ 'content-type': 'text/html; charset=utf-8' }, Buffer.from(LINKS_HTML, 'utf8'))),
  },
  {
    path: '/moved',
    href: '/moved',
    summary: `A 302 redirect to <code>${INTERNAL}/links</code> with a cookie for the internal domain. <code>proxy-reverse</code> rewrites Location and the cookie's Domain and Path to this proxy's.`,
    handle: (ex) => {
      ex.res.writeHead(302, {
        location: `${INTERNAL}/links`,
        'set-cookie': 'demo=1; Domain=internal.example; Path=/; HttpOnly',
        'content-type': 'text/plain; charset=utf-8',
      });
      ex.res.end(`moved to ${INTERNAL}/links\n`);
    },
  },
  {
    path: '/logo.svg',
    href: '/logo.svg',
    summary: 'A small SVG (image/svg+xml): the logo the internal links above point to.',
    handle: fixed(() => represent({ 'content-type': 'image/svg+xml' }, Buffer.from(LOGO_SVG, 'utf8'))),
  },
  {
    path: '/slow',
    href: '/slow?delay=2000',
    summary: 'Answers only after <code>delay</code> ms (at most 60000): something for the proxy\'s upstream timeouts.',
    handle: slow,
  },
  {
    path: '/echo',
    href: '/echo',
    summary: 'Any method: reads the whole request body and answers with the method, URL, headers, body length and SHA-256 it received, to show what the proxy forwards.',
    anyMethod: true,
    handle: echo,
  },
];

const ROUTE_BY_PATH = new Map(ROUTES.map((r) => [r.path, r]));

// ---------------------------------------------------------------------------------------------
// The server

/**
 * Timers that belong to one response: cleared when it closes (finished, or the client went
 * away) so nothing fires into a dead socket, and registered server-wide so close() can clear
 * whatever is left. One 'close' listener per response, however many timers it sets.
 */
function responseTimers(res: ServerResponse, all: Set<NodeJS.Timeout>): Exchange['later'] {
  const mine = new Set<NodeJS.Timeout>();
  res.once('close', () => {
    for (const t of mine) {
      clearTimeout(t);
      all.delete(t);
    }
    mine.clear();
  });
  return (ms, fn) => {
    if (res.closed) return;
    const t = setTimeout(() => {
      mine.delete(t);
      all.delete(t);
      fn();
    }, ms);
    mine.add(t);
    all.add(t);
  };
}

/** Before the head a failure is a 500; after it, the connection is cut so the body is not taken as complete. */
function fail(ex: Exchange, err: unknown): void {
  if (ex.res.headersSent || ex.req.destroyed) return void ex.res.destroy(err instanceof Error ? err : undefined);
  sendText(ex, 500, 'internal error in the demo upstream');
}

function dispatch(req: IncomingMessage, res: ServerResponse, timers: Set<NodeJS.Timeout>): void {
  res.setHeader('server', SERVER_NAME);
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://demo.invalid');
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    return void res.end('bad request target\n');
  }
  const ex: Exchange = { req, res, url, later: responseTimers(res, timers) };
  const route = ROUTE_BY_PATH.get(url.pathname);
  if (!route) return sendText(ex, 404, `not found: ${url.pathname} (the index at / lists every location)`);
  if (!route.anyMethod && req.method !== 'GET' && req.method !== 'HEAD') {
    return sendText(ex, 405, `method ${req.method} not allowed on ${route.path}`, { allow: SAFE_METHODS });
  }
  try {
    const done = route.handle(ex);
    if (done) done.catch((err: unknown) => fail(ex, err));
  } catch (err) {
    fail(ex, err);
  }
}

/** A URL a client on this machine can use: unspecified addresses mean "reach me on loopback". */
function reachableUrl(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return `http://127.0.0.1:${address.port}`;
  if (address.address === '::') return `http://[::1]:${address.port}`;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function shutdown(server: http.Server, timers: Set<NodeJS.Timeout>): Promise<void> {
  for (const t of timers) clearTimeout(t);
  timers.clear();
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // close() alone waits for active connections: an event stream or a download could hold it open
    server.closeAllConnections();
  });
}

/** Starts the demo upstream (by default on 127.0.0.1, any free port). */
export async function startDemoUpstream(opts: { host?: string; port?: number /* 0 = any */ } = {}): Promise<DemoUpstream> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => dispatch(req, res, timers));
  await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: reachableUrl(address),
    port: address.port,
    // Idempotent: a second close() (say, from a signal handler and a test) waits for the first
    close: () => (closing ??= shutdown(server, timers)),
  };
}

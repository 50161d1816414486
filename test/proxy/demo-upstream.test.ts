import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { startDemoUpstream, type DemoUpstream } from '../../src/proxy/demo-upstream.js';

/**
 * The demo upstream over real sockets on 127.0.0.1. The client is bare node:http with no
 * agent (one connection per request, nothing pooled) and no automatic decoding, so every test
 * sees exactly the bytes and headers the server sent.
 */
let up: DemoUpstream;

beforeAll(async () => {
  up = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await up?.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer;
}

function request(path: string, opts: RequestOptions = {}, base: DemoUpstream = up): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // An explicit length: node:http sends a DELETE or OPTIONS body unframed otherwise
    const headers = opts.body ? { 'content-length': opts.body.byteLength, ...opts.headers } : opts.headers;
    const req = http.request(new URL(path, base.url), { method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A request whose response the test drives itself (pauses, aborts): resolves at the head. */
function open(path: string, base: DemoUpstream): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, base.url), { agent: false }, (res) => {
      res.on('error', () => undefined); // aborted on purpose by the test or by close()
      resolve({ req, res });
    });
    req.on('error', reject);
  });
}

const isUtf8 = (buf: Buffer): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Active handles of the kinds a server can leak (sockets, servers, timers), counted by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = { TCPServerWrap: 0, TCPSocketWrap: 0, Timeout: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind]!++;
  return counts;
}

/** Waits until no kind of handle outnumbers `baseline` (sockets close a tick or two late). */
async function settlesTo(baseline: Record<string, number>, within = 2000): Promise<Record<string, number>> {
  const deadline = Date.now() + within;
  let now = handles();
  while (Object.keys(baseline).some((k) => now[k]! > baseline[k]!) && Date.now() < deadline) {
    await sleep(20);
    now = handles();
  }
  return now;
}

/**
 * Spies on setTimeout/clearTimeout (the server runs in this process) to follow the timers set
 * with one delay: handle counts alone cannot tell the server's timer from anyone else's.
 */
function watchTimers(delay: number) {
  const set = vi.spyOn(globalThis, 'setTimeout');
  const clear = vi.spyOn(globalThis, 'clearTimeout');
  const ours = (): unknown[] => set.mock.calls.flatMap((call, i) => (call[1] === delay ? [set.mock.results[i]?.value] : []));
  return {
    async waitForSet(within = 2000): Promise<unknown> {
      const deadline = Date.now() + within;
      while (ours().length === 0 && Date.now() < deadline) await sleep(10);
      expect(ours(), `a ${delay} ms timer`).toHaveLength(1);
      return ours()[0];
    },
    all: ours,
    cleared: (timer: unknown): boolean => clear.mock.calls.some((call) => call[0] === timer),
    restore(): void {
      set.mockRestore();
      clear.mockRestore();
    },
  };
}

describe('startDemoUpstream', () => {
  it('listens on the requested host, on a free port when given 0', () => {
    expect(up.port).toBeGreaterThan(0);
    expect(up.url).toBe(`http://127.0.0.1:${up.port}`);
  });

  it.each(['/', '/legacy', '/legacy-sjis', '/api/items', '/events?interval=10&count=1', '/download?size=10', '/gzipped', '/logo.svg', '/slow?delay=0', '/echo', '/nope'])(
    'GET %s carries Server: sluice-demo',
    async (path) => {
      const r = await request(path);
      expect(r.headers.server).toBe('sluice-demo');
    },
  );
});

describe('/', () => {
  it('is a UTF-8 HTML page of a few KB with a Content-Length and a strong ETag', async () => {
    const r = await request('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(r.headers['content-length'])).toBe(r.body.byteLength);
    expect(r.body.byteLength).toBeGreaterThanOrEqual(3 * 1024);
    expect(r.body.byteLength).toBeLessThanOrEqual(6 * 1024);
    expect(r.headers.etag).toMatch(/^"[^"]+"$/); // no W/ prefix
    expect(isUtf8(r.body)).toBe(true);
  });

  it('links to every other route and carries internal absolute links and an internal <img>', async () => {
    const html = (await request('/')).body.toString('utf8');
    for (const path of ['/legacy', '/legacy-sjis', '/api/items', '/events', '/download', '/gzipped', '/logo.svg', '/slow', '/echo']) {
      expect(html, path).toMatch(new RegExp(`href="${path.replace('.', '\\.')}["?]`));
    }
    expect(html).toContain('<img src="http://internal.example:8000/logo.svg"');
    expect(html.match(/href="http:\/\/internal\.example:8000\//g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('answers 304 to If-None-Match with its ETag, and 200 to another', async () => {
    const { headers } = await request('/');
    const same = await request('/', { headers: { 'if-none-match': headers.etag! } });
    expect(same.status).toBe(304);
    expect(same.headers.etag).toBe(headers.etag);
    expect(same.body.byteLength).toBe(0);
    expect((await request('/', { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('HEAD gives the same head and no body', async () => {
    const get = await request('/');
    const head = await request('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.body.byteLength).toBe(0);
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s is 405 with Allow: GET, HEAD', async (method) => {
    const r = await request('/', { method, body: Buffer.from('x') });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    expect(r.headers.server).toBe('sluice-demo');
  });
});

describe('pages in other charsets and encodings', () => {
  it('/legacy is windows-1252, declared in Content-Type', async () => {
    const r = await request('/legacy');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=windows-1252');
    expect(Number(r.headers['content-length'])).toBe(r.body.byteLength);
    expect(r.body.includes(0x80)).toBe(true); // € in windows-1252
    expect(isUtf8(r.body)).toBe(false);
    const text = iconv.decode(r.body, 'windows-1252');
    for (const s of ['€', 'Café Müller', '“Spezialitäten des Hauses”', '–', 'Crème brûlée']) expect(text).toContain(s);
  });

  it('/legacy-sjis is Shift_JIS declared only by <meta>, early enough to sniff', async () => {
    const r = await request('/legacy-sjis');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html');
    expect(r.body.subarray(0, 1024).toString('latin1')).toContain('<meta charset="shift_jis">');
    expect(isUtf8(r.body)).toBe(false);
    const text = iconv.decode(r.body, 'shift_jis');
    expect(text).toContain('日本語のページ');
    expect(text).toContain('ソフトウェア開発・表示・能力・予約');
    expect(text).not.toContain('\uFFFD');
  });

  it('/gzipped is gzip-encoded even when the client accepts only identity', async () => {
    const r = await request('/gzipped', { headers: { 'accept-encoding': 'identity' } });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers.vary).toMatch(/accept-encoding/i);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(r.headers['content-length'])).toBe(r.body.byteLength);
    const html = gunzipSync(r.body).toString('utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('</html>');
  });

  it('/logo.svg is a small SVG', async () => {
    const r = await request('/logo.svg');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/svg+xml');
    expect(r.body.toString('utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(r.body.byteLength).toBeLessThan(2048);
  });
});

describe('/api/items', () => {
  it('is a JSON list of 50 items with a Content-Length', async () => {
    const r = await request('/api/items');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['content-length'])).toBe(r.body.byteLength);
    const items = JSON.parse(r.body.toString('utf8')) as Array<{ id: number; name: string }>;
    expect(items).toHaveLength(50);
    expect(new Set(items.map((i) => i.id)).size).toBe(50);
    expect(items.every((i) => typeof i.name === 'string' && i.name.length > 0)).toBe(true);
  });
});

describe('/events', () => {
  it('sends count events, one per interval, then ends', async () => {
    const started = Date.now();
    const r = await request('/events?interval=10&count=3');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream');
    expect(r.headers['content-length']).toBeUndefined();
    const events = r.body.toString('utf8').split('\n\n').filter(Boolean);
    expect(events).toHaveLength(3);
    events.forEach((e, i) => {
      const [id, data] = e.split('\n');
      expect(id).toBe(`id: ${i + 1}`);
      expect(JSON.parse(data!.replace(/^data: /, ''))).toMatchObject({ n: i + 1, of: 3 });
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(15); // two intervals between three events
  });

  it('writes each event as it is due, not at the end', async () => {
    const { res } = await open('/events?interval=200&count=3', up);
    const first = await new Promise<string>((resolve) => res.once('data', (c: Buffer) => resolve(c.toString('utf8'))));
    expect(first).toMatch(/^id: 1\ndata: /);
    res.destroy();
  });

  it('clamps the interval to at least 10 ms', async () => {
    const started = Date.now();
    const r = await request('/events?interval=0&count=4');
    expect(r.body.toString('utf8').split('\n\n').filter(Boolean)).toHaveLength(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('POST is 405', async () => {
    expect((await request('/events', { method: 'POST' })).status).toBe(405);
  });
});

describe('/download', () => {
  it('streams exactly ?size= bytes of text with a matching Content-Length', async () => {
    const r = await request('/download?size=1000000');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.headers['content-length']).toBe('1000000');
    expect(r.body.byteLength).toBe(1_000_000);
    expect(r.body.subarray(0, 28).toString('latin1')).toBe('sluice demo download, line 0');
  });

  it('HEAD gives the Content-Length of the default 10 MiB and no body', async () => {
    const r = await request('/download', { method: 'HEAD' });
    expect(r.headers['content-length']).toBe(String(10 * 1024 * 1024));
    expect(r.body.byteLength).toBe(0);
  });

  it('waits for drain: a client that does not read stops the writes', async () => {
    const writes = vi.spyOn(http.OutgoingMessage.prototype, 'write');
    try {
      const { res } = await open('/download?size=268435456', up); // 256 MiB = 4096 chunks
      await sleep(300);
      // Socket buffers on loopback hold a few MB at most: without backpressure all 4096 writes happen at once
      expect(writes.mock.calls.length).toBeGreaterThan(0);
      expect(writes.mock.calls.length).toBeLessThan(1024);
      res.destroy();
    } finally {
      writes.mockRestore();
    }
  });
});

describe('/slow', () => {
  it('answers after ?delay= ms', async () => {
    const started = Date.now();
    const r = await request('/slow?delay=100');
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(r.status).toBe(200);
    expect(r.body.toString('utf8')).toContain('100 ms');
  });

  it('clears its timer when the client goes away', async () => {
    const timers = watchTimers(60_000);
    try {
      const req = http.get(new URL('/slow?delay=60000', up.url), { agent: false });
      req.on('error', () => undefined);
      const set = await timers.waitForSet();
      expect(timers.cleared(set)).toBe(false);
      req.destroy();
      const deadline = Date.now() + 2000;
      while (!timers.cleared(set) && Date.now() < deadline) await sleep(10);
      expect(timers.cleared(set)).toBe(true);
    } finally {
      timers.restore();
    }
  });
});

describe('/echo', () => {
  it('reports method, URL, headers and the length and SHA-256 of a POSTed body', async () => {
    const body = randomBytes(300_000);
    const r = await request('/echo?x=1', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-demo': 'yes' }, body });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['content-length'])).toBe(r.body.byteLength);
    const report = JSON.parse(r.body.toString('utf8'));
    expect(report).toMatchObject({
      method: 'POST',
      url: '/echo?x=1',
      bodyBytes: body.byteLength,
      bodySha256: createHash('sha256').update(body).digest('hex'),
    });
    expect(report.headers['x-demo']).toBe('yes');
    expect(report.headers['content-length']).toBe(String(body.byteLength));
  });

  it.each(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('accepts %s', async (method) => {
    const r = await request('/echo', { method, body: method === 'GET' ? undefined : Buffer.from('abc') });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString('utf8')).method).toBe(method);
  });

  it('HEAD gives the head of the report and no body', async () => {
    const r = await request('/echo', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBeGreaterThan(0);
    expect(r.body.byteLength).toBe(0);
  });
});

describe('unknown paths', () => {
  it.each(['GET', 'POST'])('%s is 404 text/plain', async (method) => {
    const r = await request('/no/such/place', { method });
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body.toString('utf8')).toContain('/no/such/place');
  });
});

describe('close()', () => {
  it('leaves no socket, server or timer behind, even with streams and delays in flight', async () => {
    const baseline = handles();
    const timers = watchTimers(60_000);
    try {
      const own = await startDemoUpstream({ port: 0 });
      const events = await open('/events?interval=60000&count=5', own); // first event, then a 60 s timer
      const download = await open('/download?size=1073741824', own); // paused by never reading
      const slowReq = http.get(new URL('/slow?delay=60000', own.url), { agent: false });
      slowReq.on('error', () => undefined);
      await new Promise<void>((resolve) => events.res.once('data', () => resolve()));
      const deadline = Date.now() + 2000;
      while (timers.all().length < 2 && Date.now() < deadline) await sleep(10); // /events and /slow
      expect(timers.all()).toHaveLength(2);

      const started = Date.now();
      await own.close();
      expect(Date.now() - started).toBeLessThan(1000);
      await own.close(); // idempotent
      expect(timers.all().every(timers.cleared)).toBe(true);

      // A paused client socket notices the server's close only when it reads again
      const cut = [events.res, download.res].map((res) => {
        const closed = res.destroyed ? Promise.resolve() : new Promise((resolve) => res.once('close', resolve));
        res.resume();
        return closed.then(() => res.complete);
      });
      expect(await Promise.all(cut)).toEqual([false, false]); // both cut short, not ended cleanly
      await expect(request('/', {}, own)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      timers.restore();
    }
    const after = await settlesTo(baseline);
    for (const kind of Object.keys(baseline)) expect(after[kind], kind).toBeLessThanOrEqual(baseline[kind]!);
  });
});

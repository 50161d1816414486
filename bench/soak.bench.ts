/**
 * The soak: 100,000 requests (3,000 with --quick) of mixed sizes through mixed chains, while
 * other clients abort mid-response, against a proxy in its own process. Reported: requests
 * served, errors by kind, the proxy's RSS and heap before and after (after full collections,
 * both taken idle), and the handles it holds before and after. Not part of `npm test`;
 * `npm run soak` runs this group alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import autocannon from 'autocannon';
import type { BenchGroup, GroupContext } from './lib/group.js';

const CHILD = fileURLToPath(new URL('./lib/soak-child.mjs', import.meta.url));
const SIZES: Record<string, number> = { '1k': 1024, '16k': 16 * 1024, '128k': 128 * 1024, '1m': 1024 * 1024 };
const CHAINS = ['none', 'compress', 'rewrite', 'charset'] as const;

/**
 * Pages of each size: windows-1252 HTML with words the rewriting chain replaces, varied enough
 * to compress like real pages (~5:1); a page of one repeated line compresses 286:1, past
 * decompress's ratio limit (200:1), and would be cut as a bomb.
 */
function page(size: number): Buffer {
  const words = ['alpha', 'bravo', 'caf\xe9', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
  let seed = size;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % 1_000_000;
  let text = '';
  for (let i = 0; text.length < size; i++) {
    text += `<p id="p${i}">${words[rnd() % words.length]} at internal.example: item ${rnd()} costs ${rnd() % 1000}.${rnd() % 100} (${words[rnd() % words.length]}, ${rnd().toString(36)})</p>\n`;
  }
  return Buffer.from(text.slice(0, size), 'latin1');
}
const PAGES = Object.fromEntries(Object.entries(SIZES).map(([k, n]) => [k, page(n)]));
const GZ = Object.fromEntries(Object.entries(PAGES).map(([k, b]) => [k, zlib.gzipSync(b)]));

function upstream(): http.Server {
  return http.createServer((req, res) => {
    const [, chain, size = '1k'] = (req.url ?? '/').split('?')[0]!.split('/');
    const body = chain === 'rewrite' ? GZ[size] : PAGES[size];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, {
      'content-type': 'text/html; charset=windows-1252',
      'content-length': body.length,
      ...(chain === 'rewrite' && { 'content-encoding': 'gzip' }),
    });
    res.end(body);
  });
}

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  handles: Record<string, number>;
}

class ProxyChild {
  readonly #child: ChildProcess;
  #lines: string[] = [];
  #wake: (() => void) | undefined;
  url = '';
  constructor(entry: string, config: unknown) {
    this.#child = spawn(process.execPath, ['--expose-gc', CHILD, JSON.stringify({ entry, config })], { stdio: ['pipe', 'pipe', 'inherit'] });
    let partial = '';
    this.#child.stdout!.on('data', (c: Buffer) => {
      partial += c.toString();
      let nl;
      while ((nl = partial.indexOf('\n')) !== -1) {
        this.#lines.push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
        this.#wake?.();
      }
    });
  }
  async #line(): Promise<string> {
    while (this.#lines.length === 0) await new Promise<void>((r) => (this.#wake = r));
    return this.#lines.shift()!;
  }
  async start(): Promise<void> {
    const l = await this.#line();
    const m = /listening (\S+)/.exec(l);
    if (!m) throw new Error(`soak child: ${l}`);
    this.url = m[1]!;
  }
  async mem(): Promise<Mem> {
    this.#child.stdin!.write('mem\n');
    return JSON.parse(await this.#line()) as Mem;
  }
  stop(): Promise<void> {
    return new Promise((r) => {
      if (this.#child.exitCode !== null) return r();
      this.#child.once('exit', () => r());
      this.#child.kill('SIGKILL');
    });
  }
}

/** Clients that go away mid-response, as long as `running()` says so. */
async function aborters(url: URL, running: () => boolean, n: number): Promise<{ aborted: number; refused: number }> {
  const counts = { aborted: 0, refused: 0 };
  const targets = ['/rewrite/1m', '/compress/128k', '/none/1m', '/charset/128k'];
  let k = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (running()) {
        const path = targets[k++ % targets.length]!;
        await new Promise<void>((resolve) => {
          const s = net.connect(Number(url.port), url.hostname, () => s.write(`GET ${path} HTTP/1.1\r\nhost: soak\r\naccept-encoding: gzip\r\n\r\n`));
          s.once('data', () => {
            counts.aborted++;
            s.destroy();
          });
          s.on('error', () => undefined);
          s.on('close', () => resolve());
          s.setTimeout(5000, () => {
            if (!s.destroyed) {
              counts.refused++;
              s.destroy();
            }
          });
        });
        // a few per cent of the load: one client every 50 ms
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  return counts;
}

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

const handleCount = (m: Mem): number => Object.values(m.handles).reduce((a, b) => a + b, 0);
const MB = 1024 * 1024;

async function run(ctx: GroupContext): Promise<void> {
  if (!ctx.wants(['soak.rss_growth_pct', 'soak.requests_served'])) return;
  const total = ctx.mode === 'quick' ? 3_000 : 100_000;
  const up = upstream();
  up.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const upUrl = `http://127.0.0.1:${(up.address() as AddressInfo).port}`;
  const config = {
    upstreams: { app: { servers: [upUrl] } },
    locations: [
      { path: '/none/', upstream: 'app' },
      { path: '/compress/', upstream: 'app', output: ['compress'] },
      { path: '/rewrite/', upstream: 'app', output: ['decompress', { filter: 'substitute', options: { rules: ['s/internal.example/public.example/'] } }, 'compress'] },
      { path: '/charset/', upstream: 'app', output: ['charset', 'compress'] },
    ],
  };
  const proxy = new ProxyChild(ctx.entry, config);
  try {
    await proxy.start();
    // a mix: mostly small, some large, every chain
    const mix: string[] = [];
    for (const chain of CHAINS) for (const [size, n] of [['1k', 14], ['16k', 8], ['128k', 2]] as const) for (let i = 0; i < n; i++) mix.push(`/${chain}/${size}`);
    mix.push('/none/1m', '/rewrite/1m', '/compress/1m', '/charset/1m');
    const requests = mix.map((path) => ({ method: 'GET' as const, path }));
    const headers = { 'accept-encoding': 'gzip' };

    // warm-up, then the idle baseline (pooled sockets expire in 4 s: both readings are idle)
    await autocannon({ url: proxy.url, connections: 16, amount: 2000, requests, headers });
    await new Promise((r) => setTimeout(r, 5000));
    const before = await proxy.mem();
    ctx.log(`  soak: ${total} requests, ${mix.length}-path mix over ${CHAINS.length} chains; RSS before ${(before.rss / MB).toFixed(1)} MB, heap ${(before.heapUsed / MB).toFixed(1)} MB`);

    let running = true;
    const started = performance.now();
    const abort = aborters(new URL(proxy.url), () => running, Number(process.env['SOAK_ABORTERS'] ?? 1));
    const r = await autocannon({ url: proxy.url, connections: 32, amount: total, requests, headers, timeout: Number(process.env['SOAK_TIMEOUT'] ?? 30) });
    running = false;
    const aborts = await abort;
    const seconds = (performance.now() - started) / 1000;

    // the proxy still serves every chain, correctly
    // (no keep-alive: an idle client connection would count as a handle left open)
    for (const chain of CHAINS) {
      const { status, body } = await get(`${proxy.url}/${chain}/16k`);
      const text = body.toString(chain === 'charset' ? 'utf8' : 'latin1');
      if (status !== 200 || !text.includes(chain === 'rewrite' ? 'public.example' : 'caf\u00e9 at internal.example')) throw new Error(`soak: /${chain}/16k is wrong after the soak`);
    }
    await new Promise((r2) => setTimeout(r2, 5000));
    const after = await proxy.mem();

    const served = r['2xx'];
    const byKind = { non2xx: r.non2xx, socket_errors: r.errors, timeouts: r.timeouts, resets: r.resets };
    const rssGrowth = ((after.rss - before.rss) / before.rss) * 100;
    const heapGrowth = ((after.heapUsed - before.heapUsed) / before.heapUsed) * 100;
    ctx.log(`  soak: ${served} served in ${seconds.toFixed(1)} s (${Math.round(r.requests.average)}/s), errors ${JSON.stringify(byKind)}, ${aborts.aborted} client aborts mid-response`);
    ctx.log(
      `  soak: RSS ${(before.rss / MB).toFixed(1)} → ${(after.rss / MB).toFixed(1)} MB (${rssGrowth.toFixed(1)} %), heap ${(before.heapUsed / MB).toFixed(1)} → ${(after.heapUsed / MB).toFixed(1)} MB, external ${(before.external / MB).toFixed(1)} → ${(after.external / MB).toFixed(1)} MB; ${r.requests.total} responses counted, ${r.requests.sent} sent`,
    );
    ctx.log(`  soak: handles before ${JSON.stringify(before.handles)}, after ${JSON.stringify(after.handles)}`);

    const f = ctx.figures;
    const plain = (value: number, unit: string): { value: number; unit: string; baseline: null; ratio: null } => ({ value, unit, baseline: null, ratio: null });
    f.add('soak.requests_served', plain(served, 'requests'), { goal: { min: total } });
    f.add('soak.requests_per_s', plain(r.requests.average, 'req/s'));
    f.add('soak.errors', plain(r.non2xx + r.errors + r.timeouts, 'requests'), { goal: { max: 0 } });
    f.add('soak.client_aborts', plain(aborts.aborted, 'requests'));
    f.add('soak.p99_ms', plain(r.latency.p99, 'ms'));
    f.add('soak.rss_before_mb', plain(before.rss / MB, 'MB'));
    f.add('soak.rss_after_mb', plain(after.rss / MB, 'MB'));
    f.add('soak.rss_growth_pct', plain(rssGrowth, '%'), { goal: { max: 10 } });
    f.add('soak.heap_before_mb', plain(before.heapUsed / MB, 'MB'));
    f.add('soak.heap_after_mb', plain(after.heapUsed / MB, 'MB'));
    f.add('soak.heap_growth_pct', plain(heapGrowth, '%'));
    f.add('soak.handles_before', plain(handleCount(before), 'handles'));
    f.add('soak.handles_after', plain(handleCount(after), 'handles'), { goal: { max: handleCount(before) } });
  } finally {
    await proxy.stop();
    up.closeAllConnections();
    await new Promise((r) => up.close(r));
  }
}

export const soakGroup: BenchGroup = {
  name: 'soak',
  description: 'soak: 100,000 mixed requests (3,000 with --quick) with aborting clients; RSS, heap and handles of the proxy before and after',
  run,
};

/**
 * Memory under a slow client: a large HTML body streamed by the upstream through Sluice with
 * substitute + compress, to a client that reads 10 MB/s of decoded body. Backpressure must
 * hold the proxy's memory flat (the upstream is read only as fast as the client drains), so
 * the figure is the peak RSS of the proxy process: VmHWM from /proc/<pid>/status, the kernel's
 * own high-water mark, with VmRSS polled too to tell start-up from transfer. Full mode moves
 * 1 GiB (~107 s); quick mode 100 MiB under its own figure name.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import zlib from 'node:zlib';
import type { BenchGroup, GroupContext } from './lib/group.js';
import { startChild, type Child } from './lib/load.js';

const MiB = 1 << 20;
/** Decoded bytes per second the client takes (10 MB/s, 10^6 bytes). */
const CLIENT_RATE = 10e6;
const GOAL_MB = 150;
const FROM = 'internal.example';
const TO = 'public.example.org';

/** Memory fields of /proc/<pid>/status in MB (10^6 bytes; the file says kB, meaning KiB). */
async function procMem(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return (Number(m[1]) * 1024) / 1e6;
  };
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

interface SlowRead {
  decoded: number;
  wire: number;
  seconds: number;
  /** Occurrences of TO seen (substitution happened) and of FROM left (it must not be). */
  replaced: number;
  left: number;
}

/**
 * GET the URL with Accept-Encoding: gzip, gunzip as it comes, and pause the response whenever
 * the decoded count runs ahead of CLIENT_RATE × elapsed time: a client that reads 10 MB/s.
 */
function slowRead(url: string): Promise<SlowRead> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      if (res.statusCode !== 200 || res.headers['content-encoding'] !== 'gzip') {
        reject(new Error(`status ${res.statusCode}, Content-Encoding ${res.headers['content-encoding'] ?? 'none'}: expected 200 gzip`));
        res.resume();
        return;
      }
      const r: SlowRead = { decoded: 0, wire: 0, seconds: 0, replaced: 0, left: 0 };
      const gunzip = zlib.createGunzip();
      let tail = '';
      let paused = false;
      res.on('data', (c: Buffer) => {
        r.wire += c.length;
        gunzip.write(c);
        const ahead = r.decoded / CLIENT_RATE - (performance.now() - t0) / 1000;
        if (ahead > 0.01 && !paused) {
          paused = true;
          res.pause();
          setTimeout(() => {
            paused = false;
            res.resume();
          }, ahead * 1000);
        }
      });
      res.on('end', () => gunzip.end());
      res.on('error', reject);
      gunzip.on('data', (c: Buffer) => {
        r.decoded += c.length;
        // count matches across chunk cuts: keep the last FROM.length - 1 characters
        const s = tail + c.toString('latin1');
        r.replaced += count(s, TO) - count(tail, TO);
        r.left += count(s, FROM) - count(tail, FROM);
        tail = s.slice(-(TO.length - 1));
      });
      gunzip.on('error', reject);
      gunzip.on('end', () => {
        r.seconds = (performance.now() - t0) / 1000;
        resolve(r);
      });
    });
    req.on('error', reject);
  });
}

function count(s: string, needle: string): number {
  let n = 0;
  for (let i = s.indexOf(needle); i !== -1; i = s.indexOf(needle, i + needle.length)) n++;
  return n;
}

async function run(ctx: GroupContext): Promise<void> {
  const bytes = ctx.mode === 'full' ? 1024 * MiB : 100 * MiB;
  const label = ctx.mode === 'full' ? '1g' : '100m';
  const peak = `mem.slow_client_${label}_peak_rss_mb`;
  if (!ctx.wants([peak])) return;
  if (!existsSync('/proc/self/status')) {
    ctx.figures.skip(peak, 'no /proc/<pid>/status on this system (Linux only)', { max: GOAL_MB });
    return;
  }
  ctx.log(`  ${label === '1g' ? '1 GiB' : '100 MiB'} of HTML through substitute + compress (gzip) to a client reading 10 MB/s decoded (~${Math.round(bytes / CLIENT_RATE)} s)`);
  const children: Child[] = [];
  try {
    const upstream = await startChild({ kind: 'upstream', stream: bytes });
    children.push(upstream);
    const sluice = await startChild({
      kind: 'sluice',
      entry: ctx.entry,
      config: {
        upstreams: { app: { servers: [upstream.url] } },
        locations: [{ path: '/', upstream: 'app', output: [{ filter: 'substitute', options: { rules: [`s|${FROM}|${TO}|n`] } }, 'compress'] }],
      },
    });
    children.push(sluice);
    const idle = await procMem(sluice.pid);
    let maxRss = idle.rss;
    let samples = 0;
    let lastLog = performance.now();
    const poll = setInterval(() => {
      procMem(sluice.pid)
        .then((m) => {
          maxRss = Math.max(maxRss, m.rss);
          samples++;
          if (performance.now() - lastLog > 5_000) {
            lastLog = performance.now();
            ctx.log(`    rss ${m.rss.toFixed(1)} MB (max so far ${maxRss.toFixed(1)} MB)`);
          }
        })
        .catch(() => undefined);
    }, 100);
    let r: SlowRead;
    try {
      r = await slowRead(`${sluice.url}/page.html`);
    } finally {
      clearInterval(poll);
    }
    const end = await procMem(sluice.pid);
    if (r.decoded < bytes) throw new Error(`the client got ${r.decoded} decoded bytes, fewer than the ${bytes} sent`);
    if (r.replaced === 0 || r.left !== 0) throw new Error(`substitution: ${r.replaced} replaced, ${r.left} left unreplaced`);
    const rate = r.decoded / r.seconds / 1e6;
    ctx.log(
      `    ${(r.decoded / 1e6).toFixed(0)} MB decoded (${(r.wire / 1e6).toFixed(0)} MB on the wire) in ${r.seconds.toFixed(1)} s = ${rate.toFixed(1)} MB/s; RSS idle ${idle.rss.toFixed(1)} MB, polled max ${maxRss.toFixed(1)} MB over ${samples} samples, VmHWM ${end.hwm.toFixed(1)} MB`,
    );
    ctx.figures.add(peak, { value: end.hwm, unit: 'MB', baseline: null, ratio: null }, { goal: { max: GOAL_MB } });
    ctx.figures.add(`mem.slow_client_${label}_idle_rss_mb`, { value: idle.rss, unit: 'MB', baseline: null, ratio: null });
    // The rate the client achieved: ~10 MB/s means the client, not the proxy, was the bottleneck.
    ctx.figures.add(`mem.slow_client_${label}_mbps`, { value: rate, unit: 'MB/s', baseline: null, ratio: null });
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

export const memGroup: BenchGroup = {
  name: 'mem',
  description: 'peak RSS of the proxy streaming a large body through substitute + compress to a 10 MB/s client',
  run,
};

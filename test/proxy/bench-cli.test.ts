/**
 * `sluice bench`: argument errors, the chain mode in process (figures checked against what the
 * filters must have done to the bytes, and against the JSON shape documented in
 * docs/bench.md), one run through the built command, the --url mode against a real upstream,
 * and the HTML report in headless Chromium.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../src/proxy/bench/args.js';
import { generateBody } from '../../src/proxy/bench/body.js';
import { runBench, type BenchIO } from '../../src/proxy/bench/command.js';
import { BenchReportSchema, type BenchReport } from '../../src/proxy/bench/report.js';
import { validateConfig } from '../../src/pipeline/config/load.js';
import { createProxyServer } from '../../src/proxy/server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/proxy/cli.js');
const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));

/** Output captured; stderr is not a TTY, so progress comes as plain lines. */
function io(): BenchIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    out: () => out,
    err: () => err,
  };
}

function config(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

// A page's links to the internal host are rewritten (longer), then gzip shrinks the result.
const rewriteAndGzip = (upstream: string): string =>
  [
    'upstreams:',
    `  app: { servers: [${upstream}] }`,
    'modules: [./slow-filters.mjs]',
    'locations:',
    '  - path: /app',
    '    upstream: app',
    "    output: [{ filter: substitute, options: { rules: ['s|internal.example|public.example.org|n'] } }, gzip]",
    '    input: [identity]',
    '  - path: /busy',
    '    match: exact',
    '    upstream: app',
    '    output: [busy, identity]',
    '  - path: /sleepy',
    '    match: exact',
    '    upstream: app',
    '    output: [identity, sleepy]',
    '',
  ].join('\n');

// busy burns 1 ms of CPU per chunk; sleepy waits 4 ms per chunk on a timer, off the CPU.
writeFileSync(
  join(dir, 'slow-filters.mjs'),
  `export const busy = { name: 'busy', directions: ['output'], stage: 'content', preservesLength: true,
  create: () => ({ onData(c, out) { const until = performance.now() + 1; while (performance.now() < until); return out.push(c); } }) };
export const sleepy = { name: 'sleepy', directions: ['output'], stage: 'content', preservesLength: true,
  create: () => ({ onData: (c, out) => new Promise((r) => setTimeout(r, 4)).then(() => out.push(c)) }) };
`,
);

const chainConfig = config('chain.yaml', rewriteAndGzip('http://127.0.0.1:9'));

describe('sluice bench: arguments', () => {
  const usage = async (...argv: string[]): Promise<string> => {
    const c = io();
    const r = await runBench(argv, c);
    expect(r.code, c.err()).toBe(2);
    return c.err();
  };

  it('names an unknown flag and suggests the nearest', async () => {
    expect(await usage('--config', chainConfig, '--location', '/app', '--sise', '4k')).toMatch(/unknown flag --sise \(did you mean --size\?\)/);
    expect(await usage('--config', chainConfig, '--location', '/app', '--frobnicate')).toMatch(/unknown flag --frobnicate\n/);
  });

  it('needs --config, one mode, and the files it names', async () => {
    expect(await usage('--location', '/app')).toMatch(/missing --config FILE/);
    expect(await usage('--config', chainConfig)).toMatch(/--location PATH .* or --url PATH/);
    expect(await usage('--config', chainConfig, '--location', '/app', '--url', '/app')).toMatch(/two modes/);
    expect(await usage('--config', join(dir, 'nothere.yaml'), '--location', '/app')).toMatch(/--config: no such file/);
    expect(await usage('--config', chainConfig, '--location', '/app', '--body', join(dir, 'nothere.html'))).toMatch(/--body: no such file/);
    expect(await usage('--config')).toMatch(/--config needs a value/);
    expect(await usage('--config', chainConfig, 'extra', '--location', '/app')).toMatch(/unexpected argument "extra"/);
  });

  it('refuses bad numbers, naming the flag and the value', async () => {
    const base = ['--config', chainConfig, '--location', '/app'];
    expect(await usage(...base, '--size', 'lots')).toMatch(/--size: not a size in bytes: "lots"/);
    expect(await usage(...base, '--chunk', '0')).toMatch(/--chunk: must be at least 1 byte/);
    expect(await usage(...base, '--duration', '-1')).toMatch(/--duration: not a number of seconds/);
    expect(await usage(...base, '--duration', '10ms')).toMatch(/--duration: at least 50ms/);
    expect(await usage(...base, '--iterations', '2.5')).toMatch(/--iterations: not a whole number/);
    expect(await usage(...base, '--status', '700')).toMatch(/--status: between 100 and 599, not 700/);
    expect(await usage(...base, '--kind', 'pdf')).toMatch(/--kind: one of html, json, text, binary/);
    expect(await usage(...base, '--header', 'no-colon')).toMatch(/--header: "NAME: VALUE" expected/);
    expect(await usage('--config', chainConfig, '--url', '/app', '--connections', '0')).toMatch(/--connections: between 1 and 10000, not 0/);
    expect(await usage('--config', chainConfig, '--url', '/app', '--target', 'nowhere')).toMatch(/--target: not a URL/);
  });

  it('refuses flags of the other mode and contradictory ones', async () => {
    expect(await usage('--config', chainConfig, '--location', '/app', '--connections', '4')).toMatch(/--connections belongs to the --url mode/);
    expect(await usage('--config', chainConfig, '--url', '/app', '--chunk', '4k')).toMatch(/--chunk belongs to the --location mode/);
    expect(await usage('--config', chainConfig, '--location', '/app', '--size', '4k', '--body', chainConfig)).toMatch(/use one/);
    expect(await usage('--config', chainConfig, '--location', '/app', '--duration', '1', '--iterations', '3')).toMatch(/use one/);
    expect(await usage('--config', chainConfig, '--url', 'http://127.0.0.1/app')).toMatch(/starting with "\/".*--target/);
  });

  it('a path that no location matches is a usage error that lists the locations', async () => {
    const err = await usage('--config', chainConfig, '--location', '/elsewhere');
    expect(err).toMatch(/no location of .*chain\.yaml matches \/elsewhere \(the proxy would answer 404\)/);
    expect(err).toContain('prefix /app, exact /busy, exact /sleepy');
    // matched as the proxy matches: normalised first, so this is /busy
    const c = io();
    expect((await runBench(['--config', chainConfig, '--location', '/x/../busy', '--size', '1k', '--iterations', '1', '--quiet'], c)).code, c.err()).toBe(0);
  });

  it('parses sizes, durations and header edits', () => {
    const a = parseBenchArgs(['-c', 'x.yaml', '--location', '/a?q=1', '--size', '1.5m', '--chunk', '4KiB', '--duration', '500ms', '--header', 'Content-Type: text/css', '--header', 'content-length:', '--request-header', 'accept-encoding: gzip']);
    expect(a).toMatchObject({
      mode: 'chain',
      location: '/a?q=1',
      body: { source: 'generated', kind: 'html', size: 1.5 * 1024 * 1024 },
      chunk: 4096,
      stop: { kind: 'duration', seconds: 0.5 },
      headers: [{ name: 'content-type', value: 'text/css' }, { name: 'content-length', value: '' }],
      requestHeaders: [{ name: 'accept-encoding', value: 'gzip' }],
    });
    expect(parseBenchArgs(['--help'])).toEqual({ mode: 'help' });
  });
});

/** Type shape of a JSON value: key sets of objects, element shape of arrays, leaf types. */
function shape(v: unknown, key = ''): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === 'object') {
    // maps of header names or status codes: their keys are data, not shape
    if (key === 'headers' || key === 'statuses') return 'record';
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, shape((v as Record<string, unknown>)[k], k)]));
  }
  return typeof v;
}

/** The ```json examples of docs/bench.md, by their `"mode"`. */
function documentedExamples(): Record<string, unknown> {
  const md = readFileSync(join(root, 'docs/bench.md'), 'utf8');
  const blocks = [...md.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as { mode?: string });
  return Object.fromEntries(blocks.filter((b) => b.mode).map((b) => [b.mode, b]));
}

describe('sluice bench --location (in process)', () => {
  let report: BenchReport;
  let json: unknown;
  let stderr: string;

  beforeAll(async () => {
    const c = io();
    const file = join(dir, 'chain.json');
    const r = await runBench(
      ['--config', chainConfig, '--location', '/app/page', '--size', '8k', '--chunk', '1k', '--iterations', '20', '--input', '--request-header', 'accept-encoding: gzip', '--json', file],
      c,
    );
    expect(r.code, c.err()).toBe(0);
    report = r.report!;
    json = JSON.parse(readFileSync(file, 'utf8'));
    stderr = c.err();
    expect(c.out()).toMatch(/whole chain/);
  }, 60_000);

  it('writes JSON that matches the schema and the shape documented in docs/bench.md', () => {
    expect([...Value.Errors(BenchReportSchema, json)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const doc = documentedExamples()['chain'];
    expect(doc, 'docs/bench.md has a ```json example with "mode": "chain"').toBeDefined();
    expect([...Value.Errors(BenchReportSchema, doc)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    expect(shape(json)).toEqual(shape(doc));
  });

  it('reports what the chain did to the bytes', () => {
    const body = generateBody('html', 8 * 1024);
    const c = report.chain!;
    expect(c.body).toEqual({ source: 'generated', kind: 'html', bytes: body.length, chunk: 1024 });
    const out = c.directions.find((d) => d.direction === 'output')!;
    expect(out.filters.map((f) => f.name)).toEqual(['substitute', 'gzip']);
    const [sub, gz] = out.filters;
    const links = body.toString('latin1').split('internal.example').length - 1;
    expect(links).toBeGreaterThan(5);
    expect(sub!.bytesIn).toBe(body.length);
    expect(sub!.bytesOut).toBe(body.length + links * ('public.example.org'.length - 'internal.example'.length));
    expect(gz!.bytesIn).toBe(sub!.bytesOut);
    expect(out.bytesIn).toBe(body.length);
    expect(out.bytesOut).toBe(gz!.bytesOut);
    expect(out.bytesOut).toBeLessThan(body.length / 2);
    expect(out.ratio).toBeCloseTo(body.length / out.bytesOut, 6);
    expect(out.head.status).toBe(200);
    expect(out.head.headers['content-encoding']).toBe('gzip');
    expect(out.head.headers['content-length']).toBeUndefined();
    expect(out.messages).toBe(20);
    expect(out.mbps).toBeGreaterThan(0);
    const shares = out.filters.reduce((s, f) => s + f.share, out.other.share);
    expect(shares).toBeGreaterThan(0.98);
    expect(shares).toBeLessThan(1.02);
    for (const f of out.filters) expect(f.mbps).toBeCloseTo(f.bytesIn / f.ms / 1e3, 6);
    // the input chain ran too, over the same body as a request body
    const inp = c.directions.find((d) => d.direction === 'input')!;
    expect(inp.filters.map((f) => f.name)).toEqual(['identity']);
    expect(inp.bytesOut).toBe(body.length);
    expect(c.request.method).toBe('POST');
  });

  it('shows progress as plain lines when stderr is not a terminal', () => {
    expect(stderr).toMatch(/^ {2}output chain: started$/m);
    expect(stderr).toMatch(/^ {2}input chain: .*MB\/s/m);
    expect(stderr).not.toContain('\r');
  });

  it('charges a CPU-bound filter its callbacks and a waiting one its wait', async () => {
    const run = async (location: string): Promise<BenchReport> => {
      const c = io();
      const r = await runBench(['--config', chainConfig, '--location', location, '--size', '16k', '--chunk', '4k', '--iterations', '6', '--quiet'], c);
      expect(r.code, c.err()).toBe(0);
      return r.report!;
    };
    const busy = (await run('/busy')).chain!.directions[0]!;
    const b = busy.filters.find((f) => f.name === 'busy')!;
    expect(b.syncMs).toBeGreaterThan(3.5); // 4 chunks of 1 ms each
    expect(b.share).toBeGreaterThan(0.7);
    expect(b.waitMs).toBeLessThan(b.syncMs / 10);
    const sleepy = (await run('/sleepy')).chain!.directions[0]!;
    const s = sleepy.filters.find((f) => f.name === 'sleepy')!;
    expect(s.waitMs).toBeGreaterThan(14); // 4 timers of 4 ms
    expect(s.syncMs).toBeLessThan(s.waitMs / 5);
    expect(s.share).toBeGreaterThan(0.7);
    expect(sleepy.filters.find((f) => f.name === 'identity')!.share).toBeLessThan(0.2);
  }, 60_000);

  it('runs through the built command: table on stdout, JSON and HTML files, exit 0', async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: npm run build (npm test builds first)`);
    const jsonFile = join(dir, 'cli.json');
    const htmlFile = join(dir, 'cli.html');
    const { stdout, stderr: err } = await promisify(execFile)(process.execPath, [cli, 'bench', '--config', chainConfig, '--location', '/app', '--size', '4k', '--iterations', '4', '--json', jsonFile, '--html', htmlFile]);
    expect(stdout).toMatch(/output chain: substitute \(\w+\) → gzip \(encoding\)/);
    expect(stdout).toMatch(/^ {2}whole chain +4\.\d+ KiB/m);
    expect(err).toMatch(/output chain: started/);
    const json: unknown = JSON.parse(readFileSync(jsonFile, 'utf8'));
    expect(Value.Check(BenchReportSchema, json)).toBe(true);
    expect(readFileSync(htmlFile, 'utf8')).toMatch(/^<!doctype html>[\s\S]*<svg class="chart"/);
  }, 60_000);
});

/** An upstream that counts requests that came through Sluice (it adds Via) and direct ones. */
async function startUpstream(): Promise<{ url: string; viaSluice: number; direct: number; server: Server }> {
  const page = generateBody('html', 4 * 1024);
  const state = { url: '', viaSluice: 0, direct: 0, server: createServer() };
  state.server.on('request', (req, res) => {
    if (req.headers['via']) state.viaSluice++;
    else state.direct++;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length });
    res.end(page);
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe('sluice bench --url', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => new Promise<void>((r) => upstream.server.close(() => r())));

  it('loads through a Sluice it starts, and the upstream directly, for about a second each', async () => {
    const file = config('load.yaml', rewriteAndGzip(upstream.url));
    const jsonFile = join(dir, 'load.json');
    const c = io();
    const r = await runBench(['--config', file, '--url', '/app/page', '--connections', '4', '--duration', '1', '--warmup', '0.5', '--compare-direct', '--json', jsonFile], c);
    expect(r.code, c.err()).toBe(0);
    const l = r.report!.load!;
    expect(l.target).toBe('child');
    for (const f of [l.sluice, l.direct!]) {
      expect(f.requests).toBeGreaterThan(0);
      expect(f.errors + f.timeouts + f.non2xx).toBe(0);
      expect(f.statuses).toEqual({ '200': f.requests });
      expect(f.latency.p50).toBeGreaterThan(0);
      expect(f.latency.p50).toBeLessThanOrEqual(f.latency.p99);
      expect(f.latency.p99).toBeLessThanOrEqual(f.latency.max);
      expect(f.histogram.reduce((n, b) => n + b.count, 0)).toBe(f.requests);
      expect(f.perSecond.length).toBe(1);
    }
    // Each load went where it says: Sluice adds Via, a direct request has none. Besides the
    // measured ones: the check before, the warm-up, and requests in flight at the stop (4 at most).
    const warm = { sluice: upstream.viaSluice - l.sluice.requests, direct: upstream.direct - l.direct!.requests };
    expect(warm.sluice).toBeGreaterThanOrEqual(1);
    expect(warm.direct).toBeGreaterThanOrEqual(1);
    expect(upstream.viaSluice).toBeLessThan(l.sluice.requests * 3 + 20);
    expect(upstream.direct).toBeLessThan(l.direct!.requests * 3 + 20);
    expect(l.ratio!.requestsPerSec).toBeCloseTo(l.sluice.requestsPerSec / l.direct!.requestsPerSec, 6);
    // gzip through Sluice (accept-encoding by default), identity straight from the upstream
    expect(l.sluice.bytesPerSec / l.sluice.requestsPerSec).toBeLessThan((l.direct!.bytesPerSec / l.direct!.requestsPerSec) * 0.7);
    const json: unknown = JSON.parse(readFileSync(jsonFile, 'utf8'));
    expect([...Value.Errors(BenchReportSchema, json)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const doc = documentedExamples()['load'];
    expect(doc, 'docs/bench.md has a ```json example with "mode": "load"').toBeDefined();
    expect(Value.Check(BenchReportSchema, doc)).toBe(true);
    expect(shape(json)).toEqual(shape(doc));
    expect(c.out()).toMatch(/sluice \/ direct/);
  }, 90_000);

  it('fails with the address when the target or the upstream cannot be reached', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise<void>((r) => dead.close(() => r()));
    const file = config('dead-upstream.yaml', rewriteAndGzip(deadUrl));
    const c = io();
    expect((await runBench(['--config', file, '--url', '/app', '--duration', '1', '--target', deadUrl], c)).code).toBe(1);
    expect(c.err()).toMatch(new RegExp(`cannot reach through Sluice at ${deadUrl}/app: ECONNREFUSED`));
  });
});

describe('sluice bench --html in Chromium', () => {
  const noChromium = !existsSync(CHROMIUM);
  it.skipIf(noChromium)(
    `the report opens with its charts and no console error${noChromium ? ` (skipped: ${CHROMIUM} is absent; apt-get install chromium, as .ci/run does)` : ''}`,
    async () => {
      const upstream = await startUpstream();
      const r = validateConfig({ upstreams: { app: { servers: [upstream.url] } }, locations: [{ path: '/', upstream: 'app', output: ['compress'] }] });
      if (!r.ok) throw new Error('test config');
      const proxy = createProxyServer(r.config);
      const proxyUrl = await proxy.listen({ port: 0, host: '127.0.0.1' });
      const chainHtml = join(dir, 'chain.html');
      const loadHtml = join(dir, 'load.html');
      try {
        const c1 = io();
        expect((await runBench(['--config', chainConfig, '--location', '/app', '--size', '16k', '--iterations', '6', '--input', '--html', chainHtml, '--quiet'], c1)).code, c1.err()).toBe(0);
        const loadConfig = config('html-load.yaml', rewriteAndGzip(upstream.url));
        const c2 = io();
        expect((await runBench(['--config', loadConfig, '--url', '/app', '--duration', '1', '--warmup', '0', '--connections', '2', '--target', proxyUrl, '--compare-direct', '--html', loadHtml, '--quiet'], c2)).code, c2.err()).toBe(0);
      } finally {
        await proxy.close();
        await new Promise<void>((res) => upstream.server.close(() => res()));
      }

      const { chromium } = await import('playwright-core');
      const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sluice-chromium-')), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      try {
        for (const [file, charts, verdict] of [
          [chainHtml, 4, /substitute|gzip/],
          [loadHtml, 3, /requests\/s/],
        ] as const) {
          const page = await ctx.newPage();
          const problems: string[] = [];
          const requests: string[] = [];
          page.on('console', (m) => {
            if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
          });
          page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
          page.on('request', (req) => {
            if (!req.url().startsWith('file:')) requests.push(req.url());
          });
          await page.goto(`file://${file}`, { waitUntil: 'load' });
          const svgs = page.locator('svg.chart');
          expect(await svgs.count()).toBe(charts);
          for (let i = 0; i < charts; i++) {
            const box = await svgs.nth(i).boundingBox();
            expect(box!.width).toBeGreaterThan(300);
            expect(box!.height).toBeGreaterThan(40);
            // every chart draws marks with an area on screen, not an empty frame
            const drawn = await svgs.nth(i).evaluate((svg) =>
              [...svg.querySelectorAll('g.bar rect, g.segment rect, path.area, polyline.line, circle')].filter((el) => {
                const b = (el as SVGGraphicsElement).getBoundingClientRect();
                return b.width > 0 && b.height > 0;
              }).length,
            );
            expect(drawn, `chart ${i + 1} of ${file}`).toBeGreaterThan(0);
          }
          expect(await page.locator('.verdict').first().innerText()).toMatch(verdict);
          const embedded = await page.locator('#report').textContent();
          expect(Value.Check(BenchReportSchema, JSON.parse(embedded!))).toBe(true);
          expect(problems).toEqual([]);
          expect(requests).toEqual([]);
          await page.close();
        }
      } finally {
        await ctx.close();
      }
    },
    180_000,
  );
});

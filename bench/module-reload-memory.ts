/**
 * Memory across reloads of a filter module: RSS and heap after a full GC, every 50 reloads,
 * for a .mjs and a .ts module, each reload a new version of the code. Sluice's loader against
 * the two obvious alternatives (Node's own `?v=` cache busting, and a tsx namespace per load,
 * which the first version of module loading used).
 *
 *   npm run build && npx tsx bench/module-reload-memory.ts [--reloads 300] [--json FILE] [--only sluice]
 *
 * Each measurement runs in a fresh `node --expose-gc` (bench/module-reload-memory-child.mjs),
 * so one cannot inherit another's garbage or loader hooks.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface Sample {
  reload: number;
  rss: number;
  heap: number;
}

export interface Measurement {
  mode: 'sluice' | 'native' | 'tsx-namespace';
  ext: 'mjs' | 'ts';
  samples: Sample[];
  seconds: number;
}

const CHILD = fileURLToPath(new URL('./module-reload-memory-child.mjs', import.meta.url));

/** One child run; rejects with its stderr. */
export function measure(mode: Measurement['mode'], ext: Measurement['ext'], reloads: number, every = 50): Promise<Measurement> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', CHILD, mode, ext, String(reloads), String(every)], { maxBuffer: 1 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${mode} ${ext}: ${stderr || err.message}`));
      const samples = stdout.trim().split('\n').map((l) => JSON.parse(l) as Sample);
      resolve({ mode, ext, samples, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

const mb = (n: number): string => (n / 1048576).toFixed(1);
const kb = (n: number): string => (n / 1024).toFixed(1);

/** Growth from the first sample after warm-up (reload 50, or the second sample) to the last, per reload. */
export function growth(m: Measurement): { rss: number; heap: number } {
  const from = m.samples.find((s) => s.reload >= 50) ?? m.samples[1] ?? m.samples[0]!;
  const to = m.samples.at(-1)!;
  const n = Math.max(1, to.reload - from.reload);
  return { rss: (to.rss - from.rss) / n, heap: (to.heap - from.heap) / n };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reloads: { type: 'string', default: '300' }, json: { type: 'string' }, only: { type: 'string' } } });
  const reloads = Number(values.reloads);
  if (!existsSync(fileURLToPath(new URL('../dist/pipeline/config/fresh-import.js', import.meta.url)))) {
    throw new Error('run `npm run build` first: the sluice measurement uses the built package');
  }
  const plan: Array<[Measurement['mode'], Measurement['ext']]> = [
    ['sluice', 'mjs'],
    ['sluice', 'ts'],
    ['native', 'mjs'],
    ['tsx-namespace', 'ts'],
  ];
  const results: Measurement[] = [];
  for (const [mode, ext] of plan.filter(([mode]) => !values.only || mode === values.only)) {
    // A tsx namespace per load imports the whole of Sluice afresh each time (about 2.5 s and
    // 8 MB a reload): a few dozen say enough.
    const n = mode === 'tsx-namespace' ? Math.min(reloads, 40) : reloads;
    process.stderr.write(`${mode} .${ext}: ${n} reloads...\n`);
    results.push(await measure(mode, ext, n, mode === 'tsx-namespace' ? 10 : 50));
  }
  const rows = results.map((m) => {
    const first = m.samples[0]!;
    const last = m.samples.at(-1)!;
    const g = growth(m);
    return `${`${m.mode} .${m.ext}`.padEnd(20)} ${String(last.reload).padStart(5)} ${mb(first.rss).padStart(7)} ${mb(last.rss).padStart(7)} ${mb(first.heap).padStart(7)} ${mb(last.heap).padStart(7)} ${kb(g.rss).padStart(9)} ${kb(g.heap).padStart(9)} ${m.seconds.toFixed(1).padStart(6)}`;
  });
  process.stdout.write(
    [
      'N reloads, each a new version of a ~5 KB module importing sluice (MB after a full GC; growth per reload from reload 50 on, KB)',
      `${'loader'.padEnd(20)} ${'N'.padStart(5)} ${'rss@0'.padStart(7)} ${'rss@N'.padStart(7)} ${'heap@0'.padStart(7)} ${'heap@N'.padStart(7)} ${'rss/rel'.padStart(9)} ${'heap/rel'.padStart(9)} ${'sec'.padStart(6)}`,
      ...rows,
      '',
    ].join('\n'),
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ reloads, results }, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

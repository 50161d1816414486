import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release } from 'node:os';
import { dirname } from 'node:path';
import type { FigureSet } from './figures.js';
import type { Mode } from './group.js';
import type { Settings } from './timing.js';

export interface Meta {
  date: string;
  /** HEAD of the working tree, with "+dirty" when src/ has uncommitted changes. */
  commit: string;
  mode: Mode;
  /** What was measured: 'build' (tsc output, as shipped) or 'src' (tsx). */
  source: string;
  node: string;
  v8: string;
  platform: string;
  cpu: string;
  cores: number;
  reps: number;
  targetMs: number;
  groups: string[];
  seconds: number;
  /** 1-minute load average before and after the run: above the core count, other work shared the CPUs. */
  load: [number, number];
}

export function makeMeta(mode: Mode, source: string, settings: Settings, groups: string[], seconds: number, loadBefore: number): Meta {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    commit: gitCommit(),
    mode,
    source,
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()}`,
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    reps: settings.reps,
    targetMs: settings.targetMs,
    groups,
    seconds: Math.round(seconds * 10) / 10,
    load: [round2(loadBefore), round2(loadavg()[0]!)],
  };
}

function gitCommit(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--', 'src') === '' ? head : `${head}+dirty`;
  } catch {
    return 'unknown';
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Round to 4 significant digits: the noise is far larger, and the files stay small. */
function round(n: number | null): number | null {
  return n === null ? null : Number(n.toPrecision(4));
}

export async function writeJson(file: string, meta: Meta, figures: FigureSet): Promise<void> {
  const figs = Object.fromEntries(
    Object.entries(figures.toJSON()).map(([k, f]) => [k, { value: round(f.value), unit: f.unit, baseline: f.baseline, ratio: round(f.ratio) }]),
  );
  // One line per figure: small files, readable diffs between saved results.
  const lines = Object.entries(figs).map(([k, f]) => `    ${JSON.stringify(k)}: ${JSON.stringify(f)}`);
  // Figures not measured in this run (NAME: reason) go beside `figures`, never inside it: the
  // contract fixes every entry of `figures` to {value, unit, baseline, ratio}.
  const skipped = Object.entries(figures.skipped()).map(([k, why]) => `    ${JSON.stringify(k)}: ${JSON.stringify(why)}`);
  const skippedText = skipped.length > 0 ? `,\n  "skipped": {\n${skipped.join(',\n')}\n  }` : '';
  const text = `{\n  "meta": ${JSON.stringify(meta)},\n  "figures": {\n${lines.join(',\n')}\n  }${skippedText}\n}\n`;
  JSON.parse(text); // it must stay plain JSON
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}

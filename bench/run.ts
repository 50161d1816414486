/**
 * `npm run bench -- [--quick] [--json FILE] [--group NAME]`: run the figure groups, print a
 * table, optionally write the JSON of the contract in ../shared/DESIGN.md. See bench/README.md.
 */
import { USAGE, parseArgs } from './lib/args.js';
import { FigureSet } from './lib/figures.js';
import { SETTINGS, type GroupContext } from './lib/group.js';
import { makeMeta, writeJson } from './lib/report.js';
import { renderTable } from './lib/table.js';
import { loadTarget } from './lib/target.js';
import { availableParallelism, loadavg } from 'node:os';
import { groups } from './groups.js';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n\ngroups:\n${groups.map((g) => `  ${g.name.padEnd(12)} ${g.description}`).join('\n')}\n`);
    return 0;
  }
  const unknown = args.groups.filter((n) => !groups.some((g) => g.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown group ${unknown.join(', ')}; groups: ${groups.map((g) => g.name).join(', ')}\n`);
    return 2;
  }
  const selected = args.groups.length > 0 ? groups.filter((g) => args.groups.includes(g.name)) : groups;
  const settings = SETTINGS[args.mode];
  const figures = new FigureSet();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const target = await loadTarget(args.source, log);
  const only = args.only;
  const wants = (names: readonly string[]): boolean => only.length === 0 || names.some((n) => only.some((o) => n.includes(o)));
  const ctx: GroupContext = { mode: args.mode, sluice: target.sluice, entry: target.entry, settings, figures, wants, log };

  const loadBefore = loadavg()[0]!;
  if (loadBefore >= availableParallelism()) {
    log(`warning: load average ${loadBefore.toFixed(2)} on ${availableParallelism()} cores: other work shares the CPUs; absolute figures will be noisy (ratios are paired and hold up better)`);
  }
  const t0 = performance.now();
  log(`sluice bench (${args.mode}: ${settings.reps} interleaved repetitions of ~${settings.targetMs} ms per case), ${process.version}, code from ${target.where}`);
  for (const g of selected) {
    log(`${g.name}: ${g.description}`);
    const tg = performance.now();
    await g.run(ctx);
    log(`${g.name}: ${((performance.now() - tg) / 1000).toFixed(1)} s`);
  }
  const seconds = (performance.now() - t0) / 1000;

  const problems = figures.checkReferences();
  if (problems.length > 0) throw new Error(`bad figure references:\n${problems.join('\n')}`);
  const load = `load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`;
  const skipped = Object.keys(figures.skipped()).length;
  process.stdout.write(`\n${renderTable(figures)}\n\n${figures.size} figures${skipped > 0 ? ` (${skipped} skipped)` : ''} in ${seconds.toFixed(1)} s (${args.mode}, ${target.source}; ${load})\n`);
  if (args.json) {
    await writeJson(args.json, makeMeta(args.mode, target.source, settings, selected.map((g) => g.name), seconds, loadBefore), figures);
    log(`wrote ${args.json}`);
  }
  return 0;
}

process.exitCode = await main();

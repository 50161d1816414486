import type { Goal } from './figures.js';
import type { GroupContext } from './group.js';
import { interleave, pairedRatio, throughput, type Case, type Settings } from './timing.js';

export interface Contender {
  /** Figure name for its throughput (…_mbps). */
  figure: string;
  /** Figure name for its ratio to the baseline (…_vs_…, unit "ratio"). */
  ratioFigure: string;
  /** Goal for the ratio figure (table and README only). */
  goal?: Goal;
  op: Case['op'];
}

export interface Comparison {
  /** Shown in the progress log. */
  title: string;
  baseline: { figure: string; op: Case['op'] };
  contenders: Contender[];
  /** Override of the mode's settings for this comparison (e.g. a longer target for slow cases). */
  settings?: Partial<Settings>;
}

/**
 * Run one or more of ours against one baseline, interleaved in this process, and report:
 * the baseline's MB/s (baseline null), each contender's MB/s (baseline named, ratio paired),
 * and each contender's ratio figure (value = ratio = median of per-round ours ÷ baseline).
 */
export async function runComparison(ctx: GroupContext, cmp: Comparison): Promise<void> {
  if (!ctx.wants([cmp.baseline.figure, ...cmp.contenders.flatMap((c) => [c.figure, c.ratioFigure])])) return;
  ctx.log(`  ${cmp.title}`);
  const settings: Settings = { ...ctx.settings, ...cmp.settings };
  const cases: Case[] = [{ id: cmp.baseline.figure, op: cmp.baseline.op }, ...cmp.contenders.map((c) => ({ id: c.figure, op: c.op }))];
  const samples = await interleave(cases, settings, ctx.log);
  const base = samples.get(cmp.baseline.figure)!;
  const bt = throughput(base);
  ctx.figures.add(cmp.baseline.figure, { value: bt.value, unit: 'MB/s', baseline: null, ratio: null }, { spread: bt.spread, samples: bt.samples });
  for (const c of cmp.contenders) {
    const s = samples.get(c.figure)!;
    const t = throughput(s);
    const r = pairedRatio(s, base);
    ctx.figures.add(c.figure, { value: t.value, unit: 'MB/s', baseline: cmp.baseline.figure, ratio: r.value }, { spread: t.spread, samples: t.samples });
    ctx.figures.add(
      c.ratioFigure,
      { value: r.value, unit: 'ratio', baseline: cmp.baseline.figure, ratio: r.value },
      { spread: r.spread, samples: r.samples, ...(c.goal && { goal: c.goal }) },
    );
  }
}

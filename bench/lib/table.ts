import { describeGoal, meetsGoal, type FigureSet } from './figures.js';

function fmt(n: number | null): string {
  if (n === null) return '';
  const a = Math.abs(n);
  if (a >= 1000) return n.toFixed(0);
  if (a >= 100) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/** The human-readable table printed after a run. */
export function renderTable(figs: FigureSet): string {
  const header = ['figure', 'value', 'unit', '±', 'baseline', 'ratio', 'goal', ''];
  const rows: string[][] = [header];
  for (const name of figs.names()) {
    const f = figs.get(name)!;
    const note = figs.note(name);
    const ok = meetsGoal(f.value, note.goal);
    rows.push([
      name,
      fmt(f.value),
      f.unit,
      note.spread === undefined ? '' : `${(note.spread * 100).toFixed(1)}%`,
      f.baseline ?? '',
      fmt(f.ratio),
      describeGoal(note.goal),
      ok === undefined ? '' : ok ? 'ok' : 'MISSED',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const numeric = new Set([1, 3, 5]);
  const line = (r: string[]): string =>
    r
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.slice(1).map(line), ...skippedLines(figs)].join('\n');
}

/** Figures not measured in this run, grouped by reason, under the table. */
function skippedLines(figs: FigureSet): string[] {
  const byReason = new Map<string, string[]>();
  for (const [name, why] of Object.entries(figs.skipped())) byReason.set(why, [...(byReason.get(why) ?? []), name]);
  if (byReason.size === 0) return [];
  return ['', 'skipped (not measured in this run):', ...[...byReason].map(([why, names]) => `  ${names.join(', ')}: ${why}`)];
}

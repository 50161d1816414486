/**
 * Figures: the named numbers a benchmark run produces, in the shape `npm run bench -- --json`
 * promises (see ../../../shared/DESIGN.md, "Contracts"):
 *
 *   {"figures": {NAME: {"value": n, "unit": "...", "baseline": NAME_OR_NULL, "ratio": r_or_null}}}
 *
 * Conventions (bench/README.md explains them):
 * - a throughput figure has unit "MB/s" (10^6 bytes per second) and a name ending in `_mbps`;
 * - a comparison figure has unit "ratio", a name containing `_vs_`, value = ratio = the median
 *   of per-repetition ratios ours ÷ baseline, and `baseline` names the baseline's figure;
 * - a throughput figure of ours that was measured against a baseline carries the same
 *   `baseline` name and the same paired ratio (so it is not exactly value ÷ baseline value:
 *   the ratio is paired per repetition, the values are medians over all repetitions);
 * - figures named `baseline.*` measure something that is not Sluice; their baseline is null.
 */
export interface Figure {
  value: number;
  unit: string;
  baseline: string | null;
  ratio: number | null;
}

/** Shown in the table and README only; never written into a figure (the JSON shape is fixed). */
export interface Goal {
  /** The figure passes when its value is at least (`min`) or at most (`max`) this. */
  min?: number;
  max?: number;
}

/** What the table shows besides the JSON fields. */
export interface FigureNote {
  /** Half the interquartile range, relative to the median (noise indicator). */
  spread?: number;
  goal?: Goal;
  /** Number of samples the median was taken over. */
  samples?: number;
}

export class FigureSet {
  readonly #figures = new Map<string, Figure>();
  readonly #notes = new Map<string, FigureNote>();
  /**
   * Figures this run could not measure, with the reason (e.g. a peer not installed). Kept out
   * of `figures`, whose shape is fixed; written as the JSON's separate `skipped` key.
   */
  readonly #skipped = new Map<string, string>();

  /** Report a figure as not measured in this run, and why. */
  skip(name: string, reason: string, goal?: Goal): void {
    if (this.#figures.has(name) || this.#skipped.has(name)) throw new Error(`figure ${name} reported twice`);
    this.#skipped.set(name, reason);
    if (goal) this.#notes.set(name, { goal });
  }

  skipped(): Record<string, string> {
    return Object.fromEntries(this.#skipped);
  }

  add(name: string, figure: Figure, note: FigureNote = {}): void {
    if (this.#figures.has(name) || this.#skipped.has(name)) throw new Error(`figure ${name} reported twice`);
    if (!Number.isFinite(figure.value)) throw new Error(`figure ${name}: value ${figure.value} is not a finite number`);
    this.#figures.set(name, figure);
    this.#notes.set(name, note);
  }

  get(name: string): Figure | undefined {
    return this.#figures.get(name);
  }

  note(name: string): FigureNote {
    return this.#notes.get(name) ?? {};
  }

  names(): string[] {
    return [...this.#figures.keys()];
  }

  get size(): number {
    return this.#figures.size;
  }

  /** Every `baseline` must name a figure of this run. */
  checkReferences(): string[] {
    const problems: string[] = [];
    for (const [name, f] of this.#figures) {
      if (f.baseline !== null && !this.#figures.has(f.baseline)) problems.push(`${name}: baseline ${f.baseline} is not a figure of this run`);
    }
    return problems;
  }

  toJSON(): Record<string, Figure> {
    return Object.fromEntries(this.#figures);
  }
}

/** Goal check for the table: true, false, or undefined when the figure has no goal. */
export function meetsGoal(value: number, goal: Goal | undefined): boolean | undefined {
  if (!goal) return undefined;
  if (goal.min !== undefined && value < goal.min) return false;
  if (goal.max !== undefined && value > goal.max) return false;
  return true;
}

export function describeGoal(goal: Goal | undefined): string {
  if (!goal) return '';
  const parts: string[] = [];
  if (goal.min !== undefined) parts.push(`≥ ${goal.min}`);
  if (goal.max !== undefined) parts.push(`≤ ${goal.max}`);
  return parts.join(', ');
}

import type { FigureSet } from './figures.js';
import type { Sluice } from './target.js';
import type { Settings } from './timing.js';

export type Mode = 'quick' | 'full';

/** What a group of figures gets from the runner. */
export interface GroupContext {
  readonly mode: Mode;
  /** The package under test (compiled build by default; see target.ts). */
  readonly sluice: Sluice;
  /** File URL of that package's entry, for child processes (see target.ts). */
  readonly entry: string;
  /** Repetition settings for this mode (a group may scale targetMs for very slow cases). */
  readonly settings: Settings;
  readonly figures: FigureSet;
  /** False when --only excludes every one of these figures: skip the measurement. */
  wants(figureNames: readonly string[]): boolean;
  /** Progress lines (stderr), so stdout carries only the table. */
  log(line: string): void;
}

/**
 * A group of figures: one module (bench/<name>.bench.ts) exporting one of these, listed in
 * bench/groups.ts. Later work adds compression or proxy figures by adding a module.
 */
export interface BenchGroup {
  readonly name: string;
  readonly description: string;
  run(ctx: GroupContext): Promise<void>;
}

export const SETTINGS: Record<Mode, Settings> = {
  quick: { reps: 7, targetMs: 80, warmupMs: 200 },
  full: { reps: 15, targetMs: 250, warmupMs: 600 },
};

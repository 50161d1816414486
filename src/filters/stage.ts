import type { Direction, StageName } from './types.js';

/**
 * Numeric stage values, spaced like Apache's AP_FTYPE so a filter can sit between two stages
 * (Stage.resource - 1 is where Apache puts INFLATE: before every rewriting filter).
 */
export const Stage: Readonly<Record<StageName, number>> = Object.freeze({
  resource: 10,
  content: 20,
  transcode: 30,
  encoding: 40,
  protocol: 50,
});

export const STAGE_NAMES: readonly StageName[] = ['resource', 'content', 'transcode', 'encoding', 'protocol'];

export function stageValue(stage: StageName | number): number {
  return typeof stage === 'number' ? stage : Stage[stage];
}

/** A readable label: `content`, or `resource-1` for numeric placements. */
export function stageLabel(stage: StageName | number): string {
  if (typeof stage === 'string') return stage;
  let best: StageName = 'resource';
  for (const name of STAGE_NAMES) if (Math.abs(Stage[name] - stage) < Math.abs(Stage[best] - stage)) best = name;
  const d = stage - Stage[best];
  return d === 0 ? best : `${best}${d > 0 ? '+' : ''}${d}`;
}

/**
 * Order entries by stage, keeping the user's order within a stage (a stable sort, as Apache
 * inserts a filter before the first one of a strictly greater type). Output chains ascend;
 * input chains descend, since their data comes from the wire side.
 */
export function orderByStage<T>(items: readonly T[], stageOf: (item: T) => number, direction: Direction): T[] {
  const sign = direction === 'output' ? 1 : -1;
  return items
    .map((item, index) => ({ item, index, stage: stageOf(item) }))
    .sort((a, b) => sign * (a.stage - b.stage) || a.index - b.index)
    .map((x) => x.item);
}

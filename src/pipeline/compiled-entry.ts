import type { FilterDefinition, HeadPhase } from '../filters/types.js';

/** One filter of a compiled chain: resolved definition, validated options, stage, condition. */
export interface CompiledEntry {
  /** Name in the chain (an alias, or the filter's name); errors and metrics use it. */
  readonly name: string;
  readonly def: FilterDefinition<unknown>;
  readonly options: unknown;
  readonly stage: number;
  /** Decided in the header phase, with the edits of the filters before it visible. */
  readonly when?: (head: HeadPhase) => boolean;
}

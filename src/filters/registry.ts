import type { Static, TSchema } from '@sinclair/typebox';
import { DuplicateFilterError, FilterDefinitionError, UnknownFilterError } from '../errors.js';
import { STAGE_NAMES } from './stage.js';
import type { Direction, FilterContext, FilterDefinition, FilterInfo, FilterInstance, StageName } from './types.js';

/** Filter names are case-insensitive, as Apache lower-cases them at registration. */
const normalise = (name: string): string => name.toLowerCase();
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/**
 * Name → filter definition. A registry is extended by `register`; a chain compiled against it
 * resolves names at load, never per request.
 */
export class FilterRegistry {
  readonly #filters = new Map<string, FilterDefinition<never>>();
  readonly #parent: FilterRegistry | undefined;

  /** A child registry sees its parent's filters and may add its own (never shadow them). */
  constructor(parent?: FilterRegistry) {
    this.#parent = parent;
  }

  register<O>(def: FilterDefinition<O>): this {
    checkDefinition(def as unknown as FilterDefinition<unknown>);
    const key = normalise(def.name);
    if (this.has(key)) throw new DuplicateFilterError(def.name);
    this.#filters.set(key, def as unknown as FilterDefinition<never>);
    return this;
  }

  has(name: string): boolean {
    return this.#filters.has(normalise(name)) || (this.#parent?.has(name) ?? false);
  }

  /** The definition, or undefined. */
  find(name: string): FilterDefinition<unknown> | undefined {
    return (this.#filters.get(normalise(name)) as FilterDefinition<unknown> | undefined) ?? this.#parent?.find(name);
  }

  /** The definition; throws UnknownFilterError listing what is registered. */
  get(name: string): FilterDefinition<unknown> {
    const def = this.find(name);
    if (!def) throw new UnknownFilterError(name, this.names());
    return def;
  }

  names(): string[] {
    const own = [...this.#filters.values()].map((d) => d.name);
    return [...(this.#parent?.names() ?? []), ...own].sort((a, b) => normalise(a).localeCompare(normalise(b)));
  }

  /** Every filter with its directions, stage and options schema, sorted by name. */
  list(): FilterInfo[] {
    return this.names().map((n) => info(this.get(n)));
  }

  /** A registry that inherits this one's filters, for per-config or per-test additions. */
  extend(): FilterRegistry {
    return new FilterRegistry(this);
  }
}

function info(def: FilterDefinition<unknown>): FilterInfo {
  return {
    name: def.name,
    description: def.description ?? '',
    directions: [...def.directions],
    stage: def.stage,
    preservesLength: def.preservesLength ?? false,
    options: def.options,
  };
}

function checkDefinition(def: FilterDefinition<unknown>): void {
  const name = typeof def?.name === 'string' ? def.name : String(def?.name);
  if (!NAME_RE.test(name)) throw new FilterDefinitionError(name, 'name must start with a letter and use letters, digits, _ . : -');
  if (!Array.isArray(def.directions) || def.directions.length === 0) {
    throw new FilterDefinitionError(name, 'directions must list "input" and/or "output"');
  }
  for (const d of def.directions) {
    if (d !== 'input' && d !== 'output') throw new FilterDefinitionError(name, `unknown direction "${String(d)}"`);
  }
  const stageOk = (s: unknown): boolean => (typeof s === 'number' ? Number.isFinite(s) : STAGE_NAMES.includes(s as StageName));
  if (!stageOk(def.stage)) throw new FilterDefinitionError(name, `stage must be one of ${STAGE_NAMES.join(', ')} or a number`);
  for (const [d, s] of Object.entries(def.stageByDirection ?? {})) {
    if ((d !== 'input' && d !== 'output') || !stageOk(s)) throw new FilterDefinitionError(name, `stageByDirection.${d} must be a stage of "input" or "output"`);
  }
  if (typeof def.create !== 'function') throw new FilterDefinitionError(name, 'create must be a function');
}

/** Input to defineFilter: a definition whose option type is inferred from its schema. */
export interface DefineFilterInput<S extends TSchema | undefined> {
  name: string;
  description?: string;
  directions?: readonly Direction[];
  stage?: StageName | number;
  stageByDirection?: Partial<Record<Direction, StageName | number>>;
  options?: S;
  validate?: (options: S extends TSchema ? Static<S> : Record<string, never>) => void;
  preservesLength?: boolean;
  create: (ctx: FilterContext<S extends TSchema ? Static<S> : Record<string, never>>) => FilterInstance;
}

/**
 * Typed helper for writing a filter: options typed from the TypeBox schema; defaults are
 * both directions and the `content` stage.
 *
 *   defineFilter({ name: 'upper', create: () => ({ onData: (c, out) => out.push(upper(c)) }) })
 */
export function defineFilter<S extends TSchema | undefined = undefined>(
  input: DefineFilterInput<S>,
): FilterDefinition<S extends TSchema ? Static<S> : Record<string, never>> {
  type O = S extends TSchema ? Static<S> : Record<string, never>;
  const def: FilterDefinition<O> = {
    name: input.name,
    directions: input.directions ?? ['input', 'output'],
    stage: input.stage ?? 'content',
    create: input.create,
    ...(input.description !== undefined && { description: input.description }),
    ...(input.stageByDirection !== undefined && { stageByDirection: input.stageByDirection }),
    ...(input.options !== undefined && { options: input.options as TSchema }),
    ...(input.validate !== undefined && { validate: input.validate }),
    ...(input.preservesLength !== undefined && { preservesLength: input.preservesLength }),
  };
  checkDefinition(def as FilterDefinition<unknown>);
  return def;
}

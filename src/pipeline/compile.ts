import { FilterDirectionError } from '../errors.js';
import { builtins } from '../builtin/index.js';
import { HeaderMap, type HeaderInput } from '../filters/headers.js';
import { validateOptions } from '../filters/options.js';
import type { FilterRegistry } from '../filters/registry.js';
import { orderByStage, stageLabel, stageValue } from '../filters/stage.js';
import type { Direction, FilterDefinition, HeadPhase, RequestInfo } from '../filters/types.js';
import type { CompiledEntry } from './compiled-entry.js';
import type { Instrument, RunStats } from './meter.js';
import { ChainRun, type ChainSink, type RunOptions } from './run.js';
import { collectSink, type Collected } from './sink.js';
import { pump, type ChainSource, type PumpOptions } from './source.js';

/** A filter in a chain spec: by registered name, or an inline definition. */
export interface ChainEntrySpec {
  filter: string | FilterDefinition<never>;
  options?: unknown;
  /** Alias shown in errors and metrics (two `substitute` entries can be told apart). */
  name?: string;
  /** Run this filter for a message only when this holds (evaluated in the header phase). */
  when?: (head: HeadPhase) => boolean;
}

export type ChainItem = string | FilterDefinition<never> | ChainEntrySpec;

export interface CompileOptions {
  /** Default 'output' (response bodies). */
  direction?: Direction;
  /** Where names are resolved; default: the built-in filters. */
  registry?: FilterRegistry;
  /**
   * Per-filter accounting for every run of this chain (a run may override it): 'bytes' counts
   * bytes in and out per filter, true also times the callbacks. Off by default: it costs a
   * wrapper call per filter per chunk, and a clock read (40-80 ns) per timed callback.
   */
  instrument?: Instrument;
}

/** What a message needs to start: the request, and for output chains the response head. */
export interface MessageInit {
  request?: { method?: string; url?: string; headers?: HeaderInput; remoteAddress?: string };
  /** Response status (output chains); default 200. */
  status?: number;
  /** Headers of the filtered message (response headers for output, request headers for input). */
  headers?: HeaderInput;
}

/**
 * Compile once (resolve names, validate options, order by stage keeping the user's order
 * within a stage), then `start` a cheap run per message.
 */
export function compileChain(items: readonly ChainItem[], opts: CompileOptions = {}): CompiledChain {
  const direction = opts.direction ?? 'output';
  const registry = opts.registry ?? builtins;
  const entries = items.map((item): CompiledEntry => {
    const spec: ChainEntrySpec = typeof item === 'string' || 'create' in item ? { filter: item } : item;
    const def = (typeof spec.filter === 'string' ? registry.get(spec.filter) : spec.filter) as FilterDefinition<unknown>;
    if (!def.directions.includes(direction)) throw new FilterDirectionError(def.name, direction, def.directions);
    const options = validateOptions(def, spec.options);
    return {
      name: spec.name ?? def.name,
      def,
      options,
      stage: stageValue(def.stageByDirection?.[direction] ?? def.stage),
      ...(spec.when && { when: spec.when }),
    };
  });
  return new CompiledChain(direction, orderByStage(entries, (e) => e.stage, direction), opts.instrument ?? false);
}

export class CompiledChain {
  readonly direction: Direction;
  readonly entries: readonly CompiledEntry[];
  /** The runs' default accounting (CompileOptions.instrument). */
  readonly instrument: Instrument;
  readonly #runDefaults: RunOptions;

  constructor(direction: Direction, entries: readonly CompiledEntry[], instrument: Instrument = false) {
    this.direction = direction;
    this.entries = Object.freeze([...entries]);
    this.instrument = instrument;
    this.#runDefaults = Object.freeze({ instrument });
  }

  /** The chain in execution order, e.g. `substitute (content) → gzip (encoding)`. */
  describe(): string {
    return this.entries.map((e) => `${e.name} (${stageLabel(e.def.stageByDirection?.[this.direction] ?? e.def.stage)})`).join(' → ') || '(empty)';
  }

  /**
   * A run for one message; call `start()` on it for the header phase, then feed the body.
   * `opts.instrument` overrides the chain's; `opts.log` receives a traced message's lines.
   */
  run(init: MessageInit, sink: ChainSink, opts?: RunOptions): ChainRun {
    const req = init.request ?? {};
    const request: RequestInfo = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers instanceof HeaderMap ? req.headers : new HeaderMap(req.headers),
      ...(req.remoteAddress !== undefined && { remoteAddress: req.remoteAddress }),
    };
    const headers =
      init.headers instanceof HeaderMap
        ? init.headers
        : this.direction === 'input' && init.headers === undefined
          ? request.headers
          : new HeaderMap(init.headers);
    const status = init.status ?? (this.direction === 'output' ? 200 : 0);
    const o = opts === undefined ? this.#runDefaults : opts.instrument !== undefined ? opts : { ...opts, instrument: this.instrument };
    return new ChainRun(this.entries, this.direction, { request, headers, status }, sink, o);
  }
}

/** Result of `processChain`: the committed head and everything the sink received. */
export interface Processed extends Collected {
  readonly head: HeadPhase;
  /** Filters that stayed after the header phase. */
  readonly active: readonly string[];
  readonly lengthChanged: boolean;
  /** Per-filter figures when the chain is instrumented or the message traced (ChainRun.stats). */
  readonly stats: RunStats | undefined;
}

/**
 * Run one whole message through a chain into memory: header phase, body, end. For tests,
 * benchmarks, and small bodies; rejects with the chain's FilterError.
 */
export async function processChain(
  chain: CompiledChain,
  source: ChainSource,
  init: MessageInit = {},
  opts: PumpOptions = {},
): Promise<Processed> {
  const sink = collectSink();
  const run = chain.run(init, sink);
  await run.start();
  await pump(run, source, opts);
  return Object.assign(sink, { head: run.head, active: run.active, lengthChanged: run.lengthChanged, stats: run.stats() });
}

/**
 * Config loading: parse (JSON or YAML), validate, compile. Every problem is collected, with
 * the path of the offending value and, for a file, its line; nothing is compiled per request.
 *
 * Names in chains: an entry "gz" refers to the declaration `filters.gz` when there is one (a
 * declaration named like a registered filter shadows it), else to the registered filter "gz".
 * Names are case-insensitive, as in the registry. A declaration's `filter` must be a
 * registered filter (declarations do not refer to each other). An entry written as an object
 * over a declaration may give `options`: they are merged key by key over the declared ones.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { builtins } from '../../builtin/index.js';
import { FilterOptionsError } from '../../errors.js';
import type { FilterRegistry } from '../../filters/registry.js';
import { validateOptions } from '../../filters/options.js';
import type { Direction, FilterDefinition } from '../../filters/types.js';
import { compileChain, type ChainEntrySpec, type CompiledChain } from '../compile.js';
import { compileCondition, conditionProblems, regexError, type Condition } from '../conditions.js';
import { compileLocations, normalisePath, type MatchKind } from '../locations.js';
import { ConfigError, formatPath, type ConfigProblem, type PathSegment } from './errors.js';
import { applyPlan, enclosingIndex, splitOp, type ChainPlan, type ChainStep } from './inherit.js';
import { ADMIN_DEFAULTS, ConfigSchema, DEFAULT_MATCH, LISTEN_DEFAULTS, UPSTREAM_DEFAULTS } from './schema.js';
import type { CompiledConfig, CompiledLocation, CompiledUpstream, ConditionSpec, SluiceConfig } from './types.js';
import { editDistance } from '../../filters/suggest.js';

export { ConfigError, formatPath, formatProblem, formatProblems, type ConfigProblem, type PathSegment } from './errors.js';
export { configJsonSchema, ConfigSchema } from './schema.js';
import { MAX_CONFIG_DEPTH, nestingEstimate } from './depth.js';

export type ConfigFormat = 'json' | 'yaml';

export type ConfigResult = { ok: true; config: CompiledConfig } | { ok: false; errors: ConfigProblem[] };

/** Where a config came from, for line numbers. parseConfigText makes one from the file's text. */
export interface ConfigSource {
  /** 1-based line of the value at `path` (or of its nearest ancestor that exists). */
  lineOf(path: readonly PathSegment[]): number | undefined;
}

export interface ValidateOptions {
  /** Where filter names are resolved; default: the built-in filters. */
  registry?: FilterRegistry;
  /** For line numbers in problems. */
  source?: ConfigSource;
  /**
   * The config's `modules` were imported into `registry` (modules.ts does it). Without this,
   * a config naming modules is refused: validation is synchronous and cannot import them.
   */
  modulesLoaded?: boolean;
}

export interface ParseOptions {
  format: ConfigFormat;
  /** Only for messages. */
  file?: string;
  registry?: FilterRegistry;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Parse config text (JSON or YAML) and validate it; syntax errors come back as problems with lines. */
export function parseConfigText(text: string, opts: ParseOptions): ConfigResult {
  const parsed = parseConfigSyntax(text, opts.format);
  return parsed.ok ? validateConfig(parsed.raw, { source: parsed.source, ...(opts.registry && { registry: opts.registry }) }) : parsed;
}

/** A config's data as parsed (not yet validated) with its line numbers, or its syntax errors. */
export type ParsedConfig = { ok: true; raw: unknown; source: ConfigSource } | { ok: false; errors: ConfigProblem[] };

/** Parse only, for loaders that do something (import modules) between parsing and validating. */
export function parseConfigSyntax(text: string, format: ConfigFormat): ParsedConfig {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // before any YAML parsing: a stack overflow inside `yaml` can poison later parses (depth.ts)
  if (nestingEstimate(body) > MAX_CONFIG_DEPTH) {
    return { ok: false, errors: [{ path: '', message: `${format === 'json' ? 'JSON' : 'YAML'}: nested more than ${MAX_CONFIG_DEPTH} levels deep (no config needs that many)` }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(body, { lineCounter, prettyErrors: false, merge: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const source: ConfigSource = { lineOf: (path) => lineOfPath(doc, path, lineAt) };

  if (format === 'json') {
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch (err) {
      return { ok: false, errors: [jsonSyntaxProblem(body, err)] };
    }
    // JSON.parse keeps the last of duplicate keys silently; YAML (which also reads JSON) says so.
    const dups = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
    if (dups.length) {
      return {
        ok: false,
        errors: dups.map((e) => ({ path: '', line: lineAt(e.pos[0]), message: `JSON: ${lowerFirst(firstLine(e.message))} (JSON.parse would keep the last one silently)` })),
      };
    }
    return { ok: true, raw, source };
  }

  if (doc.errors.length) {
    return { ok: false, errors: doc.errors.map((e) => ({ path: '', line: lineAt(e.pos[0]), message: `YAML: ${firstLine(e.message)}` })) };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // (a RangeError is the stack: thousands of nested levels, which no config needs)
    return { ok: false, errors: [{ path: '', message: `YAML: ${err instanceof RangeError ? 'nested too deeply' : errorMessage(err)}` }] };
  }
  return { ok: true, raw, source };
}

/** Read, parse, validate and compile a config file; the format comes from .json, .yaml or .yml. */
export function loadConfigFile(file: string, opts: { registry?: FilterRegistry } = {}): ConfigResult {
  const parsed = parseConfigFile(file);
  return parsed.ok ? validateConfig(parsed.raw, { source: parsed.source, ...(opts.registry && { registry: opts.registry }) }) : parsed;
}

/** Read and parse a config file, without validating it. */
export function parseConfigFile(file: string): ParsedConfig {
  const ext = extname(file).toLowerCase();
  const format: ConfigFormat | undefined = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (!format) return { ok: false, errors: [{ path: '', message: `cannot tell the format from "${ext || file}": name the file .json, .yaml or .yml` }] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ path: '', message: `cannot read the file: ${errorMessage(err)}` }] };
  }
  return parseConfigSyntax(text, format);
}

/** Like loadConfigFile, but throws a ConfigError listing every problem. */
export function loadConfigFileOrThrow(file: string, opts: { registry?: FilterRegistry } = {}): CompiledConfig {
  const r = loadConfigFile(file, opts);
  if (!r.ok) throw new ConfigError(r.errors, file);
  return r.config;
}

function jsonSyntaxProblem(text: string, err: unknown): ConfigProblem {
  const message = errorMessage(err);
  const lineCol = /\(line (\d+) column \d+\)/.exec(message);
  const pos = /at position (\d+)/.exec(message);
  const line = lineCol ? Number(lineCol[1]) : pos ? lineOfOffset(text, Number(pos[1])) : undefined;
  return { path: '', ...(line !== undefined && { line }), message: `invalid JSON: ${message}` };
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Walks the YAML tree along `path`; the line of the deepest node found (a key's line for map members). */
function lineOfPath(doc: Document, path: readonly PathSegment[], lineAt: (offset: number) => number): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined = rangeLine(node, lineAt);
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      line = rangeLine(pair.key, lineAt) ?? rangeLine(pair.value, lineAt) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      line = rangeLine(item, lineAt) ?? line;
      node = item;
    } else break;
  }
  return line;
}

function rangeLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? lineAt(range[0]) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Validation and compilation

interface Problem {
  path: PathSegment[];
  message: string;
}

interface Declaration {
  readonly name: string;
  readonly def: FilterDefinition<unknown> | undefined;
  readonly options: unknown;
  /** Its filter exists and its options are valid. */
  readonly ok: boolean;
}

interface PlannedLocation {
  /** Index in `locations`. */
  readonly index: number;
  readonly match: MatchKind;
  readonly path: string;
  /** Absent: the enclosing location's. */
  readonly upstream: string | undefined;
  readonly output: ChainPlan;
  readonly input: ChainPlan;
}

/**
 * Validate a config (as parsed from JSON/YAML, or written in TypeScript) and compile it: every
 * problem is collected (schema, names, URLs, duplicate locations, regexes, filters, options,
 * directions, conditions), else the compiled config is returned.
 */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): ConfigResult {
  const registry = opts.registry ?? builtins;
  const problems: Problem[] = [];
  const add = (path: PathSegment[], message: string): void => {
    problems.push({ path, message });
  };

  if (!isObject(raw)) {
    add([], `the config must be an object (a mapping) with upstreams and locations, not ${describe(raw)}`);
    return fail(problems, opts.source);
  }
  let value: Record<string, unknown>;
  try {
    value = structuredClone(raw);
  } catch {
    add([], 'the config must be plain data (what JSON or YAML can hold)');
    return fail(problems, opts.source);
  }

  problems.push(...schemaProblems(ConfigSchema, value));
  if (!opts.modulesLoaded && Array.isArray(value['modules']) && value['modules'].length > 0) {
    add(['modules'], 'filter modules are imported only by the asynchronous loaders (loadConfigFileWithModules, validateConfigWithModules), as sluice --config does');
  }

  // upstreams
  const upstreams = new Map<string, CompiledUpstream>();
  const upstreamNames = isObject(value['upstreams']) ? Object.keys(value['upstreams']) : [];
  for (const name of upstreamNames) {
    const spec = (value['upstreams'] as Record<string, unknown>)[name];
    if (!isObject(spec)) continue;
    const servers: URL[] = [];
    const list = Array.isArray(spec['servers']) ? spec['servers'] : [];
    list.forEach((s, i) => {
      if (typeof s !== 'string') return;
      const problem = serverProblem(s);
      if (problem) add(['upstreams', name, 'servers', i], problem);
      else servers.push(new URL(s));
    });
    upstreams.set(
      name,
      Object.freeze({
        name,
        servers: Object.freeze(servers),
        preserveHost: typeof spec['preserveHost'] === 'boolean' ? spec['preserveHost'] : UPSTREAM_DEFAULTS.preserveHost,
        connectTimeout: numberOr(spec['connectTimeout'], UPSTREAM_DEFAULTS.connectTimeout),
        headersTimeout: numberOr(spec['headersTimeout'], UPSTREAM_DEFAULTS.headersTimeout),
        bodyTimeout: numberOr(spec['bodyTimeout'], UPSTREAM_DEFAULTS.bodyTimeout),
        requestBodyTimeout: numberOr(spec['requestBodyTimeout'], UPSTREAM_DEFAULTS.requestBodyTimeout),
      }),
    );
  }

  // named filter declarations
  const declarations = new Map<string, Declaration>();
  const declared = isObject(value['filters']) ? value['filters'] : {};
  for (const [name, decl] of Object.entries(declared)) {
    const key = name.toLowerCase();
    const other = declarations.get(key);
    if (other) {
      add(['filters', name], `"${name}" is declared twice (also as "${other.name}"; filter names are case-insensitive)`);
      continue;
    }
    if (!isObject(decl) || typeof decl['filter'] !== 'string') {
      declarations.set(key, { name, def: undefined, options: undefined, ok: false });
      continue;
    }
    const filterName = decl['filter'];
    const def = registry.find(filterName);
    if (!def) {
      const also = Object.keys(declared).some((n) => n.toLowerCase() === filterName.toLowerCase())
        ? '; a declaration refers to a registered filter, not to another declaration'
        : '';
      add(['filters', name, 'filter'], `${unknownFilter(filterName, registry.names())}${also}`);
      declarations.set(key, { name, def: undefined, options: decl['options'], ok: false });
      continue;
    }
    const before = problems.length;
    problems.push(...optionProblems(def, decl['options'], ['filters', name, 'options']));
    declarations.set(key, { name, def, options: decl['options'], ok: problems.length === before });
  }

  // locations
  const planned: PlannedLocation[] = [];
  const seen = new Map<string, number>();
  let catchAll: number | undefined;
  const regexAt: number[] = [];
  const locations = Array.isArray(value['locations']) ? value['locations'] : [];
  locations.forEach((loc: unknown, i) => {
    if (!isObject(loc)) return;
    const at: PathSegment[] = ['locations', i];
    const match = (typeof loc['match'] === 'string' ? loc['match'] : DEFAULT_MATCH) as MatchKind;
    let path = typeof loc['path'] === 'string' ? loc['path'] : undefined;
    let pathOk = path !== undefined && ['prefix', 'exact', 'regex'].includes(match);
    if (path !== undefined && pathOk) {
      if (match === 'regex') {
        const err = regexError(path);
        if (err) {
          add([...at, 'path'], err);
          pathOk = false;
        } else regexAt.push(i);
      } else if (!path.startsWith('/')) {
        add([...at, 'path'], `a ${match} path must start with "/" (for a regular expression, add match: regex)`);
        pathOk = false;
      } else if (/[?#]/.test(path)) {
        add([...at, 'path'], `a ${match} path cannot contain "?" or "#": locations match the path only, not the query`);
        pathOk = false;
      } else {
        path = normalisePath(encodeNonAscii(path)).path;
        if (match === 'prefix' && path === '/') catchAll ??= i;
      }
      if (pathOk) {
        const key = `${match} ${path}`;
        const first = seen.get(key);
        if (first !== undefined) add([...at, 'path'], `duplicate ${match} location "${path}" (first at ${formatPath(['locations', first])})`);
        else seen.set(key, i);
      }
    }

    const upstream = typeof loc['upstream'] === 'string' ? loc['upstream'] : undefined;
    if (upstream !== undefined && isObject(value['upstreams']) && !upstreams.has(upstream)) {
      add([...at, 'upstream'], `unknown upstream "${upstream}" (${upstreamNames.length ? `defined: ${upstreamNames.join(', ')}` : 'no upstreams are defined'})`);
    }

    const plans: Record<Direction, ChainPlan> = { output: { kind: 'inherit' }, input: { kind: 'inherit' } };
    for (const direction of ['output', 'input'] as const) {
      const items = loc[direction];
      if (!Array.isArray(items)) continue;
      const steps: ChainStep[] = [];
      items.forEach((item: unknown, j) => {
        const step = planStep(item, [...at, direction, j], direction, registry, declarations, add);
        if (step) steps.push(step);
      });
      const edits = items.some((item: unknown) => splitOp(entryRef(item) ?? '').op !== undefined);
      plans[direction] = edits ? { kind: 'edit', steps } : { kind: 'replace', specs: steps.flatMap((st) => (st.spec ? [st.spec] : [])) };
    }
    if (path !== undefined && pathOk) planned.push({ index: i, match, path, upstream, ...plans });
  });

  if (catchAll !== undefined) {
    for (const i of regexAt) {
      add(
        ['locations', i, 'path'],
        `this regex location is never used: prefix locations take precedence over regex ones, and the prefix "/" (${formatPath(['locations', catchAll])}) matches every path`,
      );
    }
  }

  if (problems.length) return fail(problems, opts.source);

  // inheritance: parents (shorter paths) before children
  const effective = new Map<PlannedLocation, { upstream: string | undefined; output: ChainEntrySpec[]; input: ChainEntrySpec[] }>();
  for (const p of [...planned].sort((a, b) => a.path.length - b.path.length)) {
    const parentAt = enclosingIndex(planned, planned.indexOf(p));
    const parent = parentAt === undefined ? undefined : effective.get(planned[parentAt]!);
    const upstream = p.upstream ?? parent?.upstream;
    if (upstream === undefined) {
      add(['locations', p.index], parentAt === undefined ? 'no upstream: name one (no prefix location encloses this one to inherit it from)' : 'no upstream: the enclosing location has none either');
    }
    effective.set(p, {
      upstream,
      output: applyPlan(p.output, parent?.output ?? [], add),
      input: applyPlan(p.input, parent?.input ?? [], add),
    });
  }
  if (problems.length) return fail(problems, opts.source);

  // everything checked: compile
  const compiled: Array<{ match: MatchKind; path: string; value: CompiledLocation }> = [];
  for (const p of planned) {
    const chains = effective.get(p)!;
    let output: CompiledChain;
    let input: CompiledChain;
    try {
      output = compileChain(chains.output, { direction: 'output', registry });
      input = compileChain(chains.input, { direction: 'input', registry });
    } catch (err) {
      add(['locations', p.index], errorMessage(err));
      continue;
    }
    const location: CompiledLocation = Object.freeze({
      name: `${p.match} ${p.path}`,
      upstream: upstreams.get(chains.upstream!)!,
      output,
      input,
      outputChangesBody: output.entries.some((e) => !e.def.preservesLength),
    });
    compiled.push({ match: p.match, path: p.path, value: location });
  }
  if (problems.length) return fail(problems, opts.source);

  const listen = isObject(value['listen']) ? value['listen'] : {};
  const matcher = compileLocations(compiled);
  const config: CompiledConfig = Object.freeze({
    listen: Object.freeze({
      host: typeof listen['host'] === 'string' ? listen['host'] : LISTEN_DEFAULTS.host,
      port: numberOr(listen['port'], LISTEN_DEFAULTS.port),
      maxConnections: numberOr(listen['maxConnections'], 0),
    }),
    ...(isObject(value['admin']) && { admin: compileAdmin(value['admin']) }),
    upstreams,
    locations: Object.freeze(compiled.map((c) => c.value)),
    match: matcher,
  });
  return { ok: true, config };
}

/** Validate and compile, or throw a ConfigError naming every problem. */
export function compileConfig(config: SluiceConfig, opts: ValidateOptions = {}): CompiledConfig {
  const r = validateConfig(config, opts);
  if (!r.ok) throw new ConfigError(r.errors);
  return r.config;
}

/** The filter reference of a chain entry as written, operator included. */
function entryRef(item: unknown): string | undefined {
  if (typeof item === 'string') return item;
  if (isObject(item) && typeof item['filter'] === 'string') return item['filter'];
  return undefined;
}

/** One chain entry with its FilterChain operator (see inherit.ts), reporting what is wrong. */
function planStep(
  item: unknown,
  at: PathSegment[],
  direction: Direction,
  registry: FilterRegistry,
  declarations: ReadonlyMap<string, Declaration>,
  add: (path: PathSegment[], message: string) => void,
): ChainStep | undefined {
  const ref = entryRef(item);
  if (ref === undefined) return undefined; // the schema has said what is wrong
  const refAt = typeof item === 'string' ? at : [...at, 'filter'];
  const { op, name } = splitOp(ref);
  if (op === '!') {
    if (name) add(refAt, `"!" empties the inherited chain and takes no name (to empty it and add "${name}", write "=${name}")`);
    return { op: '!', ref: '', at };
  }
  if (op !== undefined && !name) {
    add(refAt, `"${op}" needs a filter name after it`);
    return undefined;
  }
  if (op === '-') {
    if (isObject(item) && Object.keys(item).some((k) => k !== 'filter')) add(at, `"-${name}" removes an entry: it takes no options, condition or name`);
    return { op: '-', ref: name, at: refAt };
  }
  const stripped = typeof item === 'string' ? name : { ...(item as Record<string, unknown>), filter: name };
  const spec = planEntry(stripped, at, direction, registry, declarations, add);
  return { op: op ?? '+', ref: name, spec, at };
}

/** Resolve one chain entry to a spec for compileChain, reporting what is wrong with it. */
function planEntry(
  item: unknown,
  at: PathSegment[],
  direction: Direction,
  registry: FilterRegistry,
  declarations: ReadonlyMap<string, Declaration>,
  add: (path: PathSegment[], message: string) => void,
): ChainEntrySpec | undefined {
  let ref: string;
  let entryOptions: unknown;
  let hasOptions = false;
  let when: unknown;
  let alias: string | undefined;
  if (typeof item === 'string') ref = item;
  else if (isObject(item) && typeof item['filter'] === 'string') {
    ref = item['filter'];
    hasOptions = 'options' in item && item['options'] !== undefined;
    entryOptions = item['options'];
    when = item['when'];
    alias = typeof item['name'] === 'string' ? item['name'] : undefined;
  } else return undefined; // the schema has said what is wrong
  if (!ref) return undefined;

  const refAt = typeof item === 'string' ? at : [...at, 'filter'];
  const decl = declarations.get(ref.toLowerCase());
  const def = decl ? decl.def : registry.find(ref);
  let ok = true;

  if (!def) {
    if (!decl) add(refAt, `unknown filter "${ref}": not declared in filters and not registered${suggest(ref, [...registry.names(), ...[...declarations.values()].map((d) => d.name)])} (registered: ${registry.names().join(', ') || 'none'})`);
    ok = false; // an unknown declared filter is reported at the declaration
  } else if (!def.directions.includes(direction)) {
    const via = decl ? ` ("${decl.name}" is declared as filter "${def.name}")` : '';
    add(refAt, `filter "${def.name}" cannot be used in an ${direction} chain: it serves ${def.directions.join(' and ')} only${via}`);
    ok = false;
  }

  let options: unknown = decl ? decl.options : entryOptions;
  if (decl && hasOptions) {
    options = isObject(decl.options) && isObject(entryOptions) ? { ...decl.options, ...entryOptions } : entryOptions;
  }
  if (def && (!decl || hasOptions) && !(decl && !decl.ok)) {
    const found = optionProblems(def, options, [...at, 'options']);
    for (const p of found) add(p.path, p.message);
    if (found.length) ok = false;
  } else if (decl && !decl.ok) ok = false;

  let condition: Condition | undefined;
  if (when !== undefined) {
    const problems = conditionProblems(when, direction);
    for (const p of problems) add([...at, 'when', ...p.path], p.message);
    if (problems.length) ok = false;
    else if (isObject(when)) {
      try {
        condition = compileCondition(when as ConditionSpec, formatPath([...at, 'when']), direction);
      } catch (err) {
        // malformed beyond what conditionProblems checks: the schema reports it
        if (!(err instanceof ConfigError)) add([...at, 'when'], errorMessage(err));
        ok = false;
      }
    }
  }

  if (!ok || !def) return undefined;
  return {
    filter: def.name,
    name: alias ?? decl?.name ?? def.name,
    ...(options !== undefined && { options }),
    ...(condition && { when: condition }),
  };
}

/** Every problem with a filter's options, at `at` + the option's path. */
function optionProblems(def: FilterDefinition<unknown>, options: unknown, at: PathSegment[]): Problem[] {
  try {
    validateOptions(def, options);
    return [];
  } catch (err) {
    if (!(err instanceof FilterOptionsError)) return [{ path: at, message: `filter "${def.name}": ${errorMessage(err)}` }];
    // the schema's problems, all of them (validateOptions stops at the first)
    if (def.options && options !== undefined && isObject(options)) {
      let copy: unknown;
      try {
        copy = Value.Default(def.options, structuredClone(options));
      } catch {
        copy = undefined;
      }
      if (copy !== undefined) {
        const all = schemaProblems(def.options, copy, { property: 'option' });
        if (all.length) return all.map((p) => ({ path: [...at, ...p.path], message: `filter "${def.name}": ${p.message}` }));
      }
    }
    const optionPath = err.option ? err.option.split('/').map((s): PathSegment => (/^\d+$/.test(s) ? Number(s) : s)) : [];
    return [{ path: [...at, ...optionPath], message: `filter "${def.name}": ${stripOptionPrefix(err)}` }];
  }
}

function stripOptionPrefix(err: FilterOptionsError): string {
  const prefix = err.option ? `filter "${err.filter}": option "${err.option}": ` : `filter "${err.filter}": options: `;
  const bare = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return lowerFirst(bare);
}

// ---------------------------------------------------------------------------------------------
// Schema errors, readable

/**
 * Every schema error, one per path, in words. A union (e.g. a chain entry: a name or an
 * object) is explained by the branch the value's type picks, or as "expected X or Y".
 */
function schemaProblems(schema: TSchema, value: unknown, words: { property: string } = { property: 'property' }): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  const visit = (errors: Iterable<ValueError>): void => {
    for (const e of errors) {
      const path = pointerToPath(e.path, value);
      const key = formatPath(path);
      if (e.type === ValueErrorType.Union) {
        const branches = (schema_anyOf(e.schema) ?? []).map((s, i) => ({ s, errors: [...(e.errors[i] ?? [])] }));
        const fitting = branches.filter((b) => typeFits(b.s, e.value));
        if (fitting.length && !branches.every((b) => 'const' in b.s)) {
          fitting.sort((a, b) => a.errors.length - b.errors.length);
          visit(fitting[0]!.errors);
          continue;
        }
        if (seen.has(key)) continue;
        seen.add(key);
        const message = branches.every((b) => 'const' in b.s)
          ? `must be one of ${branches.map((b) => describeSchema(b.s)).join(', ')}, not ${describe(e.value)}`
          : `expected ${branches.map((b) => describeSchema(b.s)).join(' or ')}, not ${describe(e.value)}`;
        out.push({ path, message });
        continue;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ path, message: errorWords(e, words.property) });
    }
  };
  visit(Value.Errors(schema, value));
  return out;
}

function schema_anyOf(schema: TSchema): TSchema[] | undefined {
  return Array.isArray(schema['anyOf']) ? (schema['anyOf'] as TSchema[]) : undefined;
}

function errorWords(e: ValueError, property: string): string {
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `required ${property} missing`;
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = isObject(e.schema['properties']) ? Object.keys(e.schema['properties']) : [];
      return `unknown ${property}${known.length ? ` (expected one of: ${known.join(', ')})` : ''}`;
    }
    default:
      return lowerFirst(e.message);
  }
}

function typeFits(schema: TSchema, value: unknown): boolean {
  if ('const' in schema) return schema['const'] === value;
  switch (schema['type']) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return true;
  }
}

function describeSchema(schema: TSchema): string {
  if ('const' in schema) return JSON.stringify(schema['const']);
  switch (schema['type']) {
    case 'string':
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    default:
      return 'something else';
  }
}

/** A JSON pointer (`/locations/2/output/0`) → segments; indexes where the value has arrays. */
function pointerToPath(pointer: string, root: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = isObject(node) ? node[seg] : undefined;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small checks and helpers

function serverProblem(s: string): string | undefined {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return `"${s}" is not a URL (expected e.g. http://127.0.0.1:3000)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${s}" is not an http:// or https:// URL`;
  if (url.username || url.password) return `"${s}": credentials in the URL are not supported`;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return `"${s}" has a path, query or fragment: a server is an origin (scheme, host, port); the request path is forwarded as it is`;
  }
  return undefined;
}

/** Config paths are Unicode; requests carry UTF-8 percent-escapes. */
function encodeNonAscii(path: string): string {
  // eslint-disable-next-line no-control-regex
  return path.replace(/[^\x00-\x7f]+/g, (s) => encodeURIComponent(s));
}

function unknownFilter(name: string, known: readonly string[]): string {
  return `unknown filter "${name}"${suggest(name, known)} (registered: ${known.join(', ') || 'none'})`;
}

/** ` (did you mean "gzip"?)` for a near miss, else ''. */
function suggest(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : '';
}


function fail(problems: Problem[], source: ConfigSource | undefined): ConfigResult {
  const errors = problems.map((p): ConfigProblem => {
    const line = source?.lineOf(p.path);
    return { path: formatPath(p.path), ...(line !== undefined && { line }), message: p.message };
  });
  // file order when lines are known (stable: same line keeps the order found)
  if (source) errors.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return { ok: false, errors };
}

function compileAdmin(admin: Record<string, unknown>): NonNullable<CompiledConfig['admin']> {
  return Object.freeze({
    enabled: typeof admin['enabled'] === 'boolean' ? admin['enabled'] : ADMIN_DEFAULTS.enabled,
    host: typeof admin['host'] === 'string' ? admin['host'] : ADMIN_DEFAULTS.host,
    port: numberOr(admin['port'], ADMIN_DEFAULTS.port),
  });
}

function numberOr(x: unknown, fallback: number): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : fallback;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'object') return 'an object';
  return String(x);
}

function lowerFirst(s: string): string {
  return s ? s[0]!.toLowerCase() + s.slice(1) : s;
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl === -1 ? s : s.slice(0, nl);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Filters from files: a config's `modules` name files that export filter definitions; they
 * are imported (asynchronously) into a child of the builtins registry, and the config is then
 * validated and compiled against it (synchronously, by load.ts), so a module's filters have
 * their options checked exactly like a builtin's.
 *
 * What a module exports (every export is looked at; the first two rules are the usual ones):
 * - `export default` a definition, or an array of definitions;
 * - named exports that are definitions (or arrays of them); other named exports (helpers,
 *   constants) are ignored, and one definition exported twice (named and default) counts once;
 * - CommonJS: `module.exports` a definition, an array, or an object whose properties are.
 * A default export that is something else (a factory function, say) is a problem, as is a
 * module with no definition at all.
 *
 * Paths are relative to the config file (or start with `/`); package names are not resolved:
 * write `./node_modules/pkg/filter.js` to be explicit about which file runs. Every load is a
 * fresh instance of the module and of the files it imports by relative path, bundled by
 * esbuild (TypeScript included, no build step) so that a reload leaves nothing behind; packages
 * and Sluice itself are shared (fresh-import.ts says why and what it costs).
 */
import { stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kind } from '@sinclair/typebox';
import { builtins } from '../../builtin/index.js';
import { DuplicateFilterError, FilterDefinitionError } from '../../errors.js';
import type { FilterRegistry } from '../../filters/registry.js';
import type { FilterDefinition } from '../../filters/types.js';
import { formatPath, type ConfigProblem } from './errors.js';
import { FreshImportError, importFresh } from './fresh-import.js';
import { parseConfigFile, validateConfig, type ConfigResult, type ConfigSource } from './load.js';
import type { CompiledConfig, LoadedFilterModule } from './types.js';

export type { LoadedFilterModule } from './types.js';

const NATIVE_EXTENSIONS = ['.js', '.mjs', '.cjs'];
const TS_EXTENSIONS = ['.ts', '.mts', '.cts'];

export interface LoadModulesOptions {
  /** Relative module paths are resolved against it: the config file's directory. Default: the working directory. */
  baseDir?: string;
  /** The registry the modules' filters extend (never modified). Default: the built-in filters. */
  registry?: FilterRegistry;
}

/** A module that could not be used, by its index in `modules`. */
export interface ModuleProblem {
  readonly index: number;
  readonly message: string;
}

export interface LoadedModules {
  /** A child of the given registry holding every filter that loaded. */
  readonly registry: FilterRegistry;
  readonly modules: readonly LoadedFilterModule[];
  readonly problems: readonly ModuleProblem[];
}

/** A module as written in the config, with its index there. */
export interface ModuleSpec {
  readonly index: number;
  readonly path: string;
}

/**
 * Import every module and register its filters in a child registry. Modules are imported
 * concurrently but registered in config order, so a duplicate name is always reported at the
 * later module. Never throws for a bad module: each problem names the file (and the line, for
 * syntax and load-time errors where the loader gives one).
 */
export async function loadFilterModules(specs: readonly (string | ModuleSpec)[], opts: LoadModulesOptions = {}): Promise<LoadedModules> {
  const parent = opts.registry ?? builtins;
  const registry = parent.extend();
  const baseDir = opts.baseDir ?? process.cwd();
  const list = specs.map((s, i): ModuleSpec => (typeof s === 'string' ? { index: i, path: s } : s));
  const problems: ModuleProblem[] = [];
  const modules: LoadedFilterModule[] = [];

  const imported = await Promise.all(list.map((spec) => importModule(spec.path, baseDir)));
  const origin = new Map<string, string>(); // filter name (lower case) → the module that defined it

  list.forEach((spec, i) => {
    const result = imported[i]!;
    const add = (message: string): void => void problems.push({ index: spec.index, message: `${spec.path}: ${message}` });
    if (!result.ok) {
      problems.push({ index: spec.index, message: result.message });
      return;
    }
    const { found, problems: exportProblems } = definitionsOf(result.namespace);
    exportProblems.forEach(add);
    if (found.length === 0) {
      if (!exportProblems.length) add('exports no filter definition (export default defineFilter({...}), an array of them, or named definitions)');
      return;
    }
    const names: string[] = [];
    for (const { where, def } of found) {
      // Options are checked with TypeBox, which needs its own marks on the schema (Symbol.for,
      // so a module's own copy of TypeBox is fine); plain JSON Schema would fail at first use.
      if (def.options !== undefined && !(typeof def.options === 'object' && def.options !== null && Kind in def.options)) {
        add(`${where}: filter "${def.name}": options must be a TypeBox schema (import { Type } from 'sluice'), not plain JSON Schema`);
        continue;
      }
      try {
        registry.register(def);
        origin.set(def.name.toLowerCase(), spec.path);
        names.push(def.name);
      } catch (err) {
        if (err instanceof DuplicateFilterError) {
          const other = origin.get(def.name.toLowerCase());
          add(
            `${where}: a filter named "${def.name}" is already ${other === undefined ? 'built in' : other === spec.path ? 'exported by this module' : `defined by ${other}`} (filter names are case-insensitive)`,
          );
        } else if (err instanceof FilterDefinitionError) add(`${where}: ${err.message}`);
        else add(`${where}: ${errorMessage(err)}`);
      }
    }
    modules.push(Object.freeze({ path: spec.path, file: result.file, files: result.files, filters: Object.freeze(names) }));
  });
  return { registry, modules, problems };
}

/**
 * Validate and compile a config after loading its `modules` (relative to `baseDir`). Module
 * problems come first in file order with the config's own; a module that failed leaves its
 * filters unknown, so chains naming them are reported too.
 */
export async function validateConfigWithModules(
  raw: unknown,
  opts: LoadModulesOptions & { source?: ConfigSource } = {},
): Promise<ConfigResult> {
  const specs = moduleSpecs(raw);
  const base = { modulesLoaded: true, ...(opts.source && { source: opts.source }) };
  if (specs.length === 0) return validateConfig(raw, { ...base, ...(opts.registry && { registry: opts.registry }) });
  const loaded = await loadFilterModules(specs, opts);
  const result = validateConfig(raw, { ...base, registry: loaded.registry });
  if (loaded.problems.length === 0) {
    return result.ok ? { ok: true, config: withModules(result.config, loaded.modules) } : result;
  }
  const errors: ConfigProblem[] = loaded.problems.map((p) => {
    const line = opts.source?.lineOf(['modules', p.index]);
    return { path: formatPath(['modules', p.index]), ...(line !== undefined && { line }), message: p.message };
  });
  if (!result.ok) errors.push(...result.errors);
  if (opts.source) errors.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return { ok: false, errors };
}

/**
 * Read, parse, load the modules of, validate and compile a config file (JSON or YAML): what
 * `sluice --config` and `sluice check` use. Module paths are relative to the file.
 */
export async function loadConfigFileWithModules(file: string, opts: { registry?: FilterRegistry } = {}): Promise<ConfigResult> {
  const parsed = parseConfigFile(file);
  if (!parsed.ok) return parsed;
  return validateConfigWithModules(parsed.raw, {
    baseDir: dirname(resolve(file)),
    source: parsed.source,
    ...(opts.registry && { registry: opts.registry }),
  });
}

/**
 * Only the modules of a config file (relative to it), not the rest of the config: for listing
 * their filters (`sluice filters --config`). Problems carry the config line of the module.
 */
export async function loadModulesOfConfigFile(file: string): Promise<{ ok: true; loaded: LoadedModules } | { ok: false; errors: ConfigProblem[] }> {
  const parsed = parseConfigFile(file);
  if (!parsed.ok) return parsed;
  const loaded = await loadFilterModules(moduleSpecs(parsed.raw), { baseDir: dirname(resolve(file)) });
  if (loaded.problems.length === 0) return { ok: true, loaded };
  return {
    ok: false,
    errors: loaded.problems.map((p) => {
      const line = parsed.source.lineOf(['modules', p.index]);
      return { path: formatPath(['modules', p.index]), ...(line !== undefined && { line }), message: p.message };
    }),
  };
}

// ---------------------------------------------------------------------------------------------

/** The string entries of `modules` with their indexes (the schema reports anything else). */
function moduleSpecs(raw: unknown): ModuleSpec[] {
  const list = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['modules'] : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((path: unknown, index) => (typeof path === 'string' && path ? [{ index, path }] : []));
}

function withModules(config: CompiledConfig, modules: readonly LoadedFilterModule[]): CompiledConfig {
  return Object.freeze({ ...config, modules: Object.freeze([...modules]) });
}

type Imported = { ok: true; file: string; files: readonly string[]; namespace: Record<string, unknown> } | { ok: false; message: string };

async function importModule(spec: string, baseDir: string): Promise<Imported> {
  const fail = (message: string): Imported => ({ ok: false, message });
  if (!/^\.{1,2}[\\/]/.test(spec) && !isAbsolute(spec)) {
    return fail(`${spec}: a module is a file path: start it with ./ or ../ (relative to the config file) or /`);
  }
  const file = resolve(baseDir, spec);
  const ext = extname(file).toLowerCase();
  const isTs = TS_EXTENSIONS.includes(ext);
  if (!isTs && !NATIVE_EXTENSIONS.includes(ext)) {
    return fail(`${spec}: cannot load "${ext || 'no extension'}" files: a filter module is ${[...NATIVE_EXTENSIONS, ...TS_EXTENSIONS].join(', ')}`);
  }
  try {
    if (!(await stat(file)).isFile()) return fail(`${spec}: not a file (${file})`);
  } catch {
    return fail(`${spec}: no such file (${file})`);
  }
  try {
    const { namespace, files } = await importFresh(file);
    return { ok: true, file, files: Object.freeze([...files]), namespace };
  } catch (err) {
    return fail(describeLoadError(err, spec, file));
  }
}

/**
 * `./x.ts:3:11: syntax error: Unexpected ";"`, or the first line of what the module threw while
 * loading with where it was thrown (lines and columns from 1, as editors count). A problem in
 * a file the module imports names that file too.
 */
function describeLoadError(err: unknown, spec: string, file: string): string {
  if (!(err instanceof FreshImportError)) return `${spec}: cannot load: ${firstLine(errorMessage(err))}`;
  const where = err.file === undefined ? spec : err.file === file ? `${spec}:${err.line}:${err.column}` : `${spec}: ${relative(dirname(file), err.file)}:${err.line}:${err.column}`;
  const what = err.kind === 'syntax' ? 'syntax error: ' : err.kind === 'top-level-await' ? '' : 'cannot load: ';
  return `${where}: ${what}${firstLine(err.message)}`;
}

interface Found {
  /** `export default`, `export upper`, `export default[1]`: for messages. */
  readonly where: string;
  readonly def: FilterDefinition<unknown>;
}

/** The definitions a module namespace exports, by the rules in this file's header. */
function definitionsOf(namespace: Record<string, unknown>): { found: Found[]; problems: string[] } {
  const found: Found[] = [];
  const problems: string[] = [];
  const seen = new Set<unknown>();
  const take = (where: string, value: unknown, isDefault: boolean): void => {
    if (looksLikeDefinition(value)) {
      if (!seen.has(value)) found.push({ where, def: value });
      seen.add(value);
      return;
    }
    if (Array.isArray(value)) {
      const defs = value.filter(looksLikeDefinition);
      if (defs.length === 0 && !isDefault) return; // some other list
      value.forEach((v, i) => {
        if (looksLikeDefinition(v)) take(`${where}[${i}]`, v, isDefault);
        else problems.push(`${where}[${i}] is not a filter definition (${describe(v)})`);
      });
      return;
    }
    if (isDefault) problems.push(`${where} is not a filter definition (${describe(value)}); export default defineFilter({...}) or an array of definitions`);
  };

  let entries = Object.entries(namespace);
  const dflt = namespace['default'];
  if (isPlainObject(dflt) && !looksLikeDefinition(dflt)) {
    // CommonJS: module.exports (or a transpiled ES module's exports object) arrives as the
    // default export; its properties are the module's exports.
    entries = [...entries.filter(([k]) => k !== 'default'), ...Object.entries(dflt).filter(([k]) => k !== '__esModule')];
  }
  // default first, so a definition exported both ways is reported as the default one
  entries.sort(([a], [b]) => (a === 'default' ? -1 : b === 'default' ? 1 : 0));
  for (const [name, value] of entries) take(name === 'default' ? 'export default' : `export ${name}`, value, name === 'default');
  return { found, problems };
}

/** Shape test only; the registry checks the rest (directions, stage) and says what is wrong. */
function looksLikeDefinition(x: unknown): x is FilterDefinition<unknown> {
  return isPlainObject(x) && typeof x['name'] === 'string' && typeof x['create'] === 'function';
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'function') return 'a function';
  if (typeof x === 'object') return 'an object without name and create';
  return typeof x;
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl === -1 ? s : s.slice(0, nl);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Import a filter module so that every load is a fresh instance and an old one can be garbage
 * collected: what makes reloading a module a few hundred times cost nothing that stays.
 *
 * Node cannot unload an ES module: `import('./f.mjs?v=2')` gives fresh code, but every version
 * stays in the module map for the life of the process (bench/module-reload-memory.ts: about
 * 10 KB of heap per reload of a 5 KB module; a tsx namespace per load also imports Sluice
 * afresh each time, 4 MB of heap and 7 MB of RSS per reload, and adds a loader hook that every
 * later import runs through). So the module and the
 * files it imports by relative path are bundled by esbuild into one CommonJS function and
 * compiled as a Module that no cache holds: when the last chain using its filters is gone, so
 * is the code.
 *
 * Packages (anything under node_modules) and Sluice's own files are not bundled: they are
 * imported once, natively, and shared, so a module's `import { defineFilter, SluiceError }
 * from 'sluice'` is the very instance the proxy runs (`instanceof` works, the FLUSH mark is the
 * same). Only the user's own code is fresh on each load, which is also what must be reloaded.
 *
 * What this costs a module author, compared with a native import:
 * - no top-level `await` (a CommonJS function cannot suspend its body); refused with a message;
 * - a package's exports are copied once when the module loads (no live bindings);
 * - `import.meta` has `url`, `filename`, `dirname` only; `__dirname` in a CommonJS file that the
 *   module requires is the module's.
 * TypeScript is stripped, not checked, as with tsx.
 */
import { readFile } from 'node:fs/promises';
import Module, { createRequire, isBuiltin, SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import type { Message, Plugin } from 'esbuild';

/** A loaded module: its namespace (as `import()` would give it) and every file of it that was bundled. */
export interface FreshModule {
  readonly namespace: Record<string, unknown>;
  /** Absolute paths of the user files this load compiled: the module first, then what it imports. */
  readonly files: readonly string[];
}

/** Why a module could not be loaded, with where (file, 1-based line, column) when known. */
export class FreshImportError extends Error {
  readonly kind: 'syntax' | 'resolve' | 'top-level-await' | 'load';
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(kind: FreshImportError['kind'], message: string, at?: { file: string; line: number; column: number }, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FreshImportError';
    this.kind = kind;
    this.file = at?.file;
    this.line = at?.line;
    this.column = at?.column;
  }
}

/** The folder this code runs from (src/ under tsx or vitest, dist/ when built) and its package root. */
const HOST_DIR = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE_ROOT = dirname(HOST_DIR.replace(/[\\/]$/, ''));
const HOST_TREES = ['src', 'dist'].map((d) => join(PACKAGE_ROOT, d) + sep);
const RUNS_FROM_SRC = HOST_DIR === HOST_TREES[0];

const SHARED_NS = 'sluice-shared';
const SHARED_ID = 'sluice-shared:';
/** Shared (natively imported) namespaces by absolute path: one per package file, for the process. */
const shared = new Map<string, Record<string, unknown>>();
let loads = 0;

/**
 * Bundle and evaluate `file` (absolute). Throws FreshImportError for a module that cannot be
 * compiled or whose evaluation throws.
 */
export async function importFresh(file: string): Promise<FreshModule> {
  const esbuild = await import('esbuild');
  // Load-time errors are reported with the module's own lines (the tsx loader did the same).
  process.setSourceMapsEnabled(true);
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [file],
      absWorkingDir: dirname(file),
      outfile: file, // never written: sources in the map are then relative to the module's folder
      write: false,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcemap: 'inline',
      sourcesContent: false,
      metafile: true,
      logLevel: 'silent',
      banner: { js: '"use strict";' },
      define: { 'import.meta': '__sluice_import_meta' },
      plugins: [sharedImports()],
    });
  } catch (err) {
    throw buildError(err, file);
  }
  const out = result.outputFiles[0];
  if (!out) throw new FreshImportError('load', 'esbuild produced no output');
  const files = Object.keys(result.metafile.inputs)
    .filter((k) => !k.startsWith(SHARED_ID) && !k.includes(':'))
    .map((k) => resolve(dirname(file), k));
  files.sort((a, b) => (a === file ? -1 : b === file ? 1 : 0));

  // A name of its own per load, in the module's folder: Node finds a frame's source map by the
  // compiled file's name, and the previous version, still serving, has one too.
  const compiledName = `${file}.sluice-${++loads}.cjs`;
  const m = new Module(compiledName);
  m.filename = compiledName;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  const real = createRequire(file);
  m.require = ((id: string): unknown => {
    if (id.startsWith(SHARED_ID)) return shared.get(id.slice(SHARED_ID.length));
    return real(id);
  }) as NodeJS.Require;
  try {
    (m as unknown as { _compile(code: string, filename: string): void })._compile(out.text, compiledName);
  } catch (err) {
    throw new FreshImportError('load', err instanceof Error ? err.message : String(err), thrownAt(err, compiledName, out.text, files), err);
  }
  return { namespace: namespaceOf(m.exports), files };
}

/** What `import()` would give: an ES module's exports as they are, a CommonJS module's as `default`. */
function namespaceOf(exports: unknown): Record<string, unknown> {
  if (typeof exports === 'object' && exports !== null && (exports as { __esModule?: unknown }).__esModule === true) {
    return exports as Record<string, unknown>;
  }
  return { default: exports };
}

/** Packages and Sluice's own files: imported natively once and shared, never bundled. */
function sharedImports(): Plugin {
  return {
    name: 'sluice-shared-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.path.startsWith(SHARED_ID)) return { path: args.path, external: true };
        if ((args.pluginData as { inner?: boolean } | undefined)?.inner) return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        if (args.kind === 'entry-point') return undefined; // the module itself is always fresh
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { inner: true } });
        if (r.errors.length > 0 || r.external || r.namespace !== 'file') return r.errors.length > 0 ? { errors: r.errors } : undefined;
        const target = sharedPath(r.path);
        if (target === undefined) return undefined; // the user's own file: bundled, fresh
        // A CommonJS file asking for a package gets what require() gives; imports get the namespace.
        if (args.kind === 'require-call' || args.kind === 'require-resolve') return { path: target, external: true };
        if (!shared.has(target)) {
          try {
            shared.set(target, (await import(pathToFileURL(target).href)) as Record<string, unknown>);
          } catch (err) {
            return { errors: [{ text: `cannot import ${args.path} (${target}): ${err instanceof Error ? err.message : String(err)}` }] };
          }
        }
        return { path: target, namespace: SHARED_NS };
      });
      // A shared module appears in the bundle as a small ES module re-exporting what the native
      // import gave, so the bundle's own ESM interop applies (default import, import * as).
      build.onLoad({ filter: /.*/, namespace: SHARED_NS }, (args) => {
        const ns = shared.get(args.path)!;
        const lines = [`const m = require(${JSON.stringify(SHARED_ID + args.path)});`];
        Object.keys(ns).forEach((key, i) => {
          lines.push(key === 'default' ? 'export default m.default;' : `const e${i} = m[${JSON.stringify(key)}];\nexport { e${i} as ${JSON.stringify(key)} };`);
        });
        return { contents: lines.join('\n'), loader: 'js', resolveDir: dirname(args.path) };
      });
      // Each user file gets its own import.meta (on the first line, so line numbers stay right).
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const loader = /\.[cm]?tsx?$/.test(args.path) ? (args.path.endsWith('x') ? 'tsx' : 'ts') : args.path.endsWith('x') ? 'jsx' : 'js';
        if (!source.includes('import.meta')) return { contents: source, loader };
        const meta = `var __sluice_import_meta = ${JSON.stringify({ url: pathToFileURL(args.path).href, filename: args.path, dirname: dirname(args.path) })};`;
        const shebang = source.startsWith('#!') ? source.indexOf('\n') + 1 : 0;
        return { contents: shebang > 0 ? source.slice(0, shebang) + meta + source.slice(shebang) : meta + source, loader };
      });
    },
  };
}

/**
 * The file to import natively for a resolved path, or undefined when it is the user's own.
 * Sluice's own files map to the tree this process runs from (a module in the repository that
 * imports `../src/index.js` gets dist/index.js under the built CLI, and the reverse under tsx).
 */
function sharedPath(path: string): string | undefined {
  if (path.split(/[\\/]/).includes('node_modules')) return path;
  const tree = HOST_TREES.findIndex((t) => path.startsWith(t));
  if (tree === -1) return undefined;
  const inSrc = tree === 0;
  if (inSrc === RUNS_FROM_SRC) return path;
  const rel = relative(HOST_TREES[tree]!, path);
  const other = inSrc ? join(HOST_TREES[1]!, rel.replace(/\.[cm]?ts$/, '.js')) : join(HOST_TREES[0]!, rel.replace(/\.js$/, '.ts'));
  return existsSync(other) ? other : path;
}

/**
 * Where in the user's files an error thrown while the module loaded comes from: the first
 * frame in one of them. Node has already mapped the frames when its source maps are on; a test
 * runner's own stack formatting may not have, so a frame in the compiled code is mapped here.
 */
function thrownAt(err: unknown, compiledName: string, code: string, files: readonly string[]): { file: string; line: number; column: number } | undefined {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  let map: SourceMap | undefined;
  for (const frame of stack.split('\n').slice(1)) {
    const m = /(?:\(|\bat )(file:\/\/[^()\s]+|[^()\s][^()]*?):(\d+):(\d+)\)?\s*$/.exec(frame);
    if (!m) continue;
    const plain = m[1]!.startsWith('file:') ? fileURLToPath(m[1]!) : m[1]!;
    const where = { line: Number(m[2]), column: Number(m[3]) };
    if (files.includes(plain)) return { file: plain, ...where };
    if (plain !== compiledName) continue;
    map ??= inlineMap(code);
    const entry = map?.findEntry(where.line - 1, where.column - 1);
    if (entry && 'originalSource' in entry && entry.originalSource) {
      const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(dirname(compiledName), entry.originalSource);
      if (files.includes(source)) return { file: source, line: entry.originalLine + 1, column: entry.originalColumn + 1 };
    }
  }
  return undefined;
}

function inlineMap(code: string): SourceMap | undefined {
  const m = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
  if (!m) return undefined;
  try {
    return new SourceMap(JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as SourceMapPayload);
  } catch {
    return undefined;
  }
}

function buildError(err: unknown, file: string): FreshImportError {
  const first: Message | undefined = (err as { errors?: Message[] }).errors?.[0];
  if (!first) return new FreshImportError('load', err instanceof Error ? err.message : String(err), undefined, err);
  const loc = first.location;
  const at = loc ? { file: isAbsolute(loc.file) ? loc.file : resolve(dirname(file), loc.file), line: loc.line, column: loc.column + 1 } : undefined;
  if (/top-level await/i.test(first.text)) {
    return new FreshImportError(
      'top-level-await',
      'top-level await is not supported in a filter module (modules are reloaded in place, which Node can do only for code without it): await in onHead, or keep a promise and await it there',
      at,
    );
  }
  return new FreshImportError(/^Could not resolve/.test(first.text) ? 'resolve' : 'syntax', first.text, at);
}

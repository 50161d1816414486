import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as SluiceModule from '../../src/index.js';

/** The package's public API, typed from the sources whatever is loaded at run time. */
export type Sluice = typeof SluiceModule;

/**
 * What gets measured:
 * - 'build' (default): src/ compiled by tsc with the project's tsconfig.build.json, as the
 *   package ships (dist/). Compiled into node_modules/.cache/sluice-bench/ (not dist/, so a
 *   bench run never rewrites the tree's build output) and reused while src/ is unchanged.
 * - 'src': src/*.ts as tsx loads them. tsx (esbuild, keepNames) wraps every arrow function
 *   in `__name(...)`, an Object.defineProperty per closure made; closures made per message
 *   (filter instances) then cost microseconds, so per-message figures are not those of the
 *   shipped code. For quick iteration only.
 * - { dir }: an already built tree (dist/, or a patched copy to try a change), loaded as is.
 */
export type SourceKind = 'build' | 'src' | { dir: string };

export interface Target {
  readonly sluice: Sluice;
  readonly source: 'build' | 'src' | 'dir';
  /** Where the code came from, relative to the project root. */
  readonly where: string;
  /** The entry module's file URL, for child processes that load the same code (proxy figures). */
  readonly entry: string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = join(ROOT, 'node_modules/.cache/sluice-bench');

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

/** Hash of everything the build reads from the project: sources and compiler settings. */
function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [...listTs(join(ROOT, 'src')), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')]) {
    h.update(relative(ROOT, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/** Builds older than this are pruned; a bench run (and its child processes) is far shorter. */
const STALE_MS = 3 * 3600_000;

function build(log: (line: string) => void): string {
  const hash = sourceHash();
  const out = join(CACHE, hash);
  if (existsSync(join(out, 'index.js')) && existsSync(join(out, '.complete'))) return out;
  log(`building src/ with tsconfig.build.json into ${relative(ROOT, out)} ...`);
  pruneStale();
  // Build beside the final place and rename it there: another bench run on the same tree
  // (a shared machine) may be loading a build this minute, so none is removed or half-written.
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', tmp, '--declaration', 'false', '--sourceMap', 'false'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    // tsc still emits JavaScript when only types are wrong; without index.js there is nothing to run.
    if (!existsSync(join(tmp, 'index.js'))) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`tsc failed to build src/:\n${String((err as { stdout?: unknown }).stdout ?? err)}`);
    }
    log('warning: tsc reported type errors in src/; measuring the JavaScript it emitted anyway');
  }
  // Under node_modules, Node does not look past the folder for the project's "type": "module".
  writeFileSync(join(tmp, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
  try {
    renameSync(tmp, out);
  } catch {
    // a concurrent run renamed the same sources' build first: use that one
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(out, '.complete'))) throw new Error(`could not put the build at ${out}`);
  }
  return out;
}

/** Remove builds (and abandoned temp builds) not touched for STALE_MS. */
function pruneStale(): void {
  if (!existsSync(CACHE)) return;
  for (const e of readdirSync(CACHE, { withFileTypes: true })) {
    const p = join(CACHE, e.name);
    try {
      if (Date.now() - statSync(p).mtimeMs > STALE_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // removed meanwhile by another run
    }
  }
}

export async function loadTarget(kind: SourceKind, log: (line: string) => void): Promise<Target> {
  if (typeof kind === 'object') {
    const dir = resolve(kind.dir);
    if (!existsSync(join(dir, 'index.js'))) throw new Error(`--source ${kind.dir}: no index.js there`);
    const entry = pathToFileURL(join(dir, 'index.js')).href;
    const sluice = (await import(entry)) as Sluice;
    return { sluice, source: 'dir', where: relative(ROOT, dir) || dir, entry };
  }
  if (kind === 'src') {
    const entry = pathToFileURL(join(ROOT, 'src/index.ts')).href;
    const sluice = (await import(entry)) as Sluice;
    return { sluice, source: 'src', where: 'src/ (tsx)', entry };
  }
  const dir = build(log);
  const entry = pathToFileURL(join(dir, 'index.js')).href;
  const sluice = (await import(entry)) as Sluice;
  return { sluice, source: 'build', where: relative(ROOT, dir), entry };
}

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ConfigProblem } from '../pipeline/config/errors.js';
import type { CompiledConfig } from '../pipeline/config/types.js';
import type { LiveConfig } from './live-config.js';

export type LoadResult = { ok: true; config: CompiledConfig } | { ok: false; errors: ConfigProblem[] };

export interface ReloadLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReloaderOptions {
  file: string;
  live: LiveConfig;
  /** Parse, validate and compile the file (modules included); never throws for a bad config. */
  load: (file: string) => LoadResult | Promise<LoadResult>;
  log: ReloadLog;
  /** Format problems for the log (with the file's lines). */
  format?: (errors: ConfigProblem[]) => string;
  /** Watch the file for changes (default true); SIGHUP works either way. */
  watch?: boolean;
  /** ms to wait after a change before reloading, so an editor's several writes count once. */
  debounceMs?: number;
}

export interface Reloader {
  /** Load the file again now; resolves true when the new config serves. */
  reload(reason: string): Promise<boolean>;
  /** How many reloads were refused (bad config) and accepted so far. */
  readonly counts: { readonly accepted: number; readonly refused: number };
  close(): void;
}

/**
 * Hot reload, as nginx's `-s reload`: the new config is validated and compiled first; a bad
 * one is refused with its problems logged and the old one keeps serving; a good one serves
 * new requests while requests in flight finish on the chains they started with.
 *
 * The directory is watched, not the file, because editors and config-management tools often
 * replace a file (write a temporary, rename over), which ends a watch on the old inode. The
 * files of the config's filter modules are watched too: editing a filter reloads it.
 */
export function startReloader(opts: ReloaderOptions): Reloader {
  const file = resolve(opts.file);
  const counts = { accepted: 0, refused: 0 };
  let running: Promise<boolean> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let afterSwap: (() => void) | undefined;

  const once = async (reason: string): Promise<boolean> => {
    let result: LoadResult;
    try {
      result = await opts.load(file);
    } catch (err) {
      result = { ok: false, errors: [{ path: '', message: err instanceof Error ? err.message : String(err) }] };
    }
    if (!result.ok) {
      counts.refused++;
      opts.log.error(
        { file, reason, problems: result.errors.length },
        `config reload refused, the previous config keeps serving:\n${opts.format ? opts.format(result.errors) : result.errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`,
      );
      return false;
    }
    opts.live.swap(result.config);
    afterSwap?.();
    counts.accepted++;
    opts.log.info({ file, reason, generation: opts.live.generation, locations: result.config.locations.length }, 'config reloaded');
    return true;
  };

  const reload = (reason: string): Promise<boolean> => {
    // One reload at a time; a change during a reload triggers one more afterwards.
    if (running) {
      again = true;
      return running;
    }
    running = once(reason).finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void reload(reason);
      }
    });
    return running;
  };

  // The config file and the files of its filter modules (each module and what it imports by
  // relative path), by their directories: a change to any of them reloads the whole config,
  // which loads the modules fresh. The set follows the config that serves; a refused reload
  // keeps watching the files of the one that serves, which are the ones being edited.
  const watchers = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  const watchFiles = (files: readonly string[]): void => {
    const wanted = new Map<string, Set<string>>();
    for (const f of files) {
      const names = wanted.get(dirname(f)) ?? new Set<string>();
      names.add(basename(f));
      wanted.set(dirname(f), names);
    }
    for (const [dir, w] of watchers) {
      if (wanted.has(dir)) continue;
      w.watcher.close();
      watchers.delete(dir);
    }
    for (const [dir, names] of wanted) {
      const existing = watchers.get(dir);
      if (existing) {
        existing.names = names;
        continue;
      }
      try {
        const watcher = watch(dir, { persistent: false }, (_event, changed) => {
          const name = changed?.toString();
          if (name !== undefined && !watchers.get(dir)?.names.has(name)) return;
          clearTimeout(timer);
          const what = name === undefined || join(dir, name) === file ? 'file changed' : `module changed: ${join(dir, name)}`;
          timer = setTimeout(() => void reload(what), opts.debounceMs ?? 150);
          timer.unref();
        });
        watcher.on('error', (err) => opts.log.error({ file, dir, err: err.message }, 'config watch failed; SIGHUP still reloads'));
        watchers.set(dir, { watcher, names });
      } catch (err) {
        opts.log.error({ file, dir, err: err instanceof Error ? err.message : String(err) }, 'cannot watch a directory; SIGHUP still reloads');
      }
    }
  };
  const watched = (): string[] => [file, ...(opts.live.current.config.modules ?? []).flatMap((m) => m.files ?? [m.file])];
  if (opts.watch !== false) {
    watchFiles(watched());
    afterSwap = () => watchFiles(watched());
  }

  return {
    reload,
    counts,
    close() {
      clearTimeout(timer);
      afterSwap = undefined;
      for (const w of watchers.values()) w.watcher.close();
      watchers.clear();
    },
  };
}

import { Duplex, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { FilterDefinitionError } from '../../errors.js';
import type { CompiledChain, MessageInit } from '../../pipeline/compile.js';
import type { ChainRun } from '../../pipeline/run.js';
import type { Direction, Emitter, FilterContext, FilterDefinition, FilterInstance, StageName } from '../types.js';

export interface FromNodeTransformInput<O> {
  name: string;
  description?: string;
  directions?: readonly Direction[];
  stage?: StageName | number;
  preservesLength?: boolean;
  /** Makes a fresh Transform per message (e.g. `() => zlib.createGzip()`). */
  transform: (ctx: FilterContext<O>) => Transform;
}

type Flushable = Transform & { flush(kind: number, cb: () => void): void };

/**
 * Wrap a Node Transform factory as a filter. Writes respect the transform's own backpressure;
 * its output is pushed on as it comes (pausing it while the chain is busy). A flush mark on a
 * zlib or brotli stream becomes a sync flush (Z_SYNC_FLUSH / BROTLI_OPERATION_FLUSH), so
 * `fromNodeTransform({ transform: () => zlib.createGzip() })` keeps SSE live.
 */
export function fromNodeTransform<O = Record<string, never>>(input: FromNodeTransformInput<O>): FilterDefinition<O> {
  if (typeof input.transform !== 'function') throw new FilterDefinitionError(input.name, 'transform must be a function');
  return {
    name: input.name,
    description: input.description ?? 'A Node Transform wrapped as a filter.',
    directions: input.directions ?? ['input', 'output'],
    stage: input.stage ?? 'content',
    ...(input.preservesLength !== undefined && { preservesLength: input.preservesLength }),
    create: (ctx) => transformInstance(input.transform(ctx), ctx.out),
  };
}

/**
 * Drive one Node Transform as a filter instance: writes honour its backpressure, its output
 * is pushed to `out` as it comes, a flush mark waits for pending writes (and sync-flushes
 * zlib/brotli). Built-in filters that wrap node:zlib use it directly.
 */
export function transformInstance(t: Transform, out: Emitter): FilterInstance {
  let failed: Error | null = null;
  // Writes the transform has not finished yet: a flush mark waits for them, so output of
  // an asynchronous transform never falls behind a mark that came after its input.
  let pendingWrites = 0;
  let writesDone: Array<() => void> = [];
  const wrote = (): void => {
    if (--pendingWrites > 0) return;
    const w = writesDone;
    writesDone = [];
    for (const resolve of w) resolve();
  };
  const ended = new Promise<void>((resolve, reject) => {
    t.once('end', resolve);
    t.once('error', reject);
  });
  ended.catch(() => undefined);
  t.on('data', (chunk: Buffer | string) => {
    const r = out.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (r) {
      t.pause();
      r.then(
        () => t.resume(),
        () => undefined,
      );
    }
  });
  t.on('error', (err) => {
    failed = err;
    out.error(err);
  });
  /** Resolve once everything the transform has produced so far was pushed on. */
  const drained = (): Promise<void> | undefined => {
    if (t.readableLength === 0 && !t.isPaused()) return undefined;
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (t.readableLength === 0 && !t.isPaused()) resolve();
        else setImmediate(check);
      };
      setImmediate(check);
    });
  };
  return {
    onData(chunk) {
      if (failed) throw failed;
      pendingWrites++;
      if (t.write(chunk, wrote)) return undefined;
      return new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          t.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          t.off('drain', onDrain);
          reject(err);
        };
        t.once('drain', onDrain);
        t.once('error', onError);
      });
    },
    onFlush() {
      const flushKind = flushKindOf(t);
      if (flushKind === undefined) {
        if (pendingWrites === 0) return drained();
        return new Promise<void>((resolve) => writesDone.push(resolve)).then(drained);
      }
      return new Promise<void>((resolve) => (t as Flushable).flush(flushKind, () => resolve())).then(drained);
    },
    onEnd() {
      t.end();
      return ended;
    },
    onAbort(reason) {
      t.destroy(reason);
    },
  };
}

function flushKindOf(t: Transform): number | undefined {
  if (t instanceof zlib.BrotliCompress || t instanceof zlib.BrotliDecompress) {
    return zlib.constants.BROTLI_OPERATION_FLUSH;
  }
  if (typeof (t as Partial<Flushable>).flush === 'function' && 'params' in t) return zlib.constants.Z_SYNC_FLUSH;
  return undefined;
}

export interface ChainDuplexOptions {
  /** The message head the chain sees; default: a GET 200 (output) or a GET request (input). */
  init?: MessageInit;
  /** Called with the run once the head is committed. */
  onHead?: (run: ChainRun) => void;
}

/**
 * A compiled chain as a Node Duplex (use it like a Transform in `pipeline()`): bytes written
 * go through the fused filters, and the readable side honours its consumer's pace.
 */
export function chainToDuplex(chain: CompiledChain, opts: ChainDuplexOptions = {}): Duplex {
  let wake: (() => void) | null = null;
  let started: Promise<void> | null = null;
  const duplex: Duplex = new Duplex({
    read() {
      const w = wake;
      wake = null;
      w?.();
    },
    write(chunk: Buffer, _enc, cb) {
      const go = (): void => {
        const r = run.write(chunk);
        if (r) r.then(() => cb(), cb);
        else cb();
      };
      if (started) started.then(go, cb);
      else go();
    },
    final(cb) {
      const go = (): void => {
        const r = run.end();
        if (r) r.then(() => cb(), cb);
        else cb();
      };
      if (started) started.then(go, cb);
      else go();
    },
    destroy(err, cb) {
      run.abort(err ?? new Error('the duplex was destroyed'));
      cb(err);
    },
  });
  const run = chain.run(opts.init ?? {}, {
    // at the end of the header phase, or later when a filter holds the head open (buffer)
    head: () => opts.onHead?.(run),
    write(chunk) {
      if (duplex.push(chunk)) return undefined;
      return new Promise<void>((resolve) => (wake = resolve));
    },
    end() {
      duplex.push(null);
    },
    abort(reason) {
      if (!duplex.destroyed) duplex.destroy(reason);
    },
  });
  const r = run.start();
  if (r) {
    started = r;
    started.catch(() => undefined);
  }
  return duplex;
}

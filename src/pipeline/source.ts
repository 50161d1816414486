import { Readable } from 'node:stream';
import { FLUSH, type Flush, type Step } from '../filters/types.js';
import type { ChainRun } from './run.js';

/**
 * What a chain can read from. Flush marks travel as the FLUSH symbol inside web streams and
 * iterables; a Node byte stream cannot carry them, so for it the pump can insert one whenever
 * the source has nothing more to give right now (`flush: 'idle'`, as mod_proxy_http does).
 */
export type ChainSource =
  | Readable
  | ReadableStream<Uint8Array | Flush>
  | AsyncIterable<Uint8Array | Flush>
  | Iterable<Uint8Array | Flush>
  | Uint8Array
  | string;

export interface PumpOptions {
  /**
   * 'idle' inserts a flush mark each time a Node Readable source runs dry for now (checked
   * once the event loop has delivered everything that was ready), so streams such as SSE stay
   * live through buffering filters. Default: no inserted flushes.
   */
  flush?: 'idle' | 'none';
  /** Aborting it aborts the run and destroys the source. */
  signal?: AbortSignal;
  /**
   * On a chain failure, drain a Node source instead of destroying it: for a server's own
   * request stream, whose socket must live to carry the error response (a 413).
   */
  drainOnFailure?: boolean;
}

/**
 * Move a source through a started run (header phase done) to its sink: end on end of source,
 * abort the run on a source error, destroy the source on a chain error. Resolves when the
 * sink has ended; rejects with the chain's error.
 */
export function pump(run: ChainRun, source: ChainSource, opts: PumpOptions = {}): Promise<void> {
  const { signal } = opts;
  if (signal) {
    if (signal.aborted) run.abort(signal.reason);
    else {
      const onAbort = (): void => run.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      run.done.then(
        () => signal.removeEventListener('abort', onAbort),
        () => signal.removeEventListener('abort', onAbort),
      );
    }
  }
  if (typeof source === 'string') source = Buffer.from(source);
  if (source instanceof Uint8Array) {
    return settle(run, chainSteps(run.write(source), () => run.end()));
  }
  if (source instanceof Readable) return pumpNode(run, source, opts.flush === 'idle', opts.drainOnFailure ?? false);
  if (isWebReadable(source)) return pumpWeb(run, source);
  if (isAsyncIterable(source)) return pumpIterable(run, source[Symbol.asyncIterator]());
  return pumpSyncIterable(run, source);
}

function settle(run: ChainRun, step: Step): Promise<void> {
  if (step) step.catch(() => undefined);
  return run.done;
}

function chainSteps(first: Step, next: () => Step): Step {
  return first ? first.then(next) : next();
}

function pumpNode(run: ChainRun, src: Readable, flushWhenIdle: boolean, drainOnFailure: boolean): Promise<void> {
  let idleScheduled = false;
  let waiting = false;
  const onIdle = (): void => {
    idleScheduled = false;
    if (waiting || run.finished || src.readableEnded) return;
    const r = run.flush();
    if (r) wait(r);
  };
  const wait = (r: Promise<void>): void => {
    waiting = true;
    src.pause();
    r.then(
      () => {
        waiting = false;
        if (!run.finished) src.resume();
      },
      () => undefined,
    );
  };
  const onData = (chunk: Buffer | string): void => {
    const r = run.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (r) wait(r);
    if (flushWhenIdle && !idleScheduled) {
      idleScheduled = true;
      setImmediate(onIdle);
    }
  };
  const onEnd = (): void => {
    cleanup();
    const r = run.end();
    if (r) r.catch(() => undefined);
  };
  const onError = (err: Error): void => {
    cleanup();
    run.abort(err);
  };
  const onClose = (): void => {
    // closed without 'end': the source was destroyed (e.g. upstream reset mid-body)
    if (!src.readableEnded) onError(new Error('source closed before its end'));
  };
  const cleanup = (): void => {
    src.off('data', onData);
    src.off('end', onEnd);
    src.off('error', onError);
    src.off('close', onClose);
  };
  src.on('data', onData);
  src.on('end', onEnd);
  src.on('error', onError);
  src.on('close', onClose);
  run.done.then(undefined, () => {
    cleanup();
    if (drainOnFailure) {
      src.on('error', () => undefined);
      src.resume();
      return;
    }
    // destroyed without an error: nobody may be listening for 'error' on the source any more
    if (!src.destroyed) src.destroy();
  });
  return run.done;
}

async function pumpWeb(run: ChainRun, src: ReadableStream<Uint8Array | Flush>): Promise<void> {
  const reader = src.getReader();
  run.done.then(undefined, (err: unknown) => {
    reader.cancel(err).catch(() => undefined);
  });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const r = value === FLUSH ? run.flush() : run.write(value);
      if (r) await r;
    }
    const r = run.end();
    if (r) await r;
  } catch (err) {
    run.abort(err);
  } finally {
    reader.releaseLock();
  }
  return run.done;
}

async function pumpIterable(run: ChainRun, it: AsyncIterator<Uint8Array | Flush>): Promise<void> {
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await it.next();
      if (done) {
        finished = true;
        break;
      }
      if (run.failed) break;
      const r = value === FLUSH ? run.flush() : run.write(value);
      if (r) await r;
    }
    const r = run.end();
    if (r) await r;
  } catch (err) {
    run.abort(err);
  } finally {
    if (!finished) await it.return?.().catch?.(() => undefined);
  }
  return run.done;
}

async function pumpSyncIterable(run: ChainRun, src: Iterable<Uint8Array | Flush>): Promise<void> {
  try {
    for (const value of src) {
      const r = value === FLUSH ? run.flush() : run.write(value);
      if (r) await r;
    }
    const r = run.end();
    if (r) await r;
  } catch (err) {
    run.abort(err);
  }
  return run.done;
}

function isWebReadable(x: unknown): x is ReadableStream<Uint8Array | Flush> {
  return typeof x === 'object' && x !== null && typeof (x as ReadableStream).getReader === 'function';
}

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array | Flush> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

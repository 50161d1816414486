import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ChainRun } from '../pipeline/run.js';

export interface UpstreamHead {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
}

/**
 * One request to an upstream server through undici's dispatch API, its response body fed
 * straight into the output chain. `Pool#request()` wraps every response body in a Readable
 * (listeners, a promise, buffering, 'end' and 'close' events) only for the proxy to read it
 * back out: dispatching directly took about half the CPU per proxied 64 KiB response
 * (175-230 µs against 300-560 µs, from /proc counters in alternating rounds of the same
 * load) and under half the system time, most of the difference being garbage collection.
 *
 * Backpressure is undici's own: a chain that is busy pauses the parser (the socket is then
 * not read) until it is ready again. Body chunks that arrive before the chain is attached
 * (its header phase may be asynchronous) are held, the parser paused after the first.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  /** Settles with the response head, or rejects with what prevented one (refused, 504...). */
  readonly head: Promise<UpstreamHead>;
  #resolveHead!: (h: UpstreamHead) => void;
  #rejectHead!: (err: Error) => void;
  #controller: Dispatcher.DispatchController | null = null;
  /** An abort asked for before undici handed over its controller. */
  #abortReason: Error | null = null;
  #headSeen = false;
  #run: ChainRun | null = null;
  #early: Buffer[] | null = null;
  #ended = false;
  #failed: Error | null = null;
  #idleScheduled = false;
  /** Paused for the chain (or until one is attached), as opposed to not at all. */
  #waiting = false;

  constructor() {
    this.head = new Promise<UpstreamHead>((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
    // A head nobody awaits any more (the client left first) must not become an unhandled rejection.
    this.head.catch(() => undefined);
  }

  /** Stop the exchange: the upstream request is aborted and its socket released. */
  abort(reason: unknown): void {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    if (this.#controller) this.#controller.abort(err);
    else this.#abortReason ??= err;
  }

  /**
   * Feed the response body into `run` (after its header phase): each chunk is written as it
   * comes, a flush mark follows whenever the upstream goes quiet (so a stream stays live), and
   * the end of the body ends the run. Settles as the run does; a failed run aborts the exchange.
   */
  feed(run: ChainRun): Promise<void> {
    this.#run = run;
    run.done.then(undefined, (err: unknown) => this.abort(err));
    const early = this.#early;
    this.#early = null;
    // The pause for want of a chain ends here; a write below may pause again for a busy one.
    const pausedEarly = this.#waiting;
    this.#waiting = false;
    if (early) for (const chunk of early) this.#write(chunk);
    if (this.#failed) run.abort(this.#failed);
    else if (this.#ended) this.#end();
    else if (pausedEarly && !this.#waiting && !run.finished) this.#controller?.resume();
    return run.done;
  }

  // ---- undici's side ------------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // An interim head (103 Early Hints) is not the response, as request() treats it.
    if (statusCode < 200) return;
    this.#controller = controller;
    this.#headSeen = true;
    this.#resolveHead({ statusCode, headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#run === null) {
      (this.#early ??= []).push(chunk);
      this.#pause();
      return;
    }
    this.#write(chunk);
  }

  onResponseEnd(): void {
    this.#ended = true;
    if (this.#run !== null) this.#end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.#headSeen) {
      this.#rejectHead(err);
      return;
    }
    this.#failed = err;
    if (this.#run !== null) this.#run.abort(err);
  }

  // ---- into the chain -----------------------------------------------------------------------

  #write(chunk: Buffer): void {
    const run = this.#run!;
    const r = run.write(chunk);
    if (r) this.#wait(r);
    if (!this.#idleScheduled) {
      this.#idleScheduled = true;
      setImmediate(this.#onIdle);
    }
  }

  readonly #onIdle = (): void => {
    this.#idleScheduled = false;
    const run = this.#run!;
    if (this.#waiting || this.#ended || run.finished) return;
    const r = run.flush();
    if (r) this.#wait(r);
  };

  #end(): void {
    const r = this.#run!.end();
    if (r) r.catch(() => undefined);
  }

  #pause(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.#controller?.pause();
  }

  #go(): void {
    this.#waiting = false;
    this.#controller?.resume();
  }

  #wait(ready: Promise<void>): void {
    this.#pause();
    ready.then(
      () => {
        if (!this.#run!.finished) this.#go();
      },
      () => undefined,
    );
  }
}

import { FilterDefinitionError } from '../../errors.js';
import { pump } from '../../pipeline/source.js';
import type { CompiledChain, MessageInit } from '../../pipeline/compile.js';
import type { ChainRun } from '../../pipeline/run.js';
import { HeaderMap } from '../headers.js';
import { FLUSH, type Direction, type FilterContext, type FilterDefinition, type Flush, type StageName } from '../types.js';
import { webStreams, type WebStreams } from './web-streams.js';

const encoder = new TextEncoder();

export interface FromTransformStreamInput<O> {
  name: string;
  description?: string;
  directions?: readonly Direction[];
  stage?: StageName | number;
  preservesLength?: boolean;
  /** Makes a fresh TransformStream per message (e.g. `() => new CompressionStream('gzip')`). */
  transform: (ctx: FilterContext<O>) => TransformStream<Uint8Array, Uint8Array | string>;
}

/**
 * Wrap a WHATWG TransformStream factory as a filter. Its output is read in the background and
 * pushed on (awaiting the chain's readiness, so backpressure holds). A TransformStream has no
 * flush signal: on a flush mark this filter waits until its writes were accepted and passes
 * the mark on, so output the stream produces later follows the mark (CompressionStream holds
 * data until end; use a native filter where a flush must produce bytes).
 */
export function fromTransformStream<O = Record<string, never>>(input: FromTransformStreamInput<O>): FilterDefinition<O> {
  if (typeof input.transform !== 'function') throw new FilterDefinitionError(input.name, 'transform must be a function');
  return {
    name: input.name,
    description: input.description ?? 'A WHATWG TransformStream wrapped as a filter.',
    directions: input.directions ?? ['input', 'output'],
    stage: input.stage ?? 'content',
    ...(input.preservesLength !== undefined && { preservesLength: input.preservesLength }),
    create(ctx) {
      const ts = input.transform(ctx);
      const writer = ts.writable.getWriter();
      const reader = ts.readable.getReader();
      let reading: Promise<void> | null = null;
      const readAll = async (): Promise<void> => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          const chunk = typeof value === 'string' ? encoder.encode(value) : value;
          const r = ctx.out.push(chunk);
          if (r) await r;
        }
      };
      const startReading = (): void => {
        reading ??= readAll().catch((err: unknown) => ctx.out.error(err));
      };
      return {
        async onData(chunk) {
          startReading();
          await writer.ready;
          writer.write(chunk).catch(() => undefined); // failures surface through ready/close
        },
        async onFlush() {
          startReading();
          await writer.ready;
        },
        async onEnd() {
          startReading();
          await writer.close();
          await reading;
        },
        onAbort(reason) {
          writer.abort(reason).catch(() => undefined);
          reader.cancel(reason).catch(() => undefined);
        },
      };
    },
  };
}

export interface ChainStreamOptions {
  /** The message head (request, status, headers) the chain sees; default: a GET 200. */
  init?: MessageInit;
  /** Streams implementation; default native, else the polyfill. */
  streams?: WebStreams;
  /** Let flush marks through to the readable side as the FLUSH symbol (default: dropped). */
  emitFlush?: boolean;
  /** Called with the run once the head is committed (to read the final headers). */
  onHead?: (run: ChainRun) => void;
}

/**
 * A compiled chain as one TransformStream: one stream boundary in, one out, the filters fused
 * between. FLUSH symbols written to it become flush marks.
 */
export function chainToTransformStream(
  chain: CompiledChain,
  opts: ChainStreamOptions = {},
): TransformStream<Uint8Array | Flush, Uint8Array | Flush> {
  const { TransformStream: TS } = opts.streams ?? webStreams;
  let run!: ChainRun;
  let cancelled = false;
  // `cancel` (readable side cancelled or writable side aborted) is in the WHATWG spec, Node and
  // web-streams-polyfill 4, but not yet in TypeScript's Transformer type.
  const transformer: Transformer<Uint8Array | Flush, Uint8Array | Flush> & { cancel(reason: unknown): void } = {
    start(controller) {
      run = chain.run(opts.init ?? {}, {
        // at the end of the header phase, or later when a filter holds the head open (buffer)
        head: () => opts.onHead?.(run),
        write: (chunk) => controller.enqueue(chunk),
        flush: opts.emitFlush ? () => controller.enqueue(FLUSH) : undefined,
        end: () => undefined,
        abort: (reason) => {
          if (!cancelled) controller.error(reason); // on cancel the stream is already going down
        },
      });
      return run.start();
    },
    transform(chunk) {
      return chunk === FLUSH ? run.flush() : run.write(chunk);
    },
    flush() {
      return run.end();
    },
    cancel(reason) {
      cancelled = true;
      // the consumer went away or the producer failed: abort the run so filters release resources
      run.abort(reason);
    },
  };
  return new TS<Uint8Array | Flush, Uint8Array | Flush>(transformer);
}

/** Statuses whose responses have no body (fetch's Response refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Run a fetch Response through an output chain: the head goes through the header phase
 * (Content-Length dropped when the body changes), the body through the fused filters.
 */
export async function chainOverResponse(
  chain: CompiledChain,
  response: Response,
  opts: { request?: MessageInit['request']; streams?: WebStreams } = {},
): Promise<Response> {
  const { ReadableStream: RS } = opts.streams ?? webStreams;
  const headers = new HeaderMap(response.headers);
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let pullWaiter: (() => void) | null = null;
  const body = new RS<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        const w = pullWaiter;
        pullWaiter = null;
        w?.();
      },
      cancel(reason) {
        run.abort(reason);
      },
    },
    { highWaterMark: 1 },
  );
  let committed!: () => void;
  const headReady = new Promise<void>((resolve) => (committed = resolve));
  const run = chain.run(
    { ...(opts.request && { request: opts.request }), status: response.status, headers },
    {
      head: () => committed(),
      write(chunk) {
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 1) > 0) return undefined;
        return new Promise<void>((resolve) => (pullWaiter = resolve));
      },
      end: () => controller.close(),
      abort: (reason) => controller.error(reason),
    },
  );
  await run.start();
  const status = run.head.status;
  if (NULL_BODY.has(status) || response.body === null) {
    const outHeaders = run.head.headers.toWeb();
    if (response.body) await response.body.cancel().catch(() => undefined);
    run.abort(new Error(`status ${status} has no body`));
    return new Response(null, { status, statusText: status === response.status ? response.statusText : '', headers: outHeaders });
  }
  void pump(run, response.body as ReadableStream<Uint8Array>).catch(() => undefined);
  // a filter holding the head open (buffer) commits it with its first output: wait for it
  if (!run.head.committed) await Promise.race([headReady, run.done]);
  const outHeaders = run.head.headers.toWeb();
  return new Response(body as ReadableStream<Uint8Array>, { status, statusText: status === response.status ? response.statusText : '', headers: outHeaders });
}

/**
 * The fused chain against the plumbing it replaces: a bare pass-through over the same source
 * and sink, native WHATWG TransformStreams one per filter, and the mod_python-style adapter
 * against a native filter. Figure names, baselines and goals: bench/README.md.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CompiledChain, Flush } from '../src/index.js';
import { runComparison } from './lib/compare.js';
import { KiB, MiB, bytesOf, message, sizeLabel } from './lib/data.js';
import type { BenchGroup, GroupContext } from './lib/group.js';
import { median, relativeSpread } from './lib/stats.js';
import type { Sluice } from './lib/target.js';
import { interleave } from './lib/timing.js';

/** Symbol.for('sluice.flush'): the same in the build and the sources. */
const FLUSH: Flush = Symbol.for('sluice.flush') as Flush;

// ---- chains, compiled once (as at config load) -------------------------------------------

function chains(s: Sluice): { identity10: CompiledChain; identity1: CompiledChain; modPython1: CompiledChain } {
  const modPythonIdentity = s.modPythonFilter({
    name: 'mp_identity',
    stage: 'content',
    preservesLength: true,
    handler: async (f) => {
      for (let c: Uint8Array | null; (c = await f.read()) !== null; ) await f.write(c);
      f.close();
    },
  });
  return {
    identity10: s.compileChain(Array.from({ length: 10 }, () => 'identity')),
    identity1: s.compileChain(['identity']),
    modPython1: s.compileChain([modPythonIdentity]),
  };
}

// ---- in-memory boundary: an array of chunks, pump() in, countingSink() out ------------------

/** One message through a chain: run, header phase, pump the array, wait for the sink's end. */
async function throughChain(s: Sluice, chain: CompiledChain, chunks: readonly Uint8Array[]): Promise<number> {
  const sink = s.countingSink();
  const run = chain.run({}, sink);
  const h = run.start();
  if (h) await h;
  await s.pump(run, chunks);
  return sink.bytes;
}

/** The bare pass-through: the same loop pump() runs over an iterable, straight into the same sink. */
async function passThrough(s: Sluice, chunks: readonly Uint8Array[]): Promise<number> {
  const sink = s.countingSink();
  for (const c of chunks) {
    const r = sink.write(c);
    if (r) await r;
  }
  const r = sink.end();
  if (r) await r;
  return sink.bytes;
}

// ---- Node boundary: a Readable over the array in, a counting Writable out ------------------

class ArraySource extends Readable {
  readonly #chunks: readonly Uint8Array[];
  #i = 0;
  constructor(chunks: readonly Uint8Array[]) {
    super();
    this.#chunks = chunks;
  }
  override _read(): void {
    const chunks = this.#chunks;
    for (;;) {
      if (this.#i >= chunks.length) {
        this.push(null);
        return;
      }
      if (!this.push(chunks[this.#i++])) return;
    }
  }
}

function countingWritable(): Writable & { bytes: number } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      w.bytes += chunk.length;
      cb();
    },
  }) as Writable & { bytes: number };
  w.bytes = 0;
  return w;
}

async function nodeThroughChain(s: Sluice, chain: CompiledChain, chunks: readonly Uint8Array[]): Promise<number> {
  const dst = countingWritable();
  const run = chain.run({}, s.nodeSink(dst));
  const h = run.start();
  if (h) await h;
  await s.pump(run, new ArraySource(chunks));
  return dst.bytes;
}

async function nodePipe(chunks: readonly Uint8Array[]): Promise<number> {
  const dst = countingWritable();
  await pipeline(new ArraySource(chunks), dst);
  return dst.bytes;
}

// ---- socket boundary: a loopback TCP connection in, a counting Writable out --------------------

/**
 * A server on 127.0.0.1 that answers every connection with the message, written chunk by chunk
 * with backpressure. Both ends run in this process, so the figure includes the kernel copies
 * and the event-loop work of a real socket on both sides. Reads arrive in whatever sizes the
 * kernel hands over (often coalesced), the same for both sides of the comparison.
 */
async function messageServer(chunks: readonly Uint8Array[]): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((sock: Socket) => {
    void (async () => {
      for (const c of chunks) {
        if (!sock.write(c)) await once(sock, 'drain');
      }
      sock.end();
    })().catch(() => sock.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function fetchFrom(port: number): Socket {
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  return sock;
}

async function tcpThroughChain(s: Sluice, chain: CompiledChain, port: number): Promise<number> {
  const dst = countingWritable();
  const run = chain.run({}, s.nodeSink(dst));
  const h = run.start();
  if (h) await h;
  await s.pump(run, fetchFrom(port));
  return dst.bytes;
}

async function tcpPipe(port: number): Promise<number> {
  const dst = countingWritable();
  await pipeline(fetchFrom(port), dst);
  return dst.bytes;
}

// ---- web boundary: a ReadableStream over the array, piped, into a counting WritableStream ---

function webSource(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

function webCounter(): { ws: WritableStream<Uint8Array | Flush>; bytes(): number } {
  let bytes = 0;
  const ws = new WritableStream<Uint8Array | Flush>({
    write(chunk) {
      if (chunk !== FLUSH) bytes += chunk.length;
    },
  });
  return { ws, bytes: () => bytes };
}

function identityTransform(): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      controller.enqueue(chunk);
    },
  });
}

async function webStreams10(chunks: readonly Uint8Array[]): Promise<number> {
  let rs = webSource(chunks);
  for (let k = 0; k < 10; k++) rs = rs.pipeThrough(identityTransform());
  const sink = webCounter();
  await rs.pipeTo(sink.ws);
  return sink.bytes();
}

async function webThroughChain(s: Sluice, chain: CompiledChain, chunks: readonly Uint8Array[]): Promise<number> {
  const sink = webCounter();
  await webSource(chunks).pipeThrough(s.chainToTransformStream(chain)).pipeTo(sink.ws);
  return sink.bytes();
}

// ---- the figures --------------------------------------------------------------------------

/**
 * Body sizes per message: enough chunks that per-message costs vanish in the per-byte figure.
 * Quick mode takes an eighth (still 512 and 2048 chunks): one message through ten web
 * streams or a loopback socket otherwise outlasts a quick repetition several times over.
 */
const BODIES: Record<'quick' | 'full', Record<number, number>> = {
  full: { [16 * KiB]: 64 * MiB, [KiB]: 16 * MiB },
  quick: { [16 * KiB]: 8 * MiB, [KiB]: 2 * MiB },
};

async function run(ctx: GroupContext): Promise<void> {
  const s = ctx.sluice;
  const BODY = BODIES[ctx.mode];
  const { identity10, identity1, modPython1 } = chains(s);
  for (const size of [16 * KiB, KiB]) {
    const chunks = message(size, BODY[size]!);
    const l = sizeLabel(size);
    await runComparison(ctx, {
      title: `10 identity filters vs a bare loop, in memory, ${l} chunks (overhead gauge)`,
      baseline: { figure: `baseline.loop_${l}_mbps`, op: () => passThrough(s, chunks) },
      contenders: [
        {
          figure: `chain.identity10_mem_${l}_mbps`,
          ratioFigure: `chain.identity10_mem_vs_loop_${l}`,
          op: () => throughChain(s, identity10, chunks),
        },
      ],
    });
  }

  for (const size of [16 * KiB, KiB]) {
    const chunks = message(size, BODY[size]!);
    const l = sizeLabel(size);
    await runComparison(ctx, {
      title: `10 identity filters vs stream.pipeline, Node Readable → Writable, ${l} chunks`,
      baseline: { figure: `baseline.node_pipe_${l}_mbps`, op: () => nodePipe(chunks) },
      contenders: [
        {
          figure: `chain.identity10_node_${l}_mbps`,
          ratioFigure: `chain.identity10_node_vs_pipe_${l}`,
          op: () => nodeThroughChain(s, identity10, chunks),
        },
      ],
    });
  }

  for (const size of [16 * KiB, KiB]) {
    const l = sizeLabel(size);
    const names = [`baseline.tcp_pipe_${l}_mbps`, `chain.identity10_tcp_${l}_mbps`, `chain.identity10_vs_passthrough_${l}`];
    if (!ctx.wants(names)) continue;
    const server = await messageServer(message(size, BODY[size]!));
    try {
      await runComparison(ctx, {
        title: `10 identity filters vs bare pass-through (stream.pipeline), loopback TCP socket → Writable, written in ${l} chunks`,
        baseline: { figure: names[0]!, op: () => tcpPipe(server.port) },
        contenders: [
          {
            figure: names[1]!,
            ratioFigure: names[2]!,
            ...(size === 16 * KiB && { goal: { min: 0.9 } }),
            op: () => tcpThroughChain(s, identity10, server.port),
          },
        ],
      });
    } finally {
      await server.close();
    }
  }

  {
    const chunks = message(KiB, BODY[KiB]!);
    await runComparison(ctx, {
      title: '10 identity filters fused vs 10 piped native TransformStreams, 1k chunks',
      baseline: { figure: 'baseline.webstreams10_1k_mbps', op: () => webStreams10(chunks) },
      contenders: [
        {
          figure: 'chain.fused10_1k_mbps',
          ratioFigure: 'chain.fused_vs_webstreams10_1k',
          goal: { min: 20 },
          op: () => throughChain(s, identity10, chunks),
        },
        {
          figure: 'chain.fused10_webboundary_1k_mbps',
          ratioFigure: 'chain.fused_webboundary_vs_webstreams10_1k',
          op: () => webThroughChain(s, identity10, chunks),
        },
      ],
    });
  }

  {
    const chunks = message(16 * KiB, BODY[16 * KiB]!);
    await runComparison(ctx, {
      title: 'mod_python-style identity vs native identity, one filter, 16k chunks',
      baseline: { figure: 'chain.identity1_16k_mbps', op: () => throughChain(s, identity1, chunks) },
      contenders: [
        {
          figure: 'chain.modpython1_16k_mbps',
          ratioFigure: 'chain.modpython_vs_native_16k',
          op: () => throughChain(s, modPython1, chunks),
        },
      ],
    });
  }

  if (ctx.wants(['chain.identity10_message_1k_us'])) {
    // Per-message cost: a 1 KB body in one chunk through the 10-filter chain (run, header
    // phase, write, end), as a proxy pays it per small response.
    ctx.log('  per message: 10 identity filters, one 1k chunk');
    const chunks = message(KiB, KiB);
    if (bytesOf(chunks) !== KiB) throw new Error('message size');
    const samples = await interleave([{ id: 'message', op: () => throughChain(s, identity10, chunks) }], ctx.settings, ctx.log);
    const us = samples.get('message')!.nsPerOp.map((ns) => ns / 1000);
    ctx.figures.add('chain.identity10_message_1k_us', { value: median(us), unit: 'us', baseline: null, ratio: null }, { spread: relativeSpread(us), samples: us.length });
  }
}

export const chainGroup: BenchGroup = {
  name: 'chain',
  description: 'the fused chain runtime against bare pass-through, web streams and the mod_python adapter',
  run,
};

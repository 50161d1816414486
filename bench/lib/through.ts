import type { CompiledChain, MessageInit } from '../../src/index.js';
import type { Sluice } from './target.js';

/** A body cut into chunks of `size` bytes (views, no copies). */
export function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** One message through a chain into a counting sink; returns `count` (the payload size measured). */
export async function through(s: Sluice, chain: CompiledChain, chunks: readonly Uint8Array[], init: MessageInit, count: number): Promise<number> {
  const sink = s.countingSink();
  const run = chain.run(init, sink);
  const h = run.start();
  if (h) await h;
  await s.pump(run, chunks);
  if (sink.bytes === 0) throw new Error('no output');
  return count;
}

import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { compileChain, processChain, collectSink, pump, FLUSH } from '../../src/index.js';
import { asyncIdentity, holder, withFlushes } from '../helpers.js';

/** Render sink events as text with '|' for each flush mark. */
function render(events: ReadonlyArray<Uint8Array | typeof FLUSH>): string {
  return events.map((e) => (e === FLUSH ? '|' : Buffer.from(e).toString())).join('');
}

describe('flush marks', () => {
  it('travel through several filters, each emitting what it holds first', async () => {
    const chain = compileChain([holder, 'identity', { filter: holder, name: 'holder2' }, asyncIdentity]);
    const r = await processChain(chain, withFlushes('event: a\n\n|event: b\n\n|tail'));
    expect(render(r.events)).toBe('event: a\n\n|event: b\n\n|tail');
    expect(r.flushes).toBe(2);
  });

  it('without a flush, a holding filter emits at the end only', async () => {
    const r = await processChain(compileChain([holder]), withFlushes('ab'));
    expect(r.flushes).toBe(0);
    expect(r.text()).toBe('ab');
  });

  it("pump's flush: 'idle' inserts a mark whenever a Node source runs dry, so streams stay live", async () => {
    const sink = collectSink();
    const run = compileChain([holder]).run({}, sink);
    await run.start();
    const src = new Readable({ read() {} });
    const done = pump(run, src, { flush: 'idle' });
    src.push('data: 1\n\n');
    await new Promise((r) => setTimeout(r, 20));
    // the holder released the first event on the idle flush, before the source ended
    expect(render(sink.events)).toBe('data: 1\n\n|');
    src.push('data: 2\n\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(render(sink.events)).toBe('data: 1\n\n|data: 2\n\n|');
    src.push(null);
    await done;
    expect(sink.ended).toBe(true);
  });
});

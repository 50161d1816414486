import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import {
  compileChain,
  processChain,
  collectSink,
  pump,
  defineFilter,
  FilterError,
  SluiceError,
  ChainAbortedError,
  type FilterInstance,
} from '../../src/index.js';
import { asyncIdentity } from '../helpers.js';

const thrower = (where: keyof FilterInstance | 'create', mode: 'sync' | 'async' = 'sync') =>
  defineFilter({
    name: `throw-${where}-${mode}`,
    create: () => {
      if (where === 'create') throw new Error('boom in create');
      const fail = mode === 'sync' ? () => { throw new Error(`boom in ${where}`); } : async () => { throw new Error(`boom in ${where}`); };
      return { [where]: fail } as FilterInstance;
    },
  });

describe('errors', () => {
  for (const where of ['create', 'onHead', 'onData', 'onFlush', 'onEnd'] as const) {
    for (const mode of ['sync', 'async'] as const) {
      it(`a ${mode} failure in ${where} names the filter and the phase`, async () => {
        const aborted: string[] = [];
        const watcher = defineFilter({ name: 'watcher', create: () => ({ onAbort: (e) => void aborted.push(e.message) }) });
        const chain = compileChain(['identity', watcher, thrower(where, mode), asyncIdentity]);
        const err = await processChain(chain, [Buffer.from('a'), (await import('../../src/index.js')).FLUSH, Buffer.from('b')]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FilterError);
        const fe = err as FilterError;
        expect(fe.code).toBe('ERR_SLUICE_FILTER');
        expect(fe.filter).toBe(`throw-${where}-${mode}`);
        expect(fe.phase).toBe({ create: 'create', onHead: 'head', onData: 'data', onFlush: 'flush', onEnd: 'end' }[where]);
        expect(fe.message).toContain(`boom in ${where}`);
        expect((fe.cause as Error).message).toBe(`boom in ${where}`);
        // every instance made before the failure hears about it
        expect(aborted).toHaveLength(1);
      });
    }
  }

  it('keeps the status of a coded cause (e.g. 413 for a size limit)', async () => {
    const limit = defineFilter({
      name: 'limit',
      create: () => ({ onData: () => { throw new SluiceError('ERR_SLUICE_TOO_LARGE', 'too large', { status: 413 }); } }),
    });
    const err = (await processChain(compileChain([limit]), 'x').catch((e: unknown) => e)) as FilterError;
    expect(err.status).toBe(413);
    expect((err.cause as SluiceError).code).toBe('ERR_SLUICE_TOO_LARGE');
  });

  it('an out-of-band error (emitter.error) fails the chain with the filter name', async () => {
    const bg = defineFilter({
      name: 'background',
      create: (ctx) => {
        setTimeout(() => ctx.out.error(new Error('worker died')), 5);
        return { onData: () => new Promise<void>(() => {}) };
      },
    });
    const err = (await processChain(compileChain([bg]), 'x').catch((e: unknown) => e)) as FilterError;
    expect(err.filter).toBe('background');
    expect(err.message).toContain('worker died');
  });

  it('destroys a Node source and aborts the sink when a filter fails mid-body', async () => {
    let n = 0;
    const failing = defineFilter({ name: 'third', create: () => ({ onData: (c, out) => { if (++n === 3) throw new Error('third chunk'); out.push(c); } }) });
    const sink = collectSink();
    const run = compileChain([failing]).run({}, sink);
    await run.start();
    const src = new Readable({ read() { this.push(Buffer.alloc(1024)); } });
    const err = await pump(run, src).catch((e: unknown) => e);
    expect((err as FilterError).filter).toBe('third');
    await new Promise((r) => setImmediate(r));
    expect(src.destroyed).toBe(true);
    expect(sink.aborted).toBe(err);
    expect(sink.ended).toBe(false);
  });

  it('a source that errors aborts the run: filters and sink are told, nothing hangs', async () => {
    const aborted: Error[] = [];
    const watcher = defineFilter({ name: 'watcher', create: () => ({ onAbort: (e) => void aborted.push(e) }) });
    const sink = collectSink();
    const run = compileChain([watcher, asyncIdentity]).run({}, sink);
    await run.start();
    const src = new Readable({ read() {} });
    const p = pump(run, src);
    src.push('partial');
    setTimeout(() => src.destroy(new Error('upstream reset')), 5);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainAbortedError);
    expect((err as ChainAbortedError).code).toBe('ERR_SLUICE_ABORTED');
    expect(aborted).toHaveLength(1);
    expect(sink.aborted).toBe(err);
  });

  it('an abort signal aborts a running message', async () => {
    const ac = new AbortController();
    const sink = collectSink();
    const run = compileChain([asyncIdentity]).run({}, sink);
    await run.start();
    const src = new Readable({ read() {} });
    const p = pump(run, src, { signal: ac.signal });
    src.push('x');
    ac.abort(new Error('client gone'));
    const err = await p.catch((e: unknown) => e);
    expect((err as SluiceError).code).toBe('ERR_SLUICE_ABORTED');
    expect(src.destroyed).toBe(true);
  });

  it('rejects writes out of order with ERR_SLUICE_CHAIN_STATE', async () => {
    const run = compileChain(['identity']).run({}, collectSink());
    await expect(run.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_SLUICE_CHAIN_STATE' });
    await run.start();
    await run.end();
    await expect(run.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_SLUICE_CHAIN_STATE' });
    await expect(run.start()).rejects.toMatchObject({ code: 'ERR_SLUICE_CHAIN_STATE' });
  });

  it('a push after end of stream is an error, not a silent extra byte', async () => {
    const zombie = defineFilter({
      name: 'zombie',
      create: (ctx) => ({ onEnd: () => void setTimeout(() => ctx.out.push(Buffer.from('late')), 1) }),
    });
    const sink = collectSink();
    const run = compileChain([zombie]).run({}, sink);
    await run.start();
    await run.write(Buffer.from('a'));
    await run.end();
    await new Promise((r) => setTimeout(r, 10));
    expect(sink.text()).toBe('a');
  });

  it('a sync filter that ignores push() results never sees an unhandled rejection when a later async filter fails', async () => {
    let n = 0;
    const lateFail = defineFilter({
      name: 'late-fail',
      create: () => ({
        onData: async () => {
          await new Promise((r) => setTimeout(r, 1));
          if (++n === 2) throw new Error('second');
        },
      }),
    });
    // 'identity' pushes without awaiting: its pending readiness promises get rejected
    const err = await processChain(compileChain(['identity', lateFail]), [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]).catch((e: unknown) => e);
    expect((err as FilterError).filter).toBe('late-fail');
  });
});

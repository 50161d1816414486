import { describe, expect, it } from 'vitest';
import {
  compileChain,
  collectSink,
  defineFilter,
  FLUSH,
  processChain,
  pump,
  type ChainSink,
  type Emitter,
  type HeadPhase,
} from '../../src/index.js';

/** Holds the whole body, then sets Content-Length and emits it: the smallest buffering filter. */
const collector = defineFilter({
  name: 'collector',
  stage: 'protocol',
  preservesLength: true,
  create: (ctx) => {
    const held: Uint8Array[] = [];
    return {
      onHead: (head) => head.deferCommit(),
      onData: (c) => void held.push(c),
      onEnd: (out: Emitter) => {
        const body = Buffer.concat(held);
        ctx.head.headers.set('content-length', body.length);
        out.push(body);
      },
    };
  },
});

const grower = defineFilter({
  name: 'grower',
  stage: 'protocol',
  create: () => ({ onData: (c, out) => out.push(Buffer.concat([c, c])) }),
});

const upper = defineFilter({
  name: 'upper',
  stage: 'content',
  create: () => ({ onData: (c, out) => out.push(Buffer.from(Buffer.from(c).toString('latin1').toUpperCase(), 'latin1')) }),
});

/** A sink that records when the head arrived relative to the body. */
function recordingSink(): ChainSink & { log: string[]; headers: Record<string, unknown> | undefined } {
  const inner = collectSink();
  const log: string[] = [];
  const s = {
    log,
    headers: undefined as Record<string, unknown> | undefined,
    head(h: HeadPhase) {
      log.push(`head committed=${h.committed}`);
      s.headers = { ...h.headers.toNode() };
    },
    write(c: Uint8Array) {
      log.push(`write ${Buffer.from(c).toString()}`);
      inner.write(c);
    },
    flush() {
      log.push('flush');
    },
    end() {
      log.push('end');
    },
    abort(r: Error) {
      log.push(`abort ${r.message}`);
    },
  };
  return s;
}

describe('deferred head commit', () => {
  it('without a deferring filter the sink gets the head at the end of the header phase', async () => {
    const sink = recordingSink();
    const run = compileChain(['identity']).run({ headers: { 'content-length': '2' } }, sink);
    await run.start();
    expect(sink.log).toEqual(['head committed=true']);
    await pump(run, 'ab');
    expect(sink.log).toEqual(['head committed=true', 'write ab', 'end']);
  });

  it('a deferring filter may set headers until its first output; the sink gets them before the body', async () => {
    const sink = recordingSink();
    const run = compileChain([upper, collector]).run({ headers: { 'content-type': 'text/plain' } }, sink);
    await run.start();
    expect(run.head.committed).toBe(false);
    expect(sink.log).toEqual([]);
    await pump(run, [Buffer.from('ab'), FLUSH, Buffer.from('cd')]);
    // the flush mark reached the sink before anything had left: dropped
    expect(sink.log).toEqual(['head committed=true', 'write ABCD', 'end']);
    expect(sink.headers!['content-length']).toBe('4');
    expect(run.head.committed).toBe(true);
  });

  it('flush marks after the commit reach the sink', async () => {
    const early = defineFilter({
      name: 'early',
      stage: 'protocol',
      preservesLength: true,
      create: () => ({ onHead: (h) => h.deferCommit(), onFlush: () => undefined }),
    });
    const sink = recordingSink();
    const run = compileChain([early]).run({}, sink);
    await run.start();
    await pump(run, [FLUSH, Buffer.from('a'), FLUSH, Buffer.from('b')]);
    expect(sink.log).toEqual(['head committed=true', 'write a', 'flush', 'write b', 'end']);
  });

  it('a length change after the deferring filter drops the Content-Length it set; before it, it stands', async () => {
    const after = await processChain(compileChain([collector, grower]), 'abc', { headers: { 'content-length': '3' } });
    expect(after.text()).toBe('abcabc');
    expect(after.head.headers.get('content-length')).toBeUndefined();
    const before = await processChain(compileChain([grower, collector]), 'abc', { headers: { 'content-length': '3' } });
    expect(before.text()).toBe('abcabc');
    expect(before.head.headers.get('content-length')).toBe('6');
  });

  it('an empty body commits at the end of stream', async () => {
    const r = await processChain(compileChain([collector]), []);
    expect(r.head.headers.get('content-length')).toBe('0');
    expect(r.head.committed).toBe(true);
  });

  it('edits after the commit throw; deferCommit outside onHead throws', async () => {
    let late: unknown;
    const lateEditor = defineFilter({
      name: 'late',
      create: (ctx) => ({
        onEnd: () => {
          try {
            ctx.head.headers.set('x-late', '1');
          } catch (err) {
            late = err;
          }
          try {
            ctx.head.deferCommit();
          } catch (err) {
            late ??= err;
          }
        },
      }),
    });
    await processChain(compileChain([lateEditor]), 'x');
    expect((late as { code?: string }).code).toBe('ERR_SLUICE_HEADERS_COMMITTED');
  });

  it('a failure before the deferred commit never hands the head to the sink', async () => {
    const bomb = defineFilter({
      name: 'bomb',
      stage: 'content',
      create: () => ({ onData: () => { throw new Error('boom'); } }),
    });
    const sink = recordingSink();
    const run = compileChain([bomb, collector]).run({}, sink);
    await run.start();
    await expect(pump(run, 'x')).rejects.toThrow(/boom/);
    expect(sink.log).toEqual(['abort filter "bomb" failed in data: boom']);
  });

  it('a sink whose head() throws fails the run', async () => {
    const sink: ChainSink = {
      head: () => {
        throw new Error('bad header');
      },
      write: () => undefined,
      end: () => undefined,
    };
    await expect(compileChain(['identity']).run({}, sink).start()).rejects.toMatchObject({ code: 'ERR_SLUICE_ABORTED' });
    const run = compileChain([collector]).run({}, sink);
    await run.start();
    await expect(pump(run, 'x')).rejects.toMatchObject({ code: 'ERR_SLUICE_ABORTED' });
  });

  it('stageByDirection places a filter per direction', () => {
    const edge = defineFilter({ name: 'edge', stage: 'protocol', stageByDirection: { input: 'resource' }, create: () => ({}) });
    const mid = defineFilter({ name: 'mid', stage: 'content', create: () => ({}) });
    expect(compileChain([edge, mid], { direction: 'output' }).entries.map((e) => e.name)).toEqual(['mid', 'edge']);
    expect(compileChain([mid, edge], { direction: 'input' }).entries.map((e) => e.name)).toEqual(['mid', 'edge']);
    expect(compileChain([edge], { direction: 'input' }).describe()).toBe('edge (resource)');
    expect(() => defineFilter({ name: 'bad', stageByDirection: { input: 'nowhere' as 'content' }, create: () => ({}) })).toThrow(/stageByDirection/);
  });
});

import { describe, expect, it } from 'vitest';
import { collectSink, compileChain, defineFilter, pump, type TraceLog } from '../../src/index.js';

/** A custom filter with no tracing code at all: it must still be traced. */
const upper = defineFilter({
  name: 'upper',
  directions: ['input', 'output'],
  create: () => ({ onData: (c, out) => out.push(Buffer.from(Buffer.from(c).toString('latin1').toUpperCase() + '!', 'latin1')) }),
});

function capture(): TraceLog & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, debug: (obj, msg) => void lines.push({ ...obj, msg }) };
}

async function run(direction: 'input' | 'output', items: Parameters<typeof compileChain>[0], body: string[], log: TraceLog): Promise<string> {
  const sink = collectSink();
  const r = compileChain(items, { direction }).run({ request: { url: '/t', method: 'POST' } }, sink, { log });
  await r.start();
  await pump(r, body.map((s) => Buffer.from(s)));
  return sink.text();
}

describe('trace', () => {
  it('logs one debug line per filter that stayed, custom ones included, and leaves the body alone', async () => {
    const log = capture();
    const out = await run('output', ['trace', upper, 'identity'], ['ab', 'cde'], log);
    expect(out).toBe('AB!CDE!');
    expect(log.lines).toEqual([
      expect.objectContaining({ msg: 'filter trace', direction: 'output', url: '/t', position: 1, filter: 'upper', bytesIn: 5, bytesOut: 7 }),
      expect.objectContaining({ msg: 'filter trace', position: 2, filter: 'identity', bytesIn: 7, bytesOut: 7 }),
    ]);
    for (const l of log.lines) expect(l['ms']).toBeGreaterThanOrEqual(0);
  });

  it('works in input chains, wherever it sits', async () => {
    const log = capture();
    await run('input', [upper, 'trace'], ['xyz'], log);
    expect(log.lines).toEqual([expect.objectContaining({ direction: 'input', filter: 'upper', bytesIn: 3, bytesOut: 4 })]);
  });

  it('names an aliased entry and its filter', async () => {
    const log = capture();
    await run('output', ['trace', { filter: upper, name: 'shout' }], ['q'], log);
    expect(log.lines[0]).toMatchObject({ filter: 'shout', type: 'upper' });
  });

  it('logs nothing when its condition does not hold', async () => {
    const log = capture();
    await run('output', [{ filter: 'trace', when: () => false }, upper], ['q'], log);
    expect(log.lines).toEqual([]);
  });
});

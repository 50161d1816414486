import { describe, expect, it } from 'vitest';
import { compileChain, processChain, Stage, defineFilter } from '../../src/index.js';
import { tracer } from '../helpers.js';

describe('stage ordering', () => {
  it('orders an output chain resource → content → transcode → encoding → protocol, keeping user order within a stage', async () => {
    const log: string[] = [];
    const chain = compileChain([
      tracer(log, 'gz', 'encoding'),
      tracer(log, 'sub1', 'content'),
      tracer(log, 'proto', 'protocol'),
      tracer(log, 'sub2', 'content'),
      tracer(log, 'inflate', Stage.resource - 1),
      tracer(log, 'charset', 'transcode'),
    ]);
    expect(chain.entries.map((e) => e.name)).toEqual(['inflate', 'sub1', 'sub2', 'charset', 'gz', 'proto']);
    expect(chain.describe()).toBe(
      'inflate (resource-1) → sub1 (content) → sub2 (content) → charset (transcode) → gz (encoding) → proto (protocol)',
    );
    await processChain(chain, 'x');
    expect(log.filter((l) => l.endsWith(':data'))).toEqual([
      'inflate:data',
      'sub1:data',
      'sub2:data',
      'charset:data',
      'gz:data',
      'proto:data',
    ]);
  });

  it('runs an input chain from the wire side: encoding before content', () => {
    const log: string[] = [];
    const chain = compileChain(
      [tracer(log, 'sub', 'content'), tracer(log, 'inflate', 'encoding'), tracer(log, 'sub2', 'content'), tracer(log, 'res', 'resource')],
      { direction: 'input' },
    );
    expect(chain.entries.map((e) => e.name)).toEqual(['inflate', 'sub', 'sub2', 'res']);
  });

  it('runs head hooks in chain order before any data, then data, then end', async () => {
    const log: string[] = [];
    await processChain(compileChain([tracer(log, 'b', 'encoding'), tracer(log, 'a', 'content')]), 'x');
    expect(log).toEqual(['a:head', 'b:head', 'a:data', 'b:data', 'a:end', 'b:end']);
  });
});

describe('pass on', () => {
  it('a filter that steps aside in its head phase sees no data and costs nothing', async () => {
    const seen: string[] = [];
    const shy = defineFilter({
      name: 'shy',
      create: () => ({
        onHead: (head) => {
          if (head.headers.get('content-type') !== 'text/html') head.passOn();
        },
        onData: (c, out) => {
          seen.push('data');
          out.push(c);
        },
      }),
    });
    const chain = compileChain([shy, 'identity']);
    const json = await processChain(chain, '{}', { headers: { 'content-type': 'application/json', 'content-length': '2' } });
    expect(json.active).toEqual(['identity']);
    expect(seen).toEqual([]);
    // the only length-changing filter passed, so Content-Length stays
    expect(json.head.headers.get('content-length')).toBe('2');
    const html = await processChain(chain, '<p>', { headers: { 'content-type': 'text/html', 'content-length': '3' } });
    expect(html.active).toEqual(['shy', 'identity']);
    expect(seen).toEqual(['data']);
    expect(html.head.headers.get('content-length')).toBeUndefined();
  });

  it('conditions (`when`) decide per message with the edits of earlier filters visible', async () => {
    const tagger = defineFilter({ name: 'tagger', stage: 'resource', create: () => ({ onHead: (h) => void h.headers.set('x-tag', 'on') }) });
    const chain = compileChain([tagger, { filter: 'identity', name: 'cond', when: (h) => h.headers.get('x-tag') === 'on' }]);
    const r = await processChain(chain, 'a');
    expect(r.active).toEqual(['tagger', 'cond']);
  });

  it('an async onHead may decide to pass on', async () => {
    const later = defineFilter({
      name: 'later',
      create: () => ({
        onHead: async (h) => {
          await new Promise((r) => setTimeout(r, 1));
          h.passOn();
        },
        onData: () => {
          throw new Error('must not run');
        },
      }),
    });
    const r = await processChain(compileChain([later]), 'abc');
    expect(r.text()).toBe('abc');
    expect(r.active).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { compileChain, defineFilter, processChain, type Emitter, type FilterInstance, type HeadPhase } from '../../src/index.js';
import { withFlushes } from '../helpers.js';

/**
 * JavaScript filters return whatever their last expression gives: `(h) => h.headers.set(...)`
 * returns the header map, `(c, out) => out.push(c) || 1` a number. Only a promise means "not
 * done yet"; anything else must be taken as a synchronous step, not crash on `.then`.
 */
describe('callbacks that return values which are not promises', () => {
  it('onHead, onData, onFlush and onEnd returning non-promises run as synchronous steps', async () => {
    const loose = defineFilter({
      name: 'loose',
      create: () =>
        ({
          onHead: (head: HeadPhase) => head.headers.set('x-seen', 'yes'),
          onData: (c: Uint8Array, out: Emitter) => out.push(c) ?? c.length,
          onFlush: () => 'flushed',
          onEnd: (out: Emitter) => out.push(Buffer.from('!')) ?? 0,
        }) as unknown as FilterInstance,
    });
    const r = await processChain(compileChain([loose, 'identity']), withFlushes('ab|cd'), { headers: { 'content-type': 'text/plain' } });
    expect(r.head.headers.get('x-seen')).toBe('yes');
    expect(r.text()).toBe('abcd!');
  });
});

import { describe, expect, it } from 'vitest';
import { compileChain, processChain } from '../src/index.js';

describe('identity chain', () => {
  it('passes bytes through unchanged and keeps Content-Length', async () => {
    const res = await processChain(compileChain(['identity', 'identity']), 'hello', {
      headers: { 'content-length': '5' },
    });
    expect(res.text()).toBe('hello');
    expect(res.head.headers.get('content-length')).toBe('5');
    expect(res.ended).toBe(true);
  });
});

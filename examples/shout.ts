/**
 * A custom filter in a few lines, run over a body in memory.
 *   npx tsx examples/shout.ts
 */
import { compileChain, defineFilter, processChain, Type } from '../src/index.js';

const shout = defineFilter({
  name: 'shout',
  description: 'Upper-cases ASCII letters and appends a suffix.',
  options: Type.Object({ suffix: Type.String({ default: '!' }) }, { additionalProperties: false }),
  create: ({ options }) => ({
    onHead: (head) => void head.headers.set('x-shouted', 'yes'),
    // latin1 maps bytes 1:1, so a multi-byte character split across chunks is never damaged
    onData: (chunk, out) => out.push(Buffer.from(Buffer.from(chunk).toString('latin1').toUpperCase(), 'latin1')),
    onEnd: (out) => out.push(Buffer.from(options.suffix)),
  }),
});

const chain = compileChain(['identity', { filter: shout, options: { suffix: '!!' } }]);
console.log('chain:', chain.describe());

const res = await processChain(chain, ['hello, ', 'world'].map((s) => Buffer.from(s)), {
  headers: { 'content-type': 'text/plain', 'content-length': '12' },
});
console.log('body:', res.text());
console.log('headers:', res.head.headers.toNode());

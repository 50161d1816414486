/**
 * A filter written the mod_python way: one async function with read/readline/write/close.
 * This one numbers the lines of a text body, streaming (it never holds more than a line).
 *   npx tsx examples/modpython-style.ts
 */
import { compileChain, modPythonFilter, processChain } from '../src/index.js';

const numberLines = modPythonFilter({
  name: 'number-lines',
  stage: 'content',
  handler: async (f) => {
    if (!f.headers.get('content-type')?.startsWith('text/')) {
      f.passOn(); // before any I/O: step aside for this message at no cost
      return;
    }
    f.headers.set('x-numbered', 'yes');
    let n = 0;
    for (let line; (line = await f.readline()) !== null; ) {
      if (line.byteLength === 0) continue; // a flush mark: nothing held, the mark goes on
      await f.write(`${String(++n).padStart(4)}  `);
      await f.write(line);
    }
    f.close();
  },
});

const chain = compileChain([numberLines]);
const text = await processChain(chain, ['first li', 'ne\nsecond line\nthi', 'rd line\n'].map((s) => Buffer.from(s)), {
  headers: { 'content-type': 'text/plain' },
});
console.log(text.text());
const json = await processChain(chain, '{"a":1}', { headers: { 'content-type': 'application/json' } });
console.log('json passed through untouched:', json.text(), 'active filters:', json.active);

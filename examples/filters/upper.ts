/**
 * mod_python's canonical filter (PythonOutputFilter capitalize CAPITALIZE): upper-case a
 * response, written the mod_python way, as one async function over read/write/close.
 * Loaded from a config:
 *   modules: [../filters/upper.ts]        (examples/configs/upper.yaml)
 *
 * Unlike the Python original it is safe on any cut of the body: bytes are decoded as a UTF-8
 * stream, so a character split across chunks is upper-cased whole, and it steps aside
 * (passOn) for what it must not touch: non-text, compressed bodies, other charsets.
 * In your own project, import from 'sluice' instead of '../../src/index.js'.
 */
import { modPythonFilter } from '../../src/index.js';

const UTF8_LIKE = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

export const upper = modPythonFilter({
  name: 'upper',
  description: 'Upper-cases text/* responses in UTF-8 (mod_python style).',
  directions: ['output'],
  handler: async (f) => {
    const type = f.headers.get('content-type') ?? '';
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1]?.toLowerCase();
    const coding = (f.headers.get('content-encoding') ?? 'identity').toLowerCase();
    // No charset is taken as UTF-8; a named other one would be corrupted by decoding it as UTF-8.
    if (!/^text\//i.test(type) || coding !== 'identity' || (charset !== undefined && !UTF8_LIKE.has(charset))) {
      f.passOn();
      return;
    }
    f.headers.set('x-upper', 'yes');
    const decoder = new TextDecoder('utf-8');
    // read() gives what is there now; an empty array at a flush mark (nothing held but at most
    // the 1-3 bytes of an unfinished character, so the mark goes on at once); null at the end.
    for (let chunk; (chunk = await f.read()) !== null; ) {
      const text = decoder.decode(chunk, { stream: true });
      if (text) await f.write(text.toUpperCase());
    }
    const rest = decoder.decode();
    if (rest) await f.write(rest.toUpperCase());
    f.close();
  },
});

export default upper;

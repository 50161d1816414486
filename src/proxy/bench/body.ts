/**
 * Bodies for `sluice bench --location`: generated ones that compress and rewrite like real
 * traffic (varied words from a seeded generator, not one repeated line, which gzip would
 * squeeze 100:1 and make every compressor look fast), or a user's file. The same seed gives
 * the same bytes on every run, so two runs compare.
 *
 * A benchmark body is held in memory once and fed to the chain as views into it: reading
 * it from disk on every message would measure the disk.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

export const BODY_KINDS = ['html', 'json', 'text', 'binary'] as const;
export type BodyKind = (typeof BODY_KINDS)[number];

/** The Content-Type a response of each kind carries (and a request body, with --input). */
export const CONTENT_TYPES: Readonly<Record<BodyKind, string>> = {
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  text: 'text/plain; charset=utf-8',
  binary: 'application/octet-stream',
};

export interface Body {
  readonly bytes: Buffer;
  readonly kind: BodyKind;
  /** Where it came from: a file name, or "generated". */
  readonly source: string;
}

const WORDS = (
  'sluice filter stream chunk header body proxy upstream client flush gzip brotli charset rewrite location ' +
  'condition request response server event buffer window river water gate channel lock basin flow level ' +
  'the a of and to in is for on with as by at from this that be are was it an or which'
).split(' ');

/** A small deterministic generator (an LCG, as the project's bench uses). */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
}

const sentence = (rnd: (n: number) => number, min: number, spread: number): string =>
  Array.from({ length: min + rnd(spread) }, () => WORDS[rnd(WORDS.length)]).join(' ');

/**
 * A body of about `size` bytes. Text kinds end on a whole unit (a line, a JSON record, the
 * closing tags) so they stay valid for filters that parse them: they may exceed `size` by
 * less than one unit (a few hundred bytes). Binary is exactly `size` random bytes: it does
 * not compress, which is what a compressor meets in images and archives.
 */
export function generateBody(kind: BodyKind, size: number): Buffer {
  const rnd = random(42);
  switch (kind) {
    case 'html':
      return units(size, '<!doctype html>\n<html><head><meta charset="utf-8"><title>Sluice bench</title></head>\n<body>\n', '</body></html>\n', (i) => {
        // Links to the internal host, as an application behind a proxy writes them: what
        // substitute, html-urlmap and proxy-reverse rewrite.
        if (i % 7 === 3) return `<p><a href="http://internal.example/docs/${rnd(1000)}">${sentence(rnd, 2, 4)}</a> ${sentence(rnd, 6, 12)}</p>\n`;
        if (i % 11 === 5) return `<img src="http://internal.example/img/${rnd(500)}.png" alt="${sentence(rnd, 1, 3)}">\n`;
        return `<p id="p${rnd(100000)}" class="c${rnd(50)}">${sentence(rnd, 8, 20)} ${rnd(1e6)}</p>\n`;
      });
    case 'json': {
      let first = true;
      return units(size, '{"items":[', ']}\n', () => {
        const id = rnd(1e7);
        const rec = JSON.stringify({
          id,
          name: sentence(rnd, 2, 2),
          email: `user${id}@internal.example`,
          active: rnd(2) === 1,
          score: rnd(100000) / 100,
          tags: Array.from({ length: 1 + rnd(3) }, () => WORDS[rnd(WORDS.length)]),
          note: sentence(rnd, 5, 15),
        });
        const s = first ? rec : `,${rec}`;
        first = false;
        return s;
      });
    }
    case 'text':
      return units(size, '', '', () => `${sentence(rnd, 6, 14)}.\n`);
    case 'binary': {
      const out = Buffer.allocUnsafe(size);
      // xorshift32: fast, and its bytes do not compress
      let x = 0x9e3779b9;
      for (let i = 0; i < size; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        const v = x >>> 0;
        for (let b = 0; b < 4 && i + b < size; b++) out[i + b] = (v >>> (8 * b)) & 0xff;
      }
      return out;
    }
  }
}

function units(size: number, head: string, tail: string, unit: (i: number) => string): Buffer {
  const parts = [head];
  let n = head.length + tail.length;
  for (let i = 0; n < size; i++) {
    const u = unit(i);
    parts.push(u);
    n += Buffer.byteLength(u);
  }
  parts.push(tail);
  return Buffer.from(parts.join(''));
}

/** The kind a file name suggests (for its Content-Type), binary when it says nothing. */
export function kindOfFile(file: string): BodyKind {
  const ext = extname(file).toLowerCase();
  if (ext === '.html' || ext === '.htm' || ext === '.xhtml') return 'html';
  if (ext === '.json') return 'json';
  if (['.txt', '.text', '.md', '.csv', '.css', '.js', '.mjs', '.xml', '.svg', '.log', '.yaml', '.yml'].includes(ext)) return 'text';
  return 'binary';
}

export async function readBody(file: string, kind: BodyKind | undefined): Promise<Body> {
  const bytes = await readFile(file);
  return { bytes, kind: kind ?? kindOfFile(file), source: file };
}

/** The body as `chunk`-sized views, as a socket would deliver it (the last one shorter). */
export function chunked(body: Buffer, chunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += chunk) out.push(body.subarray(i, i + chunk));
  return out;
}

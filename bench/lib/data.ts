/**
 * Test bodies without allocation on the clock: one pre-allocated pool, and messages that are
 * arrays of views (Buffer.subarray) into it, made once and reused by every repetition.
 * Chunks are Buffers, as a Node socket or undici body would deliver them.
 */
const POOL_BYTES = 1 << 20;
let pool: Buffer | undefined;

function thePool(): Buffer {
  if (!pool) {
    pool = Buffer.allocUnsafeSlow(POOL_BYTES);
    // Something HTML-like rather than zeros, so a later filter that looks at bytes sees text.
    const text = Buffer.from('<p class="row">Sluice moves bytes through filters, one chunk at a time.</p>\n');
    for (let off = 0; off < POOL_BYTES; off += text.length) text.copy(pool, off, 0, Math.min(text.length, POOL_BYTES - off));
  }
  return pool;
}

/** A message of `totalBytes` as `chunkBytes`-sized views into the shared pool. */
export function message(chunkBytes: number, totalBytes: number): Buffer[] {
  if (chunkBytes <= 0 || chunkBytes > POOL_BYTES) throw new Error(`chunk size ${chunkBytes} out of range`);
  const p = thePool();
  const n = Math.ceil(totalBytes / chunkBytes);
  const per = Math.floor(POOL_BYTES / chunkBytes);
  const chunks: Buffer[] = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) {
    const off = (i % per) * chunkBytes;
    chunks[i] = p.subarray(off, off + chunkBytes);
  }
  return chunks;
}

export function bytesOf(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** "16k", "1k", "512" for names. */
export function sizeLabel(bytes: number): string {
  return bytes % KiB === 0 ? `${bytes / KiB}k` : String(bytes);
}

const WORDS = 'sluice filter stream chunk header body proxy upstream client flush gzip brotli charset rewrite location condition request response server event buffer window'.split(' ');

/** A number below n, from a seeded generator. */
export type Rnd = (n: number) => number;

/**
 * A page of `bytes` bytes of HTML, line by line from a seeded generator, so that every run
 * (and every group) moves the same bytes. `line` makes one line with `rnd` and `words(n)`
 * (n words picked at random); text made this way compresses about 4:1, as real pages do.
 */
export function seededPage(bytes: number, line: (rnd: Rnd, words: (n: number) => string) => string): Buffer {
  let seed = 42;
  const rnd: Rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const words = (n: number): string => Array.from({ length: n }, () => WORDS[rnd(WORDS.length)]).join(' ');
  const parts: string[] = ['<!doctype html><html><head><title>Sluice</title></head><body>\n'];
  let size = parts[0]!.length;
  while (size < bytes) {
    const l = line(rnd, words);
    parts.push(l);
    size += l.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

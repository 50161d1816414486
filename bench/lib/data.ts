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

import { defineFilter, FLUSH, type Flush } from '../src/index.js';

export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Split a buffer at the given cut points (sorted, deduplicated, within range). */
export function splitAt(buf: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < buf.byteLength))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out.filter((c) => c.byteLength > 0);
}

/** Iterable of strings with FLUSH marks ('|' in the template means a flush). */
export function withFlushes(template: string): Array<Uint8Array | Flush> {
  const out: Array<Uint8Array | Flush> = [];
  template.split('|').forEach((part, i) => {
    if (i > 0) out.push(FLUSH);
    if (part) out.push(bytes(part));
  });
  return out;
}

/** Records calls so a test can see who ran in which order. */
export function tracer(log: string[], name: string, stage: 'resource' | 'content' | 'transcode' | 'encoding' | 'protocol' | number = 'content') {
  return defineFilter({
    name,
    stage,
    preservesLength: true,
    create: () => ({
      onHead: () => void log.push(`${name}:head`),
      onData: (c, out) => {
        log.push(`${name}:data`);
        return out.push(c);
      },
      onEnd: () => void log.push(`${name}:end`),
    }),
  });
}

/** An async identity filter: each chunk waits a macrotask before going on. */
export const asyncIdentity = defineFilter({
  name: 'async-identity',
  preservesLength: true,
  create: () => ({
    onData: async (c, out) => {
      await new Promise((r) => setImmediate(r));
      await out.push(c);
    },
  }),
});

/** Holds everything until a flush or the end (a line/compressor-like buffering filter). */
export const holder = defineFilter({
  name: 'holder',
  preservesLength: true,
  create: () => {
    let held: Uint8Array[] = [];
    const release = (out: { push(c: Uint8Array): unknown }): void => {
      for (const c of held) out.push(c);
      held = [];
    };
    return {
      onData: (c) => void held.push(c),
      onFlush: (out) => release(out),
      onEnd: (out) => release(out),
    };
  },
});

/** Deterministic PRNG (mulberry32) so failures reproduce: the testing kit's own. */
export { prng } from '../src/testing/splits.js';

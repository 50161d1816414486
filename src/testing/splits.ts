/**
 * Splits of an input: where it is cut into chunks and where flush marks go. A split is data
 * (two sorted lists of offsets), so it can be shown, shrunk and replayed.
 */
import { FLUSH, type Flush } from '../filters/types.js';

/** Where an input is cut, and where flush marks are inserted (offsets 0..length). */
export interface Split {
  /** Offsets strictly inside the input where a chunk ends, ascending. */
  readonly cuts: readonly number[];
  /** Offsets (0..length) where a flush mark goes, ascending; at an offset that is also a cut, between the two chunks. */
  readonly flushes: readonly number[];
}

/** The chunks and flush marks a split makes of `input`, in order. */
export function feed(input: Uint8Array, split: Split): Array<Uint8Array | Flush> {
  const out: Array<Uint8Array | Flush> = [];
  const points = [...new Set([...split.cuts, ...split.flushes, 0, input.length])].sort((a, b) => a - b);
  const flushAt = new Set(split.flushes);
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(input.subarray(prev, p));
    if (flushAt.has(p)) out.push(FLUSH);
    prev = p;
  }
  return out;
}

/** How many pieces a split has: chunks plus flush marks. Smaller is simpler. */
export function size(split: Split): number {
  return split.cuts.length + split.flushes.length;
}

/** `[0,3) [3,8) FLUSH [8,11)` and, for short inputs, the pieces themselves. */
export function describeSplit(input: Uint8Array, split: Split): string {
  const parts: string[] = [];
  let prev = 0;
  for (const item of feed(input, split)) {
    if (item === FLUSH) parts.push('FLUSH');
    else {
      parts.push(`[${prev},${prev + item.length})`);
      prev += item.length;
    }
  }
  const chunks = split.cuts.length + 1;
  const summary = `${chunks} chunk${chunks === 1 ? '' : 's'}${split.flushes.length ? `, ${split.flushes.length} flush mark${split.flushes.length === 1 ? '' : 's'}` : ''}`;
  const shown = parts.length <= 12 ? parts.join(' ') : `${parts.slice(0, 6).join(' ')} … ${parts.slice(-5).join(' ')}`;
  let text = `${shown} (${summary})`;
  if (input.length <= 120) {
    const pieces = feed(input, split).map((p) => (p === FLUSH ? '⚑' : printable(p)));
    text += `\n  as pieces: ${pieces.join(' | ')}`;
  }
  return text;
}

/** Bytes as a JSON-like string: printable ASCII as is, the rest escaped, so a difference is visible. */
export function printable(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x0a) s += '\\n';
    else if (b === 0x0d) s += '\\r';
    else if (b === 0x09) s += '\\t';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${s}"`;
}

/** Deterministic PRNG (mulberry32): a reported seed replays the same random splits. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlanOptions {
  /** Inputs up to this many bytes also get every pair of cut points. */
  readonly pairsUpTo: number;
  /** Random splits for inputs longer than pairsUpTo. */
  readonly random: number;
  /** Flush marks in the plan (off for a chain that must not see any). */
  readonly flushes: boolean;
  /** No flush mark before this offset. */
  readonly flushFrom: number;
  /** At most this many single cut points, evenly spread; the rest of the plan is unchanged. */
  readonly maxCuts: number;
  readonly seed: number;
}

/**
 * The splits to try, simplest first, so the first failure found is a small one: every single
 * cut (without, then with a flush mark there), then every pair (each with flush marks at a
 * random choice of its cuts) for short inputs, then one-byte chunks, then random splits with
 * random flush marks (some before the first byte and after the last) for long inputs.
 */
export function* plan(length: number, opts: PlanOptions): Generator<Split> {
  const rand = prng(opts.seed);
  const flushable = (at: number): boolean => opts.flushes && at >= opts.flushFrom;
  const marks = (split: Split): Split => ({ cuts: split.cuts, flushes: split.flushes.filter(flushable) });
  if (length >= 2) {
    const n = Math.min(length - 1, Math.max(1, opts.maxCuts));
    const cuts = n === length - 1 ? Array.from({ length: n }, (_, i) => i + 1) : [...new Set(Array.from({ length: n }, (_, i) => Math.max(1, Math.round(((i + 1) * length) / (n + 1)))))];
    for (const c of cuts) yield { cuts: [c], flushes: [] };
    for (const c of cuts) if (flushable(c)) yield { cuts: [c], flushes: [c] };
  }
  if (flushable(0)) yield { cuts: [], flushes: [0, length] }; // marks with no data around them
  if (length <= opts.pairsUpTo) {
    for (let a = 1; a < length; a++) {
      for (let b = a + 1; b < length; b++) {
        const r = Math.floor(rand() * 4);
        yield marks({ cuts: [a, b], flushes: [...(r & 1 ? [a] : []), ...(r & 2 ? [b] : [])] });
      }
    }
  }
  if (length >= 3) {
    const all = Array.from({ length: length - 1 }, (_, i) => i + 1);
    yield { cuts: all, flushes: [] };
    if (opts.flushes) yield marks({ cuts: all, flushes: all.filter(() => rand() < 0.3) });
  }
  if (length > opts.pairsUpTo) {
    for (let i = 0; i < opts.random; i++) yield marks(randomSplit(length, rand, opts.flushes));
  }
}

function randomSplit(length: number, rand: () => number, flushes: boolean): Split {
  // Mostly small chunks with some large ones: boundaries are where filters break.
  const cuts = new Set<number>();
  const count = 1 + Math.floor(rand() * Math.min(length - 1, rand() < 0.5 ? 8 : 64));
  while (cuts.size < Math.min(count, length - 1)) cuts.add(1 + Math.floor(rand() * (length - 1)));
  const sorted = [...cuts].sort((a, b) => a - b);
  const marks = flushes ? sorted.filter(() => rand() < 0.3) : [];
  if (flushes && rand() < 0.2) marks.unshift(0);
  if (flushes && rand() < 0.2) marks.push(length);
  return { cuts: sorted, flushes: marks };
}

/**
 * Smaller splits to try in place of a failing one (ddmin-like: drop halves, then quarters, …
 * of its flush marks and cuts, flush marks first), most reduced first. A flush mark inside the
 * input goes with its cut (a mark at an offset cuts there anyway), so the result stays plain.
 */
export function* reductions(split: Split, length: number): Generator<Split> {
  const items: Array<['c' | 'f', number]> = [...split.flushes.map((f): ['f', number] => ['f', f]), ...split.cuts.map((c): ['c', number] => ['c', c])];
  for (let block = Math.max(1, Math.floor(items.length / 2)); block >= 1; block = block === 1 ? 0 : Math.max(1, Math.floor(block / 2))) {
    for (let start = 0; start < items.length; start += block) {
      const kept = [...items.slice(0, start), ...items.slice(start + block)];
      const cuts = kept.filter(([k]) => k === 'c').map(([, v]) => v);
      const flushes = kept.filter(([k, v]) => k === 'f' && (v === 0 || v === length || cuts.includes(v))).map(([, v]) => v);
      yield { cuts, flushes };
    }
  }
}

/**
 * Latency histogram with bounded memory: log-spaced buckets, 16 per doubling (each 4.4% wide),
 * from 10 µs to about 3 minutes. A percentile is the geometric middle of its bucket, within
 * 2.2% of the true value; min, max and mean are exact. A long run at high rates costs the
 * same few kilobytes as a short one.
 */
const PER_DOUBLING = 16;
const MIN_MS = 0.01;
const BUCKETS = PER_DOUBLING * 24;

export interface Bucket {
  /** Lower and upper bound of the bucket, ms. */
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS + 1);
  count = 0;
  min = Infinity;
  max = 0;
  #sum = 0;

  record(ms: number): void {
    this.count++;
    this.#sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS, Math.floor(Math.log2(ms / MIN_MS) * PER_DOUBLING) + 1);
    this.#counts[i]!++;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.#sum / this.count;
  }

  /** The latency under which `p` percent of the responses fell, ms (0 when none were recorded). */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const { from, to } = bounds(i);
        const mid = i === 0 ? to : Math.sqrt(from * to);
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  /**
   * Non-empty range of buckets merged `merge` at a time (4: four per doubling, for a chart),
   * with the empty ones between kept so the shape reads right.
   */
  buckets(merge = 4): Bucket[] {
    let first = -1;
    let last = -1;
    for (let i = 0; i <= BUCKETS; i++) {
      if (this.#counts[i]! > 0) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first < 0) return [];
    const start = first - (first % merge);
    const out: Bucket[] = [];
    for (let i = start; i <= last; i += merge) {
      let count = 0;
      for (let j = i; j < i + merge && j <= BUCKETS; j++) count += this.#counts[j]!;
      out.push({ from: bounds(i).from, to: bounds(Math.min(BUCKETS, i + merge - 1)).to, count });
    }
    return out;
  }
}

function bounds(i: number): { from: number; to: number } {
  if (i === 0) return { from: 0, to: MIN_MS };
  return { from: MIN_MS * 2 ** ((i - 1) / PER_DOUBLING), to: MIN_MS * 2 ** (i / PER_DOUBLING) };
}

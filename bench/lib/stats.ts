/** Order statistics over repetition samples. */

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new Error('quantile of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Half the interquartile range relative to the median: a robust ± for the table. */
export function relativeSpread(xs: readonly number[]): number {
  const m = median(xs);
  if (m === 0) return 0;
  return (quantile(xs, 0.75) - quantile(xs, 0.25)) / 2 / Math.abs(m);
}

/** Ratios of paired samples a[i] / b[i]. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`paired samples differ in length: ${a.length} vs ${b.length}`);
  return a.map((x, i) => x / b[i]!);
}

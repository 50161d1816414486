/** Numbers as people read them, shared by the table and the HTML report. */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 2 : 1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 2 : 1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Three significant digits, no exponent: 0.0123, 1.23, 123, 12300. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  // three significant digits, trailing zeros dropped: 0.4, 1.25, 105
  return String(Number(n.toPrecision(3)));
}

export function ms(n: number): string {
  if (n === 0) return '0';
  if (n < 1) return `${num(n * 1000)} µs`;
  return `${num(n)} ms`;
}

export function pct(share: number): string {
  return `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;
}

export function mbps(n: number | null): string {
  return n === null ? '–' : `${num(n)} MB/s`;
}

/** Bytes per second as MB/s (1e6, as autocannon and network tools count). */
export function rate(bytesPerSec: number): string {
  return `${num(bytesPerSec / 1e6)} MB/s`;
}

/** "4.2:1" for a compression ratio (input over output). */
export function ratio(r: number | null): string {
  return r === null ? '–' : `${num(r)}:1`;
}

/** Text columns, left-aligned first column, right-aligned figures. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], indent = '  '): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string =>
    indent +
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

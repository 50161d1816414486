/**
 * Small SVG charts for the HTML report, drawn here as markup: the page needs no script and no
 * network, opens anywhere, and prints. Each chart is an `<svg class="chart">` with a viewBox
 * (it scales to the page) and a `<title>` on every mark, so hovering shows the exact figure.
 */

export const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626', '#4b5563'];
export const MUTED = '#9ca3af';

const W = 760;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (n: number): string => (Math.round(n * 10) / 10).toString();

/** A round step for about `parts` gridlines up to `max`. */
function niceStep(max: number, parts: number): number {
  const raw = max / parts;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function svg(height: number, label: string, body: string): string {
  return `<svg class="chart" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg" ${FONT} font-size="13">${body}</svg>`;
}

function legend(items: readonly { label: string; color: string; pattern?: boolean }[], y: number, x0 = 0): string {
  let x = x0;
  return items
    .map((it) => {
      const s = `<rect x="${f(x)}" y="${y - 10}" width="12" height="12" rx="2" fill="${it.pattern ? `url(#wait-${it.color.slice(1)})` : it.color}" stroke="${it.color}"/><text x="${f(x + 17)}" y="${y}" fill="#374151">${esc(it.label)}</text>`;
      x += 30 + it.label.length * 7.2;
      return s;
    })
    .join('');
}

/** Diagonal hatching in a colour: the "waiting" part of a filter's time. */
function hatch(color: string): string {
  return `<pattern id="wait-${color.slice(1)}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="${color}" opacity="0.25"/><line x1="0" y1="0" x2="0" y2="6" stroke="${color}" stroke-width="3"/></pattern>`;
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color: string;
  /** Shown after the value. */
  readonly note?: string;
  /** Part of the bar drawn hatched (from its right end), e.g. time spent waiting. */
  readonly hatched?: number;
}

/** Horizontal bars, one per row, with the value written at the end of each. */
export function barChart(bars: readonly Bar[], opts: { label: string; format: (v: number) => string; legend?: readonly { label: string; color: string; pattern?: boolean }[] }): string {
  const labelW = 190;
  const valueW = 150;
  const plotW = W - labelW - valueW;
  const rowH = 30;
  const top = opts.legend ? 30 : 8;
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  const step = niceStep(max, 4);
  const scale = plotW / (Math.ceil(max / step) * step);
  const height = top + bars.length * rowH + 26;
  let body = `<defs>${[...new Set(bars.map((b) => b.color))].map(hatch).join('')}</defs>`;
  if (opts.legend) body += legend(opts.legend, 16, labelW);
  for (let v = 0; v * scale <= plotW + 0.5; v += step) {
    const x = labelW + v * scale;
    body += `<line x1="${f(x)}" y1="${top}" x2="${f(x)}" y2="${top + bars.length * rowH}" stroke="#e5e7eb"/>`;
    body += `<text x="${f(x)}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#6b7280" font-size="11">${esc(opts.format(v))}</text>`;
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(b.value > 0 ? 1.5 : 0, b.value * scale);
    const hw = Math.min(w, (b.hatched ?? 0) * scale);
    const tip = `${b.label}: ${opts.format(b.value)}${b.note ? ` (${b.note})` : ''}`;
    body += `<text x="${labelW - 10}" y="${y + 19}" text-anchor="end" fill="#111827">${esc(b.label)}</text>`;
    body += `<g class="bar"><title>${esc(tip)}</title><rect x="${labelW}" y="${y + 5}" width="${f(w - hw)}" height="${rowH - 10}" rx="3" fill="${b.color}"/>`;
    if (hw > 0) body += `<rect x="${f(labelW + w - hw)}" y="${y + 5}" width="${f(hw)}" height="${rowH - 10}" fill="url(#wait-${b.color.slice(1)})" stroke="${b.color}" stroke-width="1"/>`;
    body += `</g><text x="${f(labelW + w + 8)}" y="${y + 19}" fill="#374151">${esc(opts.format(b.value))}${b.note ? ` <tspan fill="#6b7280" font-size="11">${esc(b.note)}</tspan>` : ''}</text>`;
  });
  return svg(height, opts.label, body);
}

export interface Segment {
  readonly label: string;
  readonly share: number;
  readonly color: string;
  /** Part of the segment (a share of the whole, too) spent waiting: drawn hatched. */
  readonly wait?: number;
}

/** One bar of 100%: where the time of a message goes. */
export function shareBar(segments: readonly Segment[], opts: { label: string }): string {
  const h = 46;
  const top = 8;
  const total = segments.reduce((s, x) => s + x.share, 0) || 1;
  let x = 0;
  let body = `<defs>${[...new Set([...segments.map((s) => s.color), MUTED])].map(hatch).join('')}</defs>`;
  for (const s of segments) {
    const w = (s.share / total) * W;
    const ww = Math.min(w, ((s.wait ?? 0) / total) * W);
    const tip = `${s.label}: ${(s.share * 100).toFixed(1)}%${s.wait ? ` (${((s.wait / s.share) * 100).toFixed(0)}% of it waiting)` : ''}`;
    body += `<g class="segment"><title>${esc(tip)}</title><rect x="${f(x)}" y="${top}" width="${f(Math.max(0, w - ww))}" height="${h}" fill="${s.color}"/>`;
    if (ww > 0) body += `<rect x="${f(x + w - ww)}" y="${top}" width="${f(ww)}" height="${h}" fill="url(#wait-${s.color.slice(1)})"/>`;
    body += '</g>';
    // the label inside when it fits, else the figure alone, else nothing (the legend has both)
    const text = [`${s.label} ${(s.share * 100).toFixed(0)}%`, `${(s.share * 100).toFixed(0)}%`].find((t) => t.length * 8 + 14 <= w);
    if (text) body += `<text x="${f(x + 7)}" y="${top + 28}" fill="#fff" font-weight="600" pointer-events="none">${esc(text)}</text>`;
    x += w;
  }
  const items: { label: string; color: string; pattern?: boolean }[] = segments.map((s) => ({ label: `${s.label} ${(s.share * 100).toFixed(1)}%`, color: s.color }));
  if (segments.some((s) => (s.wait ?? 0) > 0)) items.push({ label: 'hatched: waiting (thread pool, timers)', color: MUTED, pattern: true });
  body += legendRows(items, top + h + 24);
  return svg(top + h + 24 + Math.ceil(items.length / 3) * 20, opts.label, body);
}

function legendRows(items: readonly { label: string; color: string; pattern?: boolean }[], y: number): string {
  return items.map((it, i) => legend([it], y + Math.floor(i / 3) * 20, (i % 3) * (W / 3))).join('');
}

export interface HistogramSeries {
  readonly name: string;
  readonly color: string;
  readonly buckets: readonly { from: number; to: number; count: number }[];
  /** Vertical markers, e.g. p50 and p99. */
  readonly marks: readonly { label: string; at: number }[];
}

/** Latency distribution: share of responses per bucket on a log time axis, series overlaid. */
export function histogramChart(series: readonly HistogramSeries[], opts: { label: string; format: (ms: number) => string }): string {
  const left = 52;
  const right = 16;
  const top = 34;
  const plotH = 220;
  const plotW = W - left - right;
  const all = series.flatMap((s) => s.buckets.filter((b) => b.count > 0));
  if (all.length === 0) return svg(60, opts.label, `<text x="${W / 2}" y="34" text-anchor="middle" fill="#6b7280">no responses</text>`);
  const lo = Math.max(1e-3, Math.min(...all.map((b) => b.from || b.to / 2)));
  const hi = Math.max(...all.map((b) => b.to));
  const l0 = Math.log10(lo);
  const l1 = Math.log10(hi) === l0 ? l0 + 1 : Math.log10(hi);
  const X = (ms: number): number => left + ((Math.log10(Math.max(ms, lo)) - l0) / (l1 - l0)) * plotW;
  const shares = series.map((s) => {
    const n = s.buckets.reduce((a, b) => a + b.count, 0) || 1;
    return s.buckets.map((b) => ({ ...b, share: b.count / n }));
  });
  const maxShare = Math.max(...shares.flat().map((b) => b.share), 1e-9);
  const step = niceStep(maxShare * 100, 4) / 100;
  const yMax = Math.ceil(maxShare / step) * step;
  const Y = (share: number): number => top + plotH - (share / yMax) * plotH;
  let body = legend(series.map((s) => ({ label: s.name, color: s.color })), 16, left);
  for (let v = 0; v <= yMax + 1e-12; v += step) {
    body += `<line x1="${left}" y1="${f(Y(v))}" x2="${W - right}" y2="${f(Y(v))}" stroke="#e5e7eb"/><text x="${left - 6}" y="${f(Y(v) + 4)}" text-anchor="end" fill="#6b7280" font-size="11">${(v * 100).toFixed(v * 100 < 1 ? 1 : 0)}%</text>`;
  }
  for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < lo * 0.999 || v > hi * 1.001) continue;
      body += `<line x1="${f(X(v))}" y1="${top}" x2="${f(X(v))}" y2="${top + plotH}" stroke="#f3f4f6"/><text x="${f(X(v))}" y="${top + plotH + 16}" text-anchor="middle" fill="#6b7280" font-size="11">${esc(opts.format(v))}</text>`;
    }
  }
  series.forEach((s, i) => {
    const pts = shares[i]!;
    let d = `M${f(X(pts[0]!.from || lo))},${f(Y(0))}`;
    for (const b of pts) d += `V${f(Y(b.share))}H${f(X(b.to))}`;
    d += `V${f(Y(0))}Z`;
    body += `<path class="area" d="${d}" fill="${s.color}" fill-opacity="0.28" stroke="${s.color}" stroke-width="1.5"/>`;
    for (const b of pts) {
      if (b.count === 0) continue;
      body += `<rect x="${f(X(b.from || lo))}" y="${top}" width="${f(Math.max(1, X(b.to) - X(b.from || lo)))}" height="${plotH}" fill="transparent"><title>${esc(`${s.name}: ${(b.share * 100).toFixed(2)}% of responses in ${opts.format(b.from)}–${opts.format(b.to)} (${b.count})`)}</title></rect>`;
    }
    s.marks.forEach((m, j) => {
      const x = X(m.at);
      // near the right edge the label goes left of its line
      const anchor = x > W - right - 110 ? `x="${f(x - 4)}" text-anchor="end"` : `x="${f(x + 4)}"`;
      body += `<line x1="${f(x)}" y1="${top}" x2="${f(x)}" y2="${top + plotH}" stroke="${s.color}" stroke-dasharray="4 3"/><text ${anchor} y="${top + 12 + (i * s.marks.length + j) * 14}" fill="${s.color}" font-size="11">${esc(`${m.label} ${opts.format(m.at)}`)}</text>`;
    });
  });
  body += `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#374151" font-size="12">latency (log scale)</text>`;
  return svg(top + plotH + 44, opts.label, body);
}

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

/** Values per second of a run, one line per series, from 0. */
export function lineChart(series: readonly LineSeries[], opts: { label: string; format: (v: number) => string; xLabel: string }): string {
  const left = 64;
  const right = 16;
  const top = 34;
  const plotH = 180;
  const plotW = W - left - right;
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  const step = niceStep(max, 4);
  const yMax = Math.ceil(max / step) * step;
  const X = (i: number): number => left + (i / (n - 1)) * plotW;
  const Y = (v: number): number => top + plotH - (v / yMax) * plotH;
  let body = legend(series.map((s) => ({ label: s.name, color: s.color })), 16, left);
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    body += `<line x1="${left}" y1="${f(Y(v))}" x2="${W - right}" y2="${f(Y(v))}" stroke="#e5e7eb"/><text x="${left - 6}" y="${f(Y(v) + 4)}" text-anchor="end" fill="#6b7280" font-size="11">${esc(opts.format(v))}</text>`;
  }
  const every = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += every) body += `<text x="${f(X(i))}" y="${top + plotH + 16}" text-anchor="middle" fill="#6b7280" font-size="11">${i + 1}</text>`;
  for (const s of series) {
    if (s.values.length === 0) continue;
    const pts = s.values.map((v, i) => `${f(X(i))},${f(Y(v))}`).join(' ');
    body += `<polyline class="line" points="${pts}" fill="none" stroke="${s.color}" stroke-width="2.5" stroke-linejoin="round"/>`;
    s.values.forEach((v, i) => {
      body += `<circle cx="${f(X(i))}" cy="${f(Y(v))}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}, second ${i + 1}: ${opts.format(v)}`)}</title></circle>`;
    });
  }
  body += `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#374151" font-size="12">${esc(opts.xLabel)}</text>`;
  return svg(top + plotH + 44, opts.label, body);
}

export interface Group {
  readonly label: string;
  readonly values: readonly number[];
}

/** Grouped vertical bars: one group per label (p50, p90...), one bar per series. */
export function groupedBars(groups: readonly Group[], series: readonly { name: string; color: string }[], opts: { label: string; format: (v: number) => string }): string {
  const left = 64;
  const right = 16;
  const top = 34;
  const plotH = 180;
  const plotW = W - left - right;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values));
  const step = niceStep(max, 4);
  const yMax = Math.ceil(max / step) * step;
  const Y = (v: number): number => top + plotH - (v / yMax) * plotH;
  const gw = plotW / groups.length;
  const bw = Math.min(46, (gw * 0.7) / series.length);
  let body = legend(series.map((s) => ({ label: s.name, color: s.color })), 16, left);
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    body += `<line x1="${left}" y1="${f(Y(v))}" x2="${W - right}" y2="${f(Y(v))}" stroke="#e5e7eb"/><text x="${left - 6}" y="${f(Y(v) + 4)}" text-anchor="end" fill="#6b7280" font-size="11">${esc(opts.format(v))}</text>`;
  }
  groups.forEach((g, i) => {
    const gx = left + i * gw + (gw - bw * series.length) / 2;
    g.values.forEach((v, j) => {
      const s = series[j]!;
      const h = Math.max(v > 0 ? 1.5 : 0, (v / yMax) * plotH);
      body += `<g class="bar"><title>${esc(`${s.name} ${g.label}: ${opts.format(v)}`)}</title><rect x="${f(gx + j * bw)}" y="${f(top + plotH - h)}" width="${f(bw - 4)}" height="${f(h)}" rx="2" fill="${s.color}"/></g>`;
    });
    body += `<text x="${f(left + i * gw + gw / 2)}" y="${top + plotH + 16}" text-anchor="middle" fill="#374151">${esc(g.label)}</text>`;
  });
  return svg(top + plotH + 26, opts.label, body);
}

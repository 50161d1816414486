/**
 * `--html FILE`: one self-contained page (inline CSS and SVG, no script, nothing fetched)
 * that leads with the answer (how fast, and which filter takes the time) and then shows the
 * charts and the figures behind them. The report's JSON rides along in a
 * `<script type="application/json">` block (data, never run) for whoever wants the numbers.
 */
import { barChart, esc, groupedBars, histogramChart, lineChart, MUTED, PALETTE, shareBar } from './charts.js';
import { bytes, mbps, ms, num, pct, rate, ratio } from './format.js';
import type { BenchReport, ChainSection, LoadSection } from './report.js';

type ChainDirection = ChainSection['directions'][number];

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #111827; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 860px; margin: 0 auto; padding: 28px 20px 60px; }
header h1 { margin: 0; font-size: 26px; letter-spacing: -0.01em; }
header p { margin: 4px 0 0; color: #4b5563; }
section { background: #fff; border-radius: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.08); padding: 20px 22px; margin-top: 22px; }
h2 { margin: 0 0 4px; font-size: 19px; }
h3 { margin: 22px 0 6px; font-size: 15px; color: #374151; }
.sub { color: #6b7280; margin: 0 0 12px; font-size: 13px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f3f4f6; padding: 1px 5px; border-radius: 4px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0 6px; }
.kpi { flex: 1 1 150px; background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 10px; padding: 10px 14px; }
.kpi b { display: block; font-size: 24px; line-height: 1.2; }
.kpi span { color: #6b7280; font-size: 12px; }
.verdict { margin: 10px 0 0; padding: 10px 14px; border-left: 4px solid #2563eb; background: #eff6ff; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; font-size: 13px; }
th, td { padding: 6px 8px; border-bottom: 1px solid #e5e7eb; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { color: #6b7280; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid #d1d5db; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
svg.chart { display: block; margin: 6px 0; }
footer { margin-top: 26px; color: #6b7280; font-size: 13px; }
`;

export function reportHtml(report: BenchReport): string {
  const title = report.mode === 'chain' ? `Chain benchmark: ${report.location.request}` : `Load benchmark: ${report.location.request}`;
  const sections = report.chain ? report.chain.directions.map((d) => chainSection(report.chain!, d)) : report.load ? [loadSection(report.load)] : [];
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`Sluice bench – ${title}`)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${esc(title)}</h1>
<p>${esc(`${report.config} · location ${report.location.name} · upstream ${report.location.upstream}`)}</p>
<p>${esc(`Sluice ${report.sluice} · Node ${report.machine.node} · ${report.machine.cpus} × ${report.machine.cpuModel} · ${report.startedAt}`)}</p>
</header>
${report.chain ? bodyNote(report.chain) : ''}
${sections.join('\n')}
<footer>
${report.mode === 'chain' ? CHAIN_HELP : LOAD_HELP}
<p>Written by <code>sluice bench</code>; the figures are also in this page as JSON (<code>#report</code>) and in <code>--json</code>. How to read them: docs/bench.md.</p>
</footer>
</main>
<script type="application/json" id="report">${json}</script>
</body>
</html>
`;
}

function bodyNote(c: ChainSection): string {
  const src = c.body.source === 'generated' ? `a generated ${c.body.kind} body` : `${c.body.source} (${c.body.kind})`;
  return `<section><h2>The body</h2><p class="sub">${esc(`${src} of ${bytes(c.body.bytes)}, fed in ${bytes(c.body.chunk)} chunks, as ${c.request.method} with ${Object.entries(c.request.headers).map(([k, v]) => `${k}: ${v}`).join(', ') || 'no request headers'}; warm-up ${c.warmup}.`)}</p></section>`;
}

function kpi(value: string, label: string): string {
  return `<div class="kpi"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
}

function chainSection(c: ChainSection, d: ChainDirection): string {
  const colors = d.filters.map((_, i) => PALETTE[i % PALETTE.length]!);
  const slowest = d.filters.reduce<ChainDirection['filters'][number] | undefined>((a, f) => (a === undefined || f.share > a.share ? f : a), undefined);
  const enc = d.head.headers['content-encoding'];
  const verdict = slowest
    ? `${slowest.name} takes ${pct(slowest.share)} of the time of a message${slowest.waitMs > slowest.syncMs ? ` (${pct(slowest.waitMs / slowest.ms)} of that waiting on work off the main thread)` : ''}; the runtime, source and sink ${pct(d.other.share)}.`
    : 'No filter ran for this message: the chain only passed the body through.';
  const segments = [
    ...d.filters.map((f, i) => ({ label: f.name, share: f.share, color: colors[i]!, wait: f.ms > 0 ? (f.share * f.waitMs) / f.ms : 0 })),
    { label: 'runtime, source, sink', share: d.other.share, color: MUTED },
  ];
  const bars = [
    ...d.filters.map((f, i) => ({ label: f.name, value: f.mbps ?? 0, color: colors[i]!, note: `${ms(f.ms)}/msg` })),
    { label: 'whole chain', value: d.mbps, color: '#111827', note: `${ms(d.msPerMessage)}/msg` },
  ];
  const rows = d.filters
    .map(
      (f, i) =>
        `<tr><td><span class="swatch" style="background:${colors[i]}"></span>${esc(f.name === f.filter ? f.name : `${f.name} (${f.filter})`)}</td><td>${bytes(f.bytesIn)}</td><td>${bytes(f.bytesOut)}</td><td>${ms(f.syncMs)}</td><td>${ms(f.waitMs)}</td><td>${pct(f.share)}</td><td>${mbps(f.mbps)}</td></tr>`,
    )
    .join('');
  return `<section class="direction" data-direction="${d.direction}">
<h2>${d.direction === 'output' ? 'Response body (output chain)' : 'Request body (input chain)'}</h2>
<p class="sub"><code>${esc(d.chain)}</code>${d.passedOn.length ? ` · not run for this message: ${esc(d.passedOn.join(', '))}` : ''}</p>
<div class="kpis">${kpi(mbps(d.mbps), 'whole chain, input bytes per second')}${kpi(ms(d.msPerMessage), 'per message')}${kpi(`${bytes(d.bytesIn)} → ${bytes(d.bytesOut)}`, 'in → out per message')}${kpi(ratio(d.ratio), `ratio in/out${enc ? ` (${enc})` : ''}`)}</div>
<p class="verdict">${esc(verdict)}</p>
<h3>Where the time of a message goes</h3>
${shareBar(segments, { label: `share of time per filter, ${d.direction} chain` })}
<h3>Throughput per filter (its bytes in over its own time)</h3>
${barChart(bars, { label: `MB/s per filter, ${d.direction} chain`, format: (v) => `${num(v)} MB/s` })}
<table><thead><tr><th>filter</th><th>in</th><th>out</th><th>in callbacks</th><th>waiting</th><th>share</th><th>alone</th></tr></thead>
<tbody>${rows}<tr><td>runtime, source, sink</td><td></td><td></td><td>${ms(d.other.ms)}</td><td></td><td>${pct(d.other.share)}</td><td></td></tr>
<tr class="total"><td>whole chain</td><td>${bytes(d.bytesIn)}</td><td>${bytes(d.bytesOut)}</td><td colspan="3">${ms(d.msPerMessage)} per message, ${d.messages} messages in ${num(d.seconds)} s</td><td>${mbps(d.mbps)}</td></tr></tbody></table>
</section>`;
}

function loadSection(l: LoadSection): string {
  const series = [{ name: 'through Sluice', color: PALETTE[0]!, f: l.sluice }, ...(l.direct ? [{ name: 'upstream directly', color: PALETTE[1]!, f: l.direct }] : [])];
  const fails = l.sluice.errors + l.sluice.timeouts + l.sluice.non2xx;
  const verdict = l.ratio
    ? `Through Sluice: ${num(l.sluice.requestsPerSec)} requests/s, ${pct(l.ratio.requestsPerSec)} of the upstream alone; median latency ${ms(l.sluice.latency.p50)} against ${ms(l.direct!.latency.p50)}.`
    : `Through Sluice: ${num(l.sluice.requestsPerSec)} requests/s with ${l.connections} connections; half the responses within ${ms(l.sluice.latency.p50)}, 99% within ${ms(l.sluice.latency.p99)}.`;
  const pcts = ['p50', 'p90', 'p99', 'p99.9', 'max'] as const;
  const pick = (f: LoadSection['sluice'], p: (typeof pcts)[number]): number => (p === 'p99.9' ? f.latency.p999 : p === 'max' ? f.latency.max : f.latency[p]);
  const rows = series
    .map(
      (s) =>
        `<tr><td><span class="swatch" style="background:${s.color}"></span>${esc(s.name)}</td><td>${num(s.f.requestsPerSec)}</td><td>${rate(s.f.bytesPerSec)}</td><td>${ms(s.f.latency.p50)}</td><td>${ms(s.f.latency.p90)}</td><td>${ms(s.f.latency.p99)}</td><td>${ms(s.f.latency.max)}</td><td>${s.f.errors + s.f.timeouts}</td><td>${s.f.non2xx}</td></tr>`,
    )
    .join('');
  return `<section class="load">
<h2>Load: ${esc(`${l.method} ${new URL(l.sluice.url).pathname}${new URL(l.sluice.url).search}`)}</h2>
<p class="sub">${esc(`${l.connections} connections, ${num(l.duration)} s per target after ${num(l.warmup)} s of warm-up, autocannon in the benchmarking process, ${l.target === 'child' ? 'Sluice in a child process' : 'a Sluice already running'}.`)}</p>
<div class="kpis">${kpi(num(l.sluice.requestsPerSec), 'requests/s through Sluice')}${l.ratio ? kpi(pct(l.ratio.requestsPerSec), 'of the upstream alone') : ''}${kpi(ms(l.sluice.latency.p99), 'p99 latency')}${kpi(String(fails), 'errors and non-2xx')}</div>
<p class="verdict">${esc(verdict)}</p>
<h3>Latency distribution</h3>
${histogramChart(
  series.map((s) => ({ name: s.name, color: s.color, buckets: s.f.histogram, marks: [{ label: 'p50', at: s.f.latency.p50 }, { label: 'p99', at: s.f.latency.p99 }] })),
  { label: 'latency distribution', format: ms },
)}
<h3>Latency percentiles</h3>
${groupedBars(pcts.map((p) => ({ label: p, values: series.map((s) => pick(s.f, p)) })), series, { label: 'latency percentiles', format: ms })}
<h3>Requests per second, second by second</h3>
${lineChart(series.map((s) => ({ name: s.name, color: s.color, values: s.f.perSecond })), { label: 'requests per second over the run', format: num, xLabel: 'second of the run' })}
<table><thead><tr><th></th><th>req/s</th><th>throughput</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>errors</th><th>non-2xx</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

const CHAIN_HELP = `<p><b>Reading it.</b> Each filter's time is its own callbacks on the main thread plus, hatched, the time the
chain waited on work it handed off (node:zlib compresses in the thread pool). <i>Alone</i> is a filter's bytes in over that
time: what it would sustain by itself. The whole chain's MB/s comes from messages run without any accounting, as the proxy runs them.</p>`;

const LOAD_HELP = `<p><b>Reading it.</b> Closed-loop load: each connection sends its next request when the previous answer is in, so
requests/s and latency trade against each other. The distribution's x axis is logarithmic; a long right tail is where p99 lives.</p>`;

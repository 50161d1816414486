/** The summary printed at the end of a run (stdout), from the report. */
import { bytes, mbps, ms, num, pct, rate, ratio, table } from './format.js';
import type { BenchReport, ChainSection, LoadSection } from './report.js';

export function summaryText(report: BenchReport): string {
  const head = `sluice bench: ${report.config}, ${report.location.request} → location ${report.location.name} (upstream ${report.location.upstream})`;
  if (report.chain) return `${head}\n${chainText(report.chain)}\n`;
  if (report.load) return `${head}\n${loadText(report.load)}\n`;
  return `${head}\n`;
}

function chainText(c: ChainSection): string {
  const out: string[] = [`body: ${bytes(c.body.bytes)} ${c.body.source === 'generated' ? 'generated' : c.body.source} (${c.body.kind}) in ${bytes(c.body.chunk)} chunks; warm-up ${c.warmup}`];
  for (const d of c.directions) {
    out.push('', `${d.direction} chain: ${d.chain}`);
    const rows = d.filters.map((f) => [
      f.name === f.filter ? f.name : `${f.name} (${f.filter})`,
      bytes(f.bytesIn),
      bytes(f.bytesOut),
      ms(f.ms),
      f.waitMs > 0.0005 ? ms(f.waitMs) : '',
      pct(f.share),
      mbps(f.mbps),
    ]);
    rows.push(['runtime, source, sink', '', '', ms(d.other.ms), '', pct(d.other.share), '']);
    rows.push(['whole chain', bytes(d.bytesIn), bytes(d.bytesOut), ms(d.msPerMessage), '', '', mbps(d.mbps)]);
    out.push(table(['filter', 'in', 'out', 'time/msg', 'waiting', 'share', 'alone'], rows));
    const enc = d.head.headers['content-encoding'];
    out.push(
      `  ${num(d.mbps)} MB/s, ${d.messages} messages in ${num(d.seconds)} s; ratio in/out ${ratio(d.ratio)}` +
        // a request has no status: the input chain's head is shown by its encoding only
        (d.direction === 'output' ? `; head: ${d.head.status}${enc ? `, content-encoding ${enc}` : ''}` : enc ? `; content-encoding ${enc}` : '') +
        (d.passedOn.length ? `; not run for this message: ${d.passedOn.join(', ')}` : ''),
    );
    const slowest = [...d.filters].sort((a, b) => b.share - a.share)[0];
    if (slowest && slowest.share >= 0.5) out.push(`  ${slowest.name} takes ${pct(slowest.share)} of the time.`);
  }
  return out.join('\n');
}

function loadText(l: LoadSection): string {
  const row = (name: string, f: LoadSection['sluice']): string[] => [
    name,
    num(f.requestsPerSec),
    rate(f.bytesPerSec),
    ms(f.latency.p50),
    ms(f.latency.p90),
    ms(f.latency.p99),
    ms(f.latency.max),
    String(f.errors + f.timeouts),
    String(f.non2xx),
  ];
  const rows = [row('sluice', l.sluice)];
  if (l.direct) rows.push(row('upstream directly', l.direct));
  if (l.ratio) rows.push(['sluice / direct', num(l.ratio.requestsPerSec), l.ratio.bytesPerSec === null ? '' : num(l.ratio.bytesPerSec), l.ratio.p50 === null ? '' : num(l.ratio.p50), '', l.ratio.p99 === null ? '' : num(l.ratio.p99), '', '', '']);
  const out = [
    `load: ${l.method} ${l.sluice.url}, ${l.connections} connections, ${num(l.duration)} s each after ${num(l.warmup)} s of warm-up${l.target === 'running' ? ' (a running Sluice)' : ''}`,
    table(['', 'req/s', 'throughput', 'p50', 'p90', 'p99', 'max', 'errors', 'non-2xx'], rows),
  ];
  if (l.ratio) out.push(`  Sluice serves ${num(l.ratio.requestsPerSec * 100)}% of the requests/s of the upstream alone.`);
  if (l.sluice.errors + l.sluice.timeouts + l.sluice.non2xx > 0) out.push(`  note: errors or non-2xx responses through Sluice (statuses: ${JSON.stringify(l.sluice.statuses)})`);
  return out.join('\n');
}

/**
 * The results of one `sluice bench` run, as `--json FILE` writes them and the HTML report and
 * the summary table read them. The schema is the contract documented in docs/bench.md (a test
 * holds the two together); `version` changes when a field changes meaning or goes away.
 */
import { Type, type Static } from '@sinclair/typebox';

const Num = Type.Number();
const NumOrNull = Type.Union([Type.Number(), Type.Null()]);

export const FilterFiguresSchema = Type.Object({
  name: Type.String(),
  filter: Type.String(),
  bytesIn: Num,
  bytesOut: Num,
  syncMs: Num,
  waitMs: Num,
  ms: Num,
  share: Num,
  mbps: NumOrNull,
});

export const ChainFiguresSchema = Type.Object({
  direction: Type.Union([Type.Literal('output'), Type.Literal('input')]),
  chain: Type.String(),
  filters: Type.Array(FilterFiguresSchema),
  passedOn: Type.Array(Type.String()),
  other: Type.Object({ ms: Num, share: Num }),
  bytesIn: Num,
  bytesOut: Num,
  ratio: NumOrNull,
  messages: Num,
  seconds: Num,
  mbps: Num,
  msPerMessage: Num,
  head: Type.Object({ status: Num, headers: Type.Record(Type.String(), Type.String()) }),
});

export const LoadFiguresSchema = Type.Object({
  url: Type.String(),
  requests: Num,
  seconds: Num,
  requestsPerSec: Num,
  bytesPerSec: Num,
  latency: Type.Object({ mean: Num, p50: Num, p90: Num, p99: Num, p999: Num, max: Num }),
  errors: Num,
  timeouts: Num,
  non2xx: Num,
  statuses: Type.Record(Type.String(), Num),
  histogram: Type.Array(Type.Object({ from: Num, to: Num, count: Num })),
  perSecond: Type.Array(Num),
});

export const BenchReportSchema = Type.Object({
  tool: Type.Literal('sluice bench'),
  version: Type.Literal(1),
  sluice: Type.String(),
  startedAt: Type.String(),
  machine: Type.Object({ node: Type.String(), platform: Type.String(), arch: Type.String(), cpus: Num, cpuModel: Type.String() }),
  config: Type.String(),
  location: Type.Object({
    request: Type.String(),
    name: Type.String(),
    upstream: Type.String(),
    servers: Type.Array(Type.String()),
  }),
  mode: Type.Union([Type.Literal('chain'), Type.Literal('load')]),
  chain: Type.Union([
    Type.Object({
      body: Type.Object({ source: Type.String(), kind: Type.String(), bytes: Num, chunk: Num }),
      request: Type.Object({ method: Type.String(), headers: Type.Record(Type.String(), Type.String()) }),
      warmup: Type.String(),
      directions: Type.Array(ChainFiguresSchema),
    }),
    Type.Null(),
  ]),
  load: Type.Union([
    Type.Object({
      connections: Num,
      duration: Num,
      warmup: Num,
      method: Type.String(),
      headers: Type.Record(Type.String(), Type.String()),
      target: Type.Union([Type.Literal('child'), Type.Literal('running')]),
      sluice: LoadFiguresSchema,
      direct: Type.Union([LoadFiguresSchema, Type.Null()]),
      ratio: Type.Union([Type.Object({ requestsPerSec: Num, bytesPerSec: NumOrNull, p50: NumOrNull, p99: NumOrNull }), Type.Null()]),
    }),
    Type.Null(),
  ]),
});

export type BenchReport = Static<typeof BenchReportSchema>;
export type ChainSection = NonNullable<BenchReport['chain']>;
export type LoadSection = NonNullable<BenchReport['load']>;

/** Figures rounded for a file people may read and diff: 4 significant digits at most. */
export function reportJson(report: BenchReport): string {
  return `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v), 2)}\n`;
}

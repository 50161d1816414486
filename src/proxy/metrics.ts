import { FilterError } from '../errors.js';
import type { RunStats } from '../pipeline/meter.js';

/**
 * The proxy's counters, and their Prometheus text exposition (format 0.0.4), written by hand:
 * the format is a few lines of text, and a request records into plain numbers found by one map
 * lookup per location (and one per filter), with no label hashing and no allocation of its own.
 *
 * Counters are kept by location *name* (its match kind and path), not by compiled object, so
 * they run on across config reloads, as a Prometheus counter must.
 */

/** What went wrong with an upstream: it refused the connection, did not answer in time, or cut it. */
export type UpstreamErrorKind = 'refused' | 'timeout' | 'reset' | 'other';

/** Seconds; Prometheus client defaults with finer steps at the low end, where a proxy lives. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The location label of requests no location matched (they get a 404). */
export const NO_LOCATION = '(none)';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface FilterSeries {
  in: number;
  out: number;
}

interface LocationSeries {
  /** Requests by status class: 1xx … 5xx. */
  readonly status: number[];
  aborted: number;
  requestBytes: number;
  responseBytes: number;
  /** Per bucket (not cumulative), the last slot for +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
  readonly input: Map<string, FilterSeries>;
  readonly output: Map<string, FilterSeries>;
}

/** What the exposition shows besides the counters: the config's state. */
export interface ConfigState {
  /** How many configs have served (1 before any reload). */
  readonly generation: number;
}

/**
 * Everything counted, as plain data: what a cluster worker sends its primary, which sums the
 * workers' snapshots (`absorb`) and renders one exposition for the port they share.
 */
export interface MetricsSnapshot {
  readonly buckets: readonly number[];
  readonly locations: ReadonlyArray<readonly [string, SeriesData]>;
  readonly upstreams: ReadonlyArray<readonly [string, Record<UpstreamErrorKind, number>]>;
  readonly generation: number;
  readonly reloads: { readonly accepted: number; readonly refused: number } | undefined;
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

interface SeriesData {
  readonly status: readonly number[];
  readonly aborted: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
  readonly input: ReadonlyArray<readonly [string, FilterSeries]>;
  readonly output: ReadonlyArray<readonly [string, FilterSeries]>;
}

export class ProxyMetrics {
  readonly buckets: readonly number[];
  /**
   * The reloader's counts (the `sluice` command sets them): refused reloads are not seen by
   * the live config, which only knows the configs that served.
   */
  reloads: { readonly accepted: number; readonly refused: number } | undefined;
  readonly #locations = new Map<string, LocationSeries>();
  readonly #upstreams = new Map<string, Record<UpstreamErrorKind, number>>();
  /** What absorb() took in besides counters. */
  readonly #absorbed: { generation: number; reloads: { accepted: number; refused: number } | undefined; cpuSeconds: number; rssBytes: number; count: number } = {
    generation: 0,
    reloads: undefined,
    cpuSeconds: 0,
    rssBytes: 0,
    count: 0,
  };

  constructor(opts: { buckets?: readonly number[] } = {}) {
    const b = [...(opts.buckets ?? LATENCY_BUCKETS)];
    if (b.some((x, i) => !(x > 0) || (i > 0 && x <= b[i - 1]!))) throw new RangeError('histogram buckets must be positive and increasing');
    this.buckets = Object.freeze(b);
  }

  /**
   * One exchange is over (the response closed). `status` is what the client got; 499 (nginx's
   * "client closed request") when it went away before any head was sent. `aborted`: the head
   * went out but the body was cut. Bytes: request body as received, response body as sent,
   * and per filter, from the runs' accounting.
   */
  exchange(location: string, status: number, seconds: number, input: RunStats | undefined, output: RunStats | undefined, aborted: boolean): void {
    const s = this.#location(location);
    const cls = Math.floor(status / 100) - 1;
    if (cls >= 0 && cls < 5) s.status[cls]!++;
    if (aborted) s.aborted++;
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && seconds > buckets[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
    if (input) {
      s.requestBytes += input.bytesIn;
      addFilters(s.input, input);
    }
    if (output) {
      s.responseBytes += output.bytesOut;
      addFilters(s.output, output);
    }
  }

  upstreamError(upstream: string, kind: UpstreamErrorKind): void {
    let u = this.#upstreams.get(upstream);
    if (u === undefined) this.#upstreams.set(upstream, (u = { refused: 0, timeout: 0, reset: 0, other: 0 }));
    u[kind]++;
  }

  snapshot(config?: ConfigState): MetricsSnapshot {
    const usage = process.cpuUsage();
    return {
      buckets: this.buckets,
      locations: [...this.#locations].map(([name, s]) => [name, { ...s, input: [...s.input], output: [...s.output] }] as const),
      upstreams: [...this.#upstreams],
      generation: config?.generation ?? 0,
      reloads: this.reloads ? { accepted: this.reloads.accepted, refused: this.reloads.refused } : undefined,
      cpuSeconds: (usage.user + usage.system) / 1e6,
      rssBytes: process.memoryUsage.rss(),
    };
  }

  /**
   * Add another process's counts to these (a cluster primary summing its workers). Config
   * figures take the highest of any worker: each reloads the same file.
   */
  absorb(snap: MetricsSnapshot): void {
    if (snap.buckets.length !== this.buckets.length || snap.buckets.some((b, i) => b !== this.buckets[i])) throw new RangeError('histogram buckets differ');
    for (const [name, d] of snap.locations) {
      const s = this.#location(name);
      d.status.forEach((n, i) => (s.status[i]! += n));
      s.aborted += d.aborted;
      s.requestBytes += d.requestBytes;
      s.responseBytes += d.responseBytes;
      d.buckets.forEach((n, i) => (s.buckets[i]! += n));
      s.sum += d.sum;
      s.count += d.count;
      for (const [dir, list] of [['input', d.input], ['output', d.output]] as const) {
        for (const [filter, f] of list) {
          const into = s[dir].get(filter);
          if (into) {
            into.in += f.in;
            into.out += f.out;
          } else s[dir].set(filter, { in: f.in, out: f.out });
        }
      }
    }
    for (const [name, u] of snap.upstreams) {
      const into = this.#upstreams.get(name);
      if (into) for (const kind of ['refused', 'timeout', 'reset', 'other'] as const) into[kind] += u[kind];
      else this.#upstreams.set(name, { ...u });
    }
    this.#absorbed.generation = Math.max(this.#absorbed.generation, snap.generation);
    if (snap.reloads) {
      const r = (this.#absorbed.reloads ??= { accepted: 0, refused: 0 });
      r.accepted = Math.max(r.accepted, snap.reloads.accepted);
      r.refused = Math.max(r.refused, snap.reloads.refused);
    }
    this.#absorbed.cpuSeconds += snap.cpuSeconds;
    this.#absorbed.rssBytes += snap.rssBytes;
    this.#absorbed.count++;
  }

  /** The Prometheus text exposition of everything counted so far. */
  render(config?: ConfigState): string {
    const absorbed = this.#absorbed.count > 0 ? this.#absorbed : undefined;
    if (absorbed) {
      config = { generation: Math.max(config?.generation ?? 0, absorbed.generation) };
      this.reloads ??= absorbed.reloads;
    }
    const out: string[] = [];
    const locs = [...this.#locations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

    family(out, 'sluice_requests_total', 'counter', 'Requests answered, by location and status class (499: the client left before the head).');
    for (const [name, s] of locs) {
      STATUS_CLASSES.forEach((c, i) => {
        if (s.status[i]! > 0) out.push(`sluice_requests_total{location="${esc(name)}",status="${c}"} ${s.status[i]}`);
      });
    }
    family(out, 'sluice_responses_aborted_total', 'counter', 'Responses whose body was cut after the head was sent (client gone, upstream or filter failure).');
    for (const [name, s] of locs) out.push(`sluice_responses_aborted_total{location="${esc(name)}"} ${s.aborted}`);

    family(out, 'sluice_request_body_bytes_total', 'counter', 'Request body bytes received from clients (before the input chain), by location.');
    for (const [name, s] of locs) out.push(`sluice_request_body_bytes_total{location="${esc(name)}"} ${s.requestBytes}`);
    family(out, 'sluice_response_body_bytes_total', 'counter', 'Response body bytes sent to clients (after the output chain), by location.');
    for (const [name, s] of locs) out.push(`sluice_response_body_bytes_total{location="${esc(name)}"} ${s.responseBytes}`);

    family(out, 'sluice_filter_in_bytes_total', 'counter', 'Bytes handed to a filter, by location, chain direction and filter (its name in the chain).');
    filterLines(out, locs, 'in');
    family(out, 'sluice_filter_out_bytes_total', 'counter', 'Bytes a filter passed on, by location, chain direction and filter.');
    filterLines(out, locs, 'out');

    family(out, 'sluice_upstream_errors_total', 'counter', 'Upstream failures by upstream and kind: refused (connection refused or unreachable), timeout, reset (cut mid-exchange), other.');
    for (const [name, u] of [...this.#upstreams].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const kind of ['refused', 'timeout', 'reset', 'other'] as const) out.push(`sluice_upstream_errors_total{upstream="${esc(name)}",kind="${kind}"} ${u[kind]}`);
    }

    family(out, 'sluice_request_duration_seconds', 'histogram', 'Time from the request to the end of the response, by location.');
    for (const [name, s] of locs) {
      const l = `location="${esc(name)}"`;
      let cum = 0;
      this.buckets.forEach((b, i) => {
        cum += s.buckets[i]!;
        out.push(`sluice_request_duration_seconds_bucket{${l},le="${b}"} ${cum}`);
      });
      cum += s.buckets[this.buckets.length]!;
      out.push(`sluice_request_duration_seconds_bucket{${l},le="+Inf"} ${cum}`);
      out.push(`sluice_request_duration_seconds_sum{${l}} ${s.sum}`);
      out.push(`sluice_request_duration_seconds_count{${l}} ${s.count}`);
    }

    if (config) {
      family(out, 'sluice_config_generation', 'gauge', 'How many configs have served since start (1 before any reload).');
      out.push(`sluice_config_generation ${config.generation}`);
      family(out, 'sluice_config_reloads_total', 'counter', 'Config reloads: accepted (now serving) and refused (invalid; the previous config kept serving).');
      out.push(`sluice_config_reloads_total{result="accepted"} ${this.reloads?.accepted ?? config.generation - 1}`);
      out.push(`sluice_config_reloads_total{result="refused"} ${this.reloads?.refused ?? 0}`);
    }

    const usage = process.cpuUsage();
    const also = absorbed ? ' (with workers: theirs summed, and the primary\'s)' : '';
    family(out, 'process_cpu_seconds_total', 'counter', `User and system CPU time of this process${also}.`);
    out.push(`process_cpu_seconds_total ${(usage.user + usage.system) / 1e6 + (absorbed?.cpuSeconds ?? 0)}`);
    family(out, 'process_resident_memory_bytes', 'gauge', `Resident memory of this process${also}.`);
    out.push(`process_resident_memory_bytes ${process.memoryUsage.rss() + (absorbed?.rssBytes ?? 0)}`);
    family(out, 'process_start_time_seconds', 'gauge', 'Start time of this process, seconds since the epoch.');
    out.push(`process_start_time_seconds ${START_TIME}`);
    return `${out.join('\n')}\n`;
  }

  #location(name: string): LocationSeries {
    let s = this.#locations.get(name);
    if (s === undefined) {
      s = {
        status: [0, 0, 0, 0, 0],
        aborted: 0,
        requestBytes: 0,
        responseBytes: 0,
        buckets: new Array<number>(this.buckets.length + 1).fill(0),
        sum: 0,
        count: 0,
        input: new Map(),
        output: new Map(),
      };
      this.#locations.set(name, s);
    }
    return s;
  }
}

const START_TIME = Math.round(Date.now() / 1000 - process.uptime());

function addFilters(into: Map<string, FilterSeries>, stats: RunStats): void {
  for (const f of stats.filters) {
    let s = into.get(f.name);
    if (s === undefined) into.set(f.name, (s = { in: 0, out: 0 }));
    s.in += f.bytesIn;
    s.out += f.bytesOut;
  }
}

function filterLines(out: string[], locs: ReadonlyArray<[string, LocationSeries]>, which: 'in' | 'out'): void {
  const metric = `sluice_filter_${which}_bytes_total`;
  for (const [name, s] of locs) {
    for (const direction of ['input', 'output'] as const) {
      for (const [filter, f] of s[direction]) {
        out.push(`${metric}{location="${esc(name)}",direction="${direction}",filter="${esc(filter)}"} ${f[which]}`);
      }
    }
  }
}

function family(out: string[], name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
}

/** A label value: backslash, double quote and line feed escaped, as the format requires. */
function esc(v: string): string {
  return /["\\\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

const TIMEOUT = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const RESET = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'UND_ERR_CLOSED']);

/**
 * The kind of an upstream failure, from the error or its causes (a chain abort wraps undici's
 * error); undefined for a filter's failure, which is not the upstream's. Without a known code,
 * `otherwise`: the handler says `reset` for a body that ended early.
 */
export function upstreamErrorKind(err: unknown, otherwise: UpstreamErrorKind = 'other'): UpstreamErrorKind | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof FilterError) return undefined;
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (TIMEOUT.has(code)) return 'timeout';
    if (REFUSED.has(code)) return 'refused';
    if (RESET.has(code)) return 'reset';
  }
  return otherwise;
}

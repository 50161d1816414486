/**
 * `sluice bench` arguments: parsed strictly (an unknown flag is an error, with the nearest
 * known one suggested), numbers checked with their unit, and the two modes kept apart so a
 * flag of one mode given to the other is refused rather than silently ignored.
 */
import { parseArgs } from 'node:util';
import { BenchUsageError } from '../../errors.js';
import { BODY_KINDS, type BodyKind } from './body.js';

/** A header to set on the benchmark message; an empty value removes a default one. */
export interface HeaderEdit {
  readonly name: string;
  readonly value: string;
}

interface CommonArgs {
  readonly configFile: string;
  readonly jsonFile: string | undefined;
  readonly htmlFile: string | undefined;
  readonly quiet: boolean;
  /** Request headers: the output chain's request, the input chain's message, the load's requests. */
  readonly requestHeaders: readonly HeaderEdit[];
  readonly method: string | undefined;
  /** Seconds of unmeasured warm-up; undefined: the mode's default. */
  readonly warmup: number | undefined;
}

export type BodySpec =
  | { readonly source: 'file'; readonly file: string; readonly kind: BodyKind | undefined }
  | { readonly source: 'generated'; readonly kind: BodyKind; readonly size: number };

export type StopRule = { readonly kind: 'duration'; readonly seconds: number } | { readonly kind: 'iterations'; readonly count: number };

export interface ChainArgs extends CommonArgs {
  readonly mode: 'chain';
  /** The request path (and query) whose location is benchmarked, as a client would send it. */
  readonly location: string;
  readonly body: BodySpec;
  readonly chunk: number;
  /** Also run the location's input chain (the body as a request body). */
  readonly input: boolean;
  readonly stop: StopRule;
  /** Response status the output chain sees. */
  readonly status: number;
  /** Response headers the output chain sees, over the defaults. */
  readonly headers: readonly HeaderEdit[];
}

export interface LoadArgs extends CommonArgs {
  readonly mode: 'load';
  /** The request path (and query) to load. */
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly compareDirect: boolean;
  /** A running Sluice to load instead of starting one. */
  readonly target: URL | undefined;
  /** A request body sent with every request. */
  readonly bodyFile: string | undefined;
}

export type BenchArgs = ChainArgs | LoadArgs | { readonly mode: 'help' };

export const DEFAULTS = {
  size: 64 * 1024,
  kind: 'html' as BodyKind,
  chunk: 16 * 1024,
  chainSeconds: 3,
  connections: 10,
  loadSeconds: 10,
} as const;

export const benchUsage = `usage:
  sluice bench --config FILE --location PATH [body] [options]
      run the location's output chain (and with --input its input chain) in this
      process over a body, and report MB/s and the share of time in each filter
    body: --body FILE | --size BYTES (default 64k) --kind html|json|text|binary (default html)
    --chunk BYTES          chunk size the chain is fed with (default 16k)
    --input                also run the input chain, with the body as a request body
    --duration S           seconds per chain (default 3), or
    --iterations N         messages per chain
    --status N             response status the output chain sees (default 200)
    --header 'NAME: VALUE' response header the output chain sees (repeatable; an
                           empty value removes a default one)

  sluice bench --config FILE --url PATH [options]
      start Sluice for the config in a child process and load PATH through it
    --connections N        concurrent connections (default 10)
    --duration S           seconds of load (default 10)
    --compare-direct       also load the location's upstream directly; print the ratio
    --target URL           load a Sluice already running at URL instead of starting one
    --body FILE            request body sent with every request

  both modes:
    --request-header 'NAME: VALUE'  request header (repeatable); the default
                           accept-encoding is "gzip, deflate, br"
    --method M             request method (default GET; POST for an input chain)
    --warmup S             unmeasured warm-up seconds (default: a fifth of the
                           duration, at most 1 for a chain and 2 for a load;
                           a tenth of the messages with --iterations)
    --json FILE            write the results as JSON (shape: docs/bench.md)
    --html FILE            write a self-contained HTML report with charts
    --quiet                no progress output

  sizes take k, m, g (1024-based, as nginx: 64k, 1m); seconds take s or ms (1.5, 500ms)
  exit status: 0 done, 1 the benchmark failed (a filter error, an unreachable upstream),
  2 usage error
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  location: { type: 'string' },
  url: { type: 'string' },
  body: { type: 'string' },
  size: { type: 'string' },
  kind: { type: 'string' },
  chunk: { type: 'string' },
  input: { type: 'boolean' },
  duration: { type: 'string' },
  iterations: { type: 'string' },
  status: { type: 'string' },
  header: { type: 'string', multiple: true },
  'request-header': { type: 'string', multiple: true },
  method: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  'compare-direct': { type: 'boolean' },
  target: { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

const CHAIN_ONLY = ['size', 'kind', 'chunk', 'input', 'iterations', 'status', 'header'] as const;
const LOAD_ONLY = ['connections', 'compare-direct', 'target'] as const;

/** Parse `sluice bench` arguments (after the word `bench`); throws BenchUsageError. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: negativesJoined(argv), options: OPTIONS, strict: true, allowPositionals: true }));
  } catch (err) {
    throw new BenchUsageError(describeParseError(err));
  }
  if (values['help']) return { mode: 'help' };
  if (positionals.length > 0) throw new BenchUsageError(`unexpected argument "${positionals[0]}" (flags take the form --name VALUE)`);

  const str = (name: keyof typeof OPTIONS): string | undefined => values[name] as string | undefined;
  const given = (name: keyof typeof OPTIONS): boolean => values[name] !== undefined;

  const configFile = str('config');
  if (!configFile) throw new BenchUsageError('missing --config FILE (the Sluice config whose chains or proxy are benchmarked)');
  const location = str('location');
  const url = str('url');
  if (location === undefined && url === undefined) throw new BenchUsageError('say what to benchmark: --location PATH (a chain, in process) or --url PATH (load through the proxy)');
  if (location !== undefined && url !== undefined) throw new BenchUsageError('--location and --url are two modes: give one of them');

  const common: CommonArgs = {
    configFile,
    jsonFile: nonEmpty('json', str('json')),
    htmlFile: nonEmpty('html', str('html')),
    quiet: values['quiet'] === true,
    requestHeaders: headerEdits('request-header', values['request-header'] as string[] | undefined),
    method: method(str('method')),
    warmup: given('warmup') ? seconds('warmup', str('warmup')!, { allowZero: true }) : undefined,
  };

  if (location !== undefined) {
    for (const f of LOAD_ONLY) if (given(f)) throw new BenchUsageError(`--${f} belongs to the --url mode, not --location`);
    const path = requestPath('location', location);
    if (given('body') && given('size')) throw new BenchUsageError('--body FILE and --size BYTES both give the body: use one');
    const kind = given('kind') ? bodyKind(str('kind')!) : undefined;
    const body: BodySpec = given('body')
      ? { source: 'file', file: nonEmpty('body', str('body'))!, kind }
      : { source: 'generated', kind: kind ?? DEFAULTS.kind, size: given('size') ? size('size', str('size')!, { max: 1024 ** 3 }) : DEFAULTS.size };
    if (given('duration') && given('iterations')) throw new BenchUsageError('--duration and --iterations both say how long to run: use one');
    const stop: StopRule = given('iterations')
      ? { kind: 'iterations', count: integer('iterations', str('iterations')!, 1, 1e9) }
      : { kind: 'duration', seconds: given('duration') ? seconds('duration', str('duration')!) : DEFAULTS.chainSeconds };
    return {
      ...common,
      mode: 'chain',
      location: path,
      body,
      chunk: given('chunk') ? size('chunk', str('chunk')!, { max: 64 * 1024 * 1024 }) : DEFAULTS.chunk,
      input: values['input'] === true,
      stop,
      status: given('status') ? integer('status', str('status')!, 100, 599) : 200,
      headers: headerEdits('header', values['header'] as string[] | undefined),
    };
  }

  for (const f of CHAIN_ONLY) if (given(f)) throw new BenchUsageError(`--${f} belongs to the --location mode, not --url`);
  return {
    ...common,
    mode: 'load',
    url: requestPath('url', url!),
    connections: given('connections') ? integer('connections', str('connections')!, 1, 10_000) : DEFAULTS.connections,
    seconds: given('duration') ? seconds('duration', str('duration')!) : DEFAULTS.loadSeconds,
    compareDirect: values['compare-direct'] === true,
    target: given('target') ? targetUrl(str('target')!) : undefined,
    bodyFile: nonEmpty('body', str('body')),
  };
}

// ---- values ------------------------------------------------------------------------------

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const UNIT: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** "64k", "1m", "1.5MiB", "4096": bytes, 1024-based as nginx's sizes. */
export function size(flag: string, text: string, opts: { max: number }): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw new BenchUsageError(`--${flag}: not a size in bytes: "${text}" (examples: 4096, 64k, 1m)`);
  const n = Math.round(Number(m[1]) * UNIT[(m[2] ?? '').toLowerCase()]!);
  if (n < 1) throw new BenchUsageError(`--${flag}: must be at least 1 byte, not "${text}"`);
  if (n > opts.max) throw new BenchUsageError(`--${flag}: at most ${opts.max} bytes, not "${text}"`);
  return n;
}

/** "3", "1.5", "2s", "500ms": seconds. */
export function seconds(flag: string, text: string, opts: { allowZero?: boolean } = {}): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(s|ms)?$/i.exec(text.trim());
  if (!m) throw new BenchUsageError(`--${flag}: not a number of seconds: "${text}" (examples: 3, 1.5, 500ms)`);
  const s = Number(m[1]) / (m[2]?.toLowerCase() === 'ms' ? 1000 : 1);
  if (s === 0 && opts.allowZero) return 0;
  if (!(s >= 0.05)) throw new BenchUsageError(`--${flag}: at least 50ms, not "${text}"`);
  if (s > 24 * 3600) throw new BenchUsageError(`--${flag}: at most a day, not "${text}"`);
  return s;
}

export function integer(flag: string, text: string, min: number, max: number): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) throw new BenchUsageError(`--${flag}: not a whole number: "${text}"`);
  if (n < min || n > max) throw new BenchUsageError(`--${flag}: between ${min} and ${max}, not ${n}`);
  return n;
}

function bodyKind(text: string): BodyKind {
  const k = text.toLowerCase();
  if ((BODY_KINDS as readonly string[]).includes(k)) return k as BodyKind;
  throw new BenchUsageError(`--kind: one of ${BODY_KINDS.join(', ')}, not "${text}"`);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function headerEdits(flag: string, list: readonly string[] | undefined): HeaderEdit[] {
  return (list ?? []).map((h) => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new BenchUsageError(`--${flag}: "NAME: VALUE" expected, not "${h}"`);
    const name = h.slice(0, colon).trim();
    const value = h.slice(colon + 1).trim();
    if (!TOKEN.test(name)) throw new BenchUsageError(`--${flag}: "${name}" is not a header name`);
    if (/[\r\n\0]/.test(value)) throw new BenchUsageError(`--${flag}: the value of "${name}" holds a line break or NUL`);
    return { name: name.toLowerCase(), value };
  });
}

function method(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!TOKEN.test(text)) throw new BenchUsageError(`--method: not an HTTP method: "${text}"`);
  return text.toUpperCase();
}

/** A path as a client sends it: starts with "/" (a query may follow). */
function requestPath(flag: string, text: string): string {
  if (!text.startsWith('/')) throw new BenchUsageError(`--${flag}: a request path starting with "/", not "${text}"${/^https?:/i.test(text) ? ' (the mode loads the path through the proxy; --target URL names a running one)' : ''}`);
  if (/[\s\0]/.test(text)) throw new BenchUsageError(`--${flag}: a path has no spaces or control characters: "${text}"`);
  return text;
}

function targetUrl(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new BenchUsageError(`--target: not a URL: "${text}" (example: http://127.0.0.1:8080)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BenchUsageError(`--target: an http:// or https:// URL, not "${text}"`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search) throw new BenchUsageError(`--target: the origin of a running Sluice (http://host:port); the path goes in --url`);
  return u;
}

function nonEmpty(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text === '') throw new BenchUsageError(`--${flag}: a file name expected`);
  return text;
}

// ---- parse errors --------------------------------------------------------------------------

/**
 * `--duration -1` reads to parseArgs as a flag with no value; joined as `--duration=-1`, the
 * value reaches its own check and the message says what is wrong with it.
 */
function negativesJoined(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const opt = a.startsWith('--') ? OPTIONS[a.slice(2) as keyof typeof OPTIONS] : undefined;
    if (opt?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function describeParseError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
    const near = nearest(flag.replace(/^-+/, ''));
    return `unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /(--[\w-]+)/.exec(message)?.[1];
    if (flag && /argument missing|ambiguous/.test(message)) return `${flag} needs a value`;
    if (flag && /does not take/.test(message)) return `${flag} takes no value`;
  }
  return message;
}

function nearest(name: string): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of Object.keys(OPTIONS)) {
    const d = distance(name, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

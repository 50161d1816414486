/**
 * The split check: a filter (or a chain) must give the same output and the same head however
 * its input is cut into chunks and wherever flush marks fall. Runs the input whole once, then
 * split every way the plan says (splits.ts), stops at the first difference, shrinks that split
 * to a smaller one that still fails, and says where the bytes first differ.
 *
 * No test framework is imported: `checkSplits` returns a report, `assertSplits` throws
 * node:assert's AssertionError (which vitest, node:test, mocha and jest all print as a failed
 * assertion), so the kit works under any of them.
 */
import { AssertionError } from 'node:assert';
import type { FilterRegistry } from '../filters/registry.js';
import type { Direction, FilterDefinition, Flush } from '../filters/types.js';
import type { HeaderMap } from '../filters/headers.js';
import { CompiledChain, compileChain, processChain, type ChainItem, type MessageInit } from '../pipeline/compile.js';
import { describeSplit, feed, plan, printable, reductions, size, type Split } from './splits.js';

/** What is checked: a filter definition, a registered filter's name, chain items, or a compiled chain. */
export type Subject = FilterDefinition<never> | string | readonly ChainItem[] | CompiledChain;

/** The head a run ended with, as decode and the report see it. */
export interface HeadSnapshot {
  readonly status: number;
  readonly headers: HeaderMap;
}

export interface SplitOptions {
  /** The message: request (method, url, headers), status, and the headers of the filtered message. */
  init?: MessageInit;
  /** Options of the filter, when the subject is one filter (a definition or a name). */
  options?: unknown;
  /** Chain direction when the subject is not compiled; default 'output' (a response body). */
  direction?: Direction;
  /** Where names are looked up; default: the built-in filters. */
  registry?: FilterRegistry;
  /**
   * What must not depend on the split, from a run's output: a compressor's bytes legitimately
   * change with flush marks, so give a decoder (`(body) => zlib.gunzipSync(body)`). Applied to
   * the unsplit run too. Default: the bytes as they are.
   */
  decode?: (body: Buffer, head: HeadSnapshot) => Uint8Array | string | Promise<Uint8Array | string>;
  /** The unsplit run's (decoded) output must be this, too. */
  expected?: Uint8Array | string;
  /** Compare status and headers with the unsplit run (default true). */
  headers?: boolean;
  /** Headers left out of the comparison (case-insensitive), for those that may differ by design. */
  ignoreHeaders?: readonly string[];
  /** Inputs up to this many bytes also get every pair of cut points; default 64. */
  pairsUpTo?: number;
  /** Random splits for longer inputs; default 200. */
  random?: number;
  /** Put flush marks in splits (default true); false for a subject that is never given any. */
  flushes?: boolean;
  /**
   * No flush mark before this offset (default 0). For a filter that, by design, decides on
   * what it has when a flush comes early (a charset sniffer choosing liveness over a full
   * sniff window): its output may differ then, and only then.
   */
  flushFrom?: number;
  /**
   * At most this many single cut points, evenly spread (default: every one). For subjects
   * whose every run is costly (a brotli encoder); random splits still cut anywhere.
   */
  maxCuts?: number;
  /** Seed of the random splits (and of the flush marks in pairs); reported, to replay a failure. Default: fixed. */
  seed?: number;
  /** Runs the shrinking of a failing split may take; default 2000. */
  shrinkBudget?: number;
}

/** One run's outcome. */
export interface RunResult {
  readonly status: number;
  /** Header name (lower case) → values, sorted by name. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** The output bytes as the sink got them. */
  readonly body: Buffer;
  /** The output after `decode` (the body itself without one). */
  readonly decoded: Buffer;
  readonly flushes: number;
}

/** The first split found to give a different result, made as small as it would go. */
export interface SplitFailure {
  readonly split: Split;
  /** What differed first: the body, the status, a header, or the split run failed. */
  readonly kind: 'body' | 'status' | 'headers' | 'error';
  /** Body: offset of the first differing byte (in the decoded output). */
  readonly offset?: number;
  /** Body: the byte expected there and the one found (undefined where an output ended). */
  readonly expectedByte?: number;
  readonly actualByte?: number;
  /** The split run's outcome, or its error. */
  readonly actual?: RunResult;
  readonly error?: unknown;
  /** The split first found to fail, when shrinking made it smaller. */
  readonly foundAs?: Split;
  /** Everything above, for a person. */
  readonly message: string;
}

export interface SplitReport {
  readonly ok: boolean;
  /** Splits run (the unsplit reference and shrinking included). */
  readonly runs: number;
  readonly seed: number;
  readonly inputLength: number;
  /** The unsplit run. */
  readonly reference: RunResult;
  readonly failure?: SplitFailure;
}

/** What `assertSplits` throws: node:assert's AssertionError, with the report. */
export class SplitAssertionError extends AssertionError {
  readonly report: SplitReport;
  constructor(report: SplitReport, subject: string) {
    const f = report.failure!;
    super({
      message: `${subject}: output depends on how the input is split.\n${f.message}`,
      actual: f.actual ? excerpt(f.actual.decoded, f.offset ?? 0) : f.error instanceof Error ? f.error.message : String(f.error),
      expected: excerpt(report.reference.decoded, f.offset ?? 0),
      operator: 'sameOutputForEverySplit',
    });
    this.report = report;
  }
}

const DEFAULT_SEED = 0x5117ce;

/**
 * Run `input` through the subject whole, then split every way the plan says; resolves with a
 * report (`ok`, and the smallest failing split found). Rejects only when the unsplit run fails
 * or the subject does not compile: there is nothing to compare with.
 */
export async function checkSplits(subject: Subject, input: Uint8Array | string, opts: SplitOptions = {}): Promise<SplitReport> {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const chain = toChain(subject, opts);
  const seed = opts.seed ?? DEFAULT_SEED;
  let runs = 0;
  const run = async (parts: Array<Uint8Array | Flush>): Promise<RunResult> => {
    runs++;
    const r = await processChain(chain, parts, opts.init ?? {});
    if (r.aborted) throw r.aborted;
    const body = r.body();
    const decoded = opts.decode ? toBuffer(await opts.decode(body, { status: r.head.status, headers: r.head.headers })) : body;
    return { status: r.head.status, headers: headerRecord(r.head.headers, opts.ignoreHeaders), body, decoded, flushes: r.flushes };
  };

  const reference = await run([bytes]);
  if (opts.expected !== undefined) {
    const want = toBuffer(opts.expected);
    if (!want.equals(reference.decoded)) {
      const at = firstDifference(want, reference.decoded);
      throw new AssertionError({
        message: `the unsplit output is not the expected one: first difference at byte ${at}\n${byteLine(want, reference.decoded, at)}`,
        actual: excerpt(reference.decoded, at),
        expected: excerpt(want, at),
        operator: 'strictEqual',
      });
    }
  }

  /** The failure of one split against the reference, or undefined when it matches. */
  const compare = async (split: Split): Promise<Omit<SplitFailure, 'message' | 'foundAs' | 'split'> | undefined> => {
    let actual: RunResult;
    try {
      actual = await run(feed(bytes, split));
    } catch (error) {
      return { kind: 'error', error };
    }
    if (!actual.decoded.equals(reference.decoded)) {
      const offset = firstDifference(reference.decoded, actual.decoded);
      return { kind: 'body', offset, expectedByte: reference.decoded[offset], actualByte: actual.decoded[offset], actual };
    }
    if (opts.headers !== false) {
      if (actual.status !== reference.status) return { kind: 'status', actual };
      if (JSON.stringify(actual.headers) !== JSON.stringify(reference.headers)) return { kind: 'headers', actual };
    }
    return undefined;
  };

  const planned = plan(bytes.length, {
    pairsUpTo: opts.pairsUpTo ?? 64,
    random: opts.random ?? 200,
    flushes: opts.flushes !== false,
    flushFrom: opts.flushFrom ?? 0,
    maxCuts: opts.maxCuts ?? Infinity,
    seed,
  });
  for (const split of planned) {
    const found = await compare(split);
    if (!found) continue;
    // Shrink: keep taking the first smaller split that still fails the same way.
    let smallest = split;
    let failure = found;
    let budget = opts.shrinkBudget ?? 2000;
    for (let progress = true; progress && budget > 0; ) {
      progress = false;
      for (const smaller of reductions(smallest, bytes.length)) {
        if (size(smaller) >= size(smallest) || budget-- <= 0) continue;
        const again = await compare(smaller);
        if (again && again.kind === failure.kind) {
          smallest = smaller;
          failure = again;
          progress = true;
          break;
        }
      }
    }
    const full: SplitFailure = {
      ...failure,
      split: smallest,
      ...(smallest !== split && { foundAs: split }),
      message: describeFailure(bytes, smallest, failure, reference, seed, smallest !== split ? split : undefined),
    };
    return { ok: false, runs, seed, inputLength: bytes.length, reference, failure: full };
  }
  return { ok: true, runs, seed, inputLength: bytes.length, reference };
}

/**
 * `checkSplits`, throwing a SplitAssertionError (an AssertionError) with the smallest failing
 * split and the first differing byte when the output depends on the split. Resolves with the
 * report otherwise (its `reference` is the unsplit output, to check further).
 */
export async function assertSplits(subject: Subject, input: Uint8Array | string, opts: SplitOptions = {}): Promise<SplitReport> {
  const report = await checkSplits(subject, input, opts);
  if (!report.ok) throw new SplitAssertionError(report, nameOf(subject));
  return report;
}

/** The whole input in one chunk: the output and head, for plain assertions next to the split check. */
export async function runFilter(
  subject: Subject,
  input: Uint8Array | string | ReadonlyArray<Uint8Array | string | Flush>,
  opts: Pick<SplitOptions, 'init' | 'options' | 'direction' | 'registry'> = {},
): Promise<{ status: number; headers: HeaderMap; body: Buffer; text: string; flushes: number }> {
  const parts = typeof input === 'string' || input instanceof Uint8Array ? [toBuffer(input)] : input.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
  const r = await processChain(toChain(subject, opts), parts, opts.init ?? {});
  if (r.aborted) throw r.aborted;
  return { status: r.head.status, headers: r.head.headers, body: r.body(), text: r.text(), flushes: r.flushes };
}

// ---------------------------------------------------------------------------------------------

function toChain(subject: Subject, opts: Pick<SplitOptions, 'options' | 'direction' | 'registry'>): CompiledChain {
  if (subject instanceof CompiledChain) return subject;
  const compile = { direction: opts.direction ?? 'output', ...(opts.registry && { registry: opts.registry }) };
  if (Array.isArray(subject)) return compileChain(subject as readonly ChainItem[], compile);
  return compileChain([{ filter: subject as string | FilterDefinition<never>, ...(opts.options !== undefined && { options: opts.options }) }], compile);
}

function nameOf(subject: Subject): string {
  if (typeof subject === 'string') return `filter "${subject}"`;
  if (subject instanceof CompiledChain) return `chain ${subject.describe()}`;
  if (Array.isArray(subject)) return `chain [${subject.map((i: ChainItem) => (typeof i === 'string' ? i : 'create' in i ? i.name : typeof i.filter === 'string' ? i.filter : i.filter.name)).join(', ')}]`;
  return `filter "${(subject as FilterDefinition<never>).name}"`;
}

function toBuffer(x: Uint8Array | string): Buffer {
  return typeof x === 'string' ? Buffer.from(x) : Buffer.isBuffer(x) ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

function headerRecord(headers: HeaderMap, ignore: readonly string[] = []): Record<string, readonly string[]> {
  const skip = new Set(ignore.map((h) => h.toLowerCase()));
  const out: Record<string, readonly string[]> = {};
  for (const name of [...headers.names()].sort()) if (!skip.has(name)) out[name] = headers.getAll(name);
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** A window of output around `at`, for an assertion's expected/actual. */
function excerpt(bytes: Uint8Array, at: number): string {
  const from = Math.max(0, at - 24);
  return `${from > 0 ? '…' : ''}${printable(bytes.subarray(from, at + 24)).slice(1, -1)}${at + 24 < bytes.length ? '…' : ''}`;
}

function byteLine(expected: Uint8Array, actual: Uint8Array, at: number): string {
  const show = (b: number | undefined): string => (b === undefined ? 'end of output' : `0x${b.toString(16).padStart(2, '0')} ${printable(Uint8Array.of(b))}`);
  return [
    `  expected ${show(expected[at])}, actual ${show(actual[at])} (expected ${expected.length} bytes, actual ${actual.length})`,
    `  expected: ${excerpt(expected, at)}`,
    `  actual:   ${excerpt(actual, at)}`,
  ].join('\n');
}

function describeFailure(
  input: Uint8Array,
  split: Split,
  f: Omit<SplitFailure, 'message' | 'foundAs' | 'split'>,
  reference: RunResult,
  seed: number,
  foundAs: Split | undefined,
): string {
  const lines = [`smallest failing split: ${describeSplit(input, split)}`];
  if (f.kind === 'error') {
    lines.push(`this split fails, the unsplit input does not: ${f.error instanceof Error ? `${f.error.name}: ${f.error.message}` : String(f.error)}`);
  } else if (f.kind === 'body') {
    lines.push(`first differing byte of the output at offset ${f.offset}:`, byteLine(reference.decoded, f.actual!.decoded, f.offset!));
  } else if (f.kind === 'status') {
    lines.push(`status: expected ${reference.status}, actual ${f.actual!.status}`);
  } else {
    const names = [...new Set([...Object.keys(reference.headers), ...Object.keys(f.actual!.headers)])].sort();
    for (const n of names) {
      const e = reference.headers[n];
      const a = f.actual!.headers[n];
      if (JSON.stringify(e) !== JSON.stringify(a)) lines.push(`header ${n}: expected ${e ? JSON.stringify(e) : '(absent)'}, actual ${a ? JSON.stringify(a) : '(absent)'}`);
    }
  }
  if (foundAs) lines.push(`(shrunk from ${describeSplit(input, foundAs).split('\n')[0]})`);
  lines.push(`(input ${input.length} bytes; seed ${seed})`);
  return lines.join('\n');
}

/**
 * mod_filter-like conditions on a chain entry (`when:`), compiled once at config load into a
 * predicate over the head phase. Every key given must hold; `not` negates a whole sub-condition.
 *
 *   contentType     media type of the filtered message (response for output chains, request for
 *                   input chains), compared before any ';' and case-insensitively; "text/*",
 *                   "application/*+json" and "*" wildcards. No Content-Type never matches.
 *   status          200, "2xx", "200-299", or a list of these (any matches). Output chains only.
 *   method          request method(s), case-insensitive.
 *   path            regular expression (JavaScript syntax, case-sensitive, unanchored unless
 *                   you anchor it) tested against the request path, without the query.
 *   requestHeader   name → regex tested against the value (repeated lines joined with ", "), or
 *   responseHeader  true (present) / false (absent). A missing header never matches a regex.
 *                   responseHeader is for output chains only.
 *   not             a condition that must NOT hold.
 *
 * Unlike Apache's AddOutputFilterByType (which only acts on 200 responses), nothing is implied:
 * a condition without `status` applies to every status.
 */
import type { Direction, HeadPhase } from '../filters/types.js';
import { ConfigError, formatPath, type PathSegment } from './config/errors.js';
import type { ConditionSpec } from './config/types.js';
import { mediaTypeMatcher } from '../filters/media-type.js';
import { regexSafetyProblem } from './regex-safety.js';

export type Condition = (head: HeadPhase) => boolean;

/** A problem in a condition, its path relative to the condition. */
export interface ConditionProblem {
  path: PathSegment[];
  message: string;
}

const CONTENT_TYPE_RE = /^(\*|[A-Za-z0-9!#$&^_.+*-]+\/[A-Za-z0-9!#$&^_.+*-]+)$/;
const TOKEN_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Everything wrong with a condition that the schema cannot see: regexes that do not compile,
 * malformed status patterns, content types and header names, and keys that make no sense in an
 * input chain (when `direction` is given). Values of the wrong type are left to the schema.
 */
export function conditionProblems(spec: unknown, direction?: Direction): ConditionProblem[] {
  const out: ConditionProblem[] = [];
  check(spec, [], direction, out);
  return out;
}

/**
 * Compile a condition into a predicate; regexes are compiled here, once. Throws a ConfigError
 * naming `at` + the offending key (e.g. `locations[0].output[1].when.path`) when the condition
 * is invalid.
 */
export function compileCondition(spec: ConditionSpec, at: string, direction?: Direction): Condition {
  const problems = conditionProblems(spec, direction);
  if (problems.length) throw new ConfigError(problems.map((p) => ({ path: formatPath(p.path, at), message: p.message })));
  return build(spec);
}

function check(spec: unknown, at: PathSegment[], direction: Direction | undefined, out: ConditionProblem[]): void {
  if (!isObject(spec)) return;
  const add = (path: PathSegment[], message: string): void => {
    out.push({ path: [...at, ...path], message });
  };
  const { contentType, status, method, path, requestHeader, responseHeader, not } = spec as Record<string, unknown>;
  // Wrong types are the schema's to report, but compiling one would throw: say it here too.
  const strings = (v: unknown): boolean => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
  const statusLike = (v: unknown): boolean => typeof v === 'number' || typeof v === 'string';
  for (const [key, value, fits, what] of [
    ['contentType', contentType, strings, 'a media type or a list of them'],
    ['method', method, strings, 'a method or a list of them'],
    ['status', status, (v: unknown) => statusLike(v) || (Array.isArray(v) && v.every(statusLike)), 'a status, a pattern or a list of them'],
    ['path', path, (v: unknown) => typeof v === 'string', 'a regular expression'],
    ['requestHeader', requestHeader, isObject, 'an object: header name → regular expression, true or false'],
    ['responseHeader', responseHeader, isObject, 'an object: header name → regular expression, true or false'],
    ['not', not, isObject, 'a condition (an object)'],
  ] as const) {
    if (value !== undefined && !fits(value)) add([key], `must be ${what}`);
  }

  forEachString(contentType, (ct, i) => {
    if (!CONTENT_TYPE_RE.test(ct.trim())) add(i === undefined ? ['contentType'] : ['contentType', i], `"${ct}" is not a media type pattern (e.g. "text/html", "text/*", "application/*+json", "*")`);
  });

  if (status !== undefined && direction === 'input') add(['status'], 'status applies to output chains only (an input chain filters the request)');
  const statuses = Array.isArray(status) ? status : [status];
  statuses.forEach((s, i) => {
    if (typeof s !== 'string') return;
    const problem = parseStatus(s).problem;
    if (problem) add(Array.isArray(status) ? ['status', i] : ['status'], problem);
  });

  forEachString(method, (m, i) => {
    if (!TOKEN_RE.test(m)) add(i === undefined ? ['method'] : ['method', i], `"${m}" is not an HTTP method`);
  });

  if (typeof path === 'string') {
    const err = regexError(path);
    if (err) add(['path'], err);
  }

  for (const [key, headers] of [
    ['requestHeader', requestHeader],
    ['responseHeader', responseHeader],
  ] as const) {
    if (!isObject(headers)) continue;
    if (key === 'responseHeader' && direction === 'input') {
      add([key], 'responseHeader applies to output chains only (an input chain filters the request)');
      continue;
    }
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN_RE.test(name)) add([key, name], `"${name}" is not a header name`);
      if (typeof value === 'string') {
        const err = regexError(value);
        if (err) add([key, name], err);
      }
    }
  }

  if (not !== undefined) check(not, [...at, 'not'], direction, out);
}

function build(spec: ConditionSpec): Condition {
  const tests: Condition[] = [];

  if (spec.method !== undefined) {
    const methods = new Set(list(spec.method).map((m) => m.toUpperCase()));
    tests.push((h) => methods.has(h.request.method.toUpperCase()));
  }

  if (spec.status !== undefined) {
    const ranges = (Array.isArray(spec.status) ? spec.status : [spec.status]).map((s) =>
      typeof s === 'number' ? ([s, s] as const) : parseStatus(s).range!,
    );
    tests.push((h) => ranges.some(([lo, hi]) => h.status >= lo && h.status <= hi));
  }

  if (spec.contentType !== undefined) {
    const isType = mediaTypeMatcher(list(spec.contentType));
    tests.push((h) => isType(h.headers.get('content-type')));
  }

  if (spec.path !== undefined) {
    const re = new RegExp(spec.path);
    tests.push((h) => {
      const url = h.request.url;
      const q = url.indexOf('?');
      return re.test(q === -1 ? url : url.slice(0, q));
    });
  }

  if (spec.requestHeader !== undefined) {
    for (const test of headerTests(spec.requestHeader)) {
      // In an input chain the filtered message is the request: its head carries the edits of
      // the filters before this one.
      tests.push((h) => test(h.direction === 'input' ? h.headers.get(test.header) : h.request.headers.get(test.header)));
    }
  }

  if (spec.responseHeader !== undefined) {
    for (const test of headerTests(spec.responseHeader)) {
      tests.push((h) => test(h.direction === 'output' ? h.headers.get(test.header) : undefined));
    }
  }

  if (spec.not !== undefined) {
    const inner = build(spec.not);
    tests.push((h) => !inner(h));
  }

  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  return (h) => {
    for (const t of tests) if (!t(h)) return false;
    return true;
  };
}

type HeaderTest = ((value: string | undefined) => boolean) & { header: string };

function headerTests(spec: Record<string, string | boolean>): HeaderTest[] {
  return Object.entries(spec).map(([name, want]) => {
    let test: (value: string | undefined) => boolean;
    if (want === true) test = (v) => v !== undefined;
    else if (want === false) test = (v) => v === undefined;
    else {
      const re = new RegExp(want);
      test = (v) => v !== undefined && re.test(v);
    }
    return Object.assign(test, { header: name.toLowerCase() });
  });
}


/** "200", "2xx", "200-299" → an inclusive range, or the problem with the pattern. */
function parseStatus(s: string): { range?: readonly [number, number]; problem?: string } {
  const t = s.trim();
  let m: RegExpExecArray | null;
  if ((m = /^([1-5])xx$/i.exec(t))) {
    const base = Number(m[1]) * 100;
    return { range: [base, base + 99] };
  }
  if ((m = /^(\d{3})$/.exec(t))) {
    const n = Number(m[1]);
    return n >= 100 && n <= 599 ? { range: [n, n] } : { problem: `status ${n} is outside 100-599` };
  }
  if ((m = /^(\d{3})\s*-\s*(\d{3})$/.exec(t))) {
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    if (lo < 100 || hi > 599) return { problem: `status range "${s}" is outside 100-599` };
    if (lo > hi) return { problem: `status range "${s}" is empty (${lo} > ${hi})` };
    return { range: [lo, hi] };
  }
  return { problem: `"${s}" is not a status pattern (e.g. 200, "2xx", "200-299")` };
}

/** The compile error of a regular expression source, or undefined when it compiles. */
export function regexError(source: string): string | undefined {
  try {
    new RegExp(source);
    // it runs on what clients send: one that backtracks catastrophically is refused at load
    return regexSafetyProblem(source);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return message.replace(/^Invalid/, 'invalid');
  }
}

function list(x: string | readonly string[]): readonly string[] {
  return typeof x === 'string' ? [x] : x;
}

function forEachString(x: unknown, fn: (s: string, index: number | undefined) => void): void {
  if (typeof x === 'string') fn(x, undefined);
  else if (Array.isArray(x)) x.forEach((s, i) => typeof s === 'string' && fn(s, i));
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export { mediaTypeMatcher };

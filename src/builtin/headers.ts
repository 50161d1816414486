import { Type, type Static } from '@sinclair/typebox';
import { FilterOptionsError, HeaderValueError } from '../errors.js';
import type { HeaderMap } from '../filters/headers.js';
import { defineFilter } from '../filters/registry.js';
import type { HeadPhase } from '../filters/types.js';
import { regexSafetyProblem } from '../pipeline/regex-safety.js';
import { confWords } from './support/conf-words.js';
import { headerValueProblem, parseTemplate, render, type Template } from './support/header-template.js';

const ACTIONS = ['set', 'append', 'add', 'merge', 'setifempty', 'unset', 'edit', 'edit*', 'echo'] as const;
type ActionName = (typeof ACTIONS)[number];

const ActionObject = Type.Object(
  {
    action: Type.Union(ACTIONS.map((a) => Type.Literal(a))),
    header: Type.String({ minLength: 1, description: 'Header name (for echo: a regular expression over request header names).' }),
    value: Type.Optional(Type.String({ description: 'The value (set, append, add, merge, setifempty); may use ${variables}.' })),
    pattern: Type.Optional(Type.String({ description: 'edit, edit*: the regular expression (JavaScript syntax).' })),
    replacement: Type.Optional(Type.String({ description: 'edit, edit*: the replacement; $1-$99 groups, $& or $0 the match, ${variables}.' })),
    flags: Type.Optional(Type.String({ description: 'edit, edit*, echo: regular expression flags (i, m, s, u).' })),
  },
  { additionalProperties: false },
);
type ActionSpec = Static<typeof ActionObject>;

const options = Type.Object(
  {
    actions: Type.Array(
      Type.Union([
        Type.String({ description: 'mod_headers form: "set X-Frame-Options DENY", "edit Location ^http: https:", "unset Server".' }),
        ActionObject,
      ]),
      { minItems: 1, description: 'Applied in order to the headers of the filtered message.' },
    ),
  },
  { additionalProperties: false },
);
type Options = Static<typeof options>;

/** One action, compiled at load. */
type Compiled =
  | { readonly kind: 'set' | 'append' | 'add' | 'merge' | 'setifempty'; readonly name: string; readonly value: Template }
  | { readonly kind: 'unset'; readonly name: string }
  | { readonly kind: 'edit'; readonly name: string; readonly re: RegExp; readonly replacement: Template }
  | { readonly kind: 'echo'; readonly re: RegExp };

const TOKEN_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** The runtime owns message framing: a filter that set these could make the body unreadable. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

const compiledFor = new WeakMap<object, readonly Compiled[]>();

function fail(at: string, problem: string): never {
  throw new FilterOptionsError('headers', at, problem);
}

/** mod_headers' directive arguments (without `Header`/`RequestHeader` and conditions) as an object. */
function fromWords(line: string, at: string): ActionSpec {
  let words: string[];
  try {
    words = confWords(line);
  } catch (err) {
    return fail(at, (err as Error).message);
  }
  const [action, header, a, b, ...rest] = words;
  const name = action?.toLowerCase();
  if (!name || !(ACTIONS as readonly string[]).includes(name)) {
    return fail(at, `"${action ?? ''}" is not an action (${ACTIONS.join(', ')})`);
  }
  const kind = name as ActionName;
  const want = kind === 'unset' || kind === 'echo' ? 2 : kind === 'edit' || kind === 'edit*' ? 4 : 3;
  if (words.length !== want || rest.length > 0) {
    const usage = want === 2 ? `${kind} HEADER` : want === 3 ? `${kind} HEADER VALUE` : `${kind} HEADER REGEX REPLACEMENT`;
    return fail(at, `"${line}": expected ${usage} (quote a value that has spaces)`);
  }
  if (want === 4) return { action: kind, header: header!, pattern: a!, replacement: b! };
  if (want === 3) return { action: kind, header: header!, value: a! };
  return { action: kind, header: header! };
}

function regex(source: string, flags: string, at: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (err) {
    return fail(at, `invalid regular expression: ${(err as Error).message}`);
  }
  const unsafe = regexSafetyProblem(source, flags);
  return unsafe ? fail(at, `regular expression ${JSON.stringify(source)} ${unsafe}`) : re;
}

function template(src: string, groups: boolean, at: string): Template {
  let t: Template;
  try {
    t = parseTemplate(src, { groups });
  } catch (err) {
    return fail(at, (err as Error).message);
  }
  // literal text is checked here, once; what variables bring is checked per message
  for (const p of t.parts) {
    if (p.kind !== 'text') continue;
    const problem = headerValueProblem(p.text);
    if (problem) fail(at, problem);
  }
  return t;
}

function compileAction(raw: string | ActionSpec, i: number): Compiled {
  const at = `actions/${i}`;
  const spec = typeof raw === 'string' ? fromWords(raw, at) : raw;
  const kind = spec.action;
  const field = (f: string): string => (typeof raw === 'string' ? at : `${at}/${f}`);
  const only = (allowed: readonly (keyof ActionSpec)[]): void => {
    for (const k of ['value', 'pattern', 'replacement', 'flags'] as const) {
      if (spec[k] !== undefined && !allowed.includes(k)) fail(field(k), `not used by "${kind}"`);
    }
  };
  if (spec.flags !== undefined && !/^[imsu]*$/.test(spec.flags)) {
    fail(field('flags'), `"${spec.flags}": only i, m, s and u (edit* is the one that replaces every match)`);
  }
  if (kind === 'echo') {
    only(['flags']);
    // header names are stored lower-cased: echo matches them case-insensitively
    const flags = spec.flags ?? '';
    return { kind: 'echo', re: regex(spec.header, flags.includes('i') ? flags : `${flags}i`, field('header')) };
  }
  if (!TOKEN_RE.test(spec.header)) fail(field('header'), `"${spec.header}" is not a header name`);
  const name = spec.header.toLowerCase();
  if (kind === 'unset') {
    only([]);
    return { kind, name };
  }
  if (FRAMING.has(name)) fail(field('header'), `${spec.header} is set by the runtime from the body; only unset is allowed`);
  if (kind === 'edit' || kind === 'edit*') {
    only(['pattern', 'replacement', 'flags']);
    if (spec.pattern === undefined) fail(field('pattern'), `"${kind}" needs a pattern`);
    if (spec.replacement === undefined) fail(field('replacement'), `"${kind}" needs a replacement`);
    const flags = (spec.flags ?? '') + (kind === 'edit*' ? 'g' : '');
    return { kind: 'edit', name, re: regex(spec.pattern, flags, field('pattern')), replacement: template(spec.replacement, true, field('replacement')) };
  }
  only(['value']);
  if (spec.value === undefined) fail(field('value'), `"${kind}" needs a value`);
  return { kind, name, value: template(spec.value, false, field('value')) };
}

function compileAll(o: Options): readonly Compiled[] {
  let c = compiledFor.get(o);
  if (!c) {
    c = o.actions.map(compileAction);
    compiledFor.set(o, c);
  }
  return c;
}

function valueOf(t: Template, name: string, head: HeadPhase, groups?: readonly (string | undefined)[]): string {
  const v = render(t, head, groups);
  if (t.fixed === undefined) {
    const problem = headerValueProblem(v);
    if (problem) throw new HeaderValueError(name, problem);
  }
  return v;
}

/** Comma-append, as mod_headers' append does; Set-Cookie lines cannot be joined, so a new line. */
function appendTo(h: HeaderMap, name: string, v: string): void {
  const prev = h.getAll(name);
  if (prev.length === 0) h.set(name, v);
  else if (name === 'set-cookie') h.append(name, v);
  else h.set(name, `${prev.join(', ')}, ${v}`);
}

function apply(actions: readonly Compiled[], head: HeadPhase): void {
  const h = head.headers;
  for (const a of actions) {
    switch (a.kind) {
      case 'set':
        h.set(a.name, valueOf(a.value, a.name, head));
        break;
      case 'setifempty':
        if (!h.has(a.name)) h.set(a.name, valueOf(a.value, a.name, head));
        break;
      case 'add':
        h.append(a.name, valueOf(a.value, a.name, head));
        break;
      case 'append':
        appendTo(h, a.name, valueOf(a.value, a.name, head));
        break;
      case 'merge': {
        const v = valueOf(a.value, a.name, head);
        if (!h.tokens(a.name).includes(v.trim())) appendTo(h, a.name, v);
        break;
      }
      case 'unset':
        h.delete(a.name);
        break;
      case 'edit':
        edit(h, a, head);
        break;
      case 'echo':
        if (head.direction !== 'output') break;
        for (const [name, value] of head.request.headers.entries()) {
          if (!FRAMING.has(name) && a.re.test(name)) h.append(name, value);
        }
        break;
    }
  }
}

function edit(h: HeaderMap, a: Extract<Compiled, { kind: 'edit' }>, head: HeadPhase): void {
  const lines = h.getAll(a.name);
  if (lines.length === 0) return;
  let changed = false;
  const out: string[] = [];
  for (const line of lines) {
    const next = line.replace(a.re, (...args: unknown[]) => {
      // (match, g1 … gn, offset, input[, named groups])
      const end = args.length - (typeof args[args.length - 1] === 'object' ? 3 : 2);
      return valueOf(a.replacement, a.name, head, args.slice(0, end) as (string | undefined)[]);
    });
    if (next !== line) changed = true;
    // a line the edit leaves empty goes: an empty header says nothing
    if (next.trim() !== '') out.push(next);
  }
  if (!changed) return;
  if (out.length) h.set(a.name, out);
  else h.delete(a.name);
}

/**
 * mod_headers for both directions: set, append, add, merge, setifempty, unset, edit and edit*
 * on the headers of the filtered message (response headers in an output chain, the request
 * headers sent upstream in an input chain), and echo (request headers copied into the
 * response). Values may use request variables (see support/header-template.ts). Header-only:
 * it edits in the header phase and steps aside, so the body costs nothing.
 *
 * It sits at the protocol stage, nearest the client in both chains: in a response it has the
 * last word over what other filters set (Content-Type, Vary, ETag); in a request, every other
 * filter sees its edits (as INFLATE sees RequestHeader's).
 */
export const headers = defineFilter({
  name: 'headers',
  description: 'Sets, appends, merges, unsets and edits request or response headers (mod_headers), with request variables.',
  directions: ['input', 'output'],
  stage: 'protocol',
  preservesLength: true,
  options,
  validate: (o) => void compileAll(o),
  create: (ctx) => {
    const actions = compileAll(ctx.options);
    return {
      onHead(head) {
        apply(actions, head);
        head.passOn();
      },
    };
  },
});

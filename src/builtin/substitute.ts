import { Type, type Static } from '@sinclair/typebox';
import { FilterOptionsError } from '../errors.js';
import { regexSafetyProblem } from '../pipeline/regex-safety.js';
import { defineFilter } from '../filters/registry.js';
import type { Direction, HeadPhase } from '../filters/types.js';
import { asciiCaseInsensitiveMatcher, exactMatcher, LiteralStage } from './support/byte-literal.js';
import { LineStage, lineText } from './support/line-splitter.js';
import { Collector, PiecesInstance, searchCharset } from './support/pieces.js';
import {
  batchSafe,
  escapeRegExp,
  expander,
  groupCount,
  jsReplacement,
  parseFlags,
  parseSubstitute,
  parseTemplate,
  type ParsedFlags,
} from './support/substitute-rules.js';
import { SubstituteLines, type LineRule } from './support/substitute-lines.js';
import { canEncode, encodeText } from './support/text-codec.js';
import { checkCharsets, markRewritten, parseSize, rewriteCharset, TextFilterOptions } from './support/text-filter.js';

const RuleObject = Type.Object(
  {
    pattern: Type.String({ minLength: 1, description: 'A regular expression (JavaScript syntax), or a fixed string with flag n.' }),
    replacement: Type.String({ description: 'Replacement; $0-$9 are the match and its groups (regex rules), \\x is x.' }),
    flags: Type.String({ default: '', pattern: '^[infqINFQ]*$', description: 'i (ignore case), n (fixed string), f (flatten, default), q (no flatten).' }),
  },
  { additionalProperties: false },
);

const options = Type.Object(
  {
    rules: Type.Array(Type.Union([Type.String({ description: 'mod_substitute form: s/pattern/replacement/[infq], any delimiter.' }), RuleObject]), {
      minItems: 1,
      description: 'Applied in order; each sees the result of the ones before it (unless they have flag q).',
    }),
    flushPartialLines: Type.Boolean({
      default: false,
      description: 'On a flush mark, also run and send a partial line (a regex match across the flush point is then missed).',
    }),
    ...TextFilterOptions,
  },
  { additionalProperties: false },
);
type Options = Static<typeof options>;

/** One rule, compiled at config load. */
interface Rule {
  readonly pattern: string;
  readonly replacement: string;
  readonly flags: ParsedFlags;
  /** Set for regex rules and for case-insensitive fixed strings that are not ASCII. */
  readonly line: LineRule | undefined;
}

type StagePlan =
  | { kind: 'literal'; exact: Buffer | undefined; ci: string | undefined; replacement: Buffer; fixed: boolean }
  | { kind: 'lines'; rules: LineRule[] };

/** The stages for messages in one charset, worked out once per charset. */
interface Plan {
  readonly stages: readonly StagePlan[];
  /** Replacement buffers reused by every message (the collector copies them before pushing alone). */
  readonly shared: ReadonlySet<Uint8Array>;
}

class Compiled {
  readonly rules: readonly Rule[];
  readonly maxLineLength: number;
  readonly #plans = new Map<string, Plan>();

  constructor(o: Options) {
    this.rules = o.rules.map((r, i) => compileRule(r, i));
    this.maxLineLength = parseSize(o.maxLineLength);
  }

  /** The plan for a byte-searchable charset (utf-8 or single-byte). */
  plan(charset: string): Plan {
    let p = this.#plans.get(charset);
    if (!p) {
      p = makePlan(this.rules, charset);
      this.#plans.set(charset, p);
    }
    return p;
  }
}

const compiledCache = new WeakMap<Options, Compiled>();
function compiled(o: Options): Compiled {
  let c = compiledCache.get(o);
  if (!c) {
    c = new Compiled(o);
    compiledCache.set(o, c);
  }
  return c;
}

function compileRule(spec: Options['rules'][number], index: number): Rule {
  const option = `rules/${index}`;
  try {
    const { pattern, replacement, flags } =
      typeof spec === 'string' ? parseSubstitute(spec) : { pattern: spec.pattern, replacement: spec.replacement, flags: parseFlags(spec.flags) };
    let line: LineRule | undefined;
    if (!flags.literal) line = lineRule(pattern, replacement, flags);
    else if (flags.ignoreCase && !/^[\x00-\x7f]*$/.test(pattern)) line = lineRule(escapeRegExp(pattern), replacement.replace(/[\\$]/g, '\\$&'), flags);
    return { pattern, replacement, flags, line };
  } catch (err) {
    throw new FilterOptionsError('substitute', option, err instanceof Error ? err.message : String(err));
  }
}

function lineRule(pattern: string, replacement: string, flags: ParsedFlags): LineRule {
  let test: RegExp;
  try {
    test = new RegExp(pattern, flags.ignoreCase ? 'i' : '');
  } catch (err) {
    throw new Error(`invalid regular expression: ${err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err)}`);
  }
  const unsafe = regexSafetyProblem(pattern, test.flags);
  if (unsafe) throw new Error(`regular expression ${JSON.stringify(pattern)} ${unsafe}`);
  const template = parseTemplate(replacement);
  const groups = groupCount(test);
  for (const p of template) {
    if (typeof p === 'number' && p > groups) throw new Error(`replacement uses $${p} but the pattern has ${groups} group${groups === 1 ? '' : 's'}`);
  }
  return {
    test,
    global: new RegExp(pattern, flags.ignoreCase ? 'gi' : 'g'),
    expand: expander(template),
    js: jsReplacement(template),
    batchSafe: batchSafe(test),
    newlineFree: !/\[\^|\\[sWDnrxuc0-9]|[\x00-\x1f]/.test(pattern),
    quick: !flags.flatten,
  };
}

function makePlan(rules: readonly Rule[], charset: string): Plan {
  const stages: StagePlan[] = [];
  const shared = new Set<Uint8Array>();
  for (const r of rules) {
    if (r.line) {
      const prev = stages[stages.length - 1];
      if (prev?.kind === 'lines') prev.rules.push(r.line);
      else stages.push({ kind: 'lines', rules: [r.line] });
      continue;
    }
    // A fixed string that has no form in this charset cannot occur in the body.
    if (!r.flags.ignoreCase && !canEncode(r.pattern, charset)) continue;
    const replacement = encodeText(r.replacement, charset);
    shared.add(replacement);
    stages.push({
      kind: 'literal',
      exact: r.flags.ignoreCase ? undefined : encodeText(r.pattern, charset),
      ci: r.flags.ignoreCase ? r.pattern : undefined,
      replacement,
      fixed: !r.flags.flatten,
    });
  }
  return { stages, shared };
}

/**
 * mod_substitute: ordered search-and-replace rules over a text body, in both directions.
 *
 * Fixed-string rules (n) are searched in the bytes, in the message's charset, with
 * Buffer.indexOf, holding back only a possible partial match between chunks. Regex rules run
 * line by line (a match never spans a newline, as in Apache), holding the unterminated tail up
 * to maxLineLength. Text in a charset that cannot be searched as bytes (Shift_JIS, GBK, UTF-16)
 * is converted to UTF-8 and back around the rules.
 */
export const substitute = defineFilter({
  name: 'substitute',
  description: 'Search and replace in text bodies (mod_substitute): s/pattern/replacement/[infq] rules, fixed strings or regexes.',
  stage: 'resource',
  options,
  validate: (o) => {
    checkCharsets(o);
    parseSize(o.maxLineLength);
    compiled(o);
  },
  create: (ctx) => new SubstituteInstance(compiled(ctx.options), ctx.options, ctx.direction),
});

class SubstituteInstance extends PiecesInstance {
  readonly #c: Compiled;
  readonly #o: Options;
  readonly #direction: Direction;
  constructor(c: Compiled, o: Options, direction: Direction) {
    super();
    this.#c = c;
    this.#o = o;
    this.#direction = direction;
  }

  onHead(head: HeadPhase): void {
    const o = this.#o;
    const charset = rewriteCharset(head, o);
    if (charset === undefined) {
      head.passOn();
      return;
    }
    const searched = searchCharset(charset);
    const plan = this.#c.plan(searched);
    if (plan.stages.length === 0) {
      head.passOn();
      return;
    }
    markRewritten(head);
    const codec = lineText(searched);
    this.wireText(charset, new Collector(plan.shared), (tail) => {
      let next = tail;
      for (let i = plan.stages.length - 1; i >= 0; i--) {
        const s = plan.stages[i]!;
        if (s.kind === 'lines') {
          next = new LineStage(new SubstituteLines(s.rules), codec, next, {
            maxLineLength: this.#c.maxLineLength,
            direction: this.#direction,
            flushPartial: o.flushPartialLines,
          });
        } else {
          const m = s.exact ? exactMatcher(s.exact) : asciiCaseInsensitiveMatcher(s.ci!);
          next = new LiteralStage(m, s.replacement, s.fixed, next, o.flushPartialLines);
        }
      }
      return next;
    });
  }
}

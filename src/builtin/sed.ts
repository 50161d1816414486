import { Type, type Static } from '@sinclair/typebox';
import { FilterOptionsError } from '../errors.js';
import { defineFilter } from '../filters/registry.js';
import type { Direction, HeadPhase } from '../filters/types.js';
import { LineStage, lineText } from './support/line-splitter.js';
import { Collector, PiecesInstance, searchCharset } from './support/pieces.js';
import { SedLines } from './support/sed-exec.js';
import { parseSed, type Program } from './support/sed-script.js';
import { checkCharsets, markRewritten, parseSize, rewriteCharset, TextFilterOptions } from './support/text-filter.js';

const options = Type.Object(
  {
    script: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
      description: 'A sed script; a list is joined by newlines (each entry like one OutputSed / InputSed line).',
    }),
    quiet: Type.Boolean({ default: false, description: 'Print only what the script prints (sed -n).' }),
    extended: Type.Boolean({ default: false, description: 'Extended regular expressions (sed -E) instead of basic ones.' }),
    ...TextFilterOptions,
  },
  { additionalProperties: false },
);
type Options = Static<typeof options>;

interface Compiled {
  readonly program: Program;
  readonly maxLineLength: number;
}

const cache = new WeakMap<Options, Compiled>();
function compiled(o: Options): Compiled {
  let c = cache.get(o);
  if (!c) {
    let program: Program;
    try {
      program = parseSed(typeof o.script === 'string' ? o.script : o.script.join('\n'), { extended: o.extended });
    } catch (err) {
      throw new FilterOptionsError('sed', 'script', err instanceof Error ? err.message : String(err));
    }
    c = { program, maxLineLength: parseSize(o.maxLineLength) };
    cache.set(o, c);
  }
  return c;
}

/**
 * mod_sed: a sed script run over text bodies line by line, for requests and responses. The
 * unterminated tail is held up to maxLineLength; a flush mark sends every complete line (a
 * partial one stays, as in mod_sed). Text in a charset that cannot be searched as bytes is
 * converted to UTF-8 and back around the script.
 */
export const sed = defineFilter({
  name: 'sed',
  description: 'Runs a sed script (s, y, d, p, a/i/c, hold space, addresses and ranges) over text bodies, line by line (mod_sed).',
  stage: 'resource',
  options,
  validate: (o) => {
    checkCharsets(o);
    compiled(o);
  },
  create: (ctx) => new SedInstance(compiled(ctx.options), ctx.options, ctx.direction),
});

class SedInstance extends PiecesInstance {
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
    markRewritten(head);
    const collector = new Collector(new Set());
    this.wireText(charset, collector, (next) =>
      new LineStage(new SedLines(this.#c.program, o.quiet), lineText(searchCharset(charset)), next, {
        maxLineLength: this.#c.maxLineLength,
        direction: this.#direction,
      }),
    );
  }
}

import { regexSafetyProblem } from '../../pipeline/regex-safety.js';
import { posixToJs } from './posix-regex.js';
import { expander, groupCount, type Template } from './substitute-rules.js';

/**
 * A sed script parsed into a flat program: commands with addresses, `{ … }` blocks as jumps,
 * labels resolved. The subset: s (flags g, p, N, i/I), y, d, p, =, a, i, c, h, H, g, G, x,
 * b, t, :label, { }, !, # comments; addresses N, $, /re/ (and \cREc, with I), ranges a1,a2.
 * Commands that read further input or touch files (n N D P q r w e l) are refused.
 */

export type Address = { kind: 'line'; n: number } | { kind: 'last' } | { kind: 're'; re: RegExp };

export type Op =
  | { t: 's'; re: RegExp; expand: (m: ArrayLike<string | undefined>) => string; global: boolean; nth: number; print: boolean }
  | { t: 'y'; map: ReadonlyMap<string, string> }
  | { t: 'a' | 'i' | 'c'; text: string }
  | { t: 'd' | 'p' | '=' | 'h' | 'H' | 'g' | 'G' | 'x' | '}' }
  | { t: '{'; end: number }
  | { t: 'b' | 't'; target: number };

export interface Command {
  readonly a1: Address | undefined;
  readonly a2: Address | undefined;
  readonly negate: boolean;
  readonly op: Op;
  /** Index into the range states (commands with two addresses). */
  readonly range: number;
}

export interface Program {
  readonly commands: readonly Command[];
  readonly ranges: number;
  /** Some address is `$`: the last line must be known as such. */
  readonly usesLast: boolean;
}

const REFUSED: Record<string, string> = {
  n: 'reads the next line',
  N: 'reads the next line',
  D: 'works on multi-line pattern spaces',
  P: 'works on multi-line pattern spaces',
  q: 'stops reading',
  Q: 'stops reading',
  r: 'reads a file',
  R: 'reads a file',
  w: 'writes a file',
  W: 'writes a file',
  e: 'runs a command',
  l: 'prints escapes',
  z: 'is GNU-only',
  F: 'prints a file name',
};

export function parseSed(script: string, opts: { extended: boolean }): Program {
  return new Parser(script, opts.extended).program();
}

class Parser {
  readonly #s: string;
  readonly #ere: boolean;
  #i = 0;
  #commands: Array<Omit<Command, 'op'> & { op: Op | { t: 'b' | 't'; label: string } }> = [];
  #ranges = 0;
  #usesLast = false;
  readonly #labels = new Map<string, number>();

  constructor(s: string, extended: boolean) {
    this.#s = s;
    this.#ere = extended;
  }

  program(): Program {
    const open: number[] = [];
    for (;;) {
      this.#skip(' \t\n;');
      if (this.#i >= this.#s.length) break;
      if (this.#peek() === '#') {
        this.#toEol();
        continue;
      }
      if (this.#peek() === ':') {
        this.#i++;
        const label = this.#label();
        if (!label) this.#fail('":" needs a label');
        if (this.#labels.has(label)) this.#fail(`label "${label}" defined twice`);
        this.#labels.set(label, this.#commands.length);
        continue;
      }
      const a1 = this.#address();
      let a2: Address | undefined;
      if (a1 && this.#peek() === ',') {
        this.#i++;
        this.#skip(' \t');
        a2 = this.#address();
        if (!a2) this.#fail('expected a second address after ","');
      }
      this.#skip(' \t');
      let negate = false;
      while (this.#peek() === '!') {
        negate = true;
        this.#i++;
        this.#skip(' \t');
      }
      const c = this.#s[this.#i++];
      if (c === undefined) this.#fail('missing command');
      const range = a2 ? this.#ranges++ : -1;
      const at = this.#commands.length;
      const push = (op: Op | { t: 'b' | 't'; label: string }): void => void this.#commands.push({ a1, a2, negate, op, range });
      switch (c) {
        case '{':
          open.push(at);
          push({ t: '{', end: -1 });
          continue; // a command may follow on the same line
        case '}':
          if (a1) this.#fail('"}" takes no address');
          if (open.length === 0) this.#fail('unexpected "}"');
          (this.#commands[open.pop()!]!.op as { end: number }).end = at;
          push({ t: '}' });
          break;
        case 's':
          push(this.#substitute());
          break;
        case 'y':
          push(this.#transliterate());
          break;
        case 'a':
        case 'i':
        case 'c':
          push({ t: c, text: this.#text() });
          continue;
        case 'b':
        case 't':
          this.#skip(' \t');
          push({ t: c, label: this.#label() });
          break;
        case 'd':
        case 'p':
        case '=':
        case 'h':
        case 'H':
        case 'g':
        case 'G':
        case 'x':
          push({ t: c });
          break;
        default:
          this.#fail(REFUSED[c] ? `command "${c}" ${REFUSED[c]} and is not supported` : `unknown command "${c}"`);
      }
      this.#endOfCommand();
    }
    if (open.length) this.#fail('unmatched "{"');
    const end = this.#commands.length;
    const commands: Command[] = this.#commands.map((cmd) => {
      const op = cmd.op;
      if ((op.t === 'b' || op.t === 't') && 'label' in op) {
        const target = op.label === '' ? end : this.#labels.get(op.label);
        if (target === undefined) this.#fail(`no label "${op.label}"`);
        return { ...cmd, op: { t: op.t, target } };
      }
      return cmd as Command;
    });
    return { commands, ranges: this.#ranges, usesLast: this.#usesLast };
  }

  #fail(problem: string): never {
    throw new Error(`sed script, at character ${Math.min(this.#i, this.#s.length) + 1}: ${problem}`);
  }

  #peek(): string | undefined {
    return this.#s[this.#i];
  }

  #skip(chars: string): void {
    while (this.#i < this.#s.length && chars.includes(this.#s[this.#i]!)) this.#i++;
  }

  #toEol(): void {
    const nl = this.#s.indexOf('\n', this.#i);
    this.#i = nl === -1 ? this.#s.length : nl + 1;
  }

  #endOfCommand(): void {
    this.#skip(' \t');
    const c = this.#peek();
    if (c === undefined || c === ';' || c === '\n' || c === '}') return;
    if (c === '#') return this.#toEol();
    this.#fail(`unexpected "${c}" after a command`);
  }

  /** A label runs to the end of the line or a semicolon (GNU). */
  #label(): string {
    const start = this.#i;
    while (this.#i < this.#s.length && !';\n'.includes(this.#s[this.#i]!)) this.#i++;
    return this.#s.slice(start, this.#i).trim();
  }

  #address(): Address | undefined {
    const c = this.#peek();
    if (c !== undefined && c >= '0' && c <= '9') {
      const m = /^\d+/.exec(this.#s.slice(this.#i))![0];
      this.#i += m.length;
      const n = Number(m);
      if (n === 0) this.#fail('line numbers start at 1');
      return { kind: 'line', n };
    }
    if (c === '$') {
      this.#i++;
      this.#usesLast = true;
      return { kind: 'last' };
    }
    if (c === '/' || c === '\\') {
      this.#i++;
      let d = '/';
      if (c === '\\') {
        d = this.#s[this.#i++] ?? '';
        if (!d || d === '\n' || d === '\\') this.#fail('bad regex delimiter');
      }
      const src = this.#delimited(d, 'regex');
      let flags = 's';
      while (this.#peek() === 'I') {
        flags += 'i';
        this.#i++;
      }
      return { kind: 're', re: this.#regex(src, flags) };
    }
    return undefined;
  }

  /** Text up to an unescaped delimiter; `\<d>` is the delimiter itself, `\n` a newline. */
  #delimited(d: string, what: 'regex' | 'replacement' | 'text'): string {
    let out = '';
    for (;;) {
      const c = this.#s[this.#i++];
      if (c === undefined) this.#fail(`unterminated ${what} (missing "${d}")`);
      if (c === d) return out;
      if (c === '\\') {
        const n = this.#s[this.#i++];
        if (n === undefined) this.#fail(`unterminated ${what}`);
        if (n === d) out += this.#escapedDelimiter(d, what);
        else if (n === '\n') out += '\n';
        else out += c + n;
        continue;
      }
      out += c;
    }
  }

  /** What `\<d>` becomes: the delimiter as a literal character of that field's syntax. */
  #escapedDelimiter(d: string, what: 'regex' | 'replacement' | 'text'): string {
    if (what === 'regex') return (this.#ere ? '.[\\()*+?{|^$' : '.[\\*^$').includes(d) ? `\\${d}` : d;
    if (what === 'replacement') return /[0-9nt]/.test(d) ? d : `\\${d}`;
    return d;
  }

  #regex(src: string, flags: string): RegExp {
    if (src === '') this.#fail('an empty regex (the last regex used) is not supported');
    let re: RegExp;
    try {
      re = new RegExp(posixToJs(src, this.#ere), flags);
    } catch (err) {
      this.#fail(err instanceof Error ? err.message : String(err));
    }
    const unsafe = regexSafetyProblem(re.source, flags);
    if (unsafe) this.#fail(`regular expression ${JSON.stringify(src)} ${unsafe}`);
    return re;
  }

  #substitute(): Op {
    const d = this.#s[this.#i++];
    if (d === undefined || d === '\n' || d === '\\') this.#fail('bad delimiter for s');
    const src = this.#delimited(d, 'regex');
    const rep = this.#delimited(d, 'replacement');
    let global = false;
    let print = false;
    let nth = 0;
    let flags = 'gs';
    for (;;) {
      const c = this.#peek();
      if (c === 'g') global = true;
      else if (c === 'p') print = true;
      else if (c === 'i' || c === 'I') flags += 'i';
      else if (c !== undefined && c >= '0' && c <= '9') {
        const m = /^\d+/.exec(this.#s.slice(this.#i))![0];
        nth = Number(m);
        if (nth === 0) this.#fail('the s occurrence number starts at 1');
        this.#i += m.length - 1;
      } else if (c === 'w' || c === 'e' || c === 'm' || c === 'M') this.#fail(`s flag "${c}" is not supported`);
      else break;
      this.#i++;
    }
    const re = this.#regex(src, flags);
    const template = sedTemplate(rep);
    const groups = groupCount(re);
    for (const p of template) if (typeof p === 'number' && p > groups) this.#fail(`"\\${p}" refers to a group the regex does not have`);
    return { t: 's', re, expand: expander(template), global, nth: nth || 1, print };
  }

  #transliterate(): Op {
    const d = this.#s[this.#i++];
    if (d === undefined || d === '\n' || d === '\\') this.#fail('bad delimiter for y');
    const from = [...unescapeY(this.#delimited(d, 'text'))];
    const to = [...unescapeY(this.#delimited(d, 'text'))];
    if (from.length !== to.length) this.#fail(`y needs strings of the same length (${from.length} and ${to.length})`);
    const map = new Map<string, string>();
    from.forEach((f, k) => {
      if (!map.has(f)) map.set(f, to[k]!);
    });
    return { t: 'y', map };
  }

  /** a, i, c text: GNU's one-line form (`a text`) or POSIX's (`a\` newline, lines ending in `\` go on). */
  #text(): string {
    this.#skip(' \t');
    if (this.#s[this.#i] === '\\' && this.#s[this.#i + 1] === '\n') this.#i += 2;
    else if (this.#s[this.#i] === '\\') this.#i++;
    let out = '';
    for (;;) {
      const c = this.#s[this.#i++];
      if (c === undefined || c === '\n') break;
      if (c === '\\') {
        const n = this.#s[this.#i++];
        if (n === undefined) break;
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
        continue;
      }
      out += c;
    }
    return out;
  }
}

function unescapeY(s: string): string {
  return s.replace(/\\(.)/gs, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

/** sed's replacement: `&` the match, `\1`-`\9` groups, `\n` newline, `\x` x. */
export function sedTemplate(rep: string): Template {
  const parts: Array<string | number> = [];
  let lit = '';
  const flush = (): void => {
    if (lit) parts.push(lit);
    lit = '';
  };
  for (let i = 0; i < rep.length; i++) {
    const c = rep[i]!;
    if (c === '&') {
      flush();
      parts.push(0);
    } else if (c === '\\' && i + 1 < rep.length) {
      const n = rep[++i]!;
      if (n >= '0' && n <= '9') {
        flush();
        parts.push(Number(n));
      } else lit += n === 'n' ? '\n' : n === 't' ? '\t' : n;
    } else lit += c;
  }
  flush();
  return parts;
}

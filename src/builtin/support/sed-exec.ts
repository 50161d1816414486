import type { LineProcessor, LineResult } from './line-splitter.js';
import { batchSafe } from './substitute-rules.js';
import { replaceInRun } from './substitute-lines.js';
import type { Address, Command, Program } from './sed-script.js';

/**
 * Runs a parsed sed program over one message, line by line (a LineProcessor): pattern space,
 * hold space, range states and line numbers live here, one instance per message.
 *
 * Output follows GNU sed: each line goes out with the newline it came with, so a body whose
 * last line has no newline keeps it that way (Solaris sed, and so mod_sed, adds one).
 */
export class SedLines implements LineProcessor {
  readonly lookahead: boolean;
  readonly #cmds: readonly Command[];
  readonly #quiet: boolean;
  readonly #active: boolean[];
  /** Set when only address-free `s` commands with batch-safe regexes run: see batchMayChange. */
  readonly #tests: readonly RegExp[] | undefined;
  /** Those commands, when each is global (`g`, from the first match): see batch. */
  readonly #runOps: ReadonlyArray<Extract<Command['op'], { t: 's' }>> | undefined;
  #lineNo = 0;
  #hold = '';

  constructor(p: Program, quiet: boolean) {
    this.#cmds = p.commands;
    this.#quiet = quiet;
    this.lookahead = p.usesLast;
    this.#active = new Array<boolean>(p.ranges).fill(false);
    const simple =
      !quiet &&
      p.commands.every((c) => c.op.t === 's' && !c.a1 && !c.negate && !c.op.print && batchSafe(c.op.re));
    const ops = simple ? p.commands.map((c) => c.op as Extract<Command['op'], { t: 's' }>) : undefined;
    this.#tests = ops?.map((op) => new RegExp(op.re.source, op.re.flags.replace('g', '')));
    this.#runOps = ops?.every((op) => op.global && op.nth === 1) ? ops : undefined;
  }

  /**
   * A program of global substitutions over a run of lines at once: the same as line by line
   * when no match holds a newline (a pattern space never does here), else null.
   */
  batch(text: string): string | undefined | null {
    const ops = this.#runOps;
    const tests = this.#tests;
    if (!ops || !tests) return null;
    let s = text;
    let changed = false;
    for (let i = 0; i < ops.length; i++) {
      if (!tests[i]!.test(s)) continue;
      const r = replaceInRun(s, ops[i]!.re, ops[i]!.expand, false);
      if (r === null) return null;
      s = r;
      changed = true;
    }
    return changed ? s : undefined;
  }

  /** A program of plain substitutions cannot change lines none of its regexes matches. */
  batchMayChange(text: string): boolean {
    const tests = this.#tests;
    if (!tests) return true;
    for (const re of tests) if (re.test(text)) return true;
    return false;
  }

  line(text: string, last: boolean): LineResult {
    this.#lineNo++;
    const nl = text.endsWith('\n');
    let ps = nl ? text.slice(0, -1) : text;
    let out = '';
    /** the previous output lacked its newline (only the last line can) */
    let open = false;
    const emit = (s: string, newline: boolean): void => {
      if (open) out += '\n';
      out += s;
      if (newline) out += '\n';
      open = !newline;
    };
    let dirty = false;
    let deleted = false;
    let substituted = false;
    let append: string[] | null = null;
    const cmds = this.#cmds;
    run: for (let pc = 0; pc < cmds.length; ) {
      const cmd = cmds[pc]!;
      if (!this.#selected(cmd, ps, last)) {
        pc = cmd.op.t === '{' ? cmd.op.end + 1 : pc + 1;
        continue;
      }
      const op = cmd.op;
      pc++;
      switch (op.t) {
        case '{':
        case '}':
          break;
        case 's': {
          const r = substitute(ps, op);
          if (r !== undefined) {
            ps = r;
            dirty = true;
            substituted = true;
            if (op.print) emit(ps, nl);
          }
          break;
        }
        case 'y': {
          let r = '';
          for (const ch of ps) r += op.map.get(ch) ?? ch;
          if (r !== ps) {
            ps = r;
            dirty = true;
          }
          break;
        }
        case 'd':
          deleted = true;
          dirty = true;
          break run;
        case 'p':
          emit(ps, nl);
          dirty = true;
          break;
        case '=':
          emit(String(this.#lineNo), true);
          dirty = true;
          break;
        case 'a':
          (append ??= []).push(op.text);
          dirty = true;
          break;
        case 'i':
          emit(op.text, true);
          dirty = true;
          break;
        case 'c':
          // a range is replaced once, at its end; a single line (or a negated range) each time
          if (cmd.range === -1 || cmd.negate || !this.#active[cmd.range]) emit(op.text, true);
          deleted = true;
          dirty = true;
          break run;
        case 'h':
          this.#hold = ps;
          break;
        case 'H':
          this.#hold += `\n${ps}`;
          break;
        case 'g':
          ps = this.#hold;
          dirty = true;
          break;
        case 'G':
          ps += `\n${this.#hold}`;
          dirty = true;
          break;
        case 'x': {
          const t = ps;
          ps = this.#hold;
          this.#hold = t;
          dirty = true;
          break;
        }
        case 'b':
          pc = op.target;
          break;
        case 't':
          if (substituted) {
            substituted = false;
            pc = op.target;
          }
          break;
      }
    }
    if (!dirty && !this.#quiet) return undefined;
    if (!deleted && !this.#quiet) emit(ps, nl);
    if (append) for (const a of append) emit(a, true);
    return out === text ? undefined : out;
  }

  #matches(a: Address, ps: string, last: boolean): boolean {
    switch (a.kind) {
      case 'line':
        return this.#lineNo === a.n;
      case 'last':
        return last;
      case 're':
        return a.re.test(ps);
    }
  }

  #selected(cmd: Command, ps: string, last: boolean): boolean {
    const { a1, a2 } = cmd;
    let hit: boolean;
    if (!a1) hit = true;
    else if (!a2) hit = this.#matches(a1, ps, last);
    else if (!this.#active[cmd.range]) {
      hit = this.#matches(a1, ps, last);
      if (hit) {
        // a line-number end at or before this line closes the range at once; a regex end is
        // looked for from the next line on (POSIX)
        const closes = (a2.kind === 'line' && a2.n <= this.#lineNo) || (a2.kind === 'last' && last);
        this.#active[cmd.range] = !closes;
      }
    } else {
      hit = true;
      if (a2.kind === 'line' ? this.#lineNo >= a2.n : this.#matches(a2, ps, last)) this.#active[cmd.range] = false;
    }
    return cmd.negate ? !hit : hit;
  }
}

/**
 * One `s`: the nth match (default first), or with g the nth and every one after. An empty
 * match right after the previous match is skipped, as GNU sed does ("baaac" s/a*\/x/g → xbxcx).
 */
function substitute(ps: string, op: Extract<Command['op'], { t: 's' }>): string | undefined {
  const re = op.re;
  re.lastIndex = 0;
  let k = 0;
  let out = '';
  let from = 0;
  let prevEnd = -1;
  let did = false;
  for (let m = re.exec(ps); m !== null; m = re.exec(ps)) {
    const len = m[0].length;
    if (len === 0) {
      re.lastIndex++;
      if (m.index === prevEnd) continue;
    }
    k++;
    if (k >= op.nth) {
      out += ps.slice(from, m.index) + op.expand(m);
      from = m.index + len;
      did = true;
      if (!op.global) break;
    }
    prevEnd = m.index + len;
  }
  re.lastIndex = 0;
  return did ? out + ps.slice(from) : undefined;
}

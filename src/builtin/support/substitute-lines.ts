import type { LineProcessor, LineResult, Segment } from './line-splitter.js';

/** A regex rule, compiled once at config load and shared by every message. */
export interface LineRule {
  /** Without the g flag, for tests (no lastIndex state). */
  readonly test: RegExp;
  /** With the g flag, for replacing (String.prototype.replace resets lastIndex itself). */
  readonly global: RegExp;
  readonly expand: (m: ArrayLike<string | undefined>) => string;
  /** The replacement as a String.prototype.replace pattern (see jsReplacement). */
  readonly js: string;
  readonly batchSafe: boolean;
  /** The regex cannot match a newline (no negated class, \s, \W, \D, escapes or control characters). */
  readonly newlineFree: boolean;
  /** Its replacements are fixed: later rules neither see them nor match across them (q). */
  readonly quick: boolean;
}

/**
 * A run of consecutive regex rules applied to each line in order, as mod_substitute applies
 * its patterns to its line buffer: each rule sees the line as the rules before it left it.
 */
export class SubstituteLines implements LineProcessor {
  readonly #rules: readonly LineRule[];
  readonly #segmented: boolean;
  readonly #batchable: boolean;

  constructor(rules: readonly LineRule[]) {
    this.#rules = rules;
    this.#segmented = rules.some((r) => r.quick);
    this.#batchable = !this.#segmented && rules.every((r) => r.batchSafe);
  }

  /**
   * All the lines of a chunk in one replace per rule. For batch-safe rules this equals line by
   * line as long as no match spans a newline inside it (one ending with its line's newline is
   * fine); a rule that could match a newline is checked match by match, and one such match
   * sends the run back to line by line.
   */
  batch(text: string): string | undefined | null {
    if (!this.#batchable) return null;
    let s = text;
    let changed = false;
    for (const r of this.#rules) {
      if (!r.test.test(s)) continue;
      changed = true;
      if (r.newlineFree) {
        s = replaceAll(s, r);
        continue;
      }
      const r2 = replaceInRun(s, r.global, r.expand, true);
      if (r2 === null) return null;
      s = r2;
    }
    return changed ? s : undefined;
  }

  batchMayChange(text: string): boolean {
    for (const r of this.#rules) if (!r.batchSafe || r.test.test(text)) return true;
    return false;
  }

  line(text: string): LineResult {
    if (this.#segmented) return this.segments([{ text, fixed: false }]);
    let s = text;
    let changed = false;
    for (const r of this.#rules) {
      if (!r.test.test(s)) continue;
      s = replaceAll(s, r);
      changed = true;
    }
    return changed ? s : undefined;
  }

  segments(segs: Segment[]): LineResult {
    let cur = segs;
    let changed = false;
    for (const r of this.#rules) {
      const next: Segment[] = [];
      for (const seg of cur) {
        if (seg.fixed || !r.test.test(seg.text)) {
          push(next, seg);
          continue;
        }
        changed = true;
        if (!r.quick) push(next, { text: replaceAll(seg.text, r), fixed: false });
        else for (const part of split(seg.text, r)) push(next, part);
      }
      cur = next;
    }
    return changed ? cur : undefined;
  }
}

/**
 * Every match of a global regex in a run of lines replaced, or null as soon as a match holds a
 * newline other than (when `lineEndOk`) its very last character: such a match spans lines, and
 * line by line it would have come out differently. An exec loop, not a replace callback: V8
 * builds an arguments array for each call of one.
 */
export function replaceInRun(text: string, re: RegExp, expand: (m: ArrayLike<string | undefined>) => string, lineEndOk: boolean): string | null {
  let out = '';
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const w = m[0];
    const nl = w.indexOf('\n');
    if (nl !== -1 && !(lineEndOk && nl === w.length - 1)) {
      re.lastIndex = 0;
      return null;
    }
    out += text.slice(last, m.index) + expand(m);
    last = m.index + w.length;
  }
  return out + text.slice(last);
}

function replaceAll(s: string, r: LineRule): string {
  return s.replace(r.global, r.js);
}

/** The text around each match, and each replacement as a fixed segment. */
function split(text: string, r: LineRule): Segment[] {
  const re = r.global;
  const out: Segment[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index), fixed: false });
    out.push({ text: r.expand(m), fixed: true });
    last = m.index + m[0].length;
    if (m[0].length === 0) re.lastIndex++;
  }
  re.lastIndex = 0;
  if (last < text.length) out.push({ text: text.slice(last), fixed: false });
  return out;
}

/**
 * Appends, merging plain text with plain text before it (a later rule may match across the
 * join). An empty fixed segment stays: it is still a boundary no later match may cross.
 */
function push(out: Segment[], seg: Segment): void {
  if (seg.text === '' && !seg.fixed) return;
  const prev = out[out.length - 1];
  if (prev && !prev.fixed && !seg.fixed) out[out.length - 1] = { text: prev.text + seg.text, fixed: false };
  else out.push(seg);
}

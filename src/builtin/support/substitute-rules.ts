/**
 * mod_substitute's rules: parsing `s/pattern/replacement/[infq]` and compiling a rule's
 * regex and replacement template. Errors are plain Errors whose message names the problem;
 * the filter adds which rule.
 */

/** A rule as configured, in either form, before compiling. */
export interface RuleSpec {
  pattern: string;
  replacement: string;
  flags?: string;
}

export interface ParsedFlags {
  /** i */
  ignoreCase: boolean;
  /** n: a fixed string; the replacement is literal too ($1 stays "$1") */
  literal: boolean;
  /** f (default) flattens; q does not: later rules neither see nor match across this one's replacements */
  flatten: boolean;
}

export function parseFlags(flags: string): ParsedFlags {
  const f: ParsedFlags = { ignoreCase: false, literal: false, flatten: true };
  for (const c of flags) {
    switch (c.toLowerCase()) {
      case 'i':
        f.ignoreCase = true;
        break;
      case 'n':
        f.literal = true;
        break;
      case 'f':
        f.flatten = true;
        break;
      case 'q':
        f.flatten = false;
        break;
      default:
        throw new Error(`unknown flag "${c}" (flags are i, n, f, q)`);
    }
  }
  return f;
}

/**
 * `s<d>pattern<d>replacement<d>flags` with any delimiter `<d>`, as the Substitute directive
 * takes it; the last delimiter may be left out. Unlike Apache, `\<d>` stands for the delimiter
 * itself inside the pattern or the replacement (Apache cannot express it at all; there a
 * backslash before the delimiter ends the field with a stray backslash).
 */
export function parseSubstitute(text: string): { pattern: string; replacement: string; flags: ParsedFlags } {
  const src = text.trim();
  if (src[0] !== 's' && src[0] !== 'S') throw new Error(`"${text}" is not an s/pattern/replacement/ rule`);
  const d = src[1];
  if (d === undefined || d === '\\' || d === '\n' || /\s/.test(d)) throw new Error(`"${text}": the character after "s" is the delimiter and cannot be a space or backslash`);
  let i = 2;
  /** One field up to an unescaped delimiter: [raw with \<d> kept, \<d> made <d>, found the end]. */
  const field = (): { raw: string; plain: string; regex: string; closed: boolean } => {
    let raw = '';
    let plain = '';
    let regex = '';
    while (i < src.length) {
      const c = src[i]!;
      if (c === d) {
        i++;
        return { raw, plain, regex, closed: true };
      }
      if (c === '\\' && i + 1 < src.length) {
        const n = src[i + 1]!;
        raw += c + n;
        if (n === d) {
          plain += n;
          regex += escapeRegExp(n);
        } else {
          plain += c + n;
          regex += c + n;
        }
        i += 2;
        continue;
      }
      raw += c;
      plain += c;
      regex += c;
      i++;
    }
    return { raw, plain, regex, closed: false };
  };
  const pat = field();
  if (!pat.closed) throw new Error(`"${text}": incomplete rule, expected s${d}pattern${d}replacement${d}`);
  const rep = field();
  const flags = parseFlags(rep.closed ? src.slice(i) : '');
  if ((flags.literal ? pat.plain : pat.regex) === '') throw new Error(`"${text}": empty pattern`);
  return {
    pattern: flags.literal ? pat.plain : pat.regex,
    // a regex replacement reads \x as x itself, so \<d> needs no rewriting there
    replacement: flags.literal ? rep.plain : rep.raw,
    flags,
  };
}

export function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** A replacement template: literal text and capture group numbers ($0 the whole match). */
export type Template = ReadonlyArray<string | number>;

/**
 * Apache's replacement syntax (ap_pregsub): `$0`-`$9` are the match and its groups, `\x` is x
 * itself (so `\$1` is a literal "$1"), `&` and a `$` not followed by a digit are literal.
 */
export function parseTemplate(replacement: string): Template {
  const parts: Array<string | number> = [];
  let lit = '';
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i]!;
    const n = replacement[i + 1];
    if (c === '$' && n !== undefined && n >= '0' && n <= '9') {
      if (lit) parts.push(lit);
      lit = '';
      parts.push(Number(n));
      i++;
    } else if (c === '\\' && n !== undefined) {
      lit += n;
      i++;
    } else lit += c;
  }
  if (lit) parts.push(lit);
  return parts;
}

/** Builds the text of one replacement from a match (index 0) and its groups. */
export function expander(t: Template): (m: ArrayLike<string | undefined>) => string {
  if (t.length === 0) return () => '';
  if (t.length === 1 && typeof t[0] === 'string') {
    const s = t[0];
    return () => s;
  }
  return (m) => {
    let s = '';
    for (const p of t) s += typeof p === 'string' ? p : (m[p] ?? '');
    return s;
  };
}

/**
 * The same template as a String.prototype.replace pattern, so the replacement runs natively:
 * `$$` for a literal $, `$&` for the match, two-digit `$0N` for a group (so a digit after it
 * stays a digit).
 */
export function jsReplacement(t: Template): string {
  let s = '';
  for (const p of t) s += typeof p === 'string' ? p.replace(/\$/g, '$$$$') : p === 0 ? '$&' : `$${String(p).padStart(2, '0')}`;
  return s;
}

export function groupCount(re: RegExp): number {
  // an empty alternative matches the empty string: its exec shows every group
  return new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.length - 1;
}

/**
 * True when running the regex over many lines at once and finding nothing proves no single
 * line matches: no anchors, no lookaround, no word boundaries (whose meaning changes at the
 * end of a line), and no empty match. Conservative: a `\^` also counts as an anchor.
 */
export function batchSafe(re: RegExp): boolean {
  const src = re.source;
  // what is left without escapes and [classes] shows the anchors and lookarounds ([^"] is none)
  let bare = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      if (src[i + 1] === 'b' || src[i + 1] === 'B') return false;
      i++;
    } else if (c === '[') {
      for (i++; i < src.length && src[i] !== ']'; i++) if (src[i] === '\\') i++;
    } else bare += c;
  }
  if (/[\^$]|\(\?<?[=!]/.test(bare)) return false;
  return !new RegExp(src, re.flags.replace('g', '')).test('');
}

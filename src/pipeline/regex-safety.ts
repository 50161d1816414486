/**
 * Regular expressions from a config run on what clients send (paths, headers, bodies line by
 * line), so one that backtracks catastrophically is a denial of service waiting for its input.
 * Each is checked once, at load, with scslre (the analysis behind eslint-plugin-regexp's
 * no-super-linear-backtracking): a static analysis of the pattern, in milliseconds, no worker,
 * no child process.
 *
 * Refused: backtracking that grows super-linearly within ONE match attempt, exponential
 * (`(a+)+$`, `(a|a)*b`) or polynomial (`^(.*),(.*)$`, nested or adjacent quantifiers that can
 * trade the same characters). Allowed: "moving" patterns (`\s+$`, `(\d+)-(\d+)` unanchored),
 * quadratic only because the engine retries at every start position; they are bounded by the
 * input sizes the proxy enforces (16 KiB heads, a filter's maxLineLength) and are too common
 * to refuse.
 *
 * Why not the alternatives (measured on this machine, docs/reliability.md): recheck, the most
 * precise checker (it confirms an attack string), takes 0.2-3 s per pattern in pure JavaScript,
 * or needs its native binary as a child process; a linear-time engine (RE2) needs a native
 * addon, and would drop backreferences and lookarounds that sed and substitute users write.
 * scslre misses ambiguity between alternatives (`^(a|a)*$`, `^(\d|\w)+$`, both exponential),
 * so each pattern is also run on sample inputs (one character of the pattern repeated 10 and
 * 20 times, after its literal prefix, then a character that makes it fail): a run time that
 * grows ~2^10-fold between the two is exponential backtracking, refused. Timing is judged on
 * the fastest of three runs, so a busy machine does not make a safe pattern look slow. Known
 * limit: an attack that needs an alternating string (`(ab|a)(ab|b)` shapes) may pass both.
 */
import { analyse, type Report } from 'scslre';

const cache = new Map<string, string | null>();
const CACHE_MAX = 2048;

/**
 * Why this pattern may backtrack catastrophically, as a sentence for a config problem, or
 * undefined when it is safe (or does not compile: that is reported elsewhere).
 */
export function regexSafetyProblem(source: string, flags = ''): string | undefined {
  const key = `${flags}/${source}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const problem = analyseOnce(source, flags.replace(/[gyd]/g, ''));
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, problem ?? null);
  return problem;
}

function analyseOnce(source: string, flags: string): string | undefined {
  let reports: Report[];
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
    reports = analyse({ source, flags }, { reportTypes: { Move: false }, maxReports: 1 }).reports;
  } catch {
    return undefined; // not a valid pattern: the compile check says so
  }
  const r = reports[0];
  if (!r) return sampleProblem(source, re);
  const kind = r.exponential ? 'exponential' : 'polynomial';
  const where =
    r.type === 'Self' ? `${r.quant.raw} nested in ${r.parentQuant.raw}` : r.type === 'Trade' ? `${r.startQuant.raw} and ${r.endQuant.raw} can both take the same characters` : r.quant.raw;
  const sample = JSON.stringify(r.character.pick.repeat(3));
  const fixed = safeFix(r);
  return `may backtrack catastrophically (${kind} time on input like ${sample}…): ${where}${fixed ? `; an equivalent safe pattern: ${fixed}` : '; make the quantified parts unable to match the same text (e.g. [^,]* instead of .*)'}`;
}

function safeFix(r: Report): string | undefined {
  try {
    return r.fix()?.source;
  } catch {
    return undefined;
  }
}

/** Literal characters of a pattern and a few class representatives: the candidate repeats. */
function candidates(source: string): string[] {
  const chars = new Set(['a', 'A', '0', ' ', '-', '/', '.', '_']);
  for (const m of source.matchAll(/\\(.)|([^\\[\](){}|^$*+?.])/g)) {
    const c = m[1] !== undefined ? ({ d: '0', w: 'a', s: ' ', D: 'a', W: '-', S: 'a' } as Record<string, string>)[m[1]] ?? m[1] : m[2]!;
    if (c.length === 1) chars.add(c);
    if (chars.size >= 24) break;
  }
  return [...chars];
}

/** The literal text a pattern anchored with ^ must start with. */
function literalPrefix(source: string): string {
  const m = /^\^((?:[^\\[\](){}|^$*+?.]|\\[^\w\d])*)/.exec(source);
  if (!m) return '';
  let prefix = m[1]!.replace(/\\(.)/g, '$1');
  // a quantifier after the last literal applies to it alone: leave that one out
  if (/^[*+?{]/.test(source.slice(m[0].length))) prefix = prefix.slice(0, -1);
  return prefix;
}

function fastest(re: RegExp, input: string): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    re.lastIndex = 0;
    re.test(input);
    best = Math.min(best, Number(process.hrtime.bigint() - t));
    if (best < 200_000) break; // under 0.2 ms: no need to look twice
  }
  return best;
}

function sampleProblem(source: string, re: RegExp): string | undefined {
  const prefix = literalPrefix(source);
  for (const c of candidates(source)) {
    for (const end of ['\u0000', '!']) {
      const small = fastest(re, `${prefix}${c.repeat(10)}${end}`);
      const large = fastest(re, `${prefix}${c.repeat(20)}${end}`);
      // linear: x2, quadratic: x4, cubic: x8; exponential: x1024
      if (large > 300_000 && large > small * 32) {
        return `backtracks catastrophically on a sample input (${JSON.stringify(prefix + c.repeat(20) + end)} takes ${(large / 1e6).toFixed(1)} ms, half of it ${(small / 1e6).toFixed(3)} ms): alternatives or quantifiers that can match the same text; make them exclusive`;
      }
    }
  }
  return undefined;
}

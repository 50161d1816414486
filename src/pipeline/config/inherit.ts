/**
 * Location inheritance, as Apache merges <Location> sections and its FilterChain edits them:
 * a location inherits the chains (and upstream) of the nearest prefix location that encloses
 * its path, and may edit them with FilterChain's operators.
 *
 *   (key absent)  inherit the enclosing chain as it is
 *   [a, b]        a plain list replaces it (nginx's rule for an array directive)
 *   +a  a         (in a list with any operator) append a       (FilterChain +filter, filter)
 *   @a            insert a at the start                         (FilterChain @filter)
 *   -a            remove the entry named a (filter name or alias) (FilterChain -filter)
 *   =a            empty the chain, then a                      (FilterChain =filter)
 *   !             empty the chain                               (FilterChain !)
 *
 * Stages still order the result: position matters only among filters of one stage.
 */
import type { ChainEntrySpec } from '../compile.js';
import type { MatchKind } from '../locations.js';
import type { PathSegment } from './errors.js';

export type ChainOp = '+' | '@' | '-' | '=' | '!';

/** One entry of a chain as written, its operator split off. */
export interface ChainStep {
  readonly op: ChainOp;
  /** The name after the operator ('' for `!`). */
  readonly ref: string;
  /** For + @ =: the planned entry (undefined when it had problems, already reported). */
  readonly spec?: ChainEntrySpec | undefined;
  readonly at: PathSegment[];
}

/** How a location's chain in one direction is written. */
export type ChainPlan = { kind: 'inherit' } | { kind: 'replace'; specs: ChainEntrySpec[] } | { kind: 'edit'; steps: ChainStep[] };

const OPS = new Set(['+', '@', '-', '=', '!']);

/** Split a leading operator off a chain reference ("-compress" → ['-', 'compress']). */
export function splitOp(ref: string): { op: ChainOp | undefined; name: string } {
  const c = ref.charAt(0);
  if (!OPS.has(c)) return { op: undefined, name: ref };
  return { op: c as ChainOp, name: ref.slice(1).trim() };
}

export interface Enclosable {
  readonly match: MatchKind;
  /** Normalised path. */
  readonly path: string;
}

/**
 * The index of the location that encloses `loc`: the longest prefix location (other than loc)
 * whose path contains loc's path segment-aware. Regex locations have none: a prefix that
 * matched their request would have won over them.
 */
export function enclosingIndex(all: readonly Enclosable[], self: number): number | undefined {
  const loc = all[self]!;
  if (loc.match === 'regex') return undefined;
  let best: number | undefined;
  all.forEach((p, i) => {
    if (i === self || p.match !== 'prefix') return;
    if (p.path === loc.path && loc.match === 'prefix') return; // a duplicate, reported elsewhere
    if (!encloses(p.path, loc.path)) return;
    if (best === undefined || p.path.length > all[best]!.path.length) best = i;
  });
  return best;
}

function encloses(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith('/') || path.length === prefix.length || path.charCodeAt(prefix.length) === 47;
}

/**
 * The effective chain: the plan applied to the inherited chain. Problems (a `-name` that
 * removes nothing) are reported through `add`.
 */
export function applyPlan(plan: ChainPlan, inherited: readonly ChainEntrySpec[], add: (path: PathSegment[], message: string) => void): ChainEntrySpec[] {
  if (plan.kind === 'inherit') return [...inherited];
  if (plan.kind === 'replace') return [...plan.specs];
  let chain = [...inherited];
  for (const step of plan.steps) {
    switch (step.op) {
      case '!':
        chain = [];
        break;
      case '=':
        chain = step.spec ? [step.spec] : [];
        break;
      case '+':
        if (step.spec) chain.push(step.spec);
        break;
      case '@':
        if (step.spec) chain.unshift(step.spec);
        break;
      case '-': {
        const key = step.ref.toLowerCase();
        const before = chain.length;
        chain = chain.filter((s) => (s.name ?? String(s.filter)).toLowerCase() !== key);
        if (chain.length === before) {
          const names = chain.map((s) => s.name ?? String(s.filter));
          add(step.at, `"-${step.ref}" removes nothing: the inherited chain ${names.length ? `is [${names.join(', ')}]` : 'is empty'}`);
        }
        break;
      }
    }
  }
  return chain;
}

import { SluiceError } from '../../errors.js';

/** One thing wrong with a config: where (a path like `locations[2].output[0].options.level`), and what. */
export interface ConfigProblem {
  /** Path of the offending value; '' for the config as a whole (e.g. a syntax error). */
  path: string;
  /** 1-based line in the config file, when the config came from one. */
  line?: number;
  message: string;
}

/** A path segment: a key of an object, or an index in an array. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * `['locations', 2, 'output', 0]` → `locations[2].output[0]`; odd keys are quoted:
 * `upstreams["a.b"]`. With `base`, the segments are appended to that path.
 */
export function formatPath(segments: readonly PathSegment[], base = ''): string {
  let out = base;
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** One problem as the CLI prints it: `FILE:LINE: path: message` (parts that are unknown left out). */
export function formatProblem(p: ConfigProblem, file?: string): string {
  const where = file !== undefined ? (p.line !== undefined ? `${file}:${p.line}: ` : `${file}: `) : p.line !== undefined ? `line ${p.line}: ` : '';
  return `${where}${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** Every problem, one per line. */
export function formatProblems(problems: readonly ConfigProblem[], file?: string): string {
  return problems.map((p) => formatProblem(p, file)).join('\n');
}

/**
 * A config that cannot be used. Carries every problem found (not just the first); the message
 * lists them one per line as `FILE:LINE: path: message`.
 */
export class ConfigError extends SluiceError {
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;

  constructor(problems: readonly ConfigProblem[], file?: string) {
    const n = problems.length;
    super('ERR_SLUICE_CONFIG', `invalid config${file ? ` ${file}` : ''} (${n} problem${n === 1 ? '' : 's'}):\n${formatProblems(problems, file)}`);
    this.problems = Object.freeze([...problems]);
    this.file = file;
  }
}

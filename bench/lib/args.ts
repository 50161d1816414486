import type { Mode } from './group.js';
import type { SourceKind } from './target.js';

export interface Args {
  mode: Mode;
  json: string | undefined;
  groups: string[];
  only: string[];
  source: SourceKind;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [--quick] [--json FILE] [--group NAME]... [--only TEXT]... [--source build|src|DIR]

  --quick        short run (well under 2 minutes on 2 cores); default is the full run
  --json FILE    also write {"meta": ..., "figures": {...}} to FILE
  --group NAME   run only this group of figures (repeatable); see bench/README.md
  --only TEXT    run only the measurements whose figure names contain TEXT (repeatable)
  --source KIND  build (default): src/ compiled by tsc as it ships, cached under
                 node_modules/.cache/sluice-bench; src: the .ts sources as tsx loads them
                 (tsx's keepNames wrappers inflate per-message costs; for iteration only);
                 DIR: an already built tree with an index.js (dist/, or a patched copy)
  --help         this text`;

export function parseArgs(argv: readonly string[]): Args {
  const a: Args = { mode: 'full', json: undefined, groups: [], only: [], source: 'build', help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') a.mode = 'quick';
    else if (arg === '--full') a.mode = 'full';
    else if (arg === '--json') a.json = value();
    else if (arg.startsWith('--json=')) a.json = arg.slice('--json='.length);
    else if (arg === '--group') a.groups.push(value());
    else if (arg.startsWith('--group=')) a.groups.push(arg.slice('--group='.length));
    else if (arg === '--only') a.only.push(value());
    else if (arg.startsWith('--only=')) a.only.push(arg.slice('--only='.length));
    else if (arg === '--source' || arg.startsWith('--source=')) {
      const v = arg === '--source' ? value() : arg.slice('--source='.length);
      a.source = v === 'build' || v === 'src' ? v : { dir: v };
    } else if (arg === '--help' || arg === '-h') a.help = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return a;
}

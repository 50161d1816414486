/**
 * One measurement of bench/module-reload-memory.ts, in a process of its own (plain node, no
 * loader hooks but the ones being measured):
 *
 *   node --expose-gc bench/module-reload-memory-child.mjs MODE EXT RELOADS EVERY
 *
 * MODE: sluice (a config reload as the proxy does it: load the config and its modules, swap
 * the live config, run a message through the new chain; from dist/, so `npm run build` first),
 * native (import with a ?v= query: Node's own cache busting) or tsx-namespace (one tsx
 * namespace per load: how the first version of module loading reloaded .ts). EXT: mjs or ts.
 * Every reload rewrites the module with different content, the worst case: each one is new code.
 * Prints one JSON line per EVERY reloads: { reload, rss, heap } in bytes, after a full GC.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [mode, ext, reloadsArg, everyArg] = process.argv.slice(2);
const reloads = Number(reloadsArg ?? 300);
const every = Number(everyArg ?? 50);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
if (!['sluice', 'native', 'tsx-namespace'].includes(mode) || !['mjs', 'ts'].includes(ext)) throw new Error(`usage: MODE(sluice|native|tsx-namespace) EXT(mjs|ts) RELOADS EVERY`);

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-reload-mem-'));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(root, join(dir, 'node_modules/sluice'), 'dir');
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
mkdirSync(join(dir, 'lib'));
writeFileSync(join(dir, 'lib/helper.ts'), 'export const wrap = (s: string): string => `[${s}]`;\n');
const file = join(dir, `filter.${ext}`);

/** About 5 KB of module: a filter with some code, and a table that differs in every version. */
function source(version) {
  const ts = ext === 'ts';
  const table = Array.from({ length: 60 }, (_, i) => `'w${version}-${i}'`).join(', ');
  return `import { defineFilter, Type } from 'sluice';
${ts ? "import { wrap } from './lib/helper.js';\ninterface Opts { suffix: string }" : 'const wrap = (s) => `[${s}]`;'}
const WORDS = [${table}];
const VERSION = ${version};
function score(${ts ? 'chunk: Uint8Array): number' : 'chunk)'} {
  let n = 0;
  for (let i = 0; i < chunk.length; i++) n = (n * 31 + chunk[i]) | 0;
  return n ^ VERSION;
}
export default defineFilter({
  name: 'tagger',
  description: 'Appends a tag (version ' + VERSION + ').',
  directions: ['output'],
  options: Type.Object({ suffix: Type.String({ default: '!' }) }, { additionalProperties: false }),
  create: ({ options }${ts ? ': { options: Opts }' : ''}) => {
    let seen = 0;
    return {
      onData: (chunk, out) => { seen ^= score(chunk); return out.push(chunk); },
      onEnd: (out) => out.push(new TextEncoder().encode(wrap(WORDS[seen & 7] + options.suffix))),
    };
  },
});
`;
}

let load;
if (mode === 'sluice') {
  const { loadConfigFileWithModules } = await import(pathToFileURL(join(root, 'dist/pipeline/config/modules.js')).href);
  const { LiveConfig } = await import(pathToFileURL(join(root, 'dist/proxy/live-config.js')).href);
  const { processChain } = await import(pathToFileURL(join(root, 'dist/index.js')).href);
  const cfg = join(dir, 'sluice.yaml');
  writeFileSync(cfg, `modules: [./filter.${ext}]\nupstreams:\n  app: { servers: ["http://127.0.0.1:1"] }\nlocations:\n  - { path: /, upstream: app, output: [tagger] }\n`);
  let live;
  load = async () => {
    const r = await loadConfigFileWithModules(cfg);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    if (live) live.swap(r.config);
    else live = new LiveConfig(r.config);
    const res = await processChain(live.current.config.match('/').output, [Buffer.from('hello')], { headers: { 'content-type': 'text/plain' } });
    if (!res.text().startsWith('hello[w')) throw new Error(`unexpected body ${res.text()}`);
  };
} else if (mode === 'native') {
  if (ext !== 'mjs') throw new Error('native mode imports .mjs only (Node cannot import .ts)');
  load = async (i) => {
    const ns = await import(`${pathToFileURL(file).href}?v=${i}`);
    if (typeof ns.default.create !== 'function') throw new Error('no filter');
  };
} else {
  const api = await import('tsx/esm/api');
  load = async (i) => {
    const ns = await api.register({ namespace: `load-${i}` }).import(pathToFileURL(file).href, import.meta.url);
    if (typeof ns.default.create !== 'function') throw new Error('no filter');
  };
}

const settle = () => {
  for (let i = 0; i < 3; i++) globalThis.gc();
};
try {
  for (let i = 0; i <= reloads; i++) {
    writeFileSync(file, source(i));
    await load(i);
    if (i % every === 0) {
      await new Promise((r) => setImmediate(r)); // let retired generations close
      settle();
      const m = process.memoryUsage();
      process.stdout.write(`${JSON.stringify({ reload: i, rss: m.rss, heap: m.heapUsed })}\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

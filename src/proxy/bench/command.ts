/**
 * `sluice bench`: parse, load the config (with its filter modules, as the proxy does), find
 * the location exactly as the proxy would for the path, run the mode, then print the summary
 * and write --json / --html. Returns the exit status: 0 done, 1 the benchmark failed, 2 usage.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, platform } from 'node:os';
import { BenchUsageError } from '../../errors.js';
import { formatProblems } from '../../pipeline/config/load.js';
import { loadConfigFileWithModules } from '../../pipeline/config/modules.js';
import type { CompiledLocation } from '../../pipeline/config/types.js';
import { normalisePath } from '../../pipeline/locations.js';
import { benchUsage, parseBenchArgs, type BenchArgs } from './args.js';
import { generateBody, readBody, type Body } from './body.js';
import { runChainMode } from './chain-mode.js';
import { reportHtml } from './html.js';
import { runLoadMode } from './load-mode.js';
import { createProgress, type ProgressSink } from './progress.js';
import { reportJson, type BenchReport } from './report.js';
import { summaryText } from './table.js';

export interface BenchIO {
  readonly stdout: { write(s: string): unknown };
  /** Progress and errors. */
  readonly stderr: ProgressSink;
}

const USAGE_LINE = 'usage: sluice bench --config FILE (--location PATH | --url PATH) [options]; sluice bench --help lists them';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export interface BenchOutcome {
  readonly code: number;
  /** The report, when the run finished. */
  readonly report?: BenchReport;
}

/** Run `sluice bench ARGV` (the words after `bench`). Never throws: failures are exit codes. */
export async function runBench(argv: readonly string[], io: BenchIO = { stdout: process.stdout, stderr: process.stderr }): Promise<BenchOutcome> {
  const say = (s: string): void => void io.stderr.write(`sluice bench: ${s}\n`);
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
    if (args.mode === 'help') {
      io.stdout.write(benchUsage);
      return { code: 0 };
    }
    checkFiles(args);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    say(`${err.message}\n${USAGE_LINE}`);
    return { code: 2 };
  }

  const loaded = await loadConfigFileWithModules(args.configFile);
  if (!loaded.ok) {
    say(`invalid config ${args.configFile}:\n${formatProblems(loaded.errors, args.configFile)}`);
    return { code: 1 };
  }
  const config = loaded.config;
  const requested = args.mode === 'chain' ? args.location : args.url;
  const { path, query } = normalisePath(requested);
  const location = config.match(path);
  if (!location) {
    say(`--${args.mode === 'chain' ? 'location' : 'url'} ${requested}: no location of ${args.configFile} matches ${path} (the proxy would answer 404); its locations: ${config.locations.map((l) => l.name).join(', ')}\n${USAGE_LINE}`);
    return { code: 2 };
  }

  const progress = createProgress(io.stderr, { quiet: args.quiet });
  const startedAt = new Date().toISOString();
  let report: BenchReport;
  try {
    const base = reportBase(args.configFile, requested, location, startedAt);
    if (args.mode === 'chain') {
      const body: Body = args.body.source === 'file' ? await readBody(args.body.file, args.body.kind) : { bytes: generateBody(args.body.kind, args.body.size), kind: args.body.kind, source: 'generated' };
      if (body.bytes.length === 0) throw new BenchUsageError(`--body ${body.source}: the file is empty`);
      report = { ...base, mode: 'chain', chain: await runChainMode(args, `${path}${query}`, location, body, progress), load: null };
    } else {
      report = { ...base, mode: 'load', chain: null, load: await runLoadMode(args, `${path}${query}`, location, progress) };
    }
  } catch (err) {
    if (err instanceof BenchUsageError) {
      say(err.message);
      return { code: 2 };
    }
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return { code: 1 };
  }

  io.stdout.write(`\n${summaryText(report)}`);
  try {
    if (args.jsonFile) {
      writeFileSync(args.jsonFile, reportJson(report));
      io.stdout.write(`\nJSON: ${args.jsonFile}\n`);
    }
    if (args.htmlFile) {
      writeFileSync(args.htmlFile, reportHtml(report));
      io.stdout.write(`${args.jsonFile ? '' : '\n'}HTML report: ${args.htmlFile}\n`);
    }
  } catch (err) {
    say(`cannot write the report: ${err instanceof Error ? err.message : String(err)}`);
    return { code: 1, report };
  }
  return { code: 0, report };
}

/** Files named on the command line are checked before any work, as usage errors. */
function checkFiles(args: Exclude<BenchArgs, { mode: 'help' }>): void {
  const mustExist = (flag: string, file: string): void => {
    if (!existsSync(file)) throw new BenchUsageError(`--${flag}: no such file: ${file}`);
    if (!statSync(file).isFile()) throw new BenchUsageError(`--${flag}: not a file: ${file}`);
  };
  mustExist('config', args.configFile);
  if (args.mode === 'chain' && args.body.source === 'file') mustExist('body', args.body.file);
  if (args.mode === 'load' && args.bodyFile !== undefined) mustExist('body', args.bodyFile);
}

function reportBase(configFile: string, request: string, location: CompiledLocation, startedAt: string): Pick<BenchReport, 'tool' | 'version' | 'sluice' | 'startedAt' | 'machine' | 'config' | 'location'> {
  return {
    tool: 'sluice bench',
    version: 1,
    sluice: pkg.version,
    startedAt,
    machine: { node: process.version, platform: platform(), arch: arch(), cpus: availableParallelism(), cpuModel: cpus()[0]?.model.trim() ?? 'unknown' },
    config: configFile,
    location: { request, name: location.name, upstream: location.upstream.name, servers: location.upstream.servers.map((u) => u.origin) },
  };
}

#!/usr/bin/env node
/**
 * The `sluice` command. The proxy itself (`sluice --config FILE`, `sluice check`) arrives
 * with the proxy issue; until then this says so plainly and offers what exists.
 */
import { readFileSync } from 'node:fs';
import { builtins } from '../builtin/index.js';
import { stageLabel } from '../filters/stage.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function listFilters(): string {
  const rows = builtins.list().map((f) => {
    const opts = f.options && 'properties' in f.options ? Object.keys(f.options.properties as object).join(', ') : '';
    return `  ${f.name.padEnd(14)} ${f.directions.join('+').padEnd(13)} ${stageLabel(f.stage).padEnd(10)} ${opts ? `options: ${opts} — ` : ''}${f.description}`;
  });
  return [`  ${'name'.padEnd(14)} ${'directions'.padEnd(13)} ${'stage'.padEnd(10)} description`, ...rows].join('\n');
}

const usage = `sluice ${pkg.version}: streaming HTTP filter chains

usage:
  sluice filters         list the registered filters (directions, stage, options)
  sluice --version       print the version
  sluice --help          this text
`;

function main(argv: string[]): number {
  const [cmd] = argv;
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (cmd === '--help' || cmd === '-h') {
    process.stdout.write(usage);
    return 0;
  }
  if (cmd === 'filters') {
    process.stdout.write(`${listFilters()}\n`);
    return 0;
  }
  if (cmd === undefined) {
    process.stdout.write(
      `sluice ${pkg.version}\n\n` +
        'The filter engine is here: compile chains, write filters, run bodies through them\n' +
        '(see README.md and examples/). The reverse proxy that serves them over HTTP is not\n' +
        'built yet, so nothing is listening. Registered filters:\n\n' +
        `${listFilters()}\n`,
    );
    return 0;
  }
  process.stderr.write(`sluice: unknown command "${cmd}"\n\n${usage}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));

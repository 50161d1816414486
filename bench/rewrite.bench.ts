/**
 * Body rewriting: `substitute` (fixed-string and regex rules) and `sed` through the runtime on a
 * 1 MiB realistic page, against bare platform loops over the same 16 KiB chunks: a
 * Buffer.indexOf scan (what a literal search cannot beat) and a per-chunk string replace (the
 * naive filter, which misses matches split across chunks). Figure names: README.md.
 */
import type { CompiledChain, MessageInit } from '../src/index.js';
import { runComparison } from './lib/compare.js';
import { KiB, MiB, seededPage } from './lib/data.js';
import type { BenchGroup, GroupContext } from './lib/group.js';
import type { Sluice } from './lib/target.js';
import { split, through } from './lib/through.js';

/**
 * A proxied page as an upstream writes it: varied text, and a link to the internal host every
 * third line (about 2,100 per MiB), the kind of thing substitute is configured to fix.
 */
function proxiedPage(bytes: number): Buffer {
  return seededPage(bytes, (rnd, words) => {
    const text = words(8 + rnd(20));
    return rnd(3) === 0
      ? `<li><a href="http://internal.example/${words(1)}/${rnd(1e4)}">${text}</a> <b>${rnd(1e6)}</b></li>\n`
      : `<p id="p${rnd(100000)}" class="c${rnd(50)}">${text} ${rnd(1e6)}</p>\n`;
  });
}

const INIT: MessageInit = { headers: { 'content-type': 'text/html; charset=utf-8' } };

async function run(ctx: GroupContext): Promise<void> {
  const s = ctx.sluice;
  const page = proxiedPage(MiB);
  const chunks = split(page, 16 * KiB);
  const needle = Buffer.from('http://internal.example/');

  const literal = s.compileChain([{ filter: 'substitute', options: { rules: ['s|http://internal.example/|https://www.example.com/|n'] } }]);
  await runComparison(ctx, {
    title: 'substitute, one fixed-string rule, through the runtime vs a bare Buffer.indexOf scan, 1 MiB page in 16k chunks',
    baseline: {
      figure: 'baseline.indexof_scan_1m_mbps',
      op: () => {
        let hits = 0;
        for (const c of chunks) for (let i = c.indexOf(needle); i !== -1; i = c.indexOf(needle, i + needle.length)) hits++;
        if (hits === 0) throw new Error('no match');
        return page.length;
      },
    },
    contenders: [
      { figure: 'substitute.literal_mb_s', ratioFigure: 'substitute.literal_vs_indexof_1m', goal: { min: 0.5 }, op: () => through(s, literal, chunks, INIT, page.length) },
    ],
  });

  // The naive per-chunk replace: decode, replace, encode (misses matches cut by a chunk boundary).
  const hrefRe = /href="http:\/\/internal\.example\/([^"]*)"/g;
  const naive = (): number => {
    let out = 0;
    for (const c of chunks) out += Buffer.byteLength(c.toString('utf8').replace(hrefRe, 'href="/app/$1"'));
    if (out === 0) throw new Error('no output');
    return page.length;
  };
  const regex = s.compileChain([{ filter: 'substitute', options: { rules: ['s|href="http://internal\\.example/([^"]*)"|href="/app/$1"|'] } }]);
  const sed = s.compileChain([{ filter: 'sed', options: { script: ['s|href="http://internal\\.example/\\([^"]*\\)"|href="/app/\\1"|g', 's|<b>|<strong>|g'] } }]);
  await runComparison(ctx, {
    title: 'substitute (one regex rule) and sed (two s commands) vs a naive per-chunk string replace, 1 MiB page',
    baseline: { figure: 'baseline.naive_replace_1m_mbps', op: naive },
    contenders: [
      { figure: 'substitute.regex_mb_s', ratioFigure: 'substitute.regex_vs_naive_1m', op: () => through(s, regex, chunks, INIT, page.length) },
      { figure: 'sed.mb_s', ratioFigure: 'sed.vs_naive_1m', op: () => through(s, sed, chunks, INIT, page.length) },
    ],
  });
}

export const rewriteGroup: BenchGroup = {
  name: 'rewrite',
  description: 'substitute (fixed string, regex) and sed on a 1 MiB page vs bare indexOf and a naive replace',
  run,
};

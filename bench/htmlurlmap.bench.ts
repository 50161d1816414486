/**
 * html-urlmap on a 1 MiB realistic page (the test fixture's articles tiled), against a bare
 * Buffer.indexOf scan for every `<` over the same chunks: the least a tokenizer must do to
 * find the tags. Figure names and the baseline: README.md.
 */
import { readFileSync } from 'node:fs';
import type { CompiledChain, MessageInit } from '../src/index.js';
import { runComparison } from './lib/compare.js';
import { KiB, MiB } from './lib/data.js';
import type { BenchGroup, GroupContext } from './lib/group.js';
import type { Sluice } from './lib/target.js';
import { split, through } from './lib/through.js';

/** The intranet portal fixture with its <main> articles repeated to `bytes`. */
function realisticPage(bytes: number): Buffer {
  const page = readFileSync(new URL('../test/fixtures/intranet-portal.html', import.meta.url), 'latin1');
  const start = page.indexOf('<article');
  const end = page.lastIndexOf('</article>') + '</article>\n'.length;
  const [head, body, tail] = [page.slice(0, start), page.slice(start, end), page.slice(end)];
  const parts = [head];
  let size = head.length + tail.length;
  while (size + body.length <= bytes) {
    parts.push(body);
    size += body.length;
  }
  parts.push(body.slice(0, bytes - size), tail);
  return Buffer.from(parts.join(''), 'latin1');
}



async function run(ctx: GroupContext): Promise<void> {
  const s = ctx.sluice;
  const page = realisticPage(MiB);
  const chunks = split(page, 16 * KiB);
  const init: MessageInit = { headers: { 'content-type': 'text/html; charset=utf-8' } };
  const rules = ['http://intranet.example/ /portal/', 'http://cdn.intranet.example/ /cdn/'];
  const plain = s.compileChain([{ filter: 'html-urlmap', options: { rules } }]);
  const extended = s.compileChain([{ filter: 'html-urlmap', options: { rules, extended: true } }]);
  // the filter must really rewrite: check once, outside the clock
  const check = s.collectSink();
  const r = plain.run(init, check);
  await r.start();
  await s.pump(r, chunks);
  if (!check.text().includes('href="/portal/') || check.body().length >= page.length) throw new Error('html-urlmap did not rewrite the bench page');

  await runComparison(ctx, {
    title: 'html-urlmap on a 1 MiB realistic page in 16k chunks vs a bare Buffer.indexOf scan for `<`',
    baseline: {
      figure: 'baseline.indexof_lt_1m_mbps',
      op: () => {
        let n = 0;
        for (const c of chunks) for (let i = c.indexOf(0x3c); i >= 0; i = c.indexOf(0x3c, i + 1)) n++;
        if (n === 0) throw new Error('no tags');
        return page.length;
      },
    },
    contenders: [
      { figure: 'htmlurlmap.mb_s', ratioFigure: 'htmlurlmap.vs_indexof_1m', op: () => through(s, plain, chunks, init, page.length) },
      {
        figure: 'htmlurlmap.extended_mb_s',
        ratioFigure: 'htmlurlmap.extended_vs_indexof_1m',
        op: () => through(s, extended, chunks, init, page.length),
      },
    ],
    settings: { targetMs: ctx.mode === 'quick' ? 100 : 400 },
  });
}

export const htmlurlmapGroup: BenchGroup = {
  name: 'htmlurlmap',
  description: 'html-urlmap (streaming HTML URL rewriting) vs a bare indexOf scan',
  run,
};

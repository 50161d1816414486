/**
 * Compression, decompression and charset conversion through the runtime, against the bare
 * platform codec doing the same job on the same bytes (node:zlib streams, TextDecoder), and
 * the two codec backends against each other. Figure names, baselines and goals: README.md.
 */
import { once } from 'node:events';
import zlib from 'node:zlib';
import iconv from 'iconv-lite';
import type { CompiledChain, MessageInit } from '../src/index.js';
import { runComparison } from './lib/compare.js';
import { KiB, MiB, seededPage, sizeLabel } from './lib/data.js';
import type { BenchGroup, GroupContext } from './lib/group.js';
import type { Sluice } from './lib/target.js';
import { split, through } from './lib/through.js';

/** Realistic HTML: varied words from a seeded generator, so compression ratios are typical (~4:1). */
function realisticHtml(bytes: number): Buffer {
  return seededPage(bytes, (rnd, words) => {
    const n = 8 + rnd(20);
    return `<p id="p${rnd(100000)}" class="c${rnd(50)}">${words(n)} ${rnd(1e6)}</p>\n`;
  });
}

/** The bare node:zlib stream doing the same job: write every chunk, count the output. */
async function zlibStream(t: zlib.Gzip | zlib.BrotliCompress | zlib.Gunzip, chunks: readonly Uint8Array[], count: number): Promise<number> {
  let out = 0;
  t.on('data', (c: Buffer) => (out += c.length));
  for (const c of chunks) if (!t.write(c)) await once(t, 'drain');
  t.end();
  await once(t, 'end');
  if (out === 0) throw new Error('no output');
  return count;
}

const HTML_INIT = (ae: string): MessageInit => ({
  request: { headers: { 'accept-encoding': ae } },
  headers: { 'content-type': 'text/html; charset=utf-8' },
});

async function run(ctx: GroupContext): Promise<void> {
  const s = ctx.sluice;
  const body = realisticHtml(MiB);
  const chunks16 = split(body, 16 * KiB);
  const slow = { targetMs: ctx.mode === 'quick' ? 100 : 400 };

  const gzip6 = s.compileChain([{ filter: 'gzip', options: { level: 6 } }]);
  await runComparison(ctx, {
    title: 'gzip level 6 through the runtime vs a bare node:zlib gzip stream, 1 MiB HTML in 16k chunks',
    baseline: { figure: 'baseline.nodezlib_gzip_l6_1m_mbps', op: () => zlibStream(zlib.createGzip({ level: 6 }), chunks16, body.length) },
    contenders: [{ figure: 'gzip.l6_1m_mbps', ratioFigure: 'gzip.l6_vs_nodezlib_1m', goal: { min: 0.95 }, op: () => through(s, gzip6, chunks16, HTML_INIT('gzip'), body.length) }],
    settings: slow,
  });

  const br4 = s.compileChain([{ filter: 'br', options: { quality: 4 } }]);
  await runComparison(ctx, {
    title: 'brotli quality 4 through the runtime vs a bare node:zlib brotli stream, 1 MiB HTML in 16k chunks',
    baseline: {
      figure: 'baseline.nodezlib_br_q4_1m_mbps',
      op: () => zlibStream(zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }), chunks16, body.length),
    },
    contenders: [{ figure: 'br.q4_1m_mbps', ratioFigure: 'br.q4_vs_nodezlib_1m', goal: { min: 0.95 }, op: () => through(s, br4, chunks16, HTML_INIT('br'), body.length) }],
    settings: slow,
  });

  const gz = zlib.gzipSync(body, { level: 6 });
  const gzChunks = split(gz, 16 * KiB);
  const decompress = s.compileChain(['decompress']);
  const decompressFflate = s.compileChain([{ filter: 'decompress', options: { backend: 'fflate' } }]);
  const gzInit: MessageInit = { headers: { 'content-type': 'text/html', 'content-encoding': 'gzip' } };
  await runComparison(ctx, {
    title: 'decompress (gzip) through the runtime vs a bare node:zlib gunzip stream, 1 MiB HTML',
    baseline: { figure: 'baseline.nodezlib_gunzip_1m_mbps', op: () => zlibStream(zlib.createGunzip(), gzChunks, body.length) },
    contenders: [
      { figure: 'decompress.gzip_1m_mbps', ratioFigure: 'decompress.gzip_vs_nodezlib_1m', goal: { min: 0.95 }, op: () => through(s, decompress, gzChunks, gzInit, body.length) },
      { figure: 'decompress.gzip_fflate_1m_mbps', ratioFigure: 'decompress.gzip_fflate_vs_nodezlib_1m', op: () => through(s, decompressFflate, gzChunks, gzInit, body.length) },
    ],
    settings: slow,
  });

  // The backend choice: the same gzip filter on each backend, per chunk size.
  for (const size of [16 * KiB, KiB]) {
    const l = sizeLabel(size);
    const chunks = split(body, size);
    const node = s.compileChain([{ filter: 'gzip', options: { level: 6, backend: 'node' } }]);
    const fflate = s.compileChain([{ filter: 'gzip', options: { level: 6, backend: 'fflate' } }]);
    await runComparison(ctx, {
      title: `gzip level 6, backend fflate vs node:zlib, 1 MiB HTML in ${l} chunks`,
      baseline: { figure: `gzip.l6_node_${l}_mbps`, op: () => through(s, node, chunks, HTML_INIT('gzip'), body.length) },
      contenders: [{ figure: `gzip.l6_fflate_${l}_mbps`, ratioFigure: `gzip.fflate_vs_node_${l}`, op: () => through(s, fflate, chunks, HTML_INIT('gzip'), body.length) }],
      settings: slow,
    });
  }

  // Charset conversion: windows-1252 → UTF-8 against TextDecoder + TextEncoder doing the same.
  const latinText = body.toString('latin1').replace(/ e/g, ' é').replace(/ a/g, ' “à”');
  const w1252 = iconv.encode(latinText, 'windows-1252');
  const wChunks = split(w1252, 16 * KiB);
  const toUtf8 = s.compileChain(['charset']);
  const wInit: MessageInit = { headers: { 'content-type': 'text/html; charset=windows-1252' } };
  await runComparison(ctx, {
    title: 'charset windows-1252 → utf-8 through the runtime vs TextDecoder + TextEncoder, 1 MiB',
    baseline: {
      figure: 'baseline.textdecoder_w1252_1m_mbps',
      op: () => {
        const dec = new TextDecoder('windows-1252');
        const enc = new TextEncoder();
        let out = 0;
        for (const c of wChunks) out += enc.encode(dec.decode(c, { stream: true })).length;
        out += enc.encode(dec.decode()).length;
        if (out === 0) throw new Error('no output');
        return w1252.length;
      },
    },
    contenders: [{ figure: 'charset.w1252_to_utf8_1m_mbps', ratioFigure: 'charset.w1252_to_utf8_vs_textdecoder_1m', op: () => through(s, toUtf8, wChunks, wInit, w1252.length) }],
    settings: slow,
  });

  // UTF-8 → Shift_JIS: an absolute rate (nothing built in encodes legacy charsets to compare with).
  const jp = Buffer.from('日本語のテキストをシフトJISに変換します。こんにちは、世界！ '.repeat(Math.ceil(MiB / 90))).subarray(0, MiB);
  const jpText = Buffer.from(jp.toString('utf8').replace(/\uFFFD+$/, ''));
  const jpChunks = split(jpText, 16 * KiB);
  const toSjis = s.compileChain([{ filter: 'charset', options: { to: 'shift_jis' } }]);
  const jpInit: MessageInit = { headers: { 'content-type': 'text/plain; charset=utf-8' } };
  await runComparison(ctx, {
    title: 'charset utf-8 → shift_jis through the runtime (vs a bare iconv-lite encode of the same text)',
    baseline: {
      figure: 'baseline.iconv_utf8_to_sjis_1m_mbps',
      op: () => {
        const dec = new TextDecoder('utf-8');
        const enc = iconv.getEncoder('shift_jis');
        let out = 0;
        for (const c of jpChunks) out += enc.write(dec.decode(c, { stream: true })).length;
        out += (enc.end()?.length ?? 0) + enc.write(dec.decode()).length;
        return out > 0 ? jpText.length : 0;
      },
    },
    contenders: [{ figure: 'charset.utf8_to_sjis_mb_s', ratioFigure: 'charset.utf8_to_sjis_vs_iconv', op: () => through(s, toSjis, jpChunks, jpInit, jpText.length) }],
    settings: slow,
  });
}

export const codecGroup: BenchGroup = {
  name: 'codec',
  description: 'compression, decompression and charset conversion vs the bare platform codecs',
  run,
};

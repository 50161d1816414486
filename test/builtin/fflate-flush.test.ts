import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { collectSink, compileChain, FLUSH } from '../../src/index.js';

/**
 * fflate 0.8.3's flush(true) misplaces the sync marker after some blocks (fflate #267), so
 * zlib rejected the stream after a flush mark at some offsets: found by the split kit on the
 * deflate fixture. Sluice writes the empty stored block itself (codecs.ts syncFlush). At every
 * third cut (one in ten failed before), with a flush mark there: what was sent before the
 * mark decodes on its own to exactly the input before it (the point of a flush: the client
 * has it now), and the whole output decodes to the input. A 2 KiB window: fflate's tables for
 * the default 32 KiB one take 10-25 ms to set up per message, and the bug is the same.
 */
const html = Buffer.from('<!doctype html><p>Hello, <b>world</b> — ünïcödé ✓</p>\n'.repeat(40));

describe('gzip and deflate with the fflate backend: flush marks', () => {
  for (const coding of ['gzip', 'deflate'] as const) {
    it(`${coding}: at every third cut, the bytes before a flush mark decode to the input before it, and the whole to the input`, async () => {
      const chain = compileChain([{ filter: coding, options: { backend: 'fflate', windowBits: 11 } }]);
      const init = { request: { headers: { 'accept-encoding': coding } }, headers: { 'content-type': 'text/html' } };
      const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
      const decode = (b: Buffer, partial: boolean): Buffer => (coding === 'gzip' ? zlib.gunzipSync(b, partial ? sync : {}) : zlib.inflateSync(b, partial ? sync : {}));
      const failures: string[] = [];
      for (let cut = 1; cut < html.length; cut += 3) {
        const sink = collectSink();
        const run = chain.run(init, sink);
        await run.start();
        await run.write(html.subarray(0, cut));
        await run.flush();
        try {
          if (!decode(sink.body(), true).equals(html.subarray(0, cut))) failures.push(`${cut}: before the mark`);
        } catch (err) {
          failures.push(`${cut}: before the mark: ${(err as Error).message}`);
        }
        await run.write(html.subarray(cut));
        await run.end();
        try {
          if (!decode(sink.body(), false).equals(html)) failures.push(`${cut}: whole`);
        } catch (err) {
          failures.push(`${cut}: whole: ${(err as Error).message}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});

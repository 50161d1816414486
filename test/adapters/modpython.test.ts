import { describe, expect, it } from 'vitest';
import {
  FLUSH,
  FilterError,
  HeadersCommittedError,
  collectSink,
  compileChain,
  modPythonFilter,
  processChain,
  pump,
  type Flush,
  type ModPythonFilter,
} from '../../src/index.js';
import { enc, nodeUpper, showEvents, splitAt, splitBySizes, text, upperBytes } from './helpers.js';

type Src = Array<Uint8Array | Flush>;

describe('modPythonFilter: readline', () => {
  const INPUT = 'alpha\nbe\n\ngamma-delta\nlast';
  const LINES = ['alpha\n', 'be\n', '\n', 'gamma-delta\n', 'last'];

  function lineRecorder(lines: string[]) {
    return modPythonFilter({
      name: 'lines',
      handler: async (f) => {
        for (let line; (line = await f.readline()) !== null; ) {
          if (line.byteLength === 0) continue;
          lines.push(text(line));
          await f.write(`[${text(line)}]`);
        }
        f.close();
      },
    });
  }

  it('gives the same lines whatever the split (every single cut position)', async () => {
    const bytes = enc(INPUT);
    for (let cut = 0; cut <= bytes.byteLength; cut++) {
      const lines: string[] = [];
      const res = await processChain(compileChain([lineRecorder(lines)]), splitAt(bytes, cut));
      expect(lines, `cut at ${cut}`).toEqual(LINES);
      expect(res.text()).toBe(LINES.map((l) => `[${l}]`).join(''));
    }
  });

  it('gives the same lines for every pair of cut positions and for 1-byte chunks', async () => {
    const bytes = enc(INPUT);
    for (let a = 1; a < bytes.byteLength; a++) {
      for (let b = a + 1; b < bytes.byteLength; b += 3) {
        const lines: string[] = [];
        await processChain(compileChain([lineRecorder(lines)]), splitAt(bytes, a, b));
        expect(lines, `cuts at ${a},${b}`).toEqual(LINES);
      }
    }
    const lines: string[] = [];
    await processChain(compileChain([lineRecorder(lines)]), splitBySizes(bytes, [1]));
    expect(lines).toEqual(LINES);
  });

  it('holds a partial line across a flush mark; the mark itself goes on at once', async () => {
    const lines: string[] = [];
    const res = await processChain(compileChain([lineRecorder(lines)]), [enc('ab'), FLUSH, enc('c\nd'), FLUSH, enc('e\n')]);
    expect(lines).toEqual(['abc\n', 'de\n']);
    expect(res.flushes).toBe(2);
    expect(showEvents(res.events)).toBe('|[abc\n]|[de\n]');
  });

  it('readline(limit) cuts long lines at the limit', async () => {
    const got: string[] = [];
    const f = modPythonFilter({
      name: 'limited',
      handler: async (f) => {
        for (let l; (l = await f.readline(4)) !== null; ) got.push(text(l));
        f.close();
      },
    });
    await processChain(compileChain([f]), splitBySizes(enc('abcdefghij\nxy\n'), [3]));
    expect(got).toEqual(['abcd', 'efgh', 'ij\n', 'xy\n']);
  });
});

describe('modPythonFilter: read', () => {
  function sizedReader(n: number, sizes: number[]) {
    return modPythonFilter({
      name: 'sized',
      handler: async (f) => {
        for (let s; (s = await f.read(n)) !== null; ) {
          sizes.push(s.byteLength);
          if (s.byteLength > 0) await f.write(upperBytes(s));
        }
        f.close();
      },
    });
  }

  it('read(n) returns at most n bytes and fills across chunks', async () => {
    const input = enc('abcdefghijklmnopq'); // 17 bytes
    for (const chunkSizes of [[1], [2], [5], [1, 7], [17], [4, 1, 1]]) {
      const sizes: number[] = [];
      const res = await processChain(compileChain([sizedReader(4, sizes)]), splitBySizes(input, chunkSizes));
      expect(res.text(), `chunks ${chunkSizes}`).toBe('ABCDEFGHIJKLMNOPQ');
      expect(sizes, `chunks ${chunkSizes}`).toEqual([4, 4, 4, 4, 1]);
    }
  });

  it('read(n) stops early at a flush mark, then returns the empty array for it', async () => {
    const sizes: number[] = [];
    const res = await processChain(compileChain([sizedReader(4, sizes)]), [enc('ab'), enc('c'), FLUSH, enc('defgh')]);
    expect(sizes).toEqual([3, 0, 4, 1]);
    expect(showEvents(res.events)).toBe('ABC|DEFGH');
  });

  it('read() returns what is available; at a flush mark an empty array', async () => {
    const got: string[] = [];
    const f = modPythonFilter({
      name: 'reader',
      handler: async (f) => {
        for (let s; (s = await f.read()) !== null; ) {
          got.push(s.byteLength === 0 ? '<flush>' : text(s));
          if (s.byteLength > 0) await f.write(s);
        }
        f.close();
      },
    });
    await processChain(compileChain([f]), [enc('one'), FLUSH, enc('two'), enc('three')]);
    expect(got).toEqual(['one', '<flush>', 'two', 'three']);
  });

  it('the flush mark reaches the sink after everything the filter wrote in response', async () => {
    // A buffering filter: holds data until a flush mark or end, writes it in two pieces.
    const f = modPythonFilter({
      name: 'buffering',
      handler: async (f) => {
        let held = '';
        for (let s; (s = await f.read()) !== null; ) {
          if (s.byteLength > 0) {
            held += text(s);
            continue;
          }
          await f.write(held.toUpperCase());
          await f.write('<flushed>');
          held = '';
        }
        await f.write(held.toUpperCase());
        f.close();
      },
    });
    const src: Src = [enc('a'), enc('b'), FLUSH, enc('c'), FLUSH, FLUSH, enc('d')];
    const res = await processChain(compileChain([f]), src);
    expect(showEvents(res.events, ',')).toBe('AB,<flushed>,|,C,<flushed>,|,<flushed>,|,D');
    expect(res.flushes).toBe(3);
  });

  it('the flush is passed on when the filter returns right after reading the mark', async () => {
    const f = modPythonFilter({
      name: 'quitter',
      handler: async (f) => {
        await f.read(); // 'x'
        await f.read(); // flush mark
        await f.write('bye');
        f.close();
      },
    });
    const res = await processChain(compileChain([f]), [enc('x'), FLUSH, enc('dropped')]);
    expect(showEvents(res.events)).toBe('bye|');
  });
});

describe('modPythonFilter: passOn, close, early return', () => {
  it('passOn() before any I/O removes the filter (not in active) and the body is untouched', async () => {
    const gate = modPythonFilter({
      name: 'html-only',
      handler: (f) => {
        if (f.headers.get('content-type') !== 'text/html') {
          f.passOn();
          return;
        }
        throw new Error('must not run');
      },
    });
    const chain = compileChain([gate, nodeUpper]);
    const res = await processChain(chain, [enc('keep '), FLUSH, enc('me')], {
      headers: { 'content-type': 'text/plain', 'content-length': '7' },
    });
    expect(res.active).toEqual(['node-upper']);
    expect(showEvents(res.events)).toBe('KEEP |ME');
    expect(res.head.headers.get('content-length')).toBe('7'); // the only stayer preserves length
  });

  it('returning without any I/O declines the same way', async () => {
    const idle = modPythonFilter({ name: 'idle', handler: () => undefined });
    const res = await processChain(compileChain([idle]), 'xyz', { headers: { 'content-length': '3' } });
    expect(res.active).toEqual([]);
    expect(res.text()).toBe('xyz');
    expect(res.head.headers.get('content-length')).toBe('3');
  });

  it('passOn() after some reads: the rest (including the unread part of a chunk) passes unchanged', async () => {
    const firstLine = modPythonFilter({
      name: 'first-line',
      handler: async (f) => {
        const line = await f.readline();
        await f.write(upperBytes(line!));
        f.passOn();
        expect(f.closed).toBe(false);
      },
    });
    const res = await processChain(compileChain([firstLine]), [enc('title\nrest-a'), enc('rest-b\n'), FLUSH, enc('rest-c')]);
    expect(res.active).toEqual(['first-line']);
    expect(showEvents(res.events)).toBe('TITLE\nrest-arest-b\n|rest-c');
    expect(res.flushes).toBe(1);
  });

  it('close() discards the rest of the input; the body ends after what was written', async () => {
    let closedFlag = false;
    let writeAfterClose: unknown;
    const head = modPythonFilter({
      name: 'head-only',
      handler: async (f) => {
        const line = await f.readline();
        await f.write(line!);
        f.close();
        closedFlag = f.closed;
        writeAfterClose = await f.write('late').catch((e: unknown) => e);
      },
    });
    const res = await processChain(compileChain([head]), splitBySizes(enc('keep\ndrop\ndrop more\n'), [3]));
    expect(res.text()).toBe('keep\n');
    expect(res.ended).toBe(true);
    expect(closedFlag).toBe(true);
    expect(writeAfterClose).toMatchObject({ code: 'ERR_SLUICE_CHAIN_STATE' });
  });

  it('returning early without close() passes the rest through unchanged', async () => {
    const once = modPythonFilter({
      name: 'once',
      handler: async (f) => {
        const s = await f.read(3);
        await f.write(upperBytes(s!));
      },
    });
    const res = await processChain(compileChain([once]), splitBySizes(enc('abcdefgh'), [2]));
    expect(res.text()).toBe('ABCdefgh');
    expect(res.ended).toBe(true);
  });

  it('reading to the end without close() still ends the body (no duplication)', async () => {
    const all = modPythonFilter({
      name: 'all',
      handler: async (f) => {
        for (let s; (s = await f.read()) !== null; ) await f.write(upperBytes(s));
      },
    });
    const res = await processChain(compileChain([all]), [enc('ab'), enc('cd')]);
    expect(res.text()).toBe('ABCD');
  });
});

describe('modPythonFilter: headers', () => {
  it('header and status edits before the first I/O are visible; C-L dropped by default', async () => {
    const f = modPythonFilter({
      name: 'retitle',
      handler: async (f) => {
        expect(f.isInput).toBe(false);
        expect(f.req.url).toBe('/page');
        f.headers.set('x-filtered', f.name);
        f.headers.delete('etag');
        f.status = 203;
        for (let s; (s = await f.read()) !== null; ) await f.write(s);
        f.close();
      },
    });
    const res = await processChain(compileChain([f]), 'body', {
      request: { url: '/page' },
      headers: { 'content-length': '4', etag: '"v1"' },
    });
    expect(res.head.headers.get('x-filtered')).toBe('retitle');
    expect(res.head.headers.has('etag')).toBe(false);
    expect(res.head.status).toBe(203);
    expect(res.head.headers.has('content-length')).toBe(false);
    expect(res.text()).toBe('body');
  });

  it('head.changesLength(false) keeps Content-Length', async () => {
    const f = modPythonFilter({
      name: 'same-length',
      handler: async (f) => {
        f.head.changesLength(false);
        for (let s; (s = await f.read()) !== null; ) await f.write(upperBytes(s));
        f.close();
      },
    });
    const res = await processChain(compileChain([f]), 'abc', { headers: { 'content-length': '3' } });
    expect(res.head.headers.get('content-length')).toBe('3');
    expect(res.text()).toBe('ABC');
  });

  it('edits after the head is committed throw HeadersCommittedError', async () => {
    const errors: unknown[] = [];
    const f = modPythonFilter({
      name: 'late',
      handler: async (f) => {
        const s = await f.read();
        for (const edit of [
          () => f.headers.set('x-late', '1'),
          () => f.headers.delete('content-type'),
          () => {
            f.status = 500;
          },
        ]) {
          try {
            edit();
          } catch (e) {
            errors.push(e);
          }
        }
        await f.write(s!);
        f.passOn();
      },
    });
    const res = await processChain(compileChain([f]), [enc('a'), enc('b')], { headers: { 'content-type': 'text/plain' } });
    expect(errors).toHaveLength(3);
    for (const e of errors) {
      expect(e).toBeInstanceOf(HeadersCommittedError);
      expect(e).toMatchObject({ code: 'ERR_SLUICE_HEADERS_COMMITTED' });
    }
    expect(res.head.headers.has('x-late')).toBe(false);
    expect(res.head.headers.get('content-type')).toBe('text/plain');
    expect(res.head.status).toBe(200);
    expect(res.text()).toBe('ab');
  });
});

describe('modPythonFilter: header phase ends at the first I/O', () => {
  it('an edit right after the first write throws, even before the chain commits the head', async () => {
    const errors: unknown[] = [];
    const early = modPythonFilter({
      name: 'early',
      handler: async (f) => {
        void f.write('banner;');
        try {
          f.headers.set('x-too-late', '1');
        } catch (e) {
          errors.push(e);
        }
        try {
          f.status = 201;
        } catch (e) {
          errors.push(e);
        }
        expect(f.headers.get('content-type')).toBe('text/plain'); // reads still work
        for (let c; (c = await f.read()) !== null; ) await f.write(c);
        f.close();
      },
    });
    const res = await processChain(compileChain([early]), 'body', { headers: { 'content-type': 'text/plain' } });
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(e).toMatchObject({ code: 'ERR_SLUICE_HEADERS_COMMITTED' });
    expect(res.head.headers.has('x-too-late')).toBe(false);
    expect(res.head.status).toBe(200);
    expect(res.text()).toBe('banner;body');
  });
});

describe('modPythonFilter: write before read, errors', () => {
  it('a banner written before the first read comes out first (and through later filters)', async () => {
    const banner = modPythonFilter({
      name: 'banner',
      handler: async (f) => {
        await f.write('<banner>');
        for (let s; (s = await f.read()) !== null; ) await f.write(s);
        f.close();
      },
    });
    const res = await processChain(compileChain([banner]), [enc('body')]);
    expect(showEvents(res.events, ',')).toBe('<banner>,body');
    const res2 = await processChain(compileChain([nodeUpper, banner]), [enc('body')]);
    expect(res2.text()).toBe('<BANNER>BODY');
  });

  it('a banner and a flush before the first read keep their order', async () => {
    const banner = modPythonFilter({
      name: 'banner-flush',
      handler: async (f) => {
        await f.write('hello');
        await f.flush();
        for (let s; (s = await f.read()) !== null; ) if (s.byteLength) await f.write(s);
        f.close();
      },
    });
    const res = await processChain(compileChain([banner]), [enc('x')]);
    expect(showEvents(res.events)).toBe('hello|x');
  });

  async function failure(handler: (f: ModPythonFilter<Record<string, never>>) => Promise<void> | void, src: Src) {
    const mp = modPythonFilter({ name: 'thrower', handler });
    const sink = collectSink();
    const run = compileChain([{ filter: mp, name: 'my-thrower' }]).run({}, sink);
    const err = await (async () => {
      await run.start();
      await pump(run, src);
    })().then(
      () => null,
      (e: unknown) => e,
    );
    return { err: err as FilterError, sink };
  }

  it('a throw before any I/O fails in the head phase with the filter name', async () => {
    const { err } = await failure(() => {
      throw new Error('config missing');
    }, [enc('x')]);
    expect(err).toBeInstanceOf(FilterError);
    expect(err).toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'my-thrower', phase: 'head' });
    expect(err.message).toContain('config missing');
  });

  it('a throw mid-body fails the message with the filter name; the sink is aborted', async () => {
    const { err, sink } = await failure(async (f) => {
      for (let s; (s = await f.read()) !== null; ) {
        if (text(s).includes('bad')) throw new Error('bad input');
        await f.write(s);
      }
    }, [enc('good'), enc('bad'), enc('more')]);
    expect(err).toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'my-thrower' });
    expect(err.message).toContain('bad input');
    expect(sink.aborted).toBe(err);
    expect(sink.ended).toBe(false);
    expect(sink.text()).toBe('good');
  });

  it('a throw after end of stream fails in the end phase', async () => {
    const { err } = await failure(async (f) => {
      while ((await f.read()) !== null);
      throw new Error('trailer failed');
    }, [enc('a')]);
    expect(err).toMatchObject({ code: 'ERR_SLUICE_FILTER', filter: 'my-thrower', phase: 'end' });
  });

  it('the process survives: the same chain serves the next message normally', async () => {
    const mp = modPythonFilter({
      name: 'sometimes',
      handler: async (f) => {
        for (let s; (s = await f.read()) !== null; ) {
          if (text(s) === 'die') throw new Error('asked to');
          await f.write(s);
        }
        f.close();
      },
    });
    const chain = compileChain([mp]);
    await expect(processChain(chain, [enc('die')])).rejects.toMatchObject({ filter: 'sometimes' });
    const ok = await processChain(chain, [enc('live'), enc('ly')]);
    expect(ok.text()).toBe('lively');
  });
});

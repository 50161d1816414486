import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import {
  compileChain,
  countingSink,
  FilterError,
  FilterOptionsError,
  FLUSH,
  LineTooLongError,
  processChain,
  pump,
  type ChainSource,
  type CompiledChain,
  type Flush,
  type HeaderInput,
  type MessageInit,
} from '../../src/index.js';
import { splitAt, withFlushes } from '../helpers.js';

/**
 * The substitute filter end to end through processChain, on real bytes: mod_substitute's
 * documented examples, matches at every chunk cut, flush marks, the line limit, legacy
 * charsets, a compressed upstream, and 200 MB in bounded memory.
 */

type Rule = string | { pattern: string; replacement: string; flags?: string };

const HTML: HeaderInput = { 'content-type': 'text/html; charset=utf-8' };

function chain(rules: Rule[], extra: Record<string, unknown> = {}, direction: 'input' | 'output' = 'output'): CompiledChain {
  return compileChain([{ filter: 'substitute', options: { rules, ...extra } }], { direction });
}

async function run(c: CompiledChain, source: ChainSource, headers: HeaderInput = HTML, init: MessageInit = {}): Promise<Buffer> {
  const r = await processChain(c, source, { ...init, headers });
  return r.body();
}

const text = async (rules: Rule[], input: string, extra: Record<string, unknown> = {}): Promise<string> =>
  (await run(chain(rules, extra), Buffer.from(input))).toString('utf8');

/** Cut points of `input` where the output differs from `want` (one cut, then every byte apart). */
async function badCuts(c: CompiledChain, input: Buffer, want: Buffer, headers: HeaderInput = HTML): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 1; i < input.length; i++) {
    const out = await run(c, [input.subarray(0, i), input.subarray(i)], headers);
    if (!out.equals(want)) bad.push(`cut ${i}: ${JSON.stringify(out.toString('latin1'))}`);
  }
  const bytewise = await run(c, splitAt(input, Array.from({ length: input.length }, (_, i) => i)), headers);
  if (!bytewise.equals(want)) bad.push(`bytewise: ${JSON.stringify(bytewise.toString('latin1'))}`);
  return bad;
}

async function failure(p: Promise<unknown>): Promise<FilterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FilterError);
  return err as FilterError;
}

function render(events: ReadonlyArray<Uint8Array | Flush>): string {
  return events.map((e) => (e === FLUSH ? '|' : Buffer.from(e).toString('utf8'))).join('');
}

// ---- mod_substitute's documented examples ------------------------------------------------

describe("mod_substitute's documented examples", () => {
  it('Substitute "s/foo/bar/ni": a fixed string, any case', async () => {
    expect(await text(['s/foo/bar/ni'], '<p>foo FOO Foo fOo food</p>\n')).toBe('<p>bar bar bar bar bard</p>\n');
  });

  it('Substitute "s|<BR */?>|<br />|i": an alternate delimiter', async () => {
    expect(await text(['s|<BR */?>|<br />|i'], 'a<BR>b<br/>c<BR  />d<bR >e<br>\n')).toBe('a<br />b<br />c<br />d<br />e<br />\n');
  });

  it('Substitute "s|foo=(\\w+),bar=\\1|foo/bar=$1|": backreferences and captures', async () => {
    expect(await text(['s|foo=(\\w+),bar=\\1|foo/bar=$1|'], 'x foo=k,bar=k y foo=k,bar=j\n')).toBe('x foo/bar=k y foo=k,bar=j\n');
  });

  it('rewriting URLs embedded in proxied content', async () => {
    const page = '<a href="http://internal.blog.example.com/post/1">one</a>\n<img src="HTTP://Internal.Blog.Example.COM/i.png">\n';
    expect(await text(['s|http://internal.blog.example.com/|http://www.example.com/blog/|i'], page)).toBe(
      '<a href="http://www.example.com/blog/post/1">one</a>\n<img src="http://www.example.com/blog/i.png">\n',
    );
  });

  it('SubstituteMaxLineLength 10m: sizes with a unit', async () => {
    expect(await text(['s/foo/bar/ni'], 'foo\n', { maxLineLength: '10m' })).toBe('bar\n');
    expect(() => chain(['s/a/b/'], { maxLineLength: '10x' })).toThrow(FilterOptionsError);
  });
});

// ---- rules --------------------------------------------------------------------------------

describe('rules', () => {
  it('any delimiter; \\<delimiter> is the delimiter itself; the last delimiter may be left out', async () => {
    expect(await text(['s#/old/#/new/#'], 'a /old/ b\n')).toBe('a /new/ b\n');
    expect(await text(['s/\\/old\\//\\/new\\//'], 'a /old/ b\n')).toBe('a /new/ b\n');
    expect(await text(['s/\\/old/\\/new/n'], 'a /old/ b\n')).toBe('a /new/ b\n');
    expect(await text(['s/old/new'], 'old old\n')).toBe('new new\n');
    expect(await text(['s|a\\|b|X|'], 'a|b ab\n')).toBe('X ab\n');
  });

  it('structured rules', async () => {
    expect(await text([{ pattern: 'a.c', replacement: '[$0]' }, { pattern: 'x.y', replacement: '$1', flags: 'n' }], 'abc x.y xzy\n')).toBe('[abc] $1 xzy\n');
  });

  it("Apache's replacement syntax: $0-$9, \\x is x, & and a lone $ are literal; with n everything is literal", async () => {
    expect(await text(['s/(a)(b)/$2$1-$0-\\$1-&-$x-\\\\/'], 'ab\n')).toBe('ba-ab-$1-&-$x-\\\n');
    expect(await text(['s/ab/$1 \\n/n'], 'ab\n')).toBe('$1 \\n\n');
  });

  it('matching is global; a regex dot never matches the newline; $ is the end of the line buffer, after its newline', async () => {
    expect(await text(['s/a.b/X/'], 'a-b a\nb a-b\n')).toBe('X a\nb X\n');
    // DOLLAR_ENDONLY: "foo$" cannot match a line that ends with its newline, only the last one
    expect(await text(['s/foo$/X/'], 'foo\nfoo')).toBe('foo\nX');
    expect(await text(['s/^foo/X/'], 'foo foo\nfoo\n')).toBe('X foo\nX\n');
  });

  it('f (default): later rules see earlier results; q: they neither see nor match across them', async () => {
    expect(await text(['s/a/b/', 's/b/c/'], 'ab\n')).toBe('cc\n');
    expect(await text(['s/a/b/q', 's/b/c/'], 'ab\n')).toBe('bc\n');
    expect(await text(['s/x/Y/n', 's/aYb/Z/n'], 'axb\n')).toBe('Z\n');
    expect(await text(['s/x/Y/nq', 's/aYb/Z/n'], 'axb\n')).toBe('aYb\n');
    expect(await text(['s/x/Y/q', 's/aYb/Z/'], 'axb\n')).toBe('aYb\n');
    // a deleting q rule still leaves a boundary
    expect(await text(['s/x//nq', 's/ab/Z/n'], 'axb ab\n')).toBe('ab Z\n');
    expect(await text(['s/x//q', 's/ab/Z/'], 'axb ab\n')).toBe('ab Z\n');
  });

  it('many lines at once give what line by line gives: a match may end with its newline, never span one', async () => {
    expect(await text(['s/a\\s*/X/'], 'a\na  \nb\n')).toBe('XXb\n');
    expect(await text(['s/a\\s*b/X/'], 'a\nb a b\n')).toBe('a\nb X\n');
    expect(await text(['s/a[^"]*"/X/'], 'a\nb"\nab"c\n')).toBe('a\nb"\nXc\n');
  });

  it('fixed strings match across newlines (the byte search has no lines); regexes never do', async () => {
    expect(await text([{ pattern: 'a\nb', replacement: 'X', flags: 'n' }], 'a\nb\n')).toBe('X\n');
    expect(await text(['s/a\\sb/X/'], 'a\nb a b\n')).toBe('a\nb X\n');
  });

  it('case-insensitive fixed strings: ASCII as bytes, others as a case-insensitive regex', async () => {
    expect(await text(['s/hello/bye/in'], 'HeLLo hello HELLO\n')).toBe('bye bye bye\n');
    expect(await text(['s/CAFÉ/tea/in'], 'café Café CAFÉ\n')).toBe('tea tea tea\n');
    // ſ (long s) is no ASCII s for a JavaScript /i without u, nor for the byte search
    expect(await text(['s/s/x/in'], 'sSſ\n')).toBe('xxſ\n');
  });

  it('config errors name the rule', () => {
    const problem = (rules: Rule[]): FilterOptionsError => {
      try {
        chain(rules);
      } catch (err) {
        expect(err).toBeInstanceOf(FilterOptionsError);
        return err as FilterOptionsError;
      }
      throw new Error('no error');
    };
    expect(problem(['s/a/b/', 's/a/b/x']).option).toBe('rules/1');
    expect(problem(['s/a/b/x']).message).toMatch(/unknown flag "x"/);
    expect(problem(['s/(a/b/']).message).toMatch(/rules\/0.*invalid regular expression/);
    expect(problem(['s/(a)/$2/']).message).toMatch(/\$2 but the pattern has 1 group/);
    expect(problem(['s/a']).message).toMatch(/incomplete/);
    expect(problem(['x/a/b/']).message).toMatch(/not an s\/pattern/);
    expect(problem(['s//b/']).message).toMatch(/empty pattern/);
    expect(() => chain([])).toThrow(FilterOptionsError);
    expect(() => chain(['s/a/b/'], { charset: 'shift-jjs' })).toThrow(/did you mean/);
  });
});

// ---- chunk boundaries ----------------------------------------------------------------------

describe('matches across chunk boundaries', () => {
  const input = Buffer.from('<a href="http://internal.example/x">http://internal.exampl</a>\nhttp://internal.example\nhttp://internal.examplehttp://internal.example\n');
  const want = (s: string): string => s.split('http://internal.example').join('https://www.example.com');

  it('a fixed string, at every cut point and byte by byte', async () => {
    const c = chain(['s|http://internal.example|https://www.example.com|n']);
    expect(await badCuts(c, input, Buffer.from(want(input.toString())))).toEqual([]);
  });

  it('a case-insensitive fixed string, at every cut point', async () => {
    const c = chain(['s|HTTP://INTERNAL.EXAMPLE|https://www.example.com|ni']);
    expect(await badCuts(c, input, Buffer.from(want(input.toString())))).toEqual([]);
  });

  it('replacements longer, shorter and as long as the pattern, at every cut point', async () => {
    const s = Buffer.from('x ab ab yab\nabab z ab');
    for (const [rep, w] of [
      ['[a longer replacement]', 'x [a longer replacement] [a longer replacement] y[a longer replacement]\n[a longer replacement][a longer replacement] z [a longer replacement]'],
      ['', 'x   y\n z '],
      ['BA', 'x BA BA yBA\nBABA z BA'],
    ]) {
      expect(await badCuts(chain([{ pattern: 'ab', replacement: rep!, flags: 'n' }]), s, Buffer.from(w!))).toEqual([]);
    }
  });

  it('a pattern that overlaps itself ("aab" in "aaab"), at every cut point', async () => {
    const c = chain(['s/aab/X/n']);
    const s = Buffer.from('aaab aab aaaab aa aaab');
    expect(await badCuts(c, s, Buffer.from('aX X aaX aa aX'))).toEqual([]);
  });

  it('a regex, at every cut point', async () => {
    const c = chain(['s|href="http://(\\w+)\\.example/|href="/$1/|']);
    const s = Buffer.from('<a href="http://internal.example/x">a</a>\n<a href="http://other.example/y">b</a> <a href="http://third.example/">');
    const w = '<a href="/internal/x">a</a>\n<a href="/other/y">b</a> <a href="/third/">';
    expect(await badCuts(c, s, Buffer.from(w))).toEqual([]);
  });

  it('mixed rules in a row (literal, regex, literal), at every cut point', async () => {
    const c = chain(['s/cat/dog/n', 's/d(o)g/D$1G/', 's/DoG/wolf/n']);
    const s = Buffer.from('a cat\nthe cat sat\ncatcat\n');
    expect(await badCuts(c, s, Buffer.from('a wolf\nthe wolf sat\nwolfwolf\n'))).toEqual([]);
  });

  it('UTF-8 text split inside characters, with random chunkings of a larger page', async () => {
    const line = '<p>Crème brûlée — café ✓ 日本語 😀</p>\n';
    const wline = '<p>Crème Bé — tea ✓ 日本語 :)</p>\n';
    const page = Buffer.from(line.repeat(50));
    const c = chain(['s/café/tea/n', 's/brûl(é)e/B$1/', 's/😀/:)/n']);
    const w = Buffer.from(wline.repeat(50));
    expect(await badCuts(c, Buffer.from(line), Buffer.from(wline))).toEqual([]);
    let seed = 7;
    for (let k = 0; k < 30; k++) {
      const cuts = Array.from({ length: 20 }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % page.length);
      expect((await run(c, splitAt(page, cuts))).equals(w)).toBe(true);
    }
  });
});

// ---- flush marks -----------------------------------------------------------------------------

describe('flush marks', () => {
  it('server-sent events pass event by event (literal and regex rules)', async () => {
    for (const rules of [['s/secret/public/n'], ['s/sec(r)et/public/']]) {
      const r = await processChain(chain(rules), withFlushes('data: secret 1\n\n|data: secret 2\n\n|'), { headers: { 'content-type': 'text/event-stream' } });
      expect(render(r.events)).toBe('data: public 1\n\n|data: public 2\n\n|');
    }
  });

  it('a fixed-string rule holds back only a possible start of a match', async () => {
    const r = await processChain(chain(['s/secret/public/n']), withFlushes('one sec|ret two se|x'), { headers: HTML });
    expect(render(r.events)).toBe('one |public two |sex');
  });

  it('a regex rule holds the partial line on a flush, as mod_substitute does, so a match across the flush is found', async () => {
    const r = await processChain(chain(['s/sec(r)et/public/']), withFlushes('a\nb sec|ret c\n'), { headers: HTML });
    expect(render(r.events)).toBe('a\n|b public c\n');
  });

  it('flushPartialLines: the partial line (and a held partial match) goes out at the flush', async () => {
    const r = await processChain(chain(['s/sec(r)et/public/'], { flushPartialLines: true }), withFlushes('tick secret|tock sec|ret\n'), { headers: HTML });
    expect(render(r.events)).toBe('tick public|tock sec|ret\n');
    const l = await processChain(chain(['s/secret/public/n'], { flushPartialLines: true }), withFlushes('one sec|ret'), { headers: HTML });
    expect(render(l.events)).toBe('one sec|ret');
  });
});

// ---- the line limit --------------------------------------------------------------------------

describe('maxLineLength', () => {
  const long = Buffer.from(`${'x'.repeat(1000)}\nshort\n`);

  it('a longer line fails the message with LineTooLongError, however it is cut', async () => {
    const c = chain(['s/x+/y/'], { maxLineLength: 500 });
    for (const source of [[long], splitAt(long, [100, 200, 300, 400, 500, 600, 700])]) {
      const err = await failure(run(c, source));
      expect(err.cause).toBeInstanceOf(LineTooLongError);
      expect((err.cause as LineTooLongError).code).toBe('ERR_SLUICE_LINE_TOO_LONG');
      expect(err.status).toBe(500);
      expect(err.message).toMatch(/longer than maxLineLength \(500 bytes\)/);
    }
  });

  it('a line that grows past the limit by substitution fails too', async () => {
    const err = await failure(run(chain(['s/a/aaaaaaaaaa/'], { maxLineLength: 100 }), Buffer.from(`${'a'.repeat(20)}\n`)));
    expect(err.cause).toBeInstanceOf(LineTooLongError);
  });

  it('a request body gets 413', async () => {
    const err = await failure(processChain(chain(['s/x+/y/'], { maxLineLength: 500 }, 'input'), [long], { request: { method: 'POST', headers: { 'content-type': 'text/plain' } } }));
    expect(err.status).toBe(413);
  });

  it('only regex rules hold lines: fixed-string rules stream any line', async () => {
    expect((await run(chain(['s/x/y/n'], { maxLineLength: 10 }), long)).toString()).toBe(`${'y'.repeat(1000)}\nshort\n`);
  });

  it('a line of exactly the limit passes', async () => {
    const line = `${'x'.repeat(99)}\n`;
    expect((await run(chain(['s/x/y/'], { maxLineLength: 100 }), Buffer.from(line))).toString()).toBe(`${'y'.repeat(99)}\n`);
  });
});

// ---- charsets -------------------------------------------------------------------------------

describe('text in the message charset', () => {
  it('windows-1252: fixed strings and regexes match the decoded text, at every cut point', async () => {
    const page = 'Café “quoted” – naïve €5\nsecond café line\n';
    const want = 'CAFÉ “quoted” – NAÏVE 5 EUR\nsecond CAFÉ line\n';
    const headers = { 'content-type': 'text/html; charset=windows-1252' };
    const c = chain(['s/café/CAFÉ/ni', 's/na(ï)ve/NA$1VE/', 's/€(\\d+)/$1 EUR/', 's/ï/Ï/n']);
    expect(await badCuts(c, iconv.encode(page, 'windows-1252'), iconv.encode(want, 'windows-1252'), headers)).toEqual([]);
  });

  it('iso-8859-1 is read as windows-1252, as browsers do', async () => {
    const out = await run(chain(['s/€/EUR/n']), iconv.encode('5€\n', 'windows-1252'), { 'content-type': 'text/plain; charset=ISO-8859-1' });
    expect(out.toString('latin1')).toBe('5EUR\n');
  });

  it('a fixed string with no form in the charset never matches (and the body passes untouched)', async () => {
    const body = iconv.encode('abc ? def\n', 'windows-1252');
    const r = await processChain(chain(['s/日本/X/n']), body, { headers: { 'content-type': 'text/plain; charset=windows-1252' } });
    expect(r.body().equals(body)).toBe(true);
    expect(r.active).toEqual([]);
  });

  it('shift_jis: decoded before matching, so a backslash rule leaves the 0x5C inside 表 alone; at every cut point', async () => {
    const page = '表示\\テスト\n日本語のテキスト、表示 ﾃｽﾄ\n';
    const want = '表示/テスト\n日本語のテキスト、ひょうじ ﾃｽﾄ\n';
    const input = iconv.encode(page, 'shift_jis');
    expect(input.includes(0x5c)).toBe(true);
    const headers = { 'content-type': 'text/plain; charset=Shift_JIS' };
    const c = chain([{ pattern: '\\', replacement: '/', flags: 'n' }, 's/、表示/、ひょうじ/']);
    expect(await badCuts(c, input, iconv.encode(want, 'shift_jis'), headers)).toEqual([]);
  });

  it('the charset option overrides the header; without one, defaultCharset applies', async () => {
    const body = iconv.encode('café\n', 'windows-1252');
    const forced = await run(chain(['s/é/e/n'], { charset: 'windows-1252' }), body, { 'content-type': 'text/plain; charset=utf-8' });
    expect(forced.toString('latin1')).toBe('cafe\n');
    const byDefault = await run(chain(['s/é/e/n'], { defaultCharset: 'windows-1252' }), body, { 'content-type': 'text/plain' });
    expect(byDefault.toString('latin1')).toBe('cafe\n');
  });

  it('bytes that are not UTF-8 in a UTF-8 page survive a changed line', async () => {
    const body = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' x=1 '), Buffer.from([0xff, 0xc3]), Buffer.from('\n')]);
    const out = await run(chain(['s/x=(\\d)/y=$1/']), body);
    expect(out.equals(Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' y=1 '), Buffer.from([0xff, 0xc3]), Buffer.from('\n')]))).toBe(true);
  });
});

// ---- the head --------------------------------------------------------------------------------

describe('the head', () => {
  it('drops Content-Length, weakens a strong ETag, removes Accept-Ranges', async () => {
    const r = await processChain(chain(['s/a/b/']), Buffer.from('a\n'), {
      headers: { 'content-type': 'text/html', 'content-length': '2', etag: '"v1"', 'accept-ranges': 'bytes' },
    });
    expect(r.head.headers.get('content-length')).toBeUndefined();
    expect(r.head.headers.get('etag')).toBe('W/"v1"');
    expect(r.head.headers.get('accept-ranges')).toBeUndefined();
    expect(r.lengthChanged).toBe(true);
  });

  it('steps aside for media types not listed, encoded bodies, partial content and bodiless responses', async () => {
    const c = chain(['s/a/b/']);
    const cases: MessageInit[] = [
      { headers: { 'content-type': 'image/png' } },
      { headers: {} },
      { headers: { 'content-type': 'text/html', 'content-encoding': 'gzip' } },
      { status: 206, headers: { 'content-type': 'text/html', 'content-range': 'bytes 0-1/10' } },
      { status: 304, headers: { 'content-type': 'text/html' } },
      { request: { method: 'HEAD' }, headers: { 'content-type': 'text/html' } },
    ];
    for (const init of cases) {
      const r = await processChain(c, Buffer.from('a\n'), init);
      expect(r.active).toEqual([]);
      expect(r.text()).toBe('a\n');
    }
  });

  it('types: JSON and JavaScript by default; "*" takes every body, even without a Content-Type', async () => {
    expect((await run(chain(['s/a/b/']), Buffer.from('"a"'), { 'content-type': 'application/json' })).toString()).toBe('"b"');
    expect((await run(chain(['s/a/b/']), Buffer.from('a'), { 'content-type': 'application/javascript' })).toString()).toBe('b');
    expect((await run(chain(['s/a/b/'], { types: ['*'] }), Buffer.from('a'), {})).toString()).toBe('b');
    expect((await run(chain(['s/a/b/'], { types: ['application/x-www-form-urlencoded'] }), Buffer.from('a=1'), { 'content-type': 'application/x-www-form-urlencoded' })).toString()).toBe('b=1');
  });

  it('works on request bodies (input chains)', async () => {
    const r = await processChain(chain(['s/monday/MON/n'], {}, 'input'), Buffer.from('day=monday'), {
      request: { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '10' } },
    });
    expect(r.text()).toBe('day=MON');
    expect(r.head.headers.get('content-length')).toBeUndefined();
  });
});

// ---- compressed upstreams --------------------------------------------------------------------

describe('a compressed upstream', () => {
  it('decompress + substitute + compress, listed in any order: the client gets gzip of the rewritten page', async () => {
    const page = '<a href="http://internal.example/">home</a>\n'.repeat(2000);
    const gz = zlib.gzipSync(page);
    for (const order of [
      ['decompress', 'substitute', 'compress'],
      ['compress', 'substitute', 'decompress'],
    ]) {
      const items = order.map((f) => (f === 'substitute' ? { filter: f, options: { rules: ['s|http://internal.example/|https://www.example.com/|n'] } } : f));
      const c = compileChain(items);
      expect(c.describe()).toMatch(/^decompress .* → substitute \(resource\) → compress/);
      const r = await processChain(c, splitAt(gz, [100, 1000, 1001, 5000]), {
        request: { headers: { 'accept-encoding': 'gzip' } },
        headers: { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': String(gz.length) },
      });
      expect(r.head.headers.get('content-encoding')).toBe('gzip');
      expect(r.head.headers.get('content-length')).toBeUndefined();
      expect(zlib.gunzipSync(r.body()).toString()).toBe(page.split('http://internal.example/').join('https://www.example.com/'));
    }
  });

  it('without decompress, a gzip body is left alone rather than corrupted', async () => {
    const gz = zlib.gzipSync('http://internal.example/');
    const r = await processChain(chain(['s/internal/public/n']), gz, { headers: { 'content-type': 'text/html', 'content-encoding': 'gzip' } });
    expect(r.body().equals(gz)).toBe(true);
  });
});

// ---- memory ------------------------------------------------------------------------------------

describe('memory', () => {
  it('200 MB through literal and regex rules: output streams, memory stays bounded', async () => {
    const MB = 1024 * 1024;
    const TOTAL = 200 * MB;
    const block = Buffer.from('<p class="x">see http://internal.example/page and more text, item=42;</p>\n'.repeat(900));
    const per = block.length;
    let produced = 0;
    let rssPeak = 0;
    const src = new Readable({
      highWaterMark: per,
      read() {
        if (produced >= TOTAL) {
          this.push(null);
          return;
        }
        produced += per;
        if ((produced / per) % 64 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        this.push(block);
      },
    });
    const c = chain(['s|http://internal.example/|https://www.example.com/|n', 's/item=(\\d+)/item=<$1>/']);
    const sink = countingSink();
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const r = c.run({ headers: { 'content-type': 'text/html' } }, sink);
    await r.start();
    await pump(r, src);
    const rewritten = block.toString().split('http://internal.example/').join('https://www.example.com/').replace(/item=(\d+)/g, 'item=<$1>');
    expect(sink.bytes).toBe((produced / per) * Buffer.byteLength(rewritten));
    expect(produced).toBeGreaterThanOrEqual(TOTAL);
    // streamed: one output chunk per input chunk, not one at the end
    expect(sink.chunks).toBe(produced / per);
    expect(rssPeak - rssBefore).toBeLessThan(150 * MB);
  }, 120_000);
});

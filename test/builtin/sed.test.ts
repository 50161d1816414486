import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import {
  compileChain,
  FilterError,
  FilterOptionsError,
  FLUSH,
  LineTooLongError,
  processChain,
  type ChainSource,
  type CompiledChain,
  type Flush,
  type HeaderInput,
} from '../../src/index.js';
import { splitAt, withFlushes } from '../helpers.js';

/**
 * The sed filter end to end: mod_sed's documented examples, the commands of the subset with
 * the output GNU sed gives for the same script and input, every chunk cut, flush marks, the
 * line limit, legacy charsets and config errors.
 */

type Opts = Record<string, unknown>;
const HTML: HeaderInput = { 'content-type': 'text/html; charset=utf-8' };

function chain(script: string | string[], extra: Opts = {}, direction: 'input' | 'output' = 'output'): CompiledChain {
  return compileChain([{ filter: 'sed', options: { script, ...extra } }], { direction });
}

async function run(c: CompiledChain, source: ChainSource, headers: HeaderInput = HTML): Promise<Buffer> {
  return (await processChain(c, source, { headers })).body();
}

const sed = async (script: string | string[], input: string, extra: Opts = {}): Promise<string> =>
  (await run(chain(script, extra), Buffer.from(input))).toString('utf8');

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

function render(events: ReadonlyArray<Uint8Array | Flush>): string {
  return events.map((e) => (e === FLUSH ? '|' : Buffer.from(e).toString('utf8'))).join('');
}

describe("mod_sed's documented examples", () => {
  const script = ['s/monday/MON/g', 's/sunday/SUN/g'];

  it('OutputSed "s/monday/MON/g" and "s/sunday/SUN/g" on an html document', async () => {
    expect(await sed(script, '<p>monday, sunday, monday</p>\n<p>tuesday</p>\n')).toBe('<p>MON, SUN, MON</p>\n<p>tuesday</p>\n');
  });

  it('InputSed: the same on POST data', async () => {
    const r = await processChain(chain(script, {}, 'input'), Buffer.from('from=monday&to=sunday'), {
      request: { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '21' } },
    });
    expect(r.text()).toBe('from=MON&to=SUN');
    expect(r.head.headers.get('content-length')).toBeUndefined();
  });

  it('hold space commands (h H g G x): print the lines in reverse, as tac', async () => {
    expect(await sed('1!G;h;$!d', 'one\ntwo\nthree\n')).toBe('three\ntwo\none\n');
    expect(await sed('x;$G', 'a\nb\nc\n')).toBe('\na\nb\nc\n');
    expect(await sed('H;$!d;x', 'a\nb\n')).toBe('\na\nb\n');
  });

  it('b: branch to a label', async () => {
    expect(await sed(':top\ns/aa/a/\nt top', 'aaaaa x\n')).toBe('a x\n');
    expect(await sed('/skip/b\ns/x/y/', 'x skip\nx\n')).toBe('x skip\ny\n');
    expect(await sed('/skip/b end\ns/x/y/\n:end', 'x skip\nx\n')).toBe('x skip\ny\n');
  });
});

describe('commands (outputs as GNU sed gives them)', () => {
  const cases: Array<[string, string | string[], string, string, Opts?]> = [
    ['s with g', 's/a/X/g', 'banana\n', 'bXnXnX\n'],
    ['s first only', 's/a/X/', 'banana\n', 'bXnana\n'],
    ['s Nth occurrence', 's/a/X/2', 'banana\n', 'banXna\n'],
    ['s Nth and after', 's/a/X/2g', 'banana\n', 'banXnX\n'],
    ['s case-insensitive', 's/BAN/x/I', 'banana\n', 'xana\n'],
    ['s & and \\N groups (BRE)', 's/\\(b\\)\\(a\\)/[\\2\\1&]/', 'banana\n', '[abba]nana\n'],
    ['s \\n in the replacement', 's/,/\\n/g', 'a,b\n', 'a\nb\n'],
    ['s p flag prints the result again', 's/a/X/p', 'a\nb\n', 'X\nX\nb\n'],
    ['s empty matches (GNU: not right after a match)', 's/a*/x/g', 'baaac\n', 'xbxcx\n'],
    ['BRE literal + ? ( ) |, GNU \\+', 's/a+b/X/;s/c\\+/Y/', 'a+b ccc\n', 'X Y\n'],
    ['BRE intervals and classes', 's/[[:digit:]]\\{2,3\\}/N/g', 'a1 b12 c1234\n', 'a1 bN cN4\n'],
    ['ERE with extended', 's/(ab|cd)+/X/g', 'ababcd ef\n', 'X ef\n', { extended: true }],
    ['\\< \\> word boundaries', 's/\\<on\\>/ON/g', 'on one bon on\n', 'ON one bon ON\n'],
    ['a run of lines at once is line by line: no match takes a newline', 's/a.*/X/g;s/b[^"]*"/Y/g', 'abc\nabd\nb\nc"\n', 'X\nX\nb\nc"\n'],
    ['y transliterates', 'y/abc/xyz/', 'aabbcc-cba\n', 'xxyyzz-zyx\n'],
    ['d by line number', '2d', 'a\nb\nc\n', 'a\nc\n'],
    ['d the last line ($)', '$d', 'a\nb\nc\n', 'a\nb\n'],
    ['d a /regex/ range', '/start/,/end/d', 'a\nstart\nb\nend\nc\n', 'a\nc\n'],
    ['a line-number range', '2,3s/^/> /', 'a\nb\nc\nd\n', 'a\n> b\n> c\nd\n'],
    ['a range whose end is before its start is one line', '3,1d', 'a\nb\nc\nd\n', 'a\nb\nd\n'],
    ['a range ending at $', '/b/,$d', 'a\nb\nc\n', 'a\n'],
    ['! negates', '/keep/!d', 'x\nkeep 1\ny\nkeep 2\n', 'keep 1\nkeep 2\n'],
    ['p prints, quiet prints nothing else', '/b/p', 'a\nb\nc\n', 'b\n', { quiet: true }],
    ['p without quiet doubles', '2p', 'a\nb\n', 'a\nb\nb\n'],
    ['= prints the line number', '/b/=', 'a\nb\n', 'a\n2\nb\n'],
    ['a (GNU one-line form)', '/b/a after', 'a\nb\nc\n', 'a\nb\nafter\nc\n'],
    ['a (POSIX form)', '/b/a\\\nafter', 'a\nb\nc\n', 'a\nb\nafter\nc\n'],
    ['i', '1i first', 'a\nb\n', 'first\na\nb\n'],
    ['c on a range replaces it once', '2,3c changed', 'a\nb\nc\nd\n', 'a\nchanged\nd\n'],
    ['c on each line', '/x/c gone', 'x1\ny\nx2\n', 'gone\ny\ngone\n'],
    ['blocks', '/a/{s/a/b/;s/b/c/}', 'a\nb\n', 'c\nb\n'],
    ['a block with a negated range', '2,3!{s/./#/}', 'a\nb\nc\nd\n', '#\nb\nc\n#\n'],
    ['comments and blank commands', '# a comment\n;;s/a/b/ # trailing\n', 'a\n', 'b\n'],
    ['several script lines', ['s/a/b/', 's/b/c/'], 'a\n', 'c\n'],
    ['a last line without a newline keeps it that way (GNU; mod_sed adds one)', 's/b/B/', 'a\nb', 'a\nB'],
    ['p on a last line without a newline', 'p', 'a', 'a\na'],
    ['CRLF lines keep their CR', 's/x$/y/', 'ax\r\nbx\n', 'ax\r\nby\n'],
    ['\\cREc addresses', '\\,/b,d', '/a\n/b\n', '/a\n'],
    ['/re/I addresses', '/B/Id', 'a\nb\n', 'a\n'],
  ];
  for (const [label, script, input, want, extra] of cases) {
    it(label, async () => {
      expect(await sed(script, input, extra)).toBe(want);
    });
  }
});

describe('chunking and flush marks', () => {
  it('every cut point gives the same bytes (substitution, ranges, $, hold space)', async () => {
    const input = Buffer.from('head\n<p>monday</p>\nstart\nmid sunday\nend\ntail monday');
    const cases: Array<[string | string[], string]> = [
      [['s/monday/MON/g', 's/sunday/SUN/g'], 'head\n<p>MON</p>\nstart\nmid SUN\nend\ntail MON'],
      ['/start/,/end/d', 'head\n<p>monday</p>\ntail monday'],
      // (the last line had no newline, so the reversed text ends without one, as in GNU sed)
      ['1!G;h;$!d', 'tail monday\nend\nmid sunday\nstart\n<p>monday</p>\nhead'],
    ];
    for (const [script, want] of cases) expect(await badCuts(chain(script), input, Buffer.from(want))).toEqual([]);
  });

  it('a flush sends every complete line; a partial line waits (as mod_sed)', async () => {
    const r = await processChain(chain('s/secret/public/g'), withFlushes('data: secret\n\n|data: sec|ret\n\n|'), { headers: { 'content-type': 'text/event-stream' } });
    expect(render(r.events)).toBe('data: public\n\n||data: public\n\n|');
  });

  it('with $ in the script the last complete line waits for the next one', async () => {
    const r = await processChain(chain('$s/^/last: /'), withFlushes('a\n|b\n|'), { headers: HTML });
    expect(render(r.events)).toBe('|a\n|last: b\n');
  });
});

describe('limits and charsets', () => {
  it('a line over maxLineLength fails the message, however it is cut', async () => {
    const long = Buffer.from(`${'x'.repeat(300)}\nshort\n`);
    for (const source of [[long], splitAt(long, [50, 100, 150])]) {
      const err = await processChain(chain('s/x/y/', { maxLineLength: 200 }), source, { headers: HTML }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FilterError);
      expect((err as FilterError).cause).toBeInstanceOf(LineTooLongError);
      expect((err as FilterError).status).toBe(500);
    }
  });

  it('windows-1252 and shift_jis pages: the script sees characters, at every cut point', async () => {
    const w = iconv.encode('Café €5\nnaïve\n', 'windows-1252');
    const ww = iconv.encode('CAFÉ 5 EUR\nNAÏVE\n', 'windows-1252');
    expect(await badCuts(chain(['s/€\\([0-9]\\)/\\1 EUR/', 'y/éaïcfnve/ÉAÏCFNVE/']), w, ww, { 'content-type': 'text/html; charset=windows-1252' })).toEqual([]);
    const j = iconv.encode('表示\\テスト\n日本語\n', 'shift_jis');
    const jj = iconv.encode('表示/テスト\n[日本語]\n', 'shift_jis');
    expect(await badCuts(chain(['s/\\\\/\\//g', '2s/.*/[&]/']), j, jj, { 'content-type': 'text/plain; charset=shift_jis' })).toEqual([]);
  });

  it('steps aside for bodies it should not touch', async () => {
    for (const headers of [{ 'content-type': 'image/png' }, { 'content-type': 'text/html', 'content-encoding': 'br' }]) {
      const r = await processChain(chain('s/a/b/'), Buffer.from('a'), { headers });
      expect(r.active).toEqual([]);
      expect(r.text()).toBe('a');
    }
  });
});

describe('config errors name the problem', () => {
  const problem = (script: string | string[], extra: Opts = {}): string => {
    try {
      chain(script, extra);
    } catch (err) {
      expect(err).toBeInstanceOf(FilterOptionsError);
      expect((err as FilterOptionsError).option).toBe('script');
      return (err as Error).message;
    }
    throw new Error('no error');
  };
  it.each([
    ['n', /command "n" reads the next line and is not supported/],
    ['w out.txt', /command "w" writes a file/],
    ['k', /unknown command "k"/],
    ['s/a/b', /unterminated replacement/],
    ['s/a/b/w', /flag "w" is not supported/],
    ['s/a/\\2/', /refers to a group/],
    ['y/ab/c/', /same length/],
    ['b nowhere', /no label "nowhere"/],
    ['/a/{s/a/b/', /unmatched "\{"/],
    ['}', /unexpected "\}"/],
    ['0d', /start at 1/],
    ['s/\\(a/b/', /unmatched/],
    ['s/[[:foo:]]/b/', /unknown character class/],
    ['s/a/b/ x', /unexpected "x"/],
  ])('%s', (script, re) => {
    expect(problem(script)).toMatch(re);
  });
});

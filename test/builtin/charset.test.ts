import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import {
  compileChain,
  FilterError,
  FilterOptionsError,
  FLUSH,
  processChain,
  SluiceError,
  type ChainSource,
  type CompiledChain,
  type Flush,
  type HeaderInput,
  type MessageInit,
  type Processed,
} from '../../src/index.js';

/**
 * The charset filter end to end through processChain. Inputs are made with iconv-lite and
 * outputs compared byte for byte with the UTF-8 (or target) encoding of the expected text.
 *
 * Regressions guarded here: UTF-8 BOM kept on pass-through, UTF-16 surrogate pairs split
 * across chunks, iconv-lite's GB18030 4-byte loss (pillarjs/iconv-lite#417), sniffing that
 * depended on chunking, a genuine U+FFFD failing onError:'error', <meta charset=utf-16>.
 */

// ---- helpers -----------------------------------------------------------------------------

type Opts = Record<string, unknown>;

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const BOM8 = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM16LE = Buffer.from([0xff, 0xfe]);
const BOM16BE = Buffer.from([0xfe, 0xff]);

function chain(options: Opts = {}, direction: 'input' | 'output' = 'output'): CompiledChain {
  return compileChain([{ filter: 'charset', options }], { direction });
}

/** Output chain, response headers `headers`. */
function out(c: CompiledChain, source: ChainSource, headers: HeaderInput, init: MessageInit = {}): Promise<Processed> {
  return processChain(c, source, { ...init, headers });
}

/** Every two-piece split of `buf`: [0,i) [i,len) for i in 1..len-1. */
function* splits(buf: Buffer): Generator<[number, Uint8Array[]]> {
  for (let i = 1; i < buf.length; i++) yield [i, [buf.subarray(0, i), buf.subarray(i)]];
}

function bytewise(buf: Buffer): Uint8Array[] {
  return Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
}

/** Run every split of `input` and return the positions whose output differs from `want`. */
async function badSplits(c: CompiledChain, input: Buffer, headers: HeaderInput, want: Buffer): Promise<number[]> {
  const bad: number[] = [];
  for (const [i, chunks] of splits(input)) {
    const r = await out(c, chunks, headers);
    if (!r.body().equals(want)) bad.push(i);
  }
  return bad;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

async function rejection(p: Promise<unknown>): Promise<FilterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FilterError);
  return err as FilterError;
}

// ---- 1. conversion to UTF-8, at every split ----------------------------------------------

interface Case {
  name: string;
  input: Buffer;
  expected: string;
  contentType: string;
}

const JA = 'Shift_JIS: 日本語のテキスト、こんにちは。ｶﾀｶﾅ ～ ①';
const KO = 'EUC-KR: 한국어 텍스트입니다. 안녕하세요! ㄱㄴ';
const ZH = 'GB18030: 中文测试 € 𠀀 ¥ 𠀁𪚥 end';
const W1252 = 'windows-1252: café “quotes” – € œ Ÿ ‰ naïve Š';
const WIDE = 'Grüße 𠀀 日本 € 😀 ok';

const LATIN1_BYTES = Buffer.from(Array.from({ length: 0x100 - 0x20 }, (_, i) => 0x20 + i));
const LATIN1_TEXT = String.fromCharCode(...LATIN1_BYTES);

const cases: Case[] = [
  { name: 'windows-1252', input: iconv.encode(W1252, 'windows-1252'), expected: W1252, contentType: 'text/plain; charset=windows-1252' },
  { name: 'iso-8859-1 (bytes 0x20-0xFF)', input: LATIN1_BYTES, expected: LATIN1_TEXT, contentType: 'text/plain; charset=iso-8859-1' },
  { name: 'shift_jis', input: iconv.encode(JA, 'shift_jis'), expected: JA, contentType: 'text/plain; charset=shift_jis' },
  { name: 'euc-kr', input: iconv.encode(KO, 'euc-kr'), expected: KO, contentType: 'text/plain; charset=euc-kr' },
  {
    name: 'gb18030 (4-byte sequences)',
    input: iconv.encode(ZH, 'gb18030'),
    expected: ZH,
    contentType: 'text/plain; charset=gb18030',
  },
  {
    name: 'utf-16le with BOM',
    input: Buffer.concat([BOM16LE, iconv.encode(WIDE, 'utf-16le')]),
    expected: WIDE,
    contentType: 'text/plain',
  },
  {
    name: 'utf-16be with BOM',
    input: Buffer.concat([BOM16BE, iconv.encode(WIDE, 'utf-16be')]),
    expected: WIDE,
    contentType: 'text/plain',
  },
  {
    name: 'utf-8 with BOM',
    input: Buffer.concat([BOM8, utf8(WIDE)]),
    expected: WIDE,
    contentType: 'text/plain',
  },
];

describe('charset: conversion to utf-8', () => {
  it('the inputs really are in their charsets (sanity)', () => {
    for (const c of cases) {
      const decoded = c.name.startsWith('utf-') ? iconv.decode(c.input, c.name.slice(0, c.name.indexOf(' '))) : iconv.decode(c.input, c.name.split(' ')[0]!);
      expect(decoded, c.name).toBe(c.expected);
    }
    // gb18030 really has 4-byte sequences: 𠀀 is 95 32 82 36, € is a2 e3
    expect(hex(iconv.encode('𠀀', 'gb18030'))).toBe('95328236');
    expect(hex(iconv.encode('€', 'gb18030'))).toBe('a2e3');
  });

  for (const c of cases) {
    const want = utf8(c.expected);
    const t = it;
    const tWhole = it;
    const prefix: string = '';

    tWhole(`${prefix}${c.name}: one chunk`, async () => {
      const r = await out(chain(), [c.input], { 'content-type': c.contentType });
      expect(r.active).toEqual(['charset']);
      expect(r.head.headers.get('content-type')).toMatch(/; charset=utf-8$/);
      expect(r.text()).toBe(c.expected);
      expect(hex(r.body())).toBe(hex(want));
    });

    // sniff: 4 so the decision is made on the first piece once it has 4 bytes and the rest is
    // streamed through the decoder (with the default 4096 a short body is held whole).
    t(`${prefix}${c.name}: split at every byte position`, async () => {
      expect(await badSplits(chain({ sniff: 4 }), c.input, { 'content-type': c.contentType }, want)).toEqual([]);
      // and with the default sniff window (everything held, then decoded at once)
      expect(await badSplits(chain(), c.input, { 'content-type': c.contentType }, want)).toEqual([]);
    });

    t(`${prefix}${c.name}: 1-byte chunks`, async () => {
      const r = await out(chain({ sniff: 4 }), bytewise(c.input), { 'content-type': c.contentType });
      expect(hex(r.body())).toBe(hex(want));
    });
  }

  it('utf-16le: a surrogate pair split between its halves is kept whole', async () => {
    const input = Buffer.concat([BOM16LE, iconv.encode('ab𠀀c', 'utf-16le')]);
    // BOM(2) a(2) b(2) | high(2) | low(2) c(2): cut between the halves at 8
    const r = await out(chain({ sniff: 0 }), [input.subarray(0, 8), input.subarray(8)], { 'content-type': 'text/plain' });
    expect(r.text()).toBe('ab𠀀c');
  });

  it('a large body in varied chunk sizes converts like the whole', async () => {
    const text = (JA + '\n').repeat(400);
    const input = iconv.encode(text, 'shift_jis');
    const chunks: Uint8Array[] = [];
    for (let at = 0, n = 1; at < input.length; at += n, n = (n * 7 + 3) % 1500 || 1) chunks.push(input.subarray(at, at + n));
    const r = await out(chain(), chunks, { 'content-type': 'text/plain; charset=Shift_JIS' });
    expect(r.text()).toBe(text);
  });
});

// ---- 2. source detection -----------------------------------------------------------------

describe('charset: source detection', () => {
  it('the Content-Type charset parameter wins over a <meta> in the body', async () => {
    const body = latin1('<html><head><meta charset="shift_jis"></head><body>\x80 \xe9</body></html>');
    const r = await out(chain(), body, { 'content-type': 'text/html; charset=windows-1252' });
    expect(r.text()).toBe('<html><head><meta charset="utf-8"></head><body>€ é</body></html>');
  });

  it('`from` overrides the Content-Type parameter', async () => {
    const r = await out(chain({ from: 'shift_jis' }), iconv.encode('日本', 'shift_jis'), { 'content-type': 'text/plain; charset=windows-1252' });
    expect(r.text()).toBe('日本');
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('a utf-16le BOM is used when there is no parameter (over a <meta>)', async () => {
    const doc = '<meta charset="windows-1252"><p>日本 € 𠀀</p>';
    const body = Buffer.concat([BOM16LE, iconv.encode(doc, 'utf-16le')]);
    const r = await out(chain(), body, { 'content-type': 'text/html' });
    expect(r.text()).toBe('<meta charset="utf-8"><p>日本 € 𠀀</p>');
  });

  it('a utf-8 BOM is used when there is no parameter (over a <meta>), and stripped', async () => {
    const body = Buffer.concat([BOM8, utf8('<meta charset="windows-1252"><p>é €</p>')]);
    const r = await out(chain(), body, { 'content-type': 'text/html' });
    expect(hex(r.body())).toBe(hex(utf8('<meta charset="utf-8"><p>é €</p>')));
  });

  it('a utf-16be BOM is used when there is no parameter', async () => {
    const body = Buffer.concat([BOM16BE, iconv.encode('<p>Grüße</p>', 'utf-16be')]);
    const r = await out(chain(), body, { 'content-type': 'text/html' });
    expect(r.text()).toBe('<p>Grüße</p>');
  });

  it('sniffs <meta charset="x"> when there is no parameter or BOM', async () => {
    const doc = '<!doctype html><html><head><meta charset="Shift_JIS"><title>t</title></head><body>日本語 ｶﾅ</body></html>';
    const r = await out(chain(), iconv.encode(doc, 'shift_jis'), { 'content-type': 'text/html' });
    expect(r.text()).toBe(doc.replace('Shift_JIS', 'utf-8'));
    expect(r.head.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it("sniffs <meta charset='x'> and unquoted <meta charset=x>", async () => {
    for (const [decl, rewritten] of [
      ["<meta charset='euc-kr'>", "<meta charset='utf-8'>"],
      ['<meta charset=euc-kr>', '<meta charset=utf-8>'],
      ['<META CHARSET="EUC-KR">', '<META CHARSET="utf-8">'],
    ] as const) {
      const r = await out(chain(), iconv.encode(`${decl}<p>한국어</p>`, 'euc-kr'), { 'content-type': 'text/html' });
      expect(r.text(), decl).toBe(`${rewritten}<p>한국어</p>`);
    }
  });

  it('sniffs <meta http-equiv="Content-Type" content="text/html; charset=x">', async () => {
    const doc = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"></head><body>안녕하세요</body></html>';
    const r = await out(chain(), iconv.encode(doc, 'euc-kr'), { 'content-type': 'text/html' });
    expect(r.text()).toBe(doc.replace('charset=euc-kr', 'charset=utf-8'));
  });

  it('sniffs <?xml version="1.0" encoding="x"?> for application/xml', async () => {
    const doc = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<r a="é">ñ ü ÿ</r>';
    const r = await out(chain(), latin1(doc), { 'content-type': 'application/xml' });
    expect(r.text()).toBe(doc.replace('ISO-8859-1', 'utf-8'));
    expect(r.head.headers.get('content-type')).toBe('application/xml; charset=utf-8');
  });

  it("sniffs an XML declaration with single quotes (image/svg+xml, application/atom+xml)", async () => {
    const doc = "<?xml version='1.0' encoding='Shift_JIS'?><svg><text>日本</text></svg>";
    for (const ct of ['image/svg+xml', 'application/atom+xml']) {
      const r = await out(chain(), iconv.encode(doc, 'shift_jis'), { 'content-type': ct });
      expect(r.text(), ct).toBe(doc.replace('Shift_JIS', 'utf-8'));
    }
  });

  it('does not sniff markup declarations in a non-markup type (text/plain uses the default)', async () => {
    const body = latin1('<meta charset="shift_jis"> \x82\xa0');
    const r = await out(chain(), body, { 'content-type': 'text/plain' });
    expect(r.text()).toBe('<meta charset="shift_jis"> ‚\u00a0');
  });

  it('with no declaration, the default is windows-1252: 0x80 comes out as €', async () => {
    const r = await out(chain(), Buffer.from([0x80]), { 'content-type': 'text/plain' });
    expect(r.text()).toBe('€');
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const r2 = await out(chain(), latin1('<html><body>\x80 \x93q\x94</body></html>'), { 'content-type': 'text/html' });
    expect(r2.text()).toBe('<html><body>€ “q”</body></html>');
  });

  it('the `default` option changes the fallback', async () => {
    const r = await out(chain({ default: 'iso-8859-1' }), Buffer.from([0x80, 0xe9]), { 'content-type': 'text/plain' });
    expect(r.text()).toBe('\u0080é');
    const r2 = await out(chain({ default: 'shift_jis' }), iconv.encode('日本', 'shift_jis'), { 'content-type': 'text/plain' });
    expect(r2.text()).toBe('日本');
  });

  it('an unknown sniffed charset falls back to the default', async () => {
    const r = await out(chain(), latin1('<meta charset="x-nonsense-42">\x80'), { 'content-type': 'text/html' });
    expect(r.text()).toBe('<meta charset="utf-8">€');
  });

  // BUG: HTML's prescan treats a <meta> naming UTF-16 as UTF-8 (an ASCII-compatible document
  // cannot be UTF-16 if its <meta> could be read); the filter decodes the body as UTF-16.
  it('<meta charset="utf-16"> in an ASCII-compatible document means utf-8', async () => {
    const doc = '<meta charset="utf-16"><p>héllo</p>';
    const r = await out(chain(), utf8(doc), { 'content-type': 'text/html' });
    expect(r.text()).toBe('<meta charset="utf-8"><p>héllo</p>');
  });

  it('a declaration spread over many small chunks inside the sniff window is found', async () => {
    const doc = '<html><head><meta charset="shift_jis"></head><body>日本語</body></html>';
    const r = await out(chain({ sniff: 512 }), bytewise(iconv.encode(doc, 'shift_jis')), { 'content-type': 'text/html' });
    expect(r.text()).toBe(doc.replace('shift_jis', 'utf-8'));
  });

  // A document whose <meta> starts after the first 64 bytes.
  const late = Buffer.concat([
    latin1(`<html><head><title>${'x'.repeat(100)}</title><meta charset="shift_jis"></head><body>`),
    Buffer.from([0x82, 0xa0]), // あ in Shift_JIS; ‚ + NBSP in windows-1252
    latin1('</body></html>'),
  ]);
  const lateAsDefault = iconv.decode(late, 'windows-1252');

  it('a declaration beyond `sniff` bytes is not found (falls back to the default) [16-byte chunks]', async () => {
    const chunks = Array.from({ length: Math.ceil(late.length / 16) }, (_, i) => late.subarray(i * 16, i * 16 + 16));
    const r = await out(chain({ sniff: 64 }), chunks, { 'content-type': 'text/html' });
    expect(r.text()).toBe(lateAsDefault);
    expect(r.text()).toContain('‚\u00a0');
  });

  // BUG: #decide sniffs the whole held buffer, which is every byte received when the window
  // filled, so a first chunk larger than `sniff` is searched in full: the result depends on
  // how the upstream happened to chunk the body.
  it('a declaration beyond `sniff` bytes is not found [one chunk]', async () => {
    const r = await out(chain({ sniff: 64 }), [late], { 'content-type': 'text/html' });
    expect(r.text()).toBe(lateAsDefault);
  });
});

// ---- 3. headers --------------------------------------------------------------------------

describe('charset: headers', () => {
  it('replaces the Content-Type charset parameter and drops Content-Length', async () => {
    const body = iconv.encode('日本語', 'shift_jis');
    const r = await out(chain(), body, {
      'content-type': 'text/html; charset="Shift_JIS"; foo=bar',
      'content-length': String(body.length),
      etag: '"v1"',
    });
    expect(r.active).toEqual(['charset']);
    expect(r.lengthChanged).toBe(true);
    expect(r.head.headers.get('content-type')).toBe('text/html; charset=utf-8; foo=bar');
    expect(r.head.headers.has('content-length')).toBe(false);
    expect(r.head.headers.get('etag')).toBe('W/"v1"');
    expect(r.text()).toBe('日本語');
  });

  it('adds a charset parameter when there is none', async () => {
    const r = await out(chain(), latin1('caf\xe9'), { 'content-type': 'text/plain', 'content-length': '4' });
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(r.head.headers.has('content-length')).toBe(false);
    expect(r.text()).toBe('café');
  });

  it('a body already in the target charset (matching parameter): not active, body and Content-Length kept', async () => {
    const body = utf8('déjà vu 日本 𠀀');
    for (const ct of ['text/plain; charset=utf-8', 'text/css; charset=UTF-8', 'text/plain; charset="utf8"', 'application/javascript; charset=utf-8']) {
      const headers = { 'content-type': ct, 'content-length': String(body.length) };
      const r = await out(chain(), body, headers);
      expect(r.active, ct).toEqual([]);
      expect(r.lengthChanged).toBe(false);
      expect(r.head.headers.get('content-type')).toBe(ct);
      expect(r.head.headers.get('content-length')).toBe(String(body.length));
      expect(hex(r.body())).toBe(hex(body));
    }
  });

  it('aliases count as the same charset (latin1 = iso-8859-1)', async () => {
    const body = Buffer.from([0x41, 0xe9, 0xff]);
    const r = await out(chain({ to: 'iso-8859-1' }), body, { 'content-type': 'text/plain; charset=latin1', 'content-length': '3' });
    expect(r.active).toEqual([]);
    expect(r.head.headers.get('content-length')).toBe('3');
    expect(hex(r.body())).toBe(hex(body));
  });

  it('HTML already in utf-8 with rewriteMeta:false is not active', async () => {
    const body = utf8('<meta charset="utf-8"><p>日本</p>');
    const r = await out(chain({ rewriteMeta: false }), body, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) });
    expect(r.active).toEqual([]);
    expect(r.head.headers.get('content-length')).toBe(String(body.length));
    expect(hex(r.body())).toBe(hex(body));
  });

  it('HTML already in utf-8 whose <meta> agrees comes out byte-identical', async () => {
    // (the filter has to look at the <meta>, so it stays and Content-Length goes)
    const body = utf8('<meta charset="UTF-8"><p>日本 €</p>');
    const r = await out(chain(), body, { 'content-type': 'text/html; charset=utf-8' });
    expect(r.head.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(hex(r.body())).toBe(hex(body));
  });

  it('HTML in utf-8 whose <meta> disagrees has the <meta> fixed', async () => {
    const r = await out(chain(), utf8('<meta charset="iso-8859-1"><p>日本</p>'), { 'content-type': 'text/html; charset=utf-8' });
    expect(r.text()).toBe('<meta charset="utf-8"><p>日本</p>');
  });

  it('an upstream charset that is not known leaves the message alone', async () => {
    const body = Buffer.from([0x41, 0x80, 0xff]);
    const r = await out(chain(), body, { 'content-type': 'text/plain; charset=x-klingon', 'content-length': '3' });
    expect(r.active).toEqual([]);
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=x-klingon');
    expect(r.head.headers.get('content-length')).toBe('3');
    expect(hex(r.body())).toBe(hex(body));
  });

  it('an empty body is fine', async () => {
    const r = await out(chain(), [], { 'content-type': 'text/plain; charset=shift_jis' });
    expect(r.body().length).toBe(0);
    expect(r.ended).toBe(true);
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });
});

// ---- 4. rewriteMeta ----------------------------------------------------------------------

describe('charset: rewriteMeta', () => {
  const docs = [
    { kind: '<meta charset>', ct: 'text/html', doc: '<html><head><meta charset="windows-1252"></head><body>caf\xe9</body></html>' },
    {
      kind: 'http-equiv',
      ct: 'text/html',
      doc: '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head><body>caf\xe9</body></html>',
    },
    { kind: 'XML declaration', ct: 'application/xml', doc: '<?xml version="1.0" encoding="windows-1252"?><r>caf\xe9</r>' },
    { kind: 'XHTML', ct: 'application/xhtml+xml', doc: '<?xml version="1.0" encoding="windows-1252"?><html><body>caf\xe9</body></html>' },
  ];

  for (const { kind, ct, doc } of docs) {
    it(`${kind}: the declaration says utf-8 in the output`, async () => {
      const r = await out(chain(), latin1(doc), { 'content-type': ct });
      expect(r.text()).toBe(doc.replace('windows-1252', 'utf-8').replace('\xe9', 'é'));
    });

    it(`${kind}: left as is with rewriteMeta:false (body still converted)`, async () => {
      const r = await out(chain({ rewriteMeta: false }), latin1(doc), { 'content-type': ct });
      expect(r.text()).toBe(doc.replace('\xe9', 'é'));
      expect(r.head.headers.get('content-type')).toBe(`${ct}; charset=utf-8`);
    });
  }

  it('with the parameter declared, the <meta> is rewritten too (split at every byte)', async () => {
    const doc = '<html><head><meta charset="shift_jis"></head><body>日本語のテキスト</body></html>';
    const want = utf8(doc.replace('shift_jis', 'utf-8'));
    const c = chain({ sniff: 64 });
    expect(await badSplits(c, iconv.encode(doc, 'shift_jis'), { 'content-type': 'text/html; charset=shift_jis' }, want)).toEqual([]);
  });

  it('only the first declaration is rewritten', async () => {
    const doc = '<meta charset="windows-1252"><pre>&lt;meta charset="windows-1252"&gt; <meta charset="windows-1252"></pre>';
    const r = await out(chain(), latin1(doc), { 'content-type': 'text/html' });
    expect(r.text()).toBe(doc.replace('windows-1252', 'utf-8'));
  });

  it('is rewritten to the target name when converting to another charset', async () => {
    const doc = '<meta charset="utf-8"><p>日本</p>';
    const r = await out(chain({ to: 'Shift_JIS' }), utf8(doc), { 'content-type': 'text/html' });
    expect(iconv.decode(r.body(), 'shift_jis')).toBe('<meta charset="Shift_JIS"><p>日本</p>');
    expect(r.head.headers.get('content-type')).toBe('text/html; charset=Shift_JIS');
  });
});

// ---- 5. targets other than utf-8 ---------------------------------------------------------

describe('charset: other targets', () => {
  it('utf-8 → shift_jis (split at every byte)', async () => {
    const input = utf8(JA);
    const want = iconv.encode(JA, 'shift_jis');
    const r = await out(chain({ to: 'shift_jis' }), input, { 'content-type': 'text/plain; charset=utf-8' });
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=shift_jis');
    expect(iconv.decode(r.body(), 'shift_jis')).toBe(JA);
    expect(hex(r.body())).toBe(hex(want));
    expect(await badSplits(chain({ to: 'shift_jis', sniff: 0 }), input, { 'content-type': 'text/plain; charset=utf-8' }, want)).toEqual([]);
  });

  it('utf-8 → windows-1252 (split at every byte)', async () => {
    const input = utf8(W1252);
    const want = iconv.encode(W1252, 'windows-1252');
    const r = await out(chain({ to: 'windows-1252' }), input, { 'content-type': 'text/plain; charset=UTF-8' });
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=windows-1252');
    expect(iconv.decode(r.body(), 'windows-1252')).toBe(W1252);
    expect(hex(r.body())).toBe(hex(want));
    expect(await badSplits(chain({ to: 'windows-1252', sniff: 0 }), input, { 'content-type': 'text/plain; charset=utf-8' }, want)).toEqual([]);
  });

  it('euc-kr → shift_jis through Unicode', async () => {
    const text = '漢字 テスト';
    const r = await out(chain({ to: 'shift_jis' }), iconv.encode(text, 'euc-kr'), { 'content-type': 'text/plain; charset=euc-kr' });
    expect(iconv.decode(r.body(), 'shift_jis')).toBe(text);
  });

  it('utf-8 → utf-16le', async () => {
    const r = await out(chain({ to: 'utf-16le' }), utf8(WIDE), { 'content-type': 'text/plain; charset=utf-8' });
    expect(hex(r.body())).toBe(hex(iconv.encode(WIDE, 'utf-16le')));
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=utf-16le');
  });
});

// ---- 6. types ----------------------------------------------------------------------------

describe('charset: types', () => {
  const body = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x80, 0xe9, 0xff, 0x00]);

  for (const ct of ['image/png', 'application/octet-stream', 'application/json', 'application/x-www-form-urlencoded', 'application/json; charset=iso-8859-1']) {
    it(`${ct} is not in the default types: passed through untouched`, async () => {
      const r = await out(chain(), body, { 'content-type': ct, 'content-length': String(body.length) });
      expect(r.active).toEqual([]);
      expect(r.head.headers.get('content-type')).toBe(ct);
      expect(r.head.headers.get('content-length')).toBe(String(body.length));
      expect(hex(r.body())).toBe(hex(body));
    });
  }

  it('no Content-Type: passed through untouched', async () => {
    const r = await out(chain(), body, {});
    expect(r.active).toEqual([]);
    expect(r.head.headers.has('content-type')).toBe(false);
    expect(hex(r.body())).toBe(hex(body));
  });

  for (const ct of ['text/css', 'text/plain', 'TEXT/CSV', 'application/javascript', 'application/xml', 'application/rss+xml', 'image/svg+xml', 'text/html']) {
    it(`${ct} is converted`, async () => {
      const r = await out(chain(), latin1('a\x80\xe9'), { 'content-type': ct });
      expect(r.active).toEqual(['charset']);
      expect(r.text()).toBe('a€é');
      expect(r.head.headers.get('content-type')).toBe(`${ct}; charset=utf-8`);
    });
  }

  it('custom `types` replace the default list', async () => {
    const c = chain({ types: ['application/json', 'application/vnd.*+json'] });
    const j = await out(c, latin1('{"a":"caf\xe9"}'), { 'content-type': 'application/json; charset=iso-8859-1' });
    expect(j.text()).toBe('{"a":"café"}');
    expect(j.head.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const v = await out(c, latin1('"\xe9"'), { 'content-type': 'application/vnd.api+json' });
    expect(v.text()).toBe('"é"');
    const t = await out(c, latin1('caf\xe9'), { 'content-type': 'text/plain' });
    expect(t.active).toEqual([]);
    expect(hex(t.body())).toBe(hex(latin1('caf\xe9')));
  });
});

// ---- 7. errors ---------------------------------------------------------------------------

describe('charset: errors', () => {
  it('an unknown `to` at compile time: ERR_SLUICE_FILTER_OPTIONS with a suggestion', () => {
    let err: unknown;
    try {
      chain({ to: 'shift-jsi' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FilterOptionsError);
    expect((err as FilterOptionsError).code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect((err as FilterOptionsError).filter).toBe('charset');
    expect((err as Error).message).toMatch(/unknown charset "shift-jsi"/);
    expect((err as Error).message).toMatch(/did you mean [^)]*shift_?jis/i);
  });

  it('unknown `default` and `from` are rejected too; far-off names get no suggestion', () => {
    expect(() => chain({ default: 'windows-1253x' })).toThrow(/default: unknown charset "windows-1253x" \(did you mean/);
    expect(() => chain({ from: 'eucc-kr' })).toThrow(/from: unknown charset "eucc-kr" \(did you mean [^)]*euckr/);
    let err: unknown;
    try {
      chain({ to: 'qqqqqqqqqqqqqqqqqqqq' });
    } catch (e) {
      err = e;
    }
    expect((err as SluiceError).code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect((err as Error).message).not.toMatch(/did you mean/);
  });

  it('bad option values are rejected', () => {
    expect(() => chain({ onError: 'ignore' })).toThrow(FilterOptionsError);
    expect(() => chain({ sniff: -1 })).toThrow(FilterOptionsError);
    expect(() => chain({ bogus: 1 })).toThrow(FilterOptionsError);
  });

  const invalid = Buffer.concat([latin1('ok '), Buffer.from([0xff, 0xfe]), latin1(' more')]);

  it("onError:'error' with invalid bytes on output: FilterError with status 502", async () => {
    const err = await rejection(out(chain({ onError: 'error' }), invalid, { 'content-type': 'text/plain; charset=euc-kr' }));
    expect(err.code).toBe('ERR_SLUICE_FILTER');
    expect(err.filter).toBe('charset');
    expect(err.status).toBe(502);
    expect((err.cause as SluiceError).code).toBe('ERR_SLUICE_CHARSET');
  });

  it("onError:'error' with invalid bytes on input: FilterError with status 400", async () => {
    const c = chain({ onError: 'error' }, 'input');
    const err = await rejection(processChain(c, invalid, { request: { method: 'POST', headers: { 'content-type': 'text/plain; charset=euc-kr' } } }));
    expect(err.filter).toBe('charset');
    expect(err.status).toBe(400);
    expect((err.cause as SluiceError).code).toBe('ERR_SLUICE_CHARSET');
  });

  it("onError:'error': invalid bytes after the decision, in a later chunk, fail too", async () => {
    const good = iconv.encode('日本語'.repeat(10), 'shift_jis');
    const err = await rejection(
      out(chain({ onError: 'error', sniff: 8 }), [good, Buffer.from([0x41, 0x81, 0x20])], { 'content-type': 'text/plain; charset=shift_jis' }),
    );
    expect(err.status).toBe(502);
  });

  it("onError:'error': a multibyte sequence truncated at the end of the body fails", async () => {
    const body = Buffer.concat([utf8('日本'), utf8('語').subarray(0, 2)]);
    const err = await rejection(out(chain({ onError: 'error', to: 'shift_jis' }), body, { 'content-type': 'text/plain; charset=utf-8' }));
    expect(err.status).toBe(502);
    expect(err.phase).toBe('end');
  });

  it("onError:'replace' (the default) puts U+FFFD in the output", async () => {
    const r = await out(chain(), invalid, { 'content-type': 'text/plain; charset=euc-kr' });
    expect(r.text()).toBe(iconv.decode(invalid, 'euc-kr'));
    expect(r.text()).toMatch(/^ok \uFFFD+ more$/);
    // a sequence truncated at the end of the body too
    const r2 = await out(chain({ onError: 'replace', to: 'utf-16le' }), Buffer.concat([utf8('é'), Buffer.from([0xe6, 0x97])]), { 'content-type': 'text/plain; charset=utf-8' });
    expect(iconv.decode(r2.body(), 'utf-16le')).toBe('é\uFFFD');
  });

  // BUG: with iconv-lite decoding, strict mode treats any U+FFFD in the decoded text as a
  // decoding error, so a body that legitimately contains U+FFFD (valid UTF-8 EF BF BD) is
  // rejected with 502.
  it("onError:'error' accepts a genuine U+FFFD in a valid body", async () => {
    const r = await out(chain({ onError: 'error', to: 'utf-16le' }), utf8('a\uFFFDb'), { 'content-type': 'text/plain; charset=utf-8' });
    expect(hex(r.body())).toBe(hex(iconv.encode('a\uFFFDb', 'utf-16le')));
  });
});

// ---- 8. input direction ------------------------------------------------------------------

describe('charset: input direction', () => {
  const text = 'name=Zoë & “quoted” €5';
  const body = iconv.encode(text, 'windows-1252');

  it('converts a windows-1252 request body and rewrites the request Content-Type', async () => {
    // application/x-www-form-urlencoded is not in the default types: text/plain is
    const c = chain({}, 'input');
    const r = await processChain(c, bytewise(body), {
      request: { method: 'POST', headers: { 'content-type': 'text/plain; charset=windows-1252', 'content-length': String(body.length) } },
    });
    expect(r.active).toEqual(['charset']);
    expect(r.text()).toBe(text);
    expect(r.head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(r.head.headers.has('content-length')).toBe(false);
    expect(r.head.request.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('a form body is left alone with the default types', async () => {
    const c = chain({}, 'input');
    const ct = 'application/x-www-form-urlencoded; charset=windows-1252';
    const r = await processChain(c, body, { request: { method: 'POST', headers: { 'content-type': ct } } });
    expect(r.active).toEqual([]);
    expect(r.head.headers.get('content-type')).toBe(ct);
    expect(hex(r.body())).toBe(hex(body));
  });

  it('a form body is converted when its type is listed', async () => {
    const c = chain({ types: ['application/x-www-form-urlencoded'] }, 'input');
    const r = await processChain(c, body, {
      request: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=windows-1252' } },
    });
    expect(r.text()).toBe(text);
    expect(r.head.headers.get('content-type')).toBe('application/x-www-form-urlencoded; charset=utf-8');
  });

  it('the response-only skips (HEAD, status) do not apply to requests', async () => {
    const c = chain({}, 'input');
    const r = await processChain(c, body, { request: { method: 'HEAD', headers: { 'content-type': 'text/plain; charset=windows-1252' } } });
    expect(r.text()).toBe(text);
  });
});

// ---- 9. flush ----------------------------------------------------------------------------

describe('charset: flush', () => {
  function pieces(events: ReadonlyArray<Uint8Array | Flush>): Array<string | 'FLUSH'> {
    // Adjacent data chunks are merged so the assertions do not depend on chunking.
    const outp: Array<string | 'FLUSH'> = [];
    let acc: Buffer[] = [];
    for (const e of events) {
      if (e === FLUSH) {
        if (acc.length) outp.push(Buffer.concat(acc).toString('utf8'));
        acc = [];
        outp.push('FLUSH');
      } else acc.push(Buffer.from(e));
    }
    if (acc.length) outp.push(Buffer.concat(acc).toString('utf8'));
    return outp;
  }

  it('a flush before `sniff` bytes arrived makes the filter decide and emit what it has', async () => {
    const a = iconv.encode('日本', 'shift_jis');
    const b = iconv.encode('語です', 'shift_jis');
    const r = await out(chain(), [a, FLUSH, b], { 'content-type': 'text/plain; charset=shift_jis' });
    expect(pieces(r.events)).toEqual(['日本', 'FLUSH', '語です']);
    expect(r.flushes).toBe(1);
  });

  it('a multibyte character split exactly at the flush point is decoded after it', async () => {
    const sj = iconv.encode('こんにちは', 'shift_jis');
    const r = await out(chain(), [sj.subarray(0, 3), FLUSH, sj.subarray(3)], { 'content-type': 'text/plain; charset=shift_jis' });
    expect(pieces(r.events)).toEqual(['こ', 'FLUSH', 'んにちは']);

    const gb = iconv.encode('a𠀀b', 'gb18030'); // a | 95 32 82 36 | b
    for (const cut of [2, 3]) {
      const g = await out(chain(), [gb.subarray(0, cut), FLUSH, gb.subarray(cut)], { 'content-type': 'text/plain; charset=gb18030' });
      expect(pieces(g.events), `cut ${cut}`).toEqual(['a', 'FLUSH', '𠀀b']);
    }
  });

  // BUG (iconv-lite 0.7.3, pillarjs/iconv-lite#417): the chunk [36 'b'] finishes 𠀀 (4 UTF-16
  // bytes) in an output buffer sized 2 × 2 bytes, so the 'b' after it is dropped.
  it('a gb18030 4-byte sequence split after its third byte at the flush point', async () => {
    const gb = iconv.encode('a𠀀b', 'gb18030');
    const g = await out(chain(), [gb.subarray(0, 4), FLUSH, gb.subarray(4)], { 'content-type': 'text/plain; charset=gb18030' });
    expect(pieces(g.events)).toEqual(['a', 'FLUSH', '𠀀b']);
  });

  it('flushes at every byte position still give the whole text', async () => {
    const input = iconv.encode(JA, 'shift_jis');
    const bad: number[] = [];
    for (let i = 1; i < input.length; i++) {
      const r = await out(chain(), [input.subarray(0, i), FLUSH, input.subarray(i)], { 'content-type': 'text/plain; charset=shift_jis' });
      if (r.text() !== JA || r.flushes !== 1) bad.push(i);
    }
    expect(bad).toEqual([]);
  });

  it('a flush after the decision passes through after the data before it', async () => {
    const r = await out(chain({ sniff: 0 }), [latin1('caf\xe9'), FLUSH, latin1(' cr\xe8me'), FLUSH], { 'content-type': 'text/plain; charset=iso-8859-1' });
    expect(pieces(r.events)).toEqual(['café', 'FLUSH', ' crème', 'FLUSH']);
  });

  it('a flush before the <meta> arrived decides on what is there (the default)', async () => {
    const r = await out(chain(), [latin1('<p>\x80</p>'), FLUSH, latin1('<meta charset="iso-8859-1">\x80')], { 'content-type': 'text/html' });
    expect(pieces(r.events)).toEqual(['<p>€</p>', 'FLUSH', '<meta charset="iso-8859-1">€']);
  });

  it('a flush with nothing held passes straight through', async () => {
    const r = await out(chain(), [FLUSH, latin1('\x80')], { 'content-type': 'text/plain' });
    expect(pieces(r.events)).toEqual(['FLUSH', '€']);
  });
});

// ---- 10. skips ---------------------------------------------------------------------------

describe('charset: skips', () => {
  const body = iconv.encode('日本語', 'shift_jis');
  const headers = { 'content-type': 'text/html; charset=shift_jis', 'content-length': String(body.length) };

  async function untouched(r: Processed): Promise<void> {
    expect(r.active).toEqual([]);
    expect(r.lengthChanged).toBe(false);
    expect(r.head.headers.get('content-type')).toBe(headers['content-type']);
    expect(r.head.headers.get('content-length')).toBe(headers['content-length']);
  }

  it('HEAD is passed through untouched', async () => {
    const r = await out(chain(), [], headers, { request: { method: 'HEAD' } });
    await untouched(r);
    expect(r.body().length).toBe(0);
  });

  for (const status of [204, 304]) {
    it(`${status} is passed through untouched`, async () => {
      const r = await out(chain(), [], headers, { status });
      await untouched(r);
    });
  }

  it('a gzip-encoded response is passed through untouched', async () => {
    const gz = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x80, 0xff, 0xfe]);
    const r = await out(chain(), gz, { ...headers, 'content-encoding': 'gzip', 'content-length': String(gz.length) });
    expect(r.active).toEqual([]);
    expect(r.head.headers.get('content-type')).toBe(headers['content-type']);
    expect(r.head.headers.get('content-length')).toBe(String(gz.length));
    expect(hex(r.body())).toBe(hex(gz));
  });

  it("Content-Encoding: identity is not a reason to skip", async () => {
    const r = await out(chain(), body, { ...headers, 'content-encoding': 'identity' });
    expect(r.active).toEqual(['charset']);
    expect(r.text()).toBe('日本語');
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { negotiateEncoding, parseAcceptEncoding } from '../../src/builtin/support/accept-encoding.js';

const ALL = ['br', 'gzip', 'deflate'] as const;
const GZIP_ONLY = ['gzip'] as const;

/** [header, choice with ['br','gzip','deflate'], choice with ['gzip']] */
const table: ReadonlyArray<readonly [string | undefined, string | null, string | null]> = [
  [undefined, 'identity', 'identity'],
  ['', 'identity', 'identity'],
  ['   ', 'identity', 'identity'],
  ['gzip', 'gzip', 'gzip'],
  ['GZIP', 'gzip', 'gzip'],
  ['x-gzip', 'gzip', 'gzip'],
  ['gzip;q=0', 'identity', 'identity'],
  ['gzip;q=0.000', 'identity', 'identity'],
  ['gzip;q=0.001', 'gzip', 'gzip'],
  ['gzip; q=1.0', 'gzip', 'gzip'],
  ['deflate, gzip', 'gzip', 'gzip'],
  ['gzip;q=0.5, br;q=0.8', 'br', 'gzip'],
  ['br;q=0.5, gzip;q=0.5', 'br', 'gzip'],
  ['*', 'br', 'gzip'],
  ['*;q=0', null, null],
  ['*;q=0, gzip', 'gzip', 'gzip'],
  ['identity;q=0', null, null],
  ['identity;q=0, *;q=0', null, null],
  ['gzip;q=0.2, identity;q=0.5', 'identity', 'identity'],
  ['compress, sdch', 'identity', 'identity'],
  ['gzip;q=abc', 'identity', 'identity'],
  [' gzip ;  q=0.7 , br ; q=0.7', 'br', 'gzip'],
  ['br;q=1.5', 'identity', 'identity'],
  // beyond the brief's list
  ['gzip, deflate, br', 'br', 'gzip'],
  ['gzip, deflate, br, zstd', 'br', 'gzip'],
  ['br', 'br', 'identity'],
  ['identity', 'identity', 'identity'],
  ['gzip;q=0.5, identity;q=0.5', 'gzip', 'gzip'],
  ['*;q=0.5, gzip;q=0.3', 'br', 'identity'],
  ['*;q=0.1, identity;q=0', 'br', 'gzip'],
  ['gzip;q=0, *', 'br', 'identity'],
  ['br;q=0, gzip;q=0, deflate;q=0', 'identity', 'identity'],
  ['br;q=0, gzip;q=0, deflate;q=0, identity;q=0', null, null],
  ['gzip;Q=0', 'identity', 'identity'],
  ['gzip;q=0.0000', 'identity', 'identity'],
  ['gzip;q=1.001', 'identity', 'identity'],
  ['gzip;q=', 'identity', 'identity'],
  ['gzip;q=0.', 'identity', 'identity'],
  ['gzip;q=1.', 'gzip', 'gzip'],
  ['gzip;q=0;q=1', 'identity', 'identity'],
  ['gzip;q=0, gzip', 'identity', 'identity'],
  ['x-gzip;q=0, gzip', 'identity', 'identity'],
  ['gzip;level=9', 'gzip', 'gzip'],
  ['gzip;foo="a,b;q=0", br;q=0.1', 'gzip', 'gzip'],
  [',,gzip,,', 'gzip', 'gzip'],
  ['gz ip', 'identity', 'identity'],
  ['Deflate;Q=0.9, gZip;q=0.8', 'deflate', 'gzip'],
];

describe('negotiateEncoding', () => {
  it('has the required table size', () => {
    expect(table.length).toBeGreaterThanOrEqual(20);
  });

  it.each(table)('%j → ["br","gzip","deflate"]: %j, ["gzip"]: %j', (header, all, gzipOnly) => {
    expect(negotiateEncoding(header, ALL)).toBe(all);
    expect(negotiateEncoding(header, GZIP_ONLY)).toBe(gzipOnly);
  });

  it('breaks ties by server preference, not by client order', () => {
    expect(negotiateEncoding('gzip, br', ['br', 'gzip'])).toBe('br');
    expect(negotiateEncoding('br, gzip', ['gzip', 'br'])).toBe('gzip');
  });

  it('matches supported codings case-insensitively and through aliases, returning canonical names', () => {
    expect(negotiateEncoding('gzip', ['GZIP'])).toBe('gzip');
    expect(negotiateEncoding('gzip', ['x-gzip'])).toBe('gzip');
    expect(negotiateEncoding('x-compress', ['compress'])).toBe('compress');
  });

  it('ignores identity and * in the supported list', () => {
    expect(negotiateEncoding('identity;q=0, *', ['identity', '*'])).toBeNull();
    expect(negotiateEncoding('*', ['*', 'identity'])).toBe('identity');
  });

  it('with nothing supported, answers identity unless the client excluded it', () => {
    expect(negotiateEncoding('gzip', [])).toBe('identity');
    expect(negotiateEncoding('gzip, *;q=0', [])).toBeNull();
  });

  it('only ever answers a supported coding, identity or null (property)', () => {
    const coding = fc.constantFrom('gzip', 'GZIP', 'x-gzip', 'br', 'deflate', 'zstd', 'identity', '*', 'compress', 'bogus token', '');
    const q = fc.constantFrom('', ';q=0', ';q=0.5', ';q=1', ';q=0.001', ';q=abc', ';q=2', ' ; q = 0.3');
    const header = fc.array(fc.tuple(coding, q).map(([c, w]) => c + w), { maxLength: 6 }).map((xs) => xs.join(', '));
    fc.assert(
      fc.property(header, fc.subarray(['br', 'gzip', 'deflate', 'zstd']), (h, supported) => {
        const r = negotiateEncoding(h, supported);
        expect(r === null || r === 'identity' || supported.includes(r)).toBe(true);
      }),
    );
  });
});

describe('parseAcceptEncoding', () => {
  it('returns nothing for a missing, empty or blank header', () => {
    expect(parseAcceptEncoding(undefined)).toEqual([]);
    expect(parseAcceptEncoding('')).toEqual([]);
    expect(parseAcceptEncoding(' \t , ,')).toEqual([]);
  });

  it('keeps client order, lower-cases codings and defaults q to 1', () => {
    expect(parseAcceptEncoding('Deflate, GZIP;q=0.5, *;q=0')).toEqual([
      { coding: 'deflate', q: 1 },
      { coding: 'gzip', q: 0.5 },
      { coding: '*', q: 0 },
    ]);
  });

  it('folds x-gzip and x-compress into their registered names', () => {
    expect(parseAcceptEncoding('x-gzip;q=0.3, X-Compress')).toEqual([
      { coding: 'gzip', q: 0.3 },
      { coding: 'compress', q: 1 },
    ]);
  });

  it('tolerates whitespace around separators and an upper-case Q', () => {
    expect(parseAcceptEncoding(' gzip ;  q=0.7 ,\tbr ; Q = 0.7 ')).toEqual([
      { coding: 'gzip', q: 0.7 },
      { coding: 'br', q: 0.7 },
    ]);
  });

  it('accepts every valid qvalue form', () => {
    const ok: Array<[string, number]> = [
      ['0', 0], ['0.', 0], ['0.0', 0], ['0.000', 0], ['0.001', 0.001], ['0.5', 0.5], ['0.75', 0.75],
      ['0.999', 0.999], ['1', 1], ['1.', 1], ['1.0', 1], ['1.000', 1],
    ];
    for (const [text, q] of ok) {
      expect(parseAcceptEncoding(`gzip;q=${text}`), text).toEqual([{ coding: 'gzip', q }]);
    }
  });

  it('drops elements with a malformed weight, keeping the rest', () => {
    for (const bad of ['abc', '', '1.5', '1.001', '0.0000', '-0', '.5', '+1', '1e0', '0x1', '"0.5"']) {
      expect(parseAcceptEncoding(`gzip;q=${bad}, br`), bad).toEqual([{ coding: 'br', q: 1 }]);
    }
    expect(parseAcceptEncoding('gzip;q=0.5;q=0.5, br')).toEqual([{ coding: 'br', q: 1 }]);
  });

  it('drops elements whose coding is not a token', () => {
    expect(parseAcceptEncoding('gz ip, ;q=0.5, "gzip", br')).toEqual([{ coding: 'br', q: 1 }]);
  });

  it('ignores other parameters, including quoted ones containing separators', () => {
    expect(parseAcceptEncoding('gzip;level=9;q=0.4, br;x;y="a,b;q=0";q=0.2')).toEqual([
      { coding: 'gzip', q: 0.4 },
      { coding: 'br', q: 0.2 },
    ]);
  });

  it('keeps duplicates (precedence is the negotiator’s business)', () => {
    expect(parseAcceptEncoding('gzip;q=0, x-gzip')).toEqual([
      { coding: 'gzip', q: 0 },
      { coding: 'gzip', q: 1 },
    ]);
  });
});

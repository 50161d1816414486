import { describe, expect, it } from 'vitest';
import { HeaderMap, type HeadPhase } from '../../src/index.js';
import { ConfigError } from '../../src/pipeline/config/errors.js';
import type { ConditionSpec } from '../../src/pipeline/config/types.js';
import { compileCondition, conditionProblems, mediaTypeMatcher } from '../../src/pipeline/conditions.js';

interface Msg {
  direction?: 'input' | 'output';
  method?: string;
  url?: string;
  status?: number;
  req?: Record<string, string>;
  res?: Record<string, string>;
}

function head(m: Msg = {}): HeadPhase {
  const direction = m.direction ?? 'output';
  const requestHeaders = new HeaderMap(m.req ?? {});
  return {
    direction,
    request: { method: m.method ?? 'GET', url: m.url ?? '/', headers: requestHeaders },
    status: direction === 'output' ? (m.status ?? 200) : 0,
    headers: direction === 'output' ? new HeaderMap(m.res ?? {}) : requestHeaders,
    committed: false,
    passOn() {},
    changesLength() {},
    deferCommit() {},
  };
}

const when = (spec: ConditionSpec) => compileCondition(spec, 'when');

describe('conditions', () => {
  it('an empty condition always holds', () => {
    expect(when({})(head())).toBe(true);
  });

  it('contentType: media type before ";", case-insensitive, wildcards, lists', () => {
    const html = when({ contentType: 'text/html' });
    expect(html(head({ res: { 'content-type': 'text/html' } }))).toBe(true);
    expect(html(head({ res: { 'content-type': 'TEXT/HTML; charset=utf-8' } }))).toBe(true);
    expect(html(head({ res: { 'content-type': 'text/htmlx' } }))).toBe(false);
    expect(html(head())).toBe(false); // no Content-Type never matches

    const text = when({ contentType: 'text/*' });
    expect(text(head({ res: { 'content-type': 'text/plain' } }))).toBe(true);
    expect(text(head({ res: { 'content-type': 'application/text' } }))).toBe(false);

    const json = when({ contentType: ['application/json', 'application/*+json'] });
    expect(json(head({ res: { 'content-type': 'application/ld+json' } }))).toBe(true);
    expect(json(head({ res: { 'content-type': 'application/json;q=1' } }))).toBe(true);
    expect(json(head({ res: { 'content-type': 'application/jsonx' } }))).toBe(false);

    const any = mediaTypeMatcher(['*']);
    expect(any('image/png')).toBe(true);
    expect(any(undefined)).toBe(false);
  });

  it('contentType reads the request in an input chain', () => {
    const form = when({ contentType: 'application/x-www-form-urlencoded' });
    expect(form(head({ direction: 'input', req: { 'content-type': 'application/x-www-form-urlencoded' } }))).toBe(true);
    expect(form(head({ direction: 'input', req: { 'content-type': 'text/plain' } }))).toBe(false);
  });

  it.each<[ConditionSpec['status'], number, boolean]>([
    [200, 200, true],
    [200, 201, false],
    ['200', 200, true],
    ['2xx', 204, true],
    ['2XX', 299, true],
    ['2xx', 300, false],
    ['300-399', 304, true],
    ['300 - 399', 400, false],
    [[200, '4xx'], 404, true],
    [[200, '4xx'], 500, false],
  ])('status %j on %d → %s', (status, code, want) => {
    expect(when({ status })(head({ status: code }))).toBe(want);
  });

  it('method: a list, case-insensitive', () => {
    const c = when({ method: ['get', 'HEAD'] });
    expect(c(head({ method: 'GET' }))).toBe(true);
    expect(c(head({ method: 'HEAD' }))).toBe(true);
    expect(c(head({ method: 'POST' }))).toBe(false);
    expect(when({ method: 'POST' })(head({ method: 'POST' }))).toBe(true);
  });

  it('path: a regex against the path, not the query', () => {
    const c = when({ path: '^/api/' });
    expect(c(head({ url: '/api/x?y=1' }))).toBe(true);
    expect(c(head({ url: '/app/api/' }))).toBe(false);
    const ext = when({ path: '\\.js$' });
    expect(ext(head({ url: '/a.js?v=2' }))).toBe(true);
    expect(ext(head({ url: '/a.json' }))).toBe(false);
    expect(ext(head({ url: '/x?file=a.js' }))).toBe(false);
  });

  it('requestHeader: regex on the value, true = present, false = absent; missing never matches a regex', () => {
    const gz = when({ requestHeader: { 'Accept-Encoding': 'gzip' } });
    expect(gz(head({ req: { 'accept-encoding': 'br, gzip' } }))).toBe(true);
    expect(gz(head({ req: { 'accept-encoding': 'br' } }))).toBe(false);
    expect(gz(head())).toBe(false);
    const notGz = when({ requestHeader: { 'accept-encoding': '^(?!.*gzip)' } });
    expect(notGz(head())).toBe(false); // a missing header never matches, even a regex that matches ''
    expect(notGz(head({ req: { 'accept-encoding': 'br' } }))).toBe(true);

    const present = when({ requestHeader: { authorization: true } });
    expect(present(head({ req: { authorization: 'Bearer x' } }))).toBe(true);
    expect(present(head({ req: { authorization: '' } }))).toBe(true);
    expect(present(head())).toBe(false);
    const absent = when({ requestHeader: { cookie: false } });
    expect(absent(head())).toBe(true);
    expect(absent(head({ req: { cookie: 'a=1' } }))).toBe(false);
  });

  it('responseHeader: the response head in output chains, never in input chains', () => {
    const c = when({ responseHeader: { 'cache-control': 'no-transform', etag: true } });
    expect(c(head({ res: { 'cache-control': 'public, no-transform', etag: '"x"' } }))).toBe(true);
    expect(c(head({ res: { 'cache-control': 'public', etag: '"x"' } }))).toBe(false);
    expect(c(head({ res: { 'cache-control': 'no-transform' } }))).toBe(false);
    expect(when({ responseHeader: { etag: true } })(head({ direction: 'input', req: { etag: 'x' } }))).toBe(false);
  });

  it('all keys must hold', () => {
    const c = when({ method: 'GET', status: '2xx', contentType: 'text/*' });
    expect(c(head({ method: 'GET', status: 200, res: { 'content-type': 'text/css' } }))).toBe(true);
    expect(c(head({ method: 'POST', status: 200, res: { 'content-type': 'text/css' } }))).toBe(false);
    expect(c(head({ method: 'GET', status: 500, res: { 'content-type': 'text/css' } }))).toBe(false);
    expect(c(head({ method: 'GET', status: 200, res: { 'content-type': 'image/png' } }))).toBe(false);
  });

  it('not: negates a whole sub-condition, and nests', () => {
    const c = when({ not: { contentType: ['image/*', 'video/*'] } });
    expect(c(head({ res: { 'content-type': 'image/png' } }))).toBe(false);
    expect(c(head({ res: { 'content-type': 'text/html' } }))).toBe(true);
    expect(c(head())).toBe(true); // no type: the inner condition fails, so its negation holds

    const both = when({ not: { status: 200, method: 'HEAD' } }); // not (200 and HEAD)
    expect(both(head({ status: 200, method: 'HEAD' }))).toBe(false);
    expect(both(head({ status: 200, method: 'GET' }))).toBe(true);
    expect(when({ not: { not: { status: 404 } } })(head({ status: 404 }))).toBe(true);
    expect(when({ status: '2xx', not: { status: 204 } })(head({ status: 204 }))).toBe(false);
  });

  it('reads the head as it is when evaluated (edits of earlier filters are visible)', () => {
    const h = head({ res: { 'content-type': 'text/html' } });
    const c = when({ contentType: 'application/json' });
    expect(c(h)).toBe(false);
    h.headers.set('content-type', 'application/json');
    expect(c(h)).toBe(true);
  });

  it('throws a ConfigError naming the path for invalid regexes and patterns', () => {
    expect(() => compileCondition({ path: '(' }, 'locations[0].output[1].when')).toThrow(ConfigError);
    try {
      compileCondition({ path: '(', requestHeader: { accept: '[' }, not: { status: '7xx' } }, 'locations[0].output[1].when');
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).code).toBe('ERR_SLUICE_CONFIG');
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual([
        'locations[0].output[1].when.path',
        'locations[0].output[1].when.requestHeader.accept',
        'locations[0].output[1].when.not.status',
      ]);
    }
  });

  it('conditionProblems: output-only keys in an input chain, bad content types, methods, header names', () => {
    const problems = conditionProblems(
      { status: 200, responseHeader: { x: true }, contentType: ['text/*', 'html'], method: 'GE T', requestHeader: { 'a b': true } },
      'input',
    );
    expect(problems.map((p) => p.path.join('.'))).toEqual(['contentType.1', 'status', 'method', 'requestHeader.a b', 'responseHeader']);
    expect(conditionProblems({ status: ['2xx', '099', '500-400', 'abc'] }).map((p) => p.message)).toEqual([
      expect.stringContaining('outside 100-599'),
      expect.stringContaining('is empty'),
      expect.stringContaining('not a status pattern'),
    ]);
  });
});

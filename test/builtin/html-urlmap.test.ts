import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import {
  compileChain,
  FilterError,
  FilterOptionsError,
  FLUSH,
  MarkupTooLongError,
  processChain,
  type ChainSource,
  type CompiledChain,
  type HeaderInput,
  type Processed,
} from '../../src/index.js';
import { HtmlTokenizer, RawElement, type StartTag, type TokenSink } from '../../src/builtin/support/html-tokenizer.js';
import { prng, splitAt, withFlushes } from '../helpers.js';

/**
 * html-urlmap end to end through processChain, on real bytes. Outputs are compared with
 * strings written out by hand (never produced by the filter), and with the input itself where
 * nothing may change.
 */

type Opts = Record<string, unknown>;
const HTML = { 'content-type': 'text/html; charset=utf-8' };
const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

function chain(options: Opts): CompiledChain {
  return compileChain([{ filter: 'html-urlmap', options }]);
}

async function run(options: Opts | CompiledChain, source: ChainSource, headers: HeaderInput = HTML, method = 'GET'): Promise<Processed> {
  const c = options instanceof Object && 'entries' in options ? (options as CompiledChain) : chain(options as Opts);
  return processChain(c, source, { headers, request: { method } });
}

/** Output of `html` (one chunk) as a string. */
async function rw(html: string, options: Opts, headers: HeaderInput = HTML): Promise<string> {
  return (await run(options, [Buffer.from(html)], headers)).text();
}

const R = { rules: ['http://in/ /out/'] };

/** Split positions where the output differs from `want`: every two-piece cut, and bytewise. */
async function badCuts(c: CompiledChain, input: Buffer, want: Buffer, headers: HeaderInput = HTML): Promise<number[]> {
  const bad: number[] = [];
  for (let i = 1; i < input.length; i++) {
    const r = await run(c, [input.subarray(0, i), input.subarray(i)], headers);
    if (!r.body().equals(want)) bad.push(i);
  }
  const bytes = Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1));
  if (!(await run(c, bytes, headers)).body().equals(want)) bad.push(-1);
  return bad;
}

// ---- link attributes ----------------------------------------------------------------------

describe('link attributes', () => {
  it('rewrites every link attribute, on any element, as a case-insensitive prefix', async () => {
    const attrs = ['href', 'src', 'action', 'formaction', 'poster', 'cite', 'data', 'background', 'longdesc', 'usemap', 'codebase', 'xlink:href'];
    const html = attrs.map((a) => `<x ${a}="http://in/${a}">`).join('');
    expect(await rw(html, R)).toBe(attrs.map((a) => `<x ${a}="/out/${a}">`).join(''));
    expect(await rw('<a href="HTTP://IN/Path">', R)).toBe('<a href="/out/Path">');
  });

  it('leaves other attributes, other prefixes and mid-value matches alone', async () => {
    const html =
      '<a title="http://in/x" data-href="http://in/x" class=http://in/ href="https://x/?u=http://in/">' +
      '<img alt="http://in/" src="http://inside/">';
    expect(await rw(html, R)).toBe(html);
  });

  it('uppercase tags and attributes, unquoted, single-quoted, valueless and empty values', async () => {
    const html = `<A HREF=http://in/a>a</A><IMG SRC='http://in/i' ISMAP><input disabled src=http://in/b><a href=>x</a><a href="">y</a>`;
    expect(await rw(html, R)).toBe(`<A HREF=/out/a>a</A><IMG SRC='/out/i' ISMAP><input disabled src=/out/b><a href=>x</a><a href="">y</a>`);
  });

  it('whitespace around the URL is kept; the match starts after leading whitespace (as browsers strip it)', async () => {
    expect(await rw('<a href="  http://in/x  ">', R)).toBe('<a href="  /out/x  ">');
    expect(await rw('<a href = "http://in/x" >', R)).toBe('<a href = "/out/x" >');
  });

  it('a `>` inside a quoted value does not end the tag; `a="x"b="y"` is two attributes', async () => {
    expect(await rw(`<a title="a>b" href="http://in/x">`, R)).toBe(`<a title="a>b" href="/out/x">`);
    expect(await rw(`<a title='x'href='http://in/y'>`, R)).toBe(`<a title='x'href='/out/y'>`);
  });

  it('every attribute of a tag with many attributes is seen', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `data-a${i}="${i}"`).join(' ');
    expect(await rw(`<a ${many} href="http://in/z">`, R)).toBe(`<a ${many} href="/out/z">`);
  });

  it('replacements much longer than what they replace (the output outgrows its buffer)', async () => {
    const long = `/${'x'.repeat(300)}/`;
    const html = Array.from({ length: 400 }, (_, i) => `<a href=/a${i}>${i}</a>`).join('');
    const want = Array.from({ length: 400 }, (_, i) => `<a href=${long}a${i}>${i}</a>`).join('');
    expect(await rw(html, { rules: [`/ ${long}`] })).toBe(want);
    expect((await run({ rules: [`/ ${long}`] }, splitAt(Buffer.from(html), [1000, 5000]))).text()).toBe(want);
  });

  it('the `links` option names the attributes', async () => {
    expect(await rw('<a href="http://in/a" data-src="http://in/b">', { ...R, links: ['data-src'] })).toBe('<a href="http://in/a" data-src="/out/b">');
  });

  it("ProxyHTMLURLMap's pitfall: `/ /blah` turns /foo into /blahfoo (prefix replacement, as Apache)", async () => {
    expect(await rw('<a href="/foo">', { rules: ['/ /blah'] })).toBe('<a href="/blahfoo">');
  });
});

// ---- values: entities, quoting ---------------------------------------------------------------

describe('attribute values are matched decoded and written back escaped', () => {
  it('character references are decoded before matching (as libxml2 gives Apache decoded text)', async () => {
    expect(await rw('<a href="http:&#47;&#x2F;in&sol;x">', R)).toBe('<a href="/out/x">');
    expect(await rw('<a href="http://a&amp;b/x">', { rules: ['http://a&b/ /ab/'] })).toBe('<a href="/ab/x">');
    expect(await rw('<a href="http://in/?a=1&amp;b=2">', { rules: ['^http://in/\\?a=1&b=(\\d) /q/$1 R'] })).toBe('<a href="/q/2">');
  });

  it('a literal rule replaces only the prefix: the rest of the value stays byte for byte', async () => {
    const rest = '?a=1&amp;b=2&c=3&nosuch;&copy';
    expect(await rw(`<a href="http://in/${rest}">`, R)).toBe(`<a href="/out/${rest}">`);
    // a reference where the prefix is: the value is decoded to match and written back escaped
    expect(await rw(`<a href="http://in&#47;${rest}">`, R)).toBe('<a href="/out/?a=1&amp;b=2&amp;c=3&nosuch;©">');
  });

  it('a regex rule writes the value back escaped, keeping its meaning: & as &amp;, unknown references as written', async () => {
    const rx = { rules: ['^http://in/ /out/ R'] };
    // (&copy at the very end is ©, as a browser reads it)
    expect(await rw('<a href="http://in/?a=1&amp;b=2&c=3&nosuch;&copy">', rx)).toBe('<a href="/out/?a=1&amp;b=2&amp;c=3&nosuch;©">');
    // a legacy name followed by = is not a reference in an attribute (&copy=1 stays "&copy=1")
    expect(await rw('<a href="http://in/?x&copy=1">', rx)).toBe('<a href="/out/?x&amp;copy=1">');
  });

  it('a value no rule changes is left byte for byte, references and all', async () => {
    const html = '<a href="http://x/?a=1&b=2&amp;c=&#51;&nosuch;">';
    expect(await rw(html, R)).toBe(html);
  });

  it('the replacement is escaped for its quotes; an unquoted value gains quotes only when it must', async () => {
    const to = { rules: [{ from: 'http://in/', to: `/o"u't&/` }] };
    expect(await rw(`<a href="http://in/x">`, to)).toBe(`<a href="/o&quot;u't&amp;/x">`);
    expect(await rw(`<a href='http://in/x'>`, to)).toBe(`<a href='/o"u&#39;t&amp;/x'>`);
    expect(await rw(`<a href=http://in/x>`, { rules: [{ from: 'http://in/', to: '/a b/' }] })).toBe(`<a href="/a b/x">`);
    expect(await rw(`<a href=http://in/x?a=b>`, R)).toBe(`<a href=/out/x?a=b>`);
  });

  it('an entity in the replacement text is text, not markup', async () => {
    expect(await rw('<a href="http://in/">', { rules: ['http://in/ /a&amp;b/'] })).toBe('<a href="/a&amp;amp;b/">');
  });
});

// ---- flags ---------------------------------------------------------------------------------------

describe('ProxyHTMLURLMap flags', () => {
  const links = '<a href="http://in/a/b">';

  it('R: regular expressions with $1 groups; first match only in links', async () => {
    expect(await rw(links, { rules: ['^http://in/(\\w)/(\\w) /$2/$1/ R'] })).toBe('<a href="/b/a/">');
    expect(await rw('<a href="x/x/x">', { rules: ['x y R'] })).toBe('<a href="y/x/x">');
    expect(await rw(links, { rules: ['http://in/(a) \\$1=$1 R'] })).toBe('<a href="$1=a/b">');
  });

  it('i: a case-insensitive regex; literal link rules are case-insensitive anyway (as Apache)', async () => {
    expect(await rw('<a href="HTTP://IN/a">', { rules: ['^http://in/ /o/ R'] })).toBe('<a href="HTTP://IN/a">');
    expect(await rw('<a href="HTTP://IN/a">', { rules: ['^http://in/ /o/ Ri'] })).toBe('<a href="/o/a">');
  });

  it('links get one change: the first matching rule wins, unless a regex rule says l', async () => {
    const two = ['http://in/ /one/', 'http://in/a /two/'];
    expect(await rw(links, { rules: two })).toBe('<a href="/one/a/b">');
    expect(await rw(links, { rules: ['^http://in/ /mid/ R', '^/mid/ /end/ R'] })).toBe('<a href="/mid/a/b">');
    expect(await rw(links, { rules: ['^http://in/ /mid/ Rl', '^/mid/ /end/ R'] })).toBe('<a href="/end/a/b">');
  });

  it('h: a rule that skips HTML links', async () => {
    expect(await rw(links, { rules: ['http://in/ /h/ h', 'http://in/ /x/'] })).toBe('<a href="/x/a/b">');
    const html = '<a href="http://in/" onclick="go(\'http://in/\')">';
    expect(await rw(html, { rules: ['http://in/ /e/ h'], extended: true })).toBe('<a href="http://in/" onclick="go(\'/e/\')">');
  });

  it('e: skips event attributes; events are rewritten only when extended (as ProxyHTMLExtended)', async () => {
    const html = '<button onclick="a(\'http://in/1\'); b(\'http://in/2\')" ONMOUSEOVER=x(\'http://in/3\')>';
    expect(await rw(html, R)).toBe(html);
    expect(await rw(html, { ...R, extended: true })).toBe('<button onclick="a(\'/out/1\'); b(\'/out/2\')" ONMOUSEOVER=x(\'/out/3\')>');
    expect(await rw(html, { rules: ['http://in/ /out/ e'], extended: true })).toBe(html);
    expect(await rw(html, { ...R, scripts: true })).toBe('<button onclick="a(\'/out/1\'); b(\'/out/2\')" ONMOUSEOVER=x(\'/out/3\')>');
  });

  it('c: leaves script and style (element and attribute) alone', async () => {
    const html = '<script>f("http://in/s")</script><style>a{b:url(http://in/c)}</style><p style="b:url(http://in/d)"><a href="http://in/l">';
    expect(await rw(html, { ...R, extended: true })).toBe(
      '<script>f("/out/s")</script><style>a{b:url(/out/c)}</style><p style="b:url(/out/d)"><a href="/out/l">',
    );
    expect(await rw(html, { rules: ['http://in/ /out/ c'], extended: true })).toBe(
      '<script>f("http://in/s")</script><style>a{b:url(http://in/c)}</style><p style="b:url(http://in/d)"><a href="/out/l">',
    );
  });

  it('L: in script and event text, no rule after one that matched', async () => {
    const html = '<script>x="http://in/a"</script>';
    const rules = ['http://in/ http://mid/', 'http://mid/ /end/'];
    expect(await rw(html, { rules, extended: true })).toBe('<script>x="/end/a"</script>');
    expect(await rw(html, { rules: ['http://in/ http://mid/ L', 'http://mid/ /end/'], extended: true })).toBe('<script>x="http://mid/a"</script>');
  });

  it('text rules: every occurrence, case-sensitive unless i, ^ and $ anchor a literal', async () => {
    const s = (rules: string[]): Promise<string> => rw('<script>A a a</script>', { rules, extended: true });
    expect(await s(['a b'])).toBe('<script>A b b</script>');
    expect(await s(['a b i'])).toBe('<script>b b b</script>');
    expect(await s(['A b ^'])).toBe('<script>b a a</script>');
    expect(await s(['a b $'])).toBe('<script>A a b</script>');
    expect(await s(['(a) [$1] R'])).toBe('<script>A [a] [a]</script>');
  });

  it('structured rules mean the same as the string form', async () => {
    const html = '<a href="HTTP://IN/x"><script>u="http://in/y"</script>';
    const asString = await rw(html, { rules: ['^http://in/(.*) /s/$1 Ri'], extended: true });
    const asObject = await rw(html, { rules: [{ from: '^http://in/(.*)', to: '/s/$1', regex: true, ignoreCase: true }], extended: true });
    const asFlags = await rw(html, { rules: [{ from: '^http://in/(.*)', to: '/s/$1', flags: 'Ri' }], extended: true });
    expect(asString).toBe('<a href="/s/x"><script>u="http://in/y"</script>');
    expect(asObject).toBe(asString);
    expect(asFlags).toBe(asString);
    expect(await rw(html, { rules: [{ from: 'http://in/', to: '/o/', links: false }] })).toBe(html);
    expect(await rw(html, { rules: [{ from: 'http://in/', to: '/o/', embedded: false }], extended: true })).toBe('<a href="/o/x"><script>u="http://in/y"</script>');
  });

  it('string rules take quoted words, as httpd reads directives', async () => {
    expect(await rw('<a href="http://in/a b">', { rules: [`"http://in/a b" '/x y' h`, `"http://in/a b" "/q\\"/"`] })).toBe('<a href="/q&quot;/">');
  });
});

describe('options are checked at load, naming the rule', () => {
  const bad = (options: Opts): FilterOptionsError => {
    try {
      chain(options);
    } catch (err) {
      expect(err).toBeInstanceOf(FilterOptionsError);
      return err as FilterOptionsError;
    }
    throw new Error('accepted');
  };

  it.each([
    [['a b Q'], 'rules/0', /unknown flag "Q"/],
    [['a b', '( x R'], 'rules/1', /invalid regular expression/],
    [['a b R cond'], 'rules/0', /conditions are not supported/],
    [['onlyone'], 'rules/0', /from to/],
    [['a b V'], 'rules/0', /interpolation/],
    [['[éè] x R'], 'rules/0', /inside \[\.\.\.\]/],
    [['é x Ri'], 'rules/0', /flag i with non-ASCII/],
    [['"a b'], 'rules/0', /unclosed/],
  ])('%j → %s', (rules, option, message) => {
    const e = bad({ rules });
    expect(e.option).toBe(option);
    expect(e.message).toMatch(message);
  });

  it('no rules, unknown options, a bad charset', () => {
    expect(bad({ rules: [] }).option).toBe('rules');
    expect(bad({ ...R, extendd: true }).message).toMatch(/unknown option/);
    expect(bad({ ...R, charset: 'utf-16le' }).option).toBe('charset');
    expect(bad({ ...R, charset: 'nosuch' }).option).toBe('charset');
  });
});

// ---- srcset, refresh, CSS -------------------------------------------------------------------------

describe('URLs inside values', () => {
  it('srcset: each candidate URL, descriptors and data: URLs with commas intact', async () => {
    const html = `<img srcset="http://in/a.png 1x,http://in/b.png 2x, data:image/png;base64,AAA= 3x ,http://in/c.png,, http://x/d.png 400w">`;
    expect(await rw(html, R)).toBe(`<img srcset="/out/a.png 1x,/out/b.png 2x, data:image/png;base64,AAA= 3x ,/out/c.png,, http://x/d.png 400w">`);
    expect(await rw(`<source srcset=http://in/x.webp>`, R)).toBe(`<source srcset=/out/x.webp>`);
    expect(await rw(`<link imagesrcset="http://in/1 1x, http://in/2 2x">`, R)).toBe(`<link imagesrcset="/out/1 1x, /out/2 2x">`);
    expect(await rw(`<img srcset="x.png 1x (y), http://in/z 2x">`, R)).toBe(`<img srcset="x.png 1x (y), /out/z 2x">`);
  });

  it('meta refresh: the URL after the delay, in its forms; other metas untouched', async () => {
    const cases: Array<[string, string]> = [
      ['5; url=http://in/next', '5; url=/out/next'],
      ['0;URL = \'http://in/q\'', "0;URL = '/out/q'"],
      ['3, http://in/bare', '3, /out/bare'],
      ['1.5;   url=http://in/x?a=1&amp;b=2', '1.5;   url=/out/x?a=1&amp;b=2'],
      ['10', '10'],
    ];
    for (const [from, to] of cases) {
      expect(await rw(`<META HTTP-EQUIV=refresh CONTENT="${from}">`, R)).toBe(`<META HTTP-EQUIV=refresh CONTENT="${to}">`);
      expect(await rw(`<meta content="${from}" http-equiv=" Refresh">`, R)).toBe(`<meta content="${to}" http-equiv=" Refresh">`);
    }
    const other = '<meta http-equiv="content-type" content="5; url=http://in/x"><meta name=x content="5; url=http://in/x">';
    expect(await rw(other, R)).toBe(other);
  });

  it('CSS url() and @import in <style> and style attributes, only with css (or extended)', async () => {
    const html =
      `<style>@import "http://in/a.css"; @import url(http://in/b.css);\n.x{background:URL( 'http://in/c.png' )} .y{b:url(http://other/d)}</style>` +
      `<p style="background:url(&quot;http://in/e.png&quot;)">`;
    expect(await rw(html, R)).toBe(html);
    expect(await rw(html, { ...R, css: true })).toBe(
      `<style>@import "/out/a.css"; @import url(/out/b.css);\n.x{background:URL( '/out/c.png' )} .y{b:url(http://other/d)}</style>` +
        `<p style="background:url(&quot;/out/e.png&quot;)">`,
    );
    // css alone leaves scripts; scripts alone leaves css
    expect(await rw(`<script>"http://in/"</script><style>a{b:url(http://in/)}</style>`, { ...R, css: true })).toBe(
      `<script>"http://in/"</script><style>a{b:url(/out/)}</style>`,
    );
    expect(await rw(`<script>"http://in/"</script><style>a{b:url(http://in/)}</style>`, { ...R, scripts: true })).toBe(
      `<script>"/out/"</script><style>a{b:url(http://in/)}</style>`,
    );
  });
});

// ---- tokenizer: markup that must not be mistaken ---------------------------------------------------

describe('tricky markup', () => {
  it('<script> with `</` strings, comments and <script> in strings ends only at its end tag', async () => {
    const html =
      `<script>if (a </b) x = "</div>"; y = '<a href="http://in/no">'; z = "<\\/script>";</script><a href="http://in/yes">` +
      `<script><!-- document.write("<script src='http://in/x'></script>"); --></script><a href=http://in/2>` +
      `<SCRIPT type=module>var s = "</scripty>"</SCRIPT ><a href=http://in/3>`;
    expect(await rw(html, R)).toBe(
      `<script>if (a </b) x = "</div>"; y = '<a href="http://in/no">'; z = "<\\/script>";</script><a href="/out/yes">` +
        `<script><!-- document.write("<script src='http://in/x'></script>"); --></script><a href=/out/2>` +
        `<SCRIPT type=module>var s = "</scripty>"</SCRIPT ><a href=/out/3>`,
    );
  });

  it('script escape states: <!-- <script> … </script> stays inside the outer script (WHATWG double escape)', async () => {
    const html = `<script><!--\nx("<script>"); // </script>\n<a href="http://in/in-script">\n--></script><a href="http://in/after">`;
    expect(await rw(html, R)).toBe(html.replace('http://in/after', '/out/after'));
    // without <script> after <!--, the first </script> ends it
    const single = `<script><!-- x </script><a href="http://in/z">`;
    expect(await rw(single, R)).toBe(`<script><!-- x </script><a href="/out/z">`);
  });

  it('comments (with tags inside, `--!>`, `<!-->`), CDATA, doctype, processing instructions', async () => {
    const html =
      `<!DOCTYPE html><?xml version="1.0"?><!-- <a href="http://in/c1"> --><a href=http://in/1>` +
      `<!--> <a href=http://in/2><!---> <a href=http://in/3><!-- x --!> <a href=http://in/4>` +
      `<!-- <!-- nested? --> <a href=http://in/5><![CDATA[ <a href="http://in/cdata"> ]]><a href=http://in/6>` +
      `<!--- a -- b ---><a href=http://in/7>`;
    expect(await rw(html, R)).toBe(html.replace(/http:\/\/in\/(\d)/g, '/out/$1'));
  });

  it('RCDATA and RAWTEXT elements (textarea, title, xmp, iframe, noembed, noframes) are text; noscript is markup', async () => {
    const inner = `<a href="http://in/x">`;
    const html =
      `<title>${inner}</title><TEXTAREA>${inner}</textarea ><xmp>${inner}</xmp><iframe>${inner}</iframe>` +
      `<noembed>${inner}</noembed><noframes>${inner}</noframes><noscript>${inner}</noscript>`;
    expect(await rw(html, R)).toBe(html.replace(/(<noscript>)<a href="http:\/\/in\/x">/, '$1<a href="/out/x">'));
  });

  it('<plaintext>: everything after it is text', async () => {
    const html = `<a href=http://in/a><plaintext></plaintext><a href=http://in/b>`;
    expect(await rw(html, R)).toBe(`<a href=/out/a><plaintext></plaintext><a href=http://in/b>`);
  });

  it('malformed markup: stray `<`, `</>`, `</ x>`, attributes with `<`, unterminated tags at the end', async () => {
    const html = `a < b <3 </> </ p> <p class=x <b href=http://in/a>x</b> <a href=http://in/b <i>`;
    expect(await rw(html, R)).toBe(`a < b <3 </> </ p> <p class=x <b href=/out/a>x</b> <a href=/out/b <i>`);
    const cut = `<a href=http://in/ok><a href="http://in/unterminated`;
    expect(await rw(cut, R)).toBe(`<a href=/out/ok><a href="http://in/unterminated`);
  });

  it('XHTML: a self-closed <script/> is empty, markup follows', async () => {
    const html = `<script src="http://in/a.js"/><a href="http://in/b">`;
    expect(await rw(html, R, { 'content-type': 'application/xhtml+xml' })).toBe(`<script src="/out/a.js"/><a href="/out/b">`);
    // in HTML the same bytes open a script that never ends
    expect(await rw(html, R)).toBe(`<script src="/out/a.js"/><a href="http://in/b">`);
  });

  it('end tags are not rewritten, even with attributes', async () => {
    const html = `<a href=http://in/a></a href="http://in/b">`;
    expect(await rw(html, R)).toBe(`<a href=/out/a></a href="http://in/b">`);
  });
});

// ---- script and style text ------------------------------------------------------------------------

describe('script and style text (extended)', () => {
  it('line by line: a match never spans a newline, so chunking cannot change the result', async () => {
    const html = `<script>\nvar a = "http://in/1"; var b = "http://in/2";\nvar c = "http://\nin/3";\n</script>`;
    const want = `<script>\nvar a = "/out/1"; var b = "/out/2";\nvar c = "http://\nin/3";\n</script>`;
    expect(await rw(html, { ...R, extended: true })).toBe(want);
    const c = chain({ ...R, extended: true });
    expect(await badCuts(c, Buffer.from(html), Buffer.from(want))).toEqual([]);
  });

  it('a flush emits the partial line of script text (processed), never waiting for its newline', async () => {
    const r = await run({ ...R, extended: true }, withFlushes('<script>x="http://in/a|b";\ny="http://in/c";</script>'));
    expect(render(r)).toBe('<script>x="/out/a|b";\ny="/out/c";</script>');
  });

  it('a script line longer than maxTagLength fails the message', async () => {
    const err = await rejection(run({ ...R, extended: true, maxTagLength: 100 }, [Buffer.from('<script>'), Buffer.from('x'.repeat(200)), Buffer.from('\n</script>')]));
    expect(err.cause).toBeInstanceOf(MarkupTooLongError);
    expect((err.cause as MarkupTooLongError).code).toBe('ERR_SLUICE_MARKUP_TOO_LONG');
    expect(err.message).toMatch(/<script> text is longer than maxTagLength \(100 bytes\)/);
  });
});

function render(r: Processed): string {
  return r.events.map((e) => (e === FLUSH ? '|' : Buffer.from(e).toString())).join('');
}

async function rejection(p: Promise<unknown>): Promise<FilterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FilterError);
  return err as FilterError;
}

// ---- streaming -----------------------------------------------------------------------------------

const medium =
  `<!doctype html><HTML><head><meta http-equiv=refresh content="9;url=http://in/r?a=1&amp;b=2"><title>http://in/ &amp; co</title>` +
  `<link rel=stylesheet href='http://in/s.css'><style>p{background:url("http://in/bg.png")}</style></head>\n` +
  `<body onload="go('http://in/x')"><!-- <a href="http://in/comment"> --><![CDATA[<a href="http://in/cdata">]]>` +
  `<script>if (a </b) w("<a href='http://in/s'>"); s = "</scr" + "ipt>";</script>\n` +
  `<A HREF=HTTP://IN/Upper TITLE=http://in/t>u</A><img srcset="http://in/1.png 1x, http://in/2.png 2x" src=http://in/i.png alt="ä ö ü">` +
  `<p style="background:url(http://in/p.png)">text http://in/ text</p><textarea><a href="http://in/ta"></textarea>` +
  `<a href="http:&#47;&#47;in/ent?x=1&amp;y=2">e</a><form action=http://in/f><button formaction="http://in/b">b</button></form>\n</body></HTML>`;

describe('chunking', () => {
  for (const extended of [false, true]) {
    it(`every single cut point, and 1-byte chunks, give the one-chunk output (extended: ${extended})`, async () => {
      const c = chain({ ...R, extended });
      const input = Buffer.from(medium);
      const whole = (await run(c, [input])).body();
      expect(whole.toString()).toContain('<A HREF=/out/Upper TITLE=http://in/t>');
      expect(await badCuts(c, input, whole)).toEqual([]);
    });
  }

  it('random splits of the real-world page give identical output (property)', async () => {
    const input = fixture('intranet-portal.html');
    const want = fixture('intranet-portal.extended.html');
    const c = chain({ rules: ['http://intranet.example/ /portal/'], extended: true });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 200 }), async (cuts) => {
        const out = await run(c, splitAt(input, cuts));
        return out.body().equals(want);
      }),
      { numRuns: 60 },
    );
  });

  it('random markup soup with links to rewrite: any split gives the one-chunk output (property)', async () => {
    const piece = fc.constantFrom(
      '<a href=http://in/1>', '<A HREF="http://in/2?a&amp;b">', "<img srcset='http://in/3 1x, http://in/4 2x'>", '<p style="b:url(http://in/5)">',
      '<script>', '</script>', '<style>', '</style>', '<!--', '-->', '<![CDATA[', ']]>', '<textarea>', '</textarea>', '<title>', '</title>',
      '<meta http-equiv=refresh content="1;url=http://in/6">', '<b onclick="go(\'http://in/7\')">', 'x = "http://in/8";\n', '<!-', '<',
      '>', '"', "'", ' ', '\n', 'text', '&amp;', '&#47;', '</', '<a href="http://in/9', 'é', '\xff',
    );
    const rnd = prng(11);
    for (const extended of [false, true]) {
      const c = chain({ ...R, extended });
      await fc.assert(
        fc.asyncProperty(fc.array(piece, { maxLength: 40 }), async (pieces) => {
          const input = Buffer.from(pieces.join(''), 'latin1');
          const whole = (await run(c, [input])).body();
          const cuts = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() * input.length));
          return (await run(c, splitAt(input, cuts))).body().equals(whole);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('a flush emits everything but an incomplete tag', async () => {
    const r = await run(R, withFlushes('<p>one</p><a hr|ef="http://in/a">two|<!-- c|omment -->|<script>var x = 1;|</script>'));
    // the tag cut by the first flush is held across it; everything else goes at once
    expect(render(r)).toBe('<p>one</p>|<a href="/out/a">two|<!-- c|omment -->|<script>var x = 1;|</script>');
  });

  it('a tag longer than maxTagLength fails the message (bounded memory), also when it arrives in small chunks', async () => {
    const big = Buffer.from(`<a title="${'x'.repeat(5000)}" href="http://in/">`);
    expect((await run({ ...R, maxTagLength: 6000 }, splitAt(big, [100, 2000, 4000]))).text()).toContain('href="/out/"');
    const err = await rejection(run({ ...R, maxTagLength: 1000 }, splitAt(big, Array.from({ length: 50 }, (_, i) => i * 100))));
    expect(err.cause).toBeInstanceOf(MarkupTooLongError);
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/a tag is longer than maxTagLength \(1000 bytes\)/);
  });

  it('a long comment, script or text is streamed, never held', async () => {
    const parts = ['<!--', 'x'.repeat(100_000), '-->', '<script>', 'y'.repeat(100_000), '</script>', 'z'.repeat(100_000)];
    const r = await run({ ...R, maxTagLength: 1024 }, parts.map((p) => Buffer.from(p)));
    expect(r.text()).toBe(parts.join(''));
    const sizes = r.events.map((e) => (e === FLUSH ? 0 : e.length));
    expect(Math.max(...sizes)).toBeLessThan(100_100);
  });
});

// ---- byte identity -----------------------------------------------------------------------------------

describe('untouched input is byte-identical', () => {
  it('a rule that matches nothing returns the real-world page unchanged', async () => {
    const input = fixture('intranet-portal.html');
    for (const extended of [false, true]) {
      const r = await run({ rules: ['http://nothing.example/ /x/', '^zzz(.*) /$1 R'], extended }, splitAt(input, [1000, 1001, 20_000]));
      expect(r.body().equals(input)).toBe(true);
    }
  });

  it('random bytes heavy in markup characters, invalid UTF-8 and NULs, any chunking (property)', async () => {
    const alphabet = [...'<>/!-?="\' \tabcAB=&;#[]CDATscriptSTYLE', '\u00e9', '\0'].map((c) => Buffer.from(c, 'latin1')[0]!);
    const piece = fc.oneof(
      fc.constantFrom('<script>', '</script>', '<!--', '-->', '<![CDATA[', ']]>', '<a href=', '<style>', '</style', '<textarea>', '<!-', '<\xff\xfe', '\xc3('),
      fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }).map((a) => Buffer.from(a).toString('latin1')),
    );
    const c = chain({ rules: ['http://nomatch/ /x/'], extended: true });
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 10 }), async (pieces, cuts) => {
        const input = Buffer.from(pieces.join(''), 'latin1');
        const out = await run(c, splitAt(input, cuts.map((x) => x % (input.length + 1))));
        return out.body().equals(input);
      }),
      { numRuns: 300 },
    );
  });

  it('invalid UTF-8 around a rewritten link stays as it was', async () => {
    const input = Buffer.concat([Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('<a href="http://in/x">'), Buffer.from([0xe2, 0x82])]);
    const want = Buffer.concat([Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('<a href="/out/x">'), Buffer.from([0xe2, 0x82])]);
    expect((await run(R, [input])).body().equals(want)).toBe(true);
  });
});

// ---- the real-world page ----------------------------------------------------------------------------

describe('a real-world page (test/fixtures/intranet-portal.html)', () => {
  const input = fixture('intranet-portal.html');
  const rules = ['http://intranet.example/ /portal/'];

  it('is rewritten in link attributes only, everything else as it was', async () => {
    const r = await run({ rules }, splitAt(input, [4096, 8192, 16384, 32768]));
    expect(r.body().equals(fixture('intranet-portal.expected.html'))).toBe(true);
  });

  it('with extended, scripts, styles and event attributes too (but never text, comments or other attributes)', async () => {
    const r = await run({ rules, extended: true }, splitAt(input, [4096, 8192, 16384, 32768]));
    const out = r.body();
    expect(out.equals(fixture('intranet-portal.extended.html'))).toBe(true);
    // sanity on the fixture itself: the page really mixes both kinds
    expect(out.toString()).toContain('<title>Intranet – Startseite (http://intranet.example/)</title>');
    expect(out.toString()).toContain('<link rel="stylesheet" href="/portal/static/css/site.css?v=2024.11">');
  });

  it('drops Content-Length; other types, HEAD, 304 and compressed bodies pass untouched', async () => {
    const r = await run({ rules }, [input], { ...HTML, 'content-length': String(input.length) });
    expect(r.head.headers.get('content-length')).toBeUndefined();
    expect(r.active).toEqual(['html-urlmap']);
    for (const [headers, method] of [
      [{ 'content-type': 'text/plain', 'content-length': String(input.length) }, 'GET'],
      [{ 'content-type': 'application/json' }, 'GET'],
      [{ ...HTML, 'content-encoding': 'gzip' }, 'GET'],
      [HTML, 'HEAD'],
      [{ 'content-type': 'text/html; charset=utf-16le' }, 'GET'],
    ] as const) {
      const p = await run({ rules }, [input], headers, method);
      expect(p.active).toEqual([]);
      expect(p.body().equals(input)).toBe(true);
    }
    const xhtml = await run({ rules }, [Buffer.from('<a href="http://intranet.example/x"/>')], { 'content-type': 'application/xhtml+xml' });
    expect(xhtml.text()).toBe('<a href="/portal/x"/>');
  });

  it('behind decompress and before compress, over a gzip upstream', async () => {
    const zlib = await import('node:zlib');
    const c = compileChain(['compress', { filter: 'html-urlmap', options: { rules } }, 'decompress']);
    expect(c.describe()).toMatch(/^decompress .* → html-urlmap .* → compress/);
    const r = await processChain(c, [zlib.gzipSync(input)], {
      headers: { ...HTML, 'content-encoding': 'gzip' },
      request: { headers: { 'accept-encoding': 'gzip' } },
    });
    expect(r.head.headers.get('content-encoding')).toBe('gzip');
    expect(zlib.gunzipSync(r.body()).equals(fixture('intranet-portal.expected.html'))).toBe(true);
  });
});

// ---- charsets -------------------------------------------------------------------------------------------

describe('charsets: bytes are tokenized as they are; rules are encoded in the message charset', () => {
  it('windows-1252: a non-ASCII rule matches its one-byte form, other bytes untouched', async () => {
    const page = '<p>Café “Zürich” – ½</p><a href="http://in/café/menü">Menü</a><a href="/Straße">s</a>';
    const input = iconv.encode(page, 'windows-1252');
    const headers = { 'content-type': 'text/html; charset=windows-1252' };
    const r = await run({ rules: ['http://in/café/ /küche/', '/Straße /strasse'] }, splitAt(input, [30, 31, 50]), headers);
    expect(r.body().equals(iconv.encode('<p>Café “Zürich” – ½</p><a href="/küche/menü">Menü</a><a href="/strasse">s</a>', 'windows-1252'))).toBe(true);
    // the same rule on a UTF-8 page
    const u = await run({ rules: ['http://in/café/ /küche/'] }, [Buffer.from(page)]);
    expect(u.text()).toBe('<p>Café “Zürich” – ½</p><a href="/küche/menü">Menü</a><a href="/Straße">s</a>');
  });

  it('shift_jis: markup bytes are ASCII, multi-byte text (with 0x5C trail bytes) passes untouched', async () => {
    const page = '<title>表示ソフト</title><a href="http://in/日本/表">表</a><p>予定表ソ</p><a href=http://in/x>x</a>';
    const input = iconv.encode(page, 'shift_jis');
    expect(input.includes(0x5c)).toBe(true); // 表 and ソ end in a backslash byte
    const headers = { 'content-type': 'text/html; charset=Shift_JIS' };
    const c = chain({ rules: ['http://in/日本/ /にほん/', 'http://in/ /out/'] });
    const want = iconv.encode('<title>表示ソフト</title><a href="/にほん/表">表</a><p>予定表ソ</p><a href=/out/x>x</a>', 'shift_jis');
    expect((await run(c, [input], headers)).body().equals(want)).toBe(true);
    expect(await badCuts(c, input, want, headers)).toEqual([]);
  });

  it('a character the charset cannot hold becomes a reference in an attribute; such a `from` never matches', async () => {
    const headers = { 'content-type': 'text/html; charset=iso-8859-1' };
    // (encoded with a stand-in, '/日' would be '/?' and match the second link)
    const r = await run({ rules: ['http://in/ /日本/', '/日 /x'] }, [Buffer.from('<a href="http://in/a"><a href="/?">', 'latin1')], headers);
    expect(r.body().toString('latin1')).toBe('<a href="/&#x65E5;&#x672C;/a"><a href="/?">');
  });

  it('an iso-8859-1 label means windows-1252, as browsers read it (€ is byte 0x80)', async () => {
    const headers = { 'content-type': 'text/html; charset=ISO-8859-1' };
    const r = await run({ rules: ['/€/ /eur/'] }, [Buffer.from('<a href="/\x80/x">', 'latin1')], headers);
    expect(r.body().toString('latin1')).toBe('<a href="/eur/x">');
  });

  it('a numeric reference decodes to the charset bytes of its character before matching', async () => {
    const headers = { 'content-type': 'text/html; charset=windows-1252' };
    const r = await run({ rules: ['/café/ /cafe/'] }, [Buffer.from('<a href="/caf&eacute;/x"><a href="/caf&#233;/y">', 'latin1')], headers);
    expect(r.body().toString('latin1')).toBe('<a href="/cafe/x"><a href="/cafe/y">');
  });

  it('no charset in Content-Type: the `charset` option (utf-8 by default)', async () => {
    const page = Buffer.from('<a href="/ü/x">');
    expect((await run({ rules: ['/ü/ /ue/'] }, [page], { 'content-type': 'text/html' })).text()).toBe('<a href="/ue/x">');
    const latin = Buffer.from('<a href="/ü/x">', 'latin1');
    const r = await run({ rules: ['/ü/ /ue/'], charset: 'windows-1252' }, [latin], { 'content-type': 'text/html' });
    expect(r.text()).toBe('<a href="/ue/x">');
  });
});

// ---- the tokenizer on its own ------------------------------------------------------------------------------

describe('HtmlTokenizer', () => {
  /** Tag names and script/style texts seen, scanning `input` in the given pieces. */
  function tokens(pieces: string[]): string[] {
    const tok = new HtmlTokenizer();
    const seen: string[] = [];
    let text = '';
    const sink: TokenSink = {
      startTag: (t: StartTag) => void seen.push(Buffer.from(t.buf.subarray(t.nameStart, t.nameEnd)).toString()),
      rawText: (buf, s, e, el, last) => {
        text += Buffer.from(buf.subarray(s, e)).toString();
        if (last) {
          seen.push(`${el === RawElement.Script ? 'script' : 'style'}:${text}`);
          text = '';
        }
      },
    };
    let held = Buffer.alloc(0);
    pieces.forEach((p, i) => {
      const win = Buffer.concat([held, Buffer.from(p)]);
      const done = tok.scan(win, sink, i === pieces.length - 1);
      held = win.subarray(done);
    });
    return seen;
  }

  it('holds only an incomplete tag and reports the same tokens at any split', () => {
    const doc = `<a href="x>y">t<!-- <b> --><script>if (a</b) "</script"+"x"</script><STYLE>p{}</style><i>`;
    const want = ['a', 'script', 'script:if (a</b) "</script"+"x"', 'STYLE', 'style:p{}', 'i'];
    expect(tokens([doc])).toEqual(want);
    const rnd = prng(3);
    for (let k = 0; k < 200; k++) {
      const cuts = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * doc.length));
      const pieces = splitAt(Buffer.from(doc), cuts).map((b) => Buffer.from(b).toString());
      expect(tokens(pieces)).toEqual(want);
    }
  });

  it('tells what an incomplete tag waits for', () => {
    const tok = new HtmlTokenizer();
    const sink: TokenSink = { startTag: () => undefined, rawText: () => undefined };
    expect(tok.scan(Buffer.from('ab<a href="x'), sink)).toBe(2);
    expect(tok.awaiting).toBe(0x3e);
    expect(tok.scan(Buffer.from('<a href="x">'), sink)).toBe(12);
    expect(tok.awaiting).toBe(-1);
    expect(tok.scan(Buffer.from('<!-'), sink)).toBe(0);
    expect(tok.awaiting).toBe(-1);
  });
});

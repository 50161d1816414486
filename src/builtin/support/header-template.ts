import type { HeadPhase } from '../../filters/types.js';
import { publicHost, publicScheme, splitUrl } from './request-vars.js';

/**
 * Header values with request variables, parsed once at config load:
 *
 *   ${method} ${path} ${query} ${uri} ${host} ${scheme} ${remote_addr} ${status} ${time_us}
 *   ${header.NAME}    a request header (repeated lines joined with ", ")
 *   ${response.NAME}  a response header (output chains)
 *   $$                a literal $
 *   $1 … $99, $0/$&   in an edit's replacement only: the regex groups, the whole match
 *
 * Any other `$` is itself. A variable that has no value (a missing header, ${status} in an
 * input chain) is empty, as nginx's are.
 */
export type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly name: string; readonly arg?: string }
  | { readonly kind: 'group'; readonly index: number };

export interface Template {
  readonly parts: readonly Part[];
  /** The whole value when it has no variables or groups (checked once, at load). */
  readonly fixed: string | undefined;
}

export const VARIABLES = ['method', 'path', 'query', 'uri', 'host', 'scheme', 'remote_addr', 'status', 'time_us'] as const;
const PREFIXED = ['header', 'response'] as const;
const TOKEN_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Parse a value; throws an Error naming the problem (an unknown variable, an unclosed `${`). */
export function parseTemplate(src: string, opts: { groups: boolean }): Template {
  const parts: Part[] = [];
  let text = '';
  const flushText = (): void => {
    if (text) parts.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== '$' || i + 1 >= src.length) {
      text += c;
      continue;
    }
    const n = src[i + 1]!;
    if (n === '$') {
      text += '$';
      i++;
    } else if (n === '{') {
      const close = src.indexOf('}', i + 2);
      if (close === -1) throw new Error(`"\${" at ${i} is not closed with "}"`);
      flushText();
      parts.push(parseVariable(src.slice(i + 2, close)));
      i = close;
    } else if (opts.groups && (n === '&' || isDigit(n))) {
      flushText();
      if (n === '&') {
        parts.push({ kind: 'group', index: 0 });
        i++;
      } else {
        const two = i + 2 < src.length && isDigit(src[i + 2]!);
        parts.push({ kind: 'group', index: Number(src.slice(i + 1, i + (two ? 3 : 2))) });
        i += two ? 2 : 1;
      }
    } else {
      text += c;
    }
  }
  flushText();
  const fixed = parts.every((p) => p.kind === 'text') ? parts.map((p) => (p as { text: string }).text).join('') : undefined;
  return { parts, fixed };
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function parseVariable(body: string): Part {
  const dot = body.indexOf('.');
  if (dot !== -1) {
    const prefix = body.slice(0, dot).toLowerCase();
    const arg = body.slice(dot + 1);
    if (!(PREFIXED as readonly string[]).includes(prefix)) throw unknownVariable(body);
    if (!TOKEN_RE.test(arg)) throw new Error(`"\${${body}}": "${arg}" is not a header name`);
    return { kind: 'var', name: prefix, arg: arg.toLowerCase() };
  }
  const name = body.toLowerCase();
  if (!(VARIABLES as readonly string[]).includes(name)) throw unknownVariable(body);
  return { kind: 'var', name };
}

function unknownVariable(body: string): Error {
  return new Error(`unknown variable "\${${body}}" (known: ${VARIABLES.map((v) => `\${${v}}`).join(', ')}, \${header.NAME}, \${response.NAME}; write $$ for a literal $)`);
}

/** The value of a template for this message; `groups` are a regex match's, for edit. */
export function render(t: Template, head: HeadPhase, groups?: readonly (string | undefined)[]): string {
  if (t.fixed !== undefined) return t.fixed;
  let out = '';
  for (const p of t.parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'group') out += groups?.[p.index] ?? '';
    else out += variable(p.name, p.arg, head);
  }
  return out;
}

function variable(name: string, arg: string | undefined, head: HeadPhase): string {
  const req = head.request;
  switch (name) {
    case 'method':
      return req.method;
    case 'path':
      return splitUrl(req.url).path;
    case 'query':
      return splitUrl(req.url).query;
    case 'uri':
      return req.url;
    case 'host':
      return publicHost(req) ?? '';
    case 'scheme':
      return publicScheme(req);
    case 'remote_addr':
      return req.remoteAddress ?? '';
    case 'status':
      return head.direction === 'output' ? String(head.status) : '';
    case 'time_us':
      return String(Math.floor((performance.timeOrigin + performance.now()) * 1000));
    case 'header':
      return req.headers.get(arg!) ?? '';
    case 'response':
      return head.direction === 'output' ? (head.headers.get(arg!) ?? '') : '';
    default:
      return '';
  }
}

/**
 * What is wrong with a header value, if anything: Node refuses (and HTTP forbids) controls
 * other than tab, and a character above U+00FF cannot be sent as a header byte at all.
 */
export function headerValueProblem(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  const m = /[^\t\x20-\x7e\x80-\xff]/.exec(value);
  if (!m) return undefined;
  const code = m[0].codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code === 0x0d || code === 0x0a) return `contains ${code === 0x0d ? 'CR' : 'LF'} (${hex}): a line break would let the value inject headers`;
  if (code < 0x20 || code === 0x7f) return `contains the control character ${hex}`;
  return `contains ${hex}, which cannot be sent in a header (only Latin-1)`;
}

import { Type } from '@sinclair/typebox';
import { mediaTypeMatcher } from '../../filters/media-type.js';
import type { HeadPhase } from '../../filters/types.js';
import { charsetExists, closeCharsets } from './charsets.js';
import { DEFAULT_COMPRESSIBLE_TYPES } from './compression.js';
import { messageCharset, normaliseCharset } from './text-codec.js';

/**
 * What the text rewriters (substitute, sed) share: which messages they touch, their common
 * options, and what they do to the head.
 */

/** Text, JSON, JavaScript, XML, SVG: what nginx users list in sub_filter_types, and what compress compresses. */
export const DEFAULT_TEXT_TYPES: readonly string[] = DEFAULT_COMPRESSIBLE_TYPES.filter((t) => t !== 'application/wasm');

export const TextFilterOptions = {
  types: Type.Array(Type.String({ pattern: '^(\\*|[A-Za-z0-9!#$&^_.+*-]+/[A-Za-z0-9!#$&^_.+*-]+)$' }), {
    default: [...DEFAULT_TEXT_TYPES],
    description: 'Media types rewritten ("text/*" wildcards; "*" for every body, with or without a Content-Type).',
  }),
  charset: Type.Optional(Type.String({ description: "The body's charset, overriding the Content-Type parameter." })),
  defaultCharset: Type.String({ default: 'utf-8', description: 'Charset when the Content-Type names none.' }),
  maxLineLength: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]+[bBkKmMgG]?$' })], {
    default: 1048576,
    description: 'Longest line held (bytes, or "10m" as SubstituteMaxLineLength); a longer line fails the message.',
  }),
};

/** "10m" → 10485760, as SubstituteMaxLineLength reads it. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9]+)([bBkKmMgG]?)$/.exec(v);
  if (!m) throw new Error(`"${v}" is not a size`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  const n = Number(m[1]) * unit;
  if (n < 1) throw new Error(`maxLineLength: must be at least 1 byte`);
  return n;
}

/** Config-load check of the charset options. */
export function checkCharsets(o: { charset?: string | undefined; defaultCharset: string }): void {
  for (const [option, name] of [['charset', o.charset], ['defaultCharset', o.defaultCharset]] as const) {
    if (name === undefined || charsetExists(name)) continue;
    const close = closeCharsets(name);
    throw new Error(`${option}: unknown charset "${name}"${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
  }
}

/**
 * Why a message's body is left alone, or undefined when it is rewritten: no body (HEAD, 1xx,
 * 204, 304), a partial body (206: rewriting a fragment corrupts it), a Content-Encoding we
 * would only see as compressed bytes (put `decompress` in the chain), or a media type not
 * listed.
 */
export function textSkipReason(head: HeadPhase, isType: (contentType: string | undefined) => boolean, anyType: boolean): string | undefined {
  const h = head.headers;
  if (head.direction === 'output') {
    const s = head.status;
    if (head.request.method === 'HEAD' || s < 200 || s === 204 || s === 304) return 'no body';
    if (s === 206 || h.has('content-range')) return 'partial content';
  }
  if (h.tokens('content-encoding').some((t) => t.toLowerCase() !== 'identity')) return 'encoded body';
  const ct = h.get('content-type');
  if (!(anyType || isType(ct))) return 'media type not listed';
  return undefined;
}

/**
 * The charset a text rewriter reads this message in (the `charset` option, else the
 * Content-Type's, else `defaultCharset`), or undefined when the message is left alone
 * (textSkipReason).
 */
export function rewriteCharset(head: HeadPhase, o: { types: readonly string[]; charset?: string | undefined; defaultCharset: string }): string | undefined {
  if (textSkipReason(head, mediaTypeMatcher(o.types), o.types.includes('*')) !== undefined) return undefined;
  return o.charset !== undefined ? normaliseCharset(o.charset) : messageCharset(head.headers, o.defaultCharset);
}

/**
 * A rewritten response is no longer byte-identical to the upstream's: a strong ETag becomes
 * weak (nginx's sub_filter does the same when it keeps Last-Modified), so weak comparisons
 * (If-None-Match) still work; Accept-Ranges goes, since a range of the upstream's bytes is not
 * a range of ours (nginx clears it too). Content-Length is dropped by the runtime.
 */
export function markRewritten(head: HeadPhase): void {
  head.changesLength(true);
  if (head.direction !== 'output') return;
  const h = head.headers;
  const tag = h.get('etag');
  if (tag !== undefined && /^"/.test(tag)) h.set('etag', `W/${tag}`);
  h.delete('accept-ranges');
}

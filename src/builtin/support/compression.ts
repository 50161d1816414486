import { Type, type Static } from '@sinclair/typebox';
import type { HeadPhase } from '../../filters/types.js';
export { mediaTypeMatcher as typeMatcher } from '../../filters/media-type.js';
import { backendProblem, type BackendChoice, type Coding } from './codecs.js';

/** What a compressor compresses by default: text, JSON, JavaScript, XML, SVG. */
export const DEFAULT_COMPRESSIBLE_TYPES: readonly string[] = [
  'text/*',
  'application/json',
  'application/*+json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/*+xml',
  'image/svg+xml',
  'application/wasm',
];

export const CommonCompressionOptions = {
  minLength: Type.Integer({
    minimum: 0,
    default: 256,
    description: 'Skip bodies whose Content-Length is known and smaller than this (bytes).',
  }),
  types: Type.Array(Type.String({ pattern: '^[A-Za-z0-9!#$&^_.+*-]+/[A-Za-z0-9!#$&^_.+*-]+$' }), {
    default: [...DEFAULT_COMPRESSIBLE_TYPES],
    description: 'Media types to compress; "text/*" and "application/*+json" style wildcards.',
  }),
  etag: Type.Union([Type.Literal('suffix'), Type.Literal('weaken'), Type.Literal('remove')], {
    default: 'suffix',
    description: 'An ETag becomes "tag-<coding>" (mod_deflate DeflateAlterETag AddSuffix), is made weak (nginx), or is removed.',
  }),
  backend: Type.Union([Type.Literal('auto'), Type.Literal('node'), Type.Literal('fflate')], {
    default: 'auto',
    description: 'node:zlib (default where present) or the pure-JS fflate.',
  }),
};

export type CommonCompression = {
  minLength: number;
  types: readonly string[];
  etag: 'suffix' | 'weaken' | 'remove';
  backend: BackendChoice;
};

export const ZlibParams = {
  level: Type.Integer({ minimum: 1, maximum: 9, default: 6, description: 'zlib compression level.' }),
  windowBits: Type.Integer({ minimum: 9, maximum: 15, default: 15, description: 'zlib window (2^n bytes).' }),
};
export const BrotliParams = {
  quality: Type.Integer({ minimum: 0, maximum: 11, default: 4, description: 'Brotli quality (4 suits dynamic content).' }),
  window: Type.Integer({ minimum: 10, maximum: 24, default: 22, description: 'Brotli window (2^n bytes).' }),
};
export const ZlibParamsSchema = Type.Object(ZlibParams, { additionalProperties: false, default: {} });
export const BrotliParamsSchema = Type.Object(BrotliParams, { additionalProperties: false, default: {} });
export type ZlibParamsT = Static<typeof ZlibParamsSchema>;
export type BrotliParamsT = Static<typeof BrotliParamsSchema>;

/** Throws the config-load error for a backend that cannot serve a coding. */
export function checkBackend(backend: BackendChoice, codings: readonly Coding[]): void {
  for (const c of codings) {
    const problem = backendProblem(backend, c);
    if (problem) throw new Error(`backend: ${problem}`);
  }
}


/**
 * Apache's and nginx's reasons not to compress, checked before Accept-Encoding: a reason means
 * the representation never varies by encoding. Returns the reason, or undefined.
 */
export function skipReason(head: HeadPhase, opts: CommonCompression, isType: (ct: string | undefined) => boolean): string | undefined {
  const h = head.headers;
  const s = head.status;
  // HEAD and 304 are not skipped here: they get the metadata a GET/200 would (RFC 9110
  // §9.3.2, §15.4.5; mod_deflate does the same), but no body is encoded.
  if (s < 200 || s === 204 || s === 205 || s === 206) return `status ${s}`;
  if (h.has('content-range')) return 'partial content';
  if (h.tokens('content-encoding').some((t) => t.toLowerCase() !== 'identity')) return 'already encoded';
  if (h.tokens('cache-control').some((t) => t.toLowerCase() === 'no-transform')) return 'Cache-Control: no-transform';
  const len = h.get('content-length');
  if (s !== 304 && len !== undefined && /^\d+$/.test(len) && Number(len) < opts.minLength) return 'smaller than minLength';
  // a 304 often omits Content-Type; its metadata must still match the 200's
  if (!(s === 304 && !h.has('content-type')) && !isType(h.get('content-type'))) return 'content type not compressible';
  return undefined;
}

/**
 * Headers of a response this filter now encodes with `coding`. A 304 only gets its validator
 * adjusted (it has no content to label), so a cache's stored 200 stays consistent.
 */
export function applyEncoding(head: HeadPhase, coding: Coding, etag: CommonCompression['etag']): void {
  const h = head.headers;
  if (head.status !== 304) {
    const prior = h.tokens('content-encoding').filter((t) => t.toLowerCase() !== 'identity');
    h.set('content-encoding', [...prior, coding].join(', '));
  }
  h.delete('content-length');
  h.delete('content-md5');
  h.delete('accept-ranges');
  head.changesLength(true);
  const tag = h.get('etag');
  if (tag !== undefined) {
    if (etag === 'remove') h.delete('etag');
    else {
      const m = /^(W\/)?"(.*)"$/.exec(tag);
      if (m && etag === 'suffix') h.set('etag', `${m[1] ?? ''}"${m[2]}-${coding}"`);
      else if (m && !m[1]) h.set('etag', `W/${tag}`);
    }
  }
}

/** Node reports a known body length to brotli as a size hint. */
export function sizeHint(head: HeadPhase): number | undefined {
  const len = head.headers.get('content-length');
  return len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
}

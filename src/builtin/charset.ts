import { Type, type Static } from '@sinclair/typebox';
import iconv from 'iconv-lite';
import { SluiceError } from '../errors.js';
import type { Emitter, FilterInstance, HeadPhase } from '../filters/types.js';
import { defineFilter } from '../filters/registry.js';
import {
  charsetExists,
  charsetParam,
  closeCharsets,
  rewriteDeclared,
  sameCharset,
  sniffBOM,
  sniffDeclared,
  withCharset,
} from './support/charsets.js';
import { typeMatcher } from './support/compression.js';

const DEFAULT_TYPES = ['text/*', 'application/xml', 'application/*+xml', 'application/xhtml+xml', 'application/javascript', 'image/svg+xml'];

const options = Type.Object(
  {
    to: Type.String({ default: 'utf-8', description: 'Charset the body is converted to.' }),
    from: Type.Optional(Type.String({ description: 'Source charset, overriding detection.' })),
    default: Type.String({ default: 'windows-1252', description: 'Source charset when nothing declares one (browsers assume windows-1252).' }),
    sniff: Type.Integer({ minimum: 0, maximum: 65536, default: 4096, description: 'Bytes held to look for a BOM, <meta charset> or XML declaration.' }),
    types: Type.Array(Type.String(), { default: DEFAULT_TYPES, description: 'Media types converted ("text/*" wildcards).' }),
    onError: Type.Union([Type.Literal('replace'), Type.Literal('error')], {
      default: 'replace',
      description: 'Undecodable bytes: U+FFFD (replace) or fail the message (error).',
    }),
    rewriteMeta: Type.Boolean({ default: true, description: 'Rewrite a <meta charset> or XML declaration to the new charset.' }),
  },
  { additionalProperties: false },
);
type Options = Static<typeof options>;

function checkName(option: string, name: string): void {
  if (charsetExists(name)) return;
  const close = closeCharsets(name);
  throw new Error(`${option}: unknown charset "${name}"${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
}

/**
 * Charset conversion with iconv-lite, both directions (mod_charset_lite done right): the source
 * charset comes from the Content-Type parameter, else a BOM, else a declaration sniffed in the
 * first bytes (as mod_xml2enc does), else `default`; Content-Type's charset is rewritten, and
 * optionally the document's own declaration. Multi-byte sequences split across chunks are
 * carried over by the decoder.
 */
export const charset = defineFilter({
  name: 'charset',
  description: 'Converts text bodies between charsets (detects the source; rewrites Content-Type and <meta>).',
  stage: 'transcode',
  options,
  validate: (o) => {
    checkName('to', o.to);
    checkName('default', o.default);
    if (o.from !== undefined) checkName('from', o.from);
  },
  create: (ctx) => new CharsetInstance(ctx.options, ctx.direction),
});

const utf8Encoder = new TextEncoder();

interface Converter {
  decoder: iconv.DecoderStream;
  encode: (s: string) => Uint8Array;
  encEnd: () => Uint8Array | undefined;
}

class CharsetInstance implements FilterInstance {
  readonly #o: Options;
  readonly #direction: 'input' | 'output';
  #declared: string | undefined;
  #markup = false;
  #held: Uint8Array[] | null = [];
  #heldLen = 0;
  /** null until decided; false = pass bytes through (source already is the target). */
  #convert: Converter | false | null = null;
  #first = true;

  constructor(o: Options, direction: 'input' | 'output') {
    this.#o = o;
    this.#direction = direction;
  }

  onHead(head: HeadPhase): void {
    const h = head.headers;
    const ct = h.get('content-type');
    const noBody = head.direction === 'output' && (head.request.method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200);
    const encoded = h.tokens('content-encoding').some((t) => t.toLowerCase() !== 'identity');
    if (noBody || encoded || !typeMatcher(this.#o.types)(ct) || !ct) {
      head.passOn();
      return;
    }
    this.#declared = this.#o.from ?? charsetParam(ct);
    this.#markup = /html|xml|svg/i.test(ct);
    if (this.#declared !== undefined && !charsetExists(this.#declared)) {
      // An upstream naming a charset we do not know: leave the body alone rather than guess.
      head.passOn();
      return;
    }
    if (this.#declared !== undefined && sameCharset(this.#declared, this.#o.to) && !(this.#markup && this.#o.rewriteMeta)) {
      head.passOn();
      return;
    }
    h.set('content-type', withCharset(ct, this.#o.to));
    head.changesLength(true);
  }

  onData(chunk: Uint8Array, out: Emitter): void {
    if (this.#convert === null) {
      this.#held!.push(chunk);
      this.#heldLen += chunk.length;
      if (this.#heldLen >= this.#o.sniff) this.#decide(out);
      return;
    }
    this.#write(chunk, out);
  }

  onFlush(out: Emitter): void {
    if (this.#convert === null) this.#decide(out);
  }

  onEnd(out: Emitter): void {
    if (this.#convert === null) this.#decide(out);
    const c = this.#convert;
    if (!c) return;
    const rest = c.decoder.end();
    if (rest) this.#emitText(rest, out);
    const tail = c.encEnd();
    if (tail && tail.length) out.push(tail);
  }

  #decide(out: Emitter): void {
    const held = this.#held!;
    this.#held = null;
    const buf = held.length === 1 ? held[0]! : Buffer.concat(held);
    const from = this.#declared ?? sniffBOM(buf) ?? (this.#markup ? sniffDeclared(buf) : undefined) ?? this.#o.default;
    const source = charsetExists(from) ? from : this.#o.default;
    if (sameCharset(source, this.#o.to) && !(this.#markup && this.#o.rewriteMeta && sniffDeclared(buf) !== undefined && !sameCharset(sniffDeclared(buf)!, this.#o.to))) {
      this.#convert = false;
      if (buf.length) out.push(buf);
      return;
    }
    const decoder = iconv.getDecoder(source, { stripBOM: true });
    const toUtf8 = sameCharset(this.#o.to, 'utf-8');
    const encoder = toUtf8 ? null : iconv.getEncoder(this.#o.to);
    this.#convert = {
      decoder,
      encode: encoder ? (s) => encoder.write(s) : (s) => utf8Encoder.encode(s),
      encEnd: () => encoder?.end() ?? undefined,
    };
    if (buf.length) this.#write(buf, out);
  }

  #write(chunk: Uint8Array, out: Emitter): void {
    const c = this.#convert;
    if (c === false || c === null) {
      out.push(chunk);
      return;
    }
    const text = c.decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    if (text) this.#emitText(text, out);
  }

  #emitText(text: string, out: Emitter): void {
    const c = this.#convert as Converter;
    if (this.#first) {
      this.#first = false;
      if (this.#markup && this.#o.rewriteMeta) text = rewriteDeclared(text, this.#o.to);
    }
    if (this.#o.onError === 'error' && text.includes('\uFFFD')) {
      throw new SluiceError('ERR_SLUICE_CHARSET', 'the body has bytes that are not valid in its charset', {
        status: this.#direction === 'input' ? 400 : 502,
      });
    }
    const bytes = c.encode(text);
    if (bytes.length) out.push(bytes);
  }
}

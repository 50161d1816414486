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
  singleByteToUtf8,
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

/** Bytes in the source charset → bytes in the target, keeping state across chunks. */
interface Converter {
  write(chunk: Uint8Array): Uint8Array;
  end(): Uint8Array | undefined;
}

function invalidInput(direction: 'input' | 'output'): SluiceError {
  return new SluiceError('ERR_SLUICE_CHARSET', 'the body has bytes that are not valid in its charset', {
    status: direction === 'input' ? 400 : 502,
  });
}

function makeConverter(source: string, target: string, strict: boolean, direction: 'input' | 'output'): Converter {
  const toUtf8 = sameCharset(target, 'utf-8');
  const table = toUtf8 ? singleByteToUtf8(source) : undefined;
  if (table) {
    return {
      write(chunk) {
        const { out, hasInvalid } = table.transcode(chunk, strict);
        if (strict && hasInvalid) throw invalidInput(direction);
        return out;
      },
      end: () => undefined,
    };
  }
  const decoder = streamingDecoder(source, strict, direction);
  const encoder = toUtf8 ? null : iconv.getEncoder(target);
  // A decoder may end a piece on a high surrogate whose low half comes with the next chunk
  // (Node's utf16le StringDecoder does): hold it back, or each half is encoded alone as U+FFFD.
  let carry = '';
  const encode = (text: string, final: boolean): Uint8Array => {
    if (carry) {
      text = carry + text;
      carry = '';
    }
    const last = text.charCodeAt(text.length - 1);
    if (!final && last >= 0xd800 && last <= 0xdbff) {
      carry = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (decoder.lossy && strict && text.includes('\uFFFD')) throw invalidInput(direction);
    return encoder ? encoder.write(text) : utf8Encoder.encode(text);
  };
  return {
    write: (chunk) => encode(decoder.write(chunk), false),
    end() {
      const a = encode(decoder.end() ?? '', true);
      const b = encoder?.end();
      if (a.length && b && b.length) return Buffer.concat([a, b]);
      return a.length ? a : b && b.length ? b : undefined;
    },
  };
}

interface TextDecoding {
  write(chunk: Uint8Array): string;
  end(): string | undefined;
  /** True when U+FFFD in the output may stand for an invalid byte (iconv-lite cannot say). */
  readonly lossy: boolean;
}

/**
 * The WHATWG decoder when the platform has one for this charset (the browsers' own mappings;
 * correct across chunk boundaries, and `fatal` reports invalid bytes exactly), else iconv-lite.
 * iconv-lite 0.7.3's DBCS decoder loses code units when a sequence is finished by carried-over
 * bytes (pillarjs/iconv-lite#417).
 */
function streamingDecoder(source: string, strict: boolean, direction: 'input' | 'output'): TextDecoding {
  let td: TextDecoder | undefined;
  try {
    td = new TextDecoder(source, { fatal: strict });
  } catch {
    td = undefined;
  }
  if (td && !/^(iso-?8859-?1|latin-?1|us-?ascii|ascii|windows-?1252|cp1252)$/i.test(source)) {
    const d = td;
    const wrap = (f: () => string): string => {
      try {
        return f();
      } catch (err) {
        if (err instanceof TypeError) throw invalidInput(direction);
        throw err;
      }
    };
    return {
      write: (chunk) => wrap(() => d.decode(chunk, { stream: true })),
      end: () => wrap(() => d.decode()),
      lossy: false,
    };
  }
  const dec = iconv.getDecoder(source, { stripBOM: true });
  return {
    write: (chunk) => dec.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)),
    end: () => dec.end(),
    lossy: true,
  };
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
    const tail = c.end();
    if (tail && tail.length) this.#emit(tail, out);
  }

  #decide(out: Emitter): void {
    const held = this.#held!;
    this.#held = null;
    let buf = held.length === 1 ? held[0]! : Buffer.concat(held);
    // Only the first `sniff` bytes are searched, whatever the chunking.
    const head = buf.length > this.#o.sniff ? buf.subarray(0, this.#o.sniff) : buf;
    const written = this.#markup ? sniffDeclared(head) : undefined;
    // HTML prescan: a <meta> we could read as ASCII cannot mean UTF-16 (WHATWG "get an encoding")
    const declared = written !== undefined && /^utf-?16(le|be)?$/i.test(written) ? 'utf-8' : written;
    const bom = sniffBOM(buf);
    const from = this.#declared ?? bom ?? declared ?? this.#o.default;
    const source = charsetExists(from) ? from : this.#o.default;
    if (sameCharset(source, this.#o.to) && !(this.#markup && this.#o.rewriteMeta && written !== undefined && !sameCharset(written, this.#o.to))) {
      this.#convert = false;
      if (bom === 'utf-8' && sameCharset(source, 'utf-8')) buf = buf.subarray(3); // a converted body has no BOM
      if (buf.length) out.push(buf);
      return;
    }
    this.#convert = makeConverter(source, this.#o.to, this.#o.onError === 'error', this.#direction);
    // the declaration is rewritten in the first output: let that be the sniff window's
    if (head.length) this.#write(head, out);
    if (buf.length > head.length) this.#write(buf.subarray(head.length), out);
  }

  #write(chunk: Uint8Array, out: Emitter): void {
    const c = this.#convert;
    if (c === false || c === null) {
      out.push(chunk);
      return;
    }
    const bytes = c.write(chunk);
    if (bytes.length) this.#emit(bytes, out);
  }

  /**
   * The first output carries the document's own declaration: rewrite it on the output bytes
   * read as latin1 (1:1 with bytes; the markup is ASCII in every ASCII-compatible charset).
   */
  #emit(bytes: Uint8Array, out: Emitter): void {
    if (this.#first) {
      this.#first = false;
      if (this.#markup && this.#o.rewriteMeta && !/^utf-?(16|32)/i.test(this.#o.to)) {
        const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
        const r = rewriteDeclared(s, this.#o.to);
        if (r !== s) bytes = Buffer.from(r, 'latin1');
      }
    }
    out.push(bytes);
  }
}

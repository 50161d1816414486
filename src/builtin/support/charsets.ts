import { createRequire } from 'node:module';
import iconv from 'iconv-lite';
import { editDistance } from '../../filters/suggest.js';

const require = createRequire(import.meta.url);

/** Lower-cased, punctuation-free form iconv-lite itself compares by ("UTF-8" → "utf8"). */
export function canonical(name: string): string {
  return name.toLowerCase().replace(/[^0-9a-z]/g, '');
}

const aliasCache = new Map<string, string>();

/** Follows iconv-lite's aliases (latin1 → iso88591) so two names for one charset compare equal. */
export function resolveCharset(name: string): string {
  const c = canonical(name);
  const hit = aliasCache.get(c);
  if (hit) return hit;
  const table = encodingTable();
  let cur = c;
  for (let i = 0; i < 10 && typeof table[cur] === 'string'; i++) cur = table[cur] as string;
  aliasCache.set(c, cur);
  return cur;
}

export function sameCharset(a: string, b: string): boolean {
  return resolveCharset(a) === resolveCharset(b);
}

export function charsetExists(name: string): boolean {
  return iconv.encodingExists(name);
}

let table: Record<string, unknown> | undefined;
function encodingTable(): Record<string, unknown> {
  return (table ??= require('iconv-lite/encodings') as Record<string, unknown>);
}

/** Known names closest to a misspelt one, for config errors ("did you mean shift_jis?"). */
export function closeCharsets(name: string, max = 3): string[] {
  const c = canonical(name);
  return Object.keys(encodingTable())
    .filter((k) => !k.startsWith('_'))
    .map((k) => ({ k, d: editDistance(c, k) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(c.length / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map((x) => x.k);
}


/** The charset parameter of a Content-Type, if any. */
export function charsetParam(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1];
}

/** Content-Type with its charset parameter set (replaced or added). */
export function withCharset(contentType: string, charset: string): string {
  if (/;\s*charset\s*=/i.test(contentType)) return contentType.replace(/(;\s*charset\s*=\s*)"?[^";\s]+"?/i, `$1${charset}`);
  return `${contentType}; charset=${charset}`;
}

/** A byte-order mark at the start, and the charset it means. */
export function sniffBOM(buf: Uint8Array): string | undefined {
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return 'utf-8';
  if (buf[0] === 0xff && buf[1] === 0xfe) return 'utf-16le';
  if (buf[0] === 0xfe && buf[1] === 0xff) return 'utf-16be';
  return undefined;
}

// (the name must be followed by its delimiter: a name cut by the end of the window is no name)
const META_CHARSET = /(<meta\s[^>]*?charset\s*=\s*["']?)([A-Za-z0-9_:.()-]+)(?=["'\s;/>])/i;
const XML_DECL = /^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9_:.()-]+)(?=["'])/;

/**
 * A charset declared in the first bytes: `<meta charset>`, `<meta http-equiv content="…;
 * charset=…">` or an XML declaration (what mod_xml2enc sniffs). The bytes are read as latin1,
 * which every ASCII-compatible charset agrees with for markup.
 */
export function sniffDeclared(buf: Uint8Array): string | undefined {
  const s = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('latin1');
  return XML_DECL.exec(s)?.[2] ?? META_CHARSET.exec(s)?.[2];
}

/** Rewrite a declared charset in decoded markup to the one the body now has. */
export function rewriteDeclared(text: string, to: string): string {
  return text.replace(XML_DECL, `$1${to}`).replace(META_CHARSET, `$1${to}`);
}

/**
 * A byte → UTF-8 transcoder for a single-byte charset, built from iconv-lite's own table (so it
 * agrees with it byte for byte). It decodes as latin1 (native), fixes only the bytes where the
 * charset differs from latin1 (for windows-1252 just 0x80-0x9F) with one native regex
 * replace, and encodes UTF-8 natively. Returns undefined when the charset is not single-byte.
 * (Node 20's TextDecoder is no substitute: it decodes windows-1252 0x80 as U+0080, not €.)
 */
export function singleByteToUtf8(charsetName: string): SingleByteTranscoder | undefined {
  const key = resolveCharset(charsetName);
  if (sbcsCache.has(key)) return sbcsCache.get(key);
  let t: SingleByteTranscoder | undefined;
  try {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const whole = iconv.decode(Buffer.from(all), charsetName, { stripBOM: false });
    const singles: string[] = [];
    for (let b = 0; b < 256; b++) singles.push(iconv.decode(Buffer.from([b]), charsetName, { stripBOM: false }));
    const isSingle = singles.every((x) => x.length === 1 && !(x.charCodeAt(0) >= 0xd800 && x.charCodeAt(0) < 0xe000));
    if (isSingle && singles.join('') === whole) {
      const map = new Map<string, string>();
      let invalid = '';
      for (let b = 0; b < 256; b++) {
        const latin = String.fromCharCode(b);
        if (singles[b] !== latin) map.set(latin, singles[b]!);
        if (singles[b] === '\uFFFD') invalid += latin;
      }
      t = new SingleByteTranscoder(charsetName, map, invalid);
    }
  } catch {
    t = undefined;
  }
  sbcsCache.set(key, t);
  return t;
}

const sbcsCache = new Map<string, SingleByteTranscoder | undefined>();

function charClass(chars: Iterable<string>): RegExp | null {
  const parts = [...chars].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return parts.length ? new RegExp(`[${parts.join('')}]`, 'g') : null;
}

export class SingleByteTranscoder {
  readonly #charset: string;
  readonly #differs: RegExp | null;
  readonly #invalid: RegExp | null;

  constructor(charset: string, map: Map<string, string>, invalid: string) {
    this.#charset = charset;
    const re = charClass(map.keys());
    this.#differs = re ? new RegExp(re.source) : null;
    this.#invalid = invalid ? new RegExp(charClass(invalid)!.source) : null;
  }

  /**
   * UTF-8 bytes for `chunk`; `hasInvalid` tells whether a byte has no mapping (U+FFFD). A chunk
   * with no byte that differs from latin1 takes the native path; one with such bytes goes
   * through iconv-lite (single-byte decoding keeps no state, so per chunk is exact).
   */
  transcode(chunk: Uint8Array, checkInvalid = false): { out: Uint8Array; hasInvalid: boolean } {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const s = buf.toString('latin1');
    const hasInvalid = checkInvalid && this.#invalid !== null && this.#invalid.test(s);
    if (this.#differs !== null && this.#differs.test(s)) return { out: Buffer.from(iconv.decode(buf, this.#charset), 'utf8'), hasInvalid };
    return { out: Buffer.from(s, 'utf8'), hasInvalid };
  }
}

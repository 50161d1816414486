import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import type { HeaderMap } from '../../filters/headers.js';
import { charsetExists, charsetParam, resolveCharset, singleByteToUtf8 } from './charsets.js';

/**
 * Text in a message's charset, for filters that rewrite text (substitute, sed, html-urlmap).
 *
 * - `messageCharset(headers, fallback)`: the charset a body is in.
 * - `charsetKind(name)`: how text in it can be searched. `utf-8` and `single-byte` (windows-1252,
 *   iso-8859-x, koi8-r, ... every ASCII-compatible one-byte charset) can be searched as bytes:
 *   a pattern encoded into the charset matches exactly where its text does, and '\n' is byte
 *   0x0A. Anything else (`other`: shift_jis, gbk, euc-kr, utf-16) has to be decoded first
 *   (in Shift_JIS, the second byte of 表 is 0x5C, a backslash).
 * - `encodeText` / `decodeText` / `canEncode`: one-shot conversions.
 * - `createDecoder` / `createEncoder`: streaming pair that carries a multi-byte sequence (or a
 *   UTF-16 surrogate pair) split across chunks.
 * - `decodeLossless` / `encodeLossless`: UTF-8 whose invalid bytes survive the round trip.
 */

export type CharsetKind = 'utf-8' | 'single-byte' | 'other';

/**
 * Labels browsers decode as windows-1252 (WHATWG Encoding): a page labelled iso-8859-1 or
 * us-ascii is read as windows-1252 everywhere, so its 0x80-0x9F bytes are € “ ” and friends.
 */
const AS_WINDOWS_1252 = new Set(['iso88591', 'latin1', 'l1', 'usascii', 'ascii', 'ansix341968', 'cp819', 'ibm819', 'iso885911987', 'isoir100', 'cp1252', 'windows1252']);

/** A charset name in the form the other functions expect: `utf-8`, `windows-1252`, or as given. */
export function normaliseCharset(name: string): string {
  const r = resolveCharset(name);
  if (r === 'utf8') return 'utf-8';
  if (AS_WINDOWS_1252.has(name.toLowerCase().replace(/[^0-9a-z]/g, '')) || AS_WINDOWS_1252.has(r)) return 'windows-1252';
  return name.toLowerCase();
}

/**
 * The charset a message's body is in: the Content-Type charset when it names one we know, else
 * `fallback`. (A `<meta charset>` is not sniffed: a rewriter holding bytes back to look for one
 * would change its output with the chunking, and the `charset` filter does that job.)
 */
export function messageCharset(headers: HeaderMap, fallback: string): string {
  const declared = charsetParam(headers.get('content-type'));
  return normaliseCharset(declared !== undefined && charsetExists(declared) ? declared : fallback);
}

const kindCache = new Map<string, CharsetKind>();

export function charsetKind(name: string): CharsetKind {
  const key = resolveCharset(name);
  let kind = kindCache.get(key);
  if (kind === undefined) {
    kind = key === 'utf8' ? 'utf-8' : isAsciiSingleByte(name) ? 'single-byte' : 'other';
    kindCache.set(key, kind);
  }
  return kind;
}

/** One byte per character, and bytes 0x00-0x7F are ASCII (so '\n' is 0x0A and markup is ASCII). */
function isAsciiSingleByte(name: string): boolean {
  if (!singleByteToUtf8(name)) return false;
  const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
  return iconv.decode(ascii, name) === ascii.toString('latin1');
}

export function encodeText(text: string, charset: string): Buffer {
  const kind = charsetKind(charset);
  if (kind === 'utf-8') return Buffer.from(text, 'utf8');
  return kind === 'single-byte' ? singleByteTable(charset).encode(text) : iconv.encode(text, charset);
}

export function decodeText(bytes: Uint8Array, charset: string): string {
  const buf = asBuffer(bytes);
  const kind = charsetKind(charset);
  if (kind === 'utf-8') return buf.toString('utf8');
  return kind === 'single-byte' ? singleByteTable(charset).decode(buf) : iconv.decode(buf, charset, { stripBOM: false });
}

/** True when every character of `text` has a byte form in `charset` (no '?' stand-ins). */
export function canEncode(text: string, charset: string): boolean {
  const kind = charsetKind(charset);
  if (kind === 'utf-8') return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
  if (kind === 'single-byte') return singleByteTable(charset).canEncode(text);
  return iconv.decode(iconv.encode(text, charset), charset, { stripBOM: false }) === text;
}

/**
 * A single-byte charset as a bijection between bytes and characters: iconv-lite's table, with
 * each byte it leaves undefined read as the latin1 character of the same code (WHATWG does
 * this for windows-1252's 0x81 0x8D 0x8F 0x90 0x9D), so decoding and encoding again gives the
 * same bytes. Both ways run natively (latin1) and touch only the characters that differ.
 */
interface SingleByteTable {
  decode(b: Buffer): string;
  encode(text: string): Buffer;
  canEncode(text: string): boolean;
}

const tables = new Map<string, SingleByteTable>();

function singleByteTable(charset: string): SingleByteTable {
  const key = resolveCharset(charset);
  let t = tables.get(key);
  if (t) return t;
  const chars: string[] = [];
  for (let b = 0; b < 256; b++) {
    const c = iconv.decode(Buffer.of(b), charset, { stripBOM: false });
    chars.push(c.length === 1 && c !== '\uFFFD' ? c : String.fromCharCode(b));
  }
  const toChar = new Map<string, string>();
  const toByte = new Map<string, string>();
  chars.forEach((c, b) => {
    const latin = String.fromCharCode(b);
    if (c !== latin) toChar.set(latin, c);
    if (!toByte.has(c)) toByte.set(c, latin);
  });
  const cls = (cs: Iterable<string>): string => [...cs].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const differs = toChar.size ? new RegExp(`[${cls(toChar.keys())}]`, 'g') : null;
  const differsTest = differs && new RegExp(differs.source);
  // everything that is not a character standing for its own latin1 byte
  const identity = chars.filter((c, b) => c.charCodeAt(0) === b);
  const foreign = new RegExp(`[^${cls(identity)}]`, 'g');
  const foreignTest = new RegExp(foreign.source);
  t = {
    decode(buf) {
      const s = buf.toString('latin1');
      return differs && differsTest!.test(s) ? s.replace(differs, (c) => toChar.get(c)!) : s;
    },
    encode(text) {
      const s = foreignTest.test(text) ? text.replace(foreign, (c) => toByte.get(c) ?? '?') : text;
      return Buffer.from(s, 'latin1');
    },
    canEncode(text) {
      const m = text.match(foreign);
      return m === null || m.every((c) => toByte.has(c));
    },
  };
  tables.set(key, t);
  return t;
}

export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}

/** Streaming bytes → text. */
export interface StreamDecoder {
  /** Text of the complete characters so far; an incomplete sequence at the end is kept. */
  write(chunk: Uint8Array): string;
  /** What is left (an incomplete sequence becomes U+FFFD). */
  end(): string;
}

/** Streaming text → bytes. */
export interface StreamEncoder {
  /** Bytes of `text`; a high surrogate at its end waits for its pair. */
  write(text: string): Buffer;
  end(): Buffer;
}

const EMPTY = Buffer.alloc(0);

/**
 * The WHATWG decoder where the platform has one for the charset (the browsers' own tables,
 * exact across chunk boundaries), else iconv-lite. Single-byte Western charsets always take
 * iconv-lite: Node 20's TextDecoder decodes windows-1252 0x80 as U+0080, not €. A BOM is
 * kept as U+FEFF, so re-encoding gives the bytes back.
 */
export function createDecoder(charset: string): StreamDecoder {
  let td: TextDecoder | undefined;
  if (charsetKind(charset) !== 'single-byte') {
    try {
      td = new TextDecoder(charset, { ignoreBOM: true });
    } catch {
      td = undefined;
    }
  }
  let write: (c: Uint8Array) => string;
  let end: () => string;
  if (charsetKind(charset) === 'single-byte') {
    const t = singleByteTable(charset);
    write = (c) => t.decode(asBuffer(c));
    end = () => '';
  } else if (td) {
    const d = td;
    write = (c) => d.decode(c, { stream: true });
    end = () => d.decode();
  } else {
    const d = iconv.getDecoder(charset, { stripBOM: false });
    write = (c) => d.write(asBuffer(c));
    end = () => d.end() ?? '';
  }
  // Node's utf-16 StringDecoder (behind iconv-lite) may end a piece on a high surrogate.
  let held = '';
  return {
    write(chunk) {
      let s = held + write(chunk);
      held = '';
      const last = s.charCodeAt(s.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        held = s.slice(-1);
        s = s.slice(0, -1);
      }
      return s;
    },
    end() {
      const s = held + end();
      held = '';
      return s;
    },
  };
}

export function createEncoder(charset: string): StreamEncoder {
  const kind = charsetKind(charset);
  const enc = kind === 'other' ? iconv.getEncoder(charset, { addBOM: false }) : undefined;
  let held = '';
  const encode = (s: string): Buffer => (s ? (enc ? enc.write(s) : encodeText(s, charset)) : EMPTY);
  return {
    write(text) {
      let s = held + text;
      held = '';
      const last = s.charCodeAt(s.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        held = s.slice(-1);
        s = s.slice(0, -1);
      }
      return encode(s);
    },
    end() {
      const a = encode(held);
      held = '';
      const b = enc?.end();
      return b && b.length ? Buffer.concat([a, b]) : a;
    },
  };
}

/**
 * UTF-8 → text where each byte that is not part of a valid sequence becomes a lone surrogate
 * U+DC80-U+DCFF (Python's "surrogateescape"), so `encodeLossless` gives the same bytes back.
 * A page that is really latin1 but served as UTF-8 passes a rewriter unharmed. `escaped` says
 * whether any byte needed it (then the text must go back through `encodeLossless`).
 */
export function decodeLossless(bytes: Uint8Array): { text: string; escaped: boolean } {
  const buf = asBuffer(bytes);
  if (isUtf8(buf)) return { text: buf.toString('utf8'), escaped: false };
  let out = '';
  let i = 0;
  let start = 0;
  const n = buf.length;
  while (i < n) {
    const len = validSequenceAt(buf, i);
    if (len > 0) {
      i += len;
      continue;
    }
    if (i > start) out += buf.toString('utf8', start, i);
    out += String.fromCharCode(0xdc00 + buf[i]!);
    i++;
    start = i;
  }
  if (n > start) out += buf.toString('utf8', start, n);
  return { text: out, escaped: true };
}

/** Length of the valid UTF-8 sequence starting at i, or 0 (RFC 3629: no overlongs, no surrogates). */
function validSequenceAt(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0;
    if (c === 0xed && c1 >= 0xa0) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

const ESCAPED_BYTE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;

/** Inverse of decodeLossless: lone U+DC80-U+DCFF become the bytes they stand for. */
export function encodeLossless(text: string): Buffer {
  ESCAPED_BYTE.lastIndex = 0;
  if (!ESCAPED_BYTE.test(text)) return Buffer.from(text, 'utf8');
  ESCAPED_BYTE.lastIndex = 0;
  const parts: Buffer[] = [];
  let last = 0;
  for (let m = ESCAPED_BYTE.exec(text); m !== null; m = ESCAPED_BYTE.exec(text)) {
    if (m.index > last) parts.push(Buffer.from(text.slice(last, m.index), 'utf8'));
    parts.push(Buffer.of(text.charCodeAt(m.index) - 0xdc00));
    last = m.index + 1;
  }
  if (last < text.length) parts.push(Buffer.from(text.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

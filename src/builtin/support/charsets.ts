import { createRequire } from 'node:module';
import iconv from 'iconv-lite';

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
    .map((k) => ({ k, d: distance(c, k) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(c.length / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map((x) => x.k);
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
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

const META_CHARSET = /(<meta\s[^>]*?charset\s*=\s*["']?)([A-Za-z0-9_:.()-]+)/i;
const XML_DECL = /^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9_:.()-]+)/;

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

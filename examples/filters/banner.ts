/**
 * Inserts an HTML banner right after the page's `<body ...>` tag, once. Loaded from a config:
 *   modules: [../filters/banner.ts]        (examples/configs/banner.yaml)
 *
 * The tag is found by a small tokenizer that carries its state from chunk to chunk, so
 * `<bo` + `dy class="x">` split anywhere (even inside an attribute) is still found, and
 * nothing is ever held back: bytes before the tag go on as they arrive, and a flush mark has
 * nothing to wait for. It skips what only looks like a body tag: comments, the insides of
 * <script>, <style>, <title> and <textarea>, other tags' attribute values, `<bodyguard>`.
 * After the banner (or after maxScan bytes without a body tag) it just passes chunks on.
 *
 * Only HTML (text/html, application/xhtml+xml) without a Content-Encoding is touched; put
 * `decompress` before it for an upstream that compresses. The banner is written as UTF-8:
 * keep it ASCII (entities for the rest) on pages in other charsets.
 * In your own project, import from 'sluice' instead of '../../src/index.js'.
 */
import { defineFilter, Type } from '../../src/index.js';

const HTML_TYPE = /^\s*(?:text\/html|application\/xhtml\+xml)\s*(?:;|$)/i;

export const banner = defineFilter({
  name: 'banner',
  description: 'Inserts an HTML snippet after <body>.',
  directions: ['output'],
  options: Type.Object(
    {
      html: Type.String({ minLength: 1, description: 'The snippet inserted right after the <body ...> tag.' }),
      maxScan: Type.Integer({ minimum: 1, default: 1 << 20, description: 'Bytes to look through for <body> before giving up.' }),
    },
    { additionalProperties: false },
  ),
  create: ({ options }) => {
    const snippet = new TextEncoder().encode(options.html);
    const finder = new BodyTagFinder();
    let searching = true;
    let scanned = 0;
    return {
      onHead(head) {
        const coding = (head.headers.get('content-encoding') ?? 'identity').toLowerCase();
        if (!HTML_TYPE.test(head.headers.get('content-type') ?? '') || coding !== 'identity') head.passOn();
      },
      onData(chunk, out) {
        if (!searching) return out.push(chunk);
        const at = finder.feed(chunk);
        scanned += chunk.length;
        if (at < 0) {
          if (scanned >= options.maxScan) searching = false;
          return out.push(chunk);
        }
        searching = false;
        if (at > 0) out.push(chunk.subarray(0, at));
        const step = out.push(snippet.slice()); // a copy per response: whoever gets it next may own it
        return at < chunk.length ? out.push(chunk.subarray(at)) : step;
      },
    };
  },
});

export default banner;

// Tokenizer states.
const TEXT = 0;
const LT = 1; // after "<"
const BANG = 2; // after "<!": a comment if "--" follows
const NAME = 3; // in a tag name
const ATTRS = 4; // in a tag's attributes, up to ">"
const COMMENT = 5;
const RAWTEXT = 6; // inside <script> and the like, up to "</name"

const RAW_TEXT_ELEMENTS = new Set(['script', 'style', 'title', 'textarea']);
const MAX_NAME = 16;

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
const isLetter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
const endsName = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c || c === 0x2f || c === 0x3e;

/** Finds the end of the first `<body ...>` start tag in a stream of chunks. */
class BodyTagFinder {
  #state = TEXT;
  #name = '';
  /** The tag whose attributes are being read is <body>. */
  #isBody = false;
  /** Open quote in attributes (0: none). */
  #quote = 0;
  /** Dashes seen: "<!-" progress in BANG, "--" before ">" in COMMENT. */
  #dashes = 0;
  /** The raw-text element being skipped, and how much of "</name" has matched. */
  #raw = '';
  #rawMatched = 0;

  /** Index just after the body tag's ">" in this chunk, or -1. */
  feed(chunk: Uint8Array): number {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      switch (this.#state) {
        case TEXT: {
          const lt = chunk.indexOf(0x3c, i);
          if (lt === -1) return -1;
          i = lt;
          this.#state = LT;
          break;
        }
        case LT:
          if (c === 0x21) {
            this.#state = BANG;
            this.#dashes = 0;
          } else if (isLetter(c)) {
            this.#state = NAME;
            this.#name = String.fromCharCode(lower(c));
          } else if (c === 0x3c) this.#state = LT;
          else this.#state = TEXT; // "</x", "< ": not a start tag we care about
          break;
        case BANG:
          if (c === 0x2d && this.#dashes === 0) this.#dashes = 1;
          else if (c === 0x2d && this.#dashes === 1) {
            this.#state = COMMENT;
            this.#dashes = 0;
          } else {
            // <!DOCTYPE ...> and the like: skip to ">"
            this.#state = c === 0x3e ? TEXT : ATTRS;
            this.#isBody = false;
            this.#raw = '';
            this.#quote = 0;
          }
          break;
        case NAME:
          if (endsName(c)) {
            this.#isBody = this.#name === 'body';
            this.#raw = RAW_TEXT_ELEMENTS.has(this.#name) ? this.#name : '';
            this.#quote = 0;
            this.#state = ATTRS;
            i--; // ">" or "/" is the attributes' business
          } else if (this.#name.length < MAX_NAME) this.#name += String.fromCharCode(lower(c));
          else this.#name = '-'; // too long to be one we look for
          break;
        case ATTRS:
          if (this.#quote !== 0) {
            if (c === this.#quote) this.#quote = 0;
          } else if (c === 0x22 || c === 0x27) this.#quote = c;
          else if (c === 0x3e) {
            if (this.#isBody) return i + 1;
            this.#state = this.#raw ? RAWTEXT : TEXT;
            this.#rawMatched = 0;
          }
          break;
        case COMMENT:
          if (c === 0x2d) this.#dashes++;
          else if (c === 0x3e && this.#dashes >= 2) this.#state = TEXT;
          else this.#dashes = 0;
          break;
        case RAWTEXT: {
          // match "</" + name, case-insensitively, then let the end tag be read as a tag
          const m = this.#rawMatched;
          const want = m === 0 ? 0x3c : m === 1 ? 0x2f : this.#raw.charCodeAt(m - 2);
          if (lower(c) === want) {
            this.#rawMatched = m + 1;
            if (this.#rawMatched === this.#raw.length + 2) {
              this.#isBody = false;
              this.#raw = '';
              this.#quote = 0;
              this.#state = ATTRS;
            }
          } else this.#rawMatched = c === 0x3c ? 1 : 0;
          break;
        }
      }
    }
    return -1;
  }
}

/**
 * Accept-Encoding parsing and content-coding negotiation (RFC 9110 §12.4.2, §12.5.3).
 *
 * httpd's DEFLATE/BROTLI only look for a literal `gzip`/`br` token and take its first occurrence
 * (no `*`, no `x-gzip`); PR 58158 shows how easy it is to get `q=0` wrong that way. Envoy and
 * nginx-style peers weigh every configured coding against the client's q-values and `*`. Sluice's
 * compressors share this one negotiator so that chained compressors agree on a single choice and
 * no compressor ever has to re-parse the header itself.
 */

/** One parsed Accept-Encoding element. */
export interface AcceptEntry {
  /** Content-coding name, lower-cased, with RFC 9110 aliases folded (`x-gzip` → `gzip`). `*` and `identity` are kept as-is. */
  coding: string;
  /** Weight in [0, 1]; 1 when the element carried no `q` parameter. */
  q: number;
}

/** RFC 9110 §8.4.1: recipients SHOULD treat these as equivalent to the registered names. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['x-gzip', 'gzip'],
  ['x-compress', 'compress'],
]);

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** RFC 9110 §12.4.2 qvalue: `0[.ddd]` or `1[.000]` — at most three decimals, never above 1. */
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** Optional whitespace per RFC 9110 §5.6.3 (SP / HTAB only). */
const OWS = /^[ \t]+|[ \t]+$/g;

function trimOws(s: string): string {
  return s.replace(OWS, '');
}

function canonical(coding: string): string {
  const lower = coding.toLowerCase();
  return ALIASES.get(lower) ?? lower;
}

/**
 * Splits on `sep` except inside quoted-strings (with backslash escapes), so that an ignored
 * extension parameter such as `foo="a,b"` cannot cut an element in two.
 */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === sep) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** Parses one list element; `undefined` means "malformed, ignore the whole element". */
function parseElement(element: string): AcceptEntry | undefined {
  const [rawCoding = '', ...params] = splitOutsideQuotes(element, ';');
  const coding = trimOws(rawCoding);
  if (!TOKEN.test(coding)) return undefined;
  let q: number | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue; // a bare extension token: not a weight, ignored
    const name = trimOws(param.slice(0, eq));
    if (name.toLowerCase() !== 'q') continue; // other parameters carry no meaning for us
    // A second weight is ambiguous (which one did the client mean?), so treat it like any other
    // malformed weight rather than guessing.
    if (q !== undefined) return undefined;
    const value = trimOws(param.slice(eq + 1));
    if (!QVALUE.test(value)) return undefined;
    q = Number(value);
  }
  return { coding: canonical(coding), q: q ?? 1 };
}

/**
 * Parses an Accept-Encoding field value into its elements, in the order the client sent them.
 *
 * Order is kept (and duplicates are not merged) because precedence between repeated codings is a
 * negotiation policy, not a parsing fact — {@link negotiateEncoding} decides it. An element whose
 * weight is not a valid RFC 9110 qvalue (`q=abc`, `q=1.5`, `q=0.0000`, two `q`s) is dropped
 * entirely instead of being coerced to 0 or 1: coercing would invent a preference the client never
 * expressed, while dropping leaves that coding to `*` or to "not acceptable", which is the
 * conservative outcome for a compressor. Empty list elements (`gzip,,br`) are legal #rule syntax
 * and are skipped. Whitespace around `;` and `=` is tolerated because real clients emit it.
 */
export function parseAcceptEncoding(header: string | undefined): AcceptEntry[] {
  if (header === undefined) return [];
  const entries: AcceptEntry[] = [];
  for (const element of splitOutsideQuotes(header, ',')) {
    if (trimOws(element) === '') continue;
    const entry = parseElement(element);
    if (entry) entries.push(entry);
  }
  return entries;
}

/**
 * Weight given to `identity` when the client neither lists it nor sends `*`: RFC 9110 says it is
 * still acceptable, but a client that bothered to list codings prefers them, so identity must never
 * beat a listed coding. 0.001 is the smallest positive qvalue, and ties go to compression.
 */
const IMPLICIT_IDENTITY_Q = 0.001;

/**
 * Chooses the content coding for a response, or decides not to compress.
 *
 * @param supported codings this server can produce, most preferred first (e.g. `['br', 'gzip',
 *   'deflate']`); matched case-insensitively and through aliases. `identity` and `*` in this list
 *   are ignored — identity is always weighed separately.
 * @returns the canonical lower-case name of a `supported` coding, `'identity'` to send the body
 *   unencoded, or `null` when the client has ruled out every supported coding *and* identity.
 *   Sluice never answers 406 for a compressor (it would turn a cosmetic optimisation into a hard
 *   failure, as httpd and Envoy also avoid), so callers treat `null` exactly like `'identity'`;
 *   the distinction exists only so that it can be logged or counted.
 *
 * Policy where RFC 9110 leaves room:
 * - No header → `'identity'`. The RFC allows any coding, but old clients and intermediaries that
 *   omit the header are the ones that cannot decode; httpd and nginx compress only when the client
 *   asked, and Envoy skips too. An empty (or wholly malformed) value likewise means identity.
 * - A supported coding's weight is its own q if listed, else `*`'s q, else 0 (not acceptable).
 *   If a coding is listed more than once, the first occurrence wins (httpd does the same), so the
 *   result never depends on a later contradictory duplicate.
 * - `identity`'s weight is its own q if listed, else `*`'s q if `*` is listed (so `*;q=0` rules it
 *   out, as RFC 9110 §12.5.3 requires), else {@link IMPLICIT_IDENTITY_Q}.
 * - The highest weight wins; ties go to the earlier `supported` coding, and a compression coding
 *   beats identity on a tie because the client took the trouble to name it. The client's listing
 *   order is deliberately not a tie-breaker: RFC 9110 gives it no meaning.
 */
export function negotiateEncoding(header: string | undefined, supported: readonly string[]): string | null {
  if (header === undefined) return 'identity';
  const entries = parseAcceptEncoding(header);
  if (entries.length === 0) return 'identity';

  const weights = new Map<string, number>();
  for (const { coding, q } of entries) {
    if (!weights.has(coding)) weights.set(coding, q);
  }
  const star = weights.get('*');

  let best: string | null = null;
  let bestQ = 0;
  for (const name of supported) {
    const coding = canonical(name);
    if (coding === 'identity' || coding === '*') continue;
    const q = weights.get(coding) ?? star ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }

  const identityQ = weights.get('identity') ?? star ?? IMPLICIT_IDENTITY_Q;
  if (identityQ > bestQ) return 'identity';
  return best; // null only when bestQ and identityQ are both 0
}

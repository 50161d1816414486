/**
 * JSON field redaction, streaming: the value of every member whose name is listed (at any
 * depth, case-sensitive, escapes decoded: "pass\u0077ord" is "password") is replaced by a
 * fixed JSON value, whatever it was (string, number, object, array). Loaded from a config:
 *   modules: [../filters/redact-json.ts]   (examples/configs/redact-json.yaml)
 *
 * Nothing is buffered: a small tokenizer follows the document byte by byte and copies it
 * through, so memory is bounded by the nesting limit and the longest field name, whatever the
 * size of the body, and a flush mark has nothing to wait for. A sequence of documents
 * (NDJSON) works the same way.
 *
 * It fails closed: a body that is not well-formed JSON (structure, not the spelling of numbers
 * and literals), nested deeper than maxDepth, or compressed (put `decompress` before it), fails
 * the response rather than letting a secret through: a 502 before the head is sent, a cut
 * connection after.
 * In your own project, import from 'sluice' instead of '../../src/index.js'.
 */
import { defineFilter, SluiceError, Type, type Emitter } from '../../src/index.js';

/** The body cannot be redacted with certainty. */
export class JsonRedactError extends SluiceError {
  constructor(message: string) {
    super('ERR_EXAMPLE_REDACT_JSON', message, { status: 502 });
  }
}

const JSON_TYPE = /^\s*application\/(?:[\w.+-]+\+)?(?:json|x-ndjson)\s*(?:;|$)/i;

const Options = Type.Object(
  {
    fields: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Member names whose values are replaced, at any depth.' }),
    replacement: Type.Unknown({ default: '[redacted]', description: 'The JSON value written instead.' }),
    maxDepth: Type.Integer({ minimum: 1, maximum: 65536, default: 512, description: 'Deeper nesting fails the response.' }),
  },
  { additionalProperties: false },
);

export const redactJson = defineFilter({
  name: 'redact-json',
  description: 'Replaces the values of named JSON members, streaming.',
  options: Options,
  validate: (o) => {
    if (JSON.stringify(o.replacement) === undefined) throw new Error('replacement must be a JSON value');
  },
  create: ({ options }) => {
    const tokenizer = new RedactingTokenizer(prepare(options), options.maxDepth);
    return {
      onHead(head) {
        const status = head.status;
        if (!JSON_TYPE.test(head.headers.get('content-type') ?? '') || head.request.method === 'HEAD' || status === 204 || status === 304) {
          head.passOn();
          return;
        }
        const coding = (head.headers.get('content-encoding') ?? 'identity').toLowerCase();
        if (coding !== 'identity') throw new JsonRedactError(`cannot redact a ${coding}-encoded body: put decompress (or inflate) before redact-json`);
      },
      onData: (chunk, out) => tokenizer.scan(chunk, out),
      onEnd: () => tokenizer.end(),
    };
  },
});

export default redactJson;

/** What every message of a chain entry shares, made once per (frozen, shared) options object. */
interface Prepared {
  readonly replacement: Uint8Array;
  readonly fields: ReadonlySet<string>;
  /** The fields as UTF-8 bytes, by length, for comparing names that have no escapes. */
  readonly fieldBytes: ReadonlyMap<number, readonly Uint8Array[]>;
  /** Longest name worth keeping: "\u0061" is 6 bytes for 1. */
  readonly keyCap: number;
}

const prepared = new WeakMap<object, Prepared>();

function prepare(options: { fields: string[]; replacement: unknown }): Prepared {
  let p = prepared.get(options);
  if (!p) {
    const fieldBytes = new Map<number, Uint8Array[]>();
    for (const f of new Set(options.fields)) {
      const bytes = Buffer.from(f, 'utf8');
      fieldBytes.set(bytes.length, [...(fieldBytes.get(bytes.length) ?? []), bytes]);
    }
    p = {
      replacement: Buffer.from(JSON.stringify(options.replacement)),
      fields: new Set(options.fields),
      fieldBytes,
      keyCap: Math.max(...fieldBytes.keys()) * 6,
    };
    prepared.set(options, p);
  }
  return p;
}

// Tokenizer modes: what the next significant byte may be.
const VALUE = 0; // a value (document start, after ":" or "," in an array)
const ARRAY_START = 1; // a value or "]"
const OBJECT_START = 2; // a member name or "}"
const KEY = 3; // a member name (after "," in an object)
const COLON = 4;
const AFTER = 5; // "," or a closing bracket; at depth 0, the next document
const STRING = 6;
const LITERAL = 7; // number, true, false, null

const OBJECT = 1;
const ARRAY = 2;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isLiteral = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x2b || c === 0x2e;

/**
 * Follows JSON structure across chunks and emits, per input chunk, the chunk minus redacted
 * values with the replacement in their place: the chunk itself when nothing in it was cut.
 */
class RedactingTokenizer {
  #mode = VALUE;
  #depth = 0;
  readonly #stack: Uint8Array;
  #inKey = false;
  #escaped = false;
  readonly #key: Uint8Array;
  /** Bytes of the member name so far; -1 once it is longer than any field can be. */
  #keyLen = 0;
  #keyEscaped = false;
  /** The member name just read is a field: its value is the next one to redact. */
  #redactNext = false;
  #skipping = false;
  #skipDepth = 0;
  /** Bytes before the current chunk, for messages. */
  #offset = 0;
  readonly #p: Prepared;

  constructor(p: Prepared, maxDepth: number) {
    this.#p = p;
    this.#stack = new Uint8Array(maxDepth);
    this.#key = new Uint8Array(p.keyCap);
  }

  scan(chunk: Uint8Array, out: Emitter): void {
    // The hot state lives in locals for the loop (written back at the end): a private field
    // read per byte costs several times the work itself.
    const n = chunk.length;
    const stack = this.#stack;
    let mode = this.#mode;
    let depth = this.#depth;
    let escaped = this.#escaped;
    let inKey = this.#inKey;
    let skipping = this.#skipping;
    let skipDepth = this.#skipDepth;
    let redactNext = this.#redactNext;
    let emitFrom = skipping ? -1 : 0;
    // What goes on from this chunk: one push per chunk (many small pushes cost more than
    // copying the kept bytes into one buffer once), the chunk itself when nothing was cut.
    const pieces: Uint8Array[] = [];

    let i = 0;
    while (i < n) {
      if (mode === STRING && !inKey) {
        // a value string: run to the next quote or backslash
        if (escaped) {
          escaped = false;
          i++;
          continue;
        }
        let j = i;
        while (j < n) {
          const d = chunk[j]!;
          if (d === 0x22 || d === 0x5c) break;
          j++;
        }
        if (j === n) break;
        i = j + 1;
        if (chunk[j] === 0x5c) escaped = true;
        else {
          mode = AFTER;
          if (skipping && depth === skipDepth) {
            skipping = false;
            emitFrom = i;
          }
        }
        continue;
      }
      if (mode === LITERAL) {
        let j = i;
        while (j < n && isLiteral(chunk[j]!)) j++;
        if (j === n) break;
        i = j; // this byte belongs to what follows the literal
        mode = AFTER;
        if (skipping && depth === skipDepth) {
          skipping = false;
          emitFrom = i;
        }
        continue;
      }
      if (mode === STRING) {
        // a member name: kept (up to keyCap bytes) to compare with the fields when it closes
        if (escaped) {
          escaped = false;
          this.#keep(chunk, i, i + 1);
          i++;
          continue;
        }
        let j = i;
        while (j < n) {
          const d = chunk[j]!;
          if (d === 0x22 || d === 0x5c) break;
          j++;
        }
        this.#keep(chunk, i, j);
        if (j === n) break;
        i = j + 1;
        if (chunk[j] === 0x5c) {
          escaped = true;
          this.#keyEscaped = true;
          this.#keep(chunk, j, j + 1);
        } else {
          mode = COLON;
          if (this.#isField(j) && !skipping) redactNext = true;
        }
        continue;
      }
      const c = chunk[i]!;
      if (isSpace(c)) {
        i++;
        continue;
      }
      let opens = false; // c starts a value here
      switch (mode) {
        case AFTER:
          if (c === 0x2c && depth > 0) mode = stack[depth - 1] === OBJECT ? KEY : VALUE;
          else if (c === 0x7d || c === 0x5d) {
            if (depth === 0 || stack[depth - 1] !== (c === 0x7d ? OBJECT : ARRAY)) this.#unexpected(i, c, 'a value or a matching bracket');
            depth--;
            if (skipping && depth === skipDepth) {
              skipping = false;
              emitFrom = i + 1;
            }
          } else if (depth === 0) opens = true; // the next document of a sequence
          else this.#unexpected(i, c, '"," or a closing bracket');
          break;
        case ARRAY_START:
          if (c === 0x5d) {
            depth--;
            mode = AFTER;
            if (skipping && depth === skipDepth) {
              skipping = false;
              emitFrom = i + 1;
            }
          } else opens = true;
          break;
        case VALUE:
          opens = true;
          break;
        case OBJECT_START:
        case KEY:
          if (c === 0x22) {
            mode = STRING;
            inKey = true;
            this.#keyLen = 0;
            this.#keyEscaped = false;
          } else if (c === 0x7d && mode === OBJECT_START) {
            depth--;
            mode = AFTER;
            if (skipping && depth === skipDepth) {
              skipping = false;
              emitFrom = i + 1;
            }
          } else this.#unexpected(i, c, 'a member name');
          break;
        case COLON:
          if (c === 0x3a) mode = VALUE;
          else this.#unexpected(i, c, '":"');
          break;
      }
      if (opens) {
        if (redactNext) {
          redactNext = false;
          if (emitFrom >= 0 && i > emitFrom) pieces.push(chunk.subarray(emitFrom, i));
          pieces.push(this.#p.replacement);
          skipping = true;
          skipDepth = depth;
          emitFrom = -1;
        }
        if (c === 0x7b || c === 0x5b) {
          if (depth === stack.length) this.#fail(i, `nested deeper than maxDepth (${stack.length})`);
          stack[depth++] = c === 0x7b ? OBJECT : ARRAY;
          mode = c === 0x7b ? OBJECT_START : ARRAY_START;
        } else if (c === 0x22) {
          mode = STRING;
          inKey = false;
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) mode = LITERAL;
        else this.#unexpected(i, c, 'a value');
      }
      i++;
    }

    if (emitFrom >= 0 && emitFrom < n) pieces.push(emitFrom === 0 ? chunk : chunk.subarray(emitFrom));
    // concat copies, so the shared replacement bytes never leave this filter as they are
    if (pieces.length === 1 && pieces[0] === chunk) out.push(chunk);
    else if (pieces.length > 0) out.push(Buffer.concat(pieces));
    this.#mode = mode;
    this.#depth = depth;
    this.#escaped = escaped;
    this.#inKey = inKey;
    this.#skipping = skipping;
    this.#skipDepth = skipDepth;
    this.#redactNext = redactNext;
    this.#offset += n;
  }

  end(): void {
    if (this.#mode === LITERAL) this.#mode = AFTER;
    if (this.#depth > 0 || (this.#mode !== AFTER && this.#mode !== VALUE)) {
      throw new JsonRedactError(`the JSON body ends inside a ${this.#mode === STRING ? 'string' : 'value'} (after ${this.#offset} bytes)`);
    }
  }

  /** Keep bytes [from, to) of a member name, or note that it is too long to be a field. */
  #keep(chunk: Uint8Array, from: number, to: number): void {
    const len = this.#keyLen;
    if (len < 0 || to === from) return;
    if (len + to - from > this.#key.length) this.#keyLen = -1;
    else {
      this.#key.set(chunk.subarray(from, to), len);
      this.#keyLen = len + to - from;
    }
  }

  /** Is the member name just closed one of the fields? Bytes compared; escapes decoded first. */
  #isField(i: number): boolean {
    const len = this.#keyLen;
    if (len < 0) return false;
    const key = this.#key.subarray(0, len);
    if (!this.#keyEscaped) {
      const candidates = this.#p.fieldBytes.get(len);
      return candidates !== undefined && candidates.some((f) => f.every((b, k) => b === key[k]));
    }
    let name: string;
    try {
      name = JSON.parse(`"${new TextDecoder('utf-8', { fatal: true }).decode(key)}"`) as string;
    } catch {
      this.#fail(i, 'a member name is not valid UTF-8 or has a bad escape');
    }
    return this.#p.fields.has(name);
  }

  #unexpected(i: number, c: number, expected: string): never {
    const shown = c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
    this.#fail(i, `expected ${expected}, found ${shown}`);
  }

  #fail(i: number, message: string): never {
    throw new JsonRedactError(`not redactable JSON at byte ${this.#offset + i}: ${message}`);
  }
}

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
    const replacement = new TextEncoder().encode(JSON.stringify(options.replacement));
    const fields = new Set(options.fields);
    const keyCap = Math.max(...options.fields.map((f) => Buffer.byteLength(f))) * 6; // "\u0061" is 6 bytes for 1
    const tokenizer = new RedactingTokenizer(fields, keyCap, options.maxDepth, replacement);
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
 * Follows JSON structure across chunks and emits the input minus redacted values (plus the
 * replacement in their place), as subarrays of the input: no copy of what passes through.
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
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    readonly fields: ReadonlySet<string>,
    keyCap: number,
    maxDepth: number,
    readonly replacement: Uint8Array,
  ) {
    this.#stack = new Uint8Array(maxDepth);
    this.#key = new Uint8Array(keyCap);
  }

  scan(chunk: Uint8Array, out: Emitter): void {
    const n = chunk.length;
    let emitFrom = this.#skipping ? -1 : 0;
    const startSkip = (at: number): void => {
      if (emitFrom >= 0 && at > emitFrom) out.push(chunk.subarray(emitFrom, at));
      out.push(this.replacement.slice()); // a copy per use: whoever gets it next may own it
      this.#skipping = true;
      this.#skipDepth = this.#depth;
      emitFrom = -1;
    };
    const valueEnd = (at: number): void => {
      this.#mode = AFTER;
      if (this.#skipping && this.#depth === this.#skipDepth) {
        this.#skipping = false;
        emitFrom = at;
      }
    };
    const valueStart = (i: number, c: number): void => {
      if (this.#redactNext) {
        this.#redactNext = false;
        startSkip(i);
      }
      if (c === 0x7b || c === 0x5b) {
        if (this.#depth === this.#stack.length) this.#fail(i, `nested deeper than maxDepth (${this.#stack.length})`);
        this.#stack[this.#depth++] = c === 0x7b ? OBJECT : ARRAY;
        this.#mode = c === 0x7b ? OBJECT_START : ARRAY_START;
      } else if (c === 0x22) {
        this.#mode = STRING;
        this.#inKey = false;
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) this.#mode = LITERAL;
      else this.#unexpected(i, c, 'a value');
    };
    const close = (i: number, c: number): void => {
      const want = c === 0x7d ? OBJECT : ARRAY;
      if (this.#depth === 0 || this.#stack[this.#depth - 1] !== want) this.#unexpected(i, c, 'a value or a matching bracket');
      this.#depth--;
      valueEnd(i + 1);
    };

    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      switch (this.#mode) {
        case STRING:
          if (this.#escaped) this.#escaped = false;
          else if (c === 0x5c) {
            this.#escaped = true;
            this.#keyEscaped = true;
          } else if (c === 0x22) {
            if (this.#inKey) {
              this.#mode = COLON;
              if (this.#isField(i) && !this.#skipping) this.#redactNext = true;
            } else valueEnd(i + 1);
            break;
          }
          if (this.#inKey && this.#keyLen >= 0) {
            if (this.#keyLen < this.#key.length) this.#key[this.#keyLen++] = c;
            else this.#keyLen = -1;
          }
          break;
        case LITERAL:
          if (isLiteral(c)) break;
          valueEnd(i);
          i--; // this byte belongs to what follows the literal
          break;
        case AFTER:
          if (isSpace(c)) break;
          if (c === 0x2c && this.#depth > 0) this.#mode = this.#stack[this.#depth - 1] === OBJECT ? KEY : VALUE;
          else if (c === 0x7d || c === 0x5d) close(i, c);
          else if (this.#depth === 0) valueStart(i, c); // the next document of a sequence
          else this.#unexpected(i, c, '"," or a closing bracket');
          break;
        case VALUE:
          if (!isSpace(c)) valueStart(i, c);
          break;
        case ARRAY_START:
          if (isSpace(c)) break;
          if (c === 0x5d) close(i, c);
          else valueStart(i, c);
          break;
        case OBJECT_START:
        case KEY:
          if (isSpace(c)) break;
          if (c === 0x22) {
            this.#mode = STRING;
            this.#inKey = true;
            this.#keyLen = 0;
            this.#keyEscaped = false;
          } else if (c === 0x7d && this.#mode === OBJECT_START) close(i, c);
          else this.#unexpected(i, c, 'a member name');
          break;
        case COLON:
          if (isSpace(c)) break;
          if (c === 0x3a) this.#mode = VALUE;
          else this.#unexpected(i, c, '":"');
          break;
      }
    }
    if (emitFrom >= 0 && emitFrom < n) out.push(emitFrom === 0 ? chunk : chunk.subarray(emitFrom));
    this.#offset += n;
  }

  end(): void {
    if (this.#mode === LITERAL) this.#mode = AFTER;
    if (this.#depth > 0 || (this.#mode !== AFTER && this.#mode !== VALUE)) {
      throw new JsonRedactError(`the JSON body ends inside a ${this.#mode === STRING ? 'string' : 'value'} (after ${this.#offset} bytes)`);
    }
  }

  /** Is the member name just closed one of the fields? */
  #isField(i: number): boolean {
    if (this.#keyLen < 0) return false;
    let name: string;
    try {
      name = this.#decoder.decode(this.#key.subarray(0, this.#keyLen));
      if (this.#keyEscaped) name = JSON.parse(`"${name}"`) as string;
    } catch {
      this.#fail(i, 'a member name is not valid UTF-8 or has a bad escape');
    }
    return this.fields.has(name);
  }

  #unexpected(i: number, c: number, expected: string): never {
    const shown = c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
    this.#fail(i, `expected ${expected}, found ${shown}`);
  }

  #fail(i: number, message: string): never {
    throw new JsonRedactError(`not redactable JSON at byte ${this.#offset + i}: ${message}`);
  }
}

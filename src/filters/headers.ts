import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { HeadersCommittedError } from '../errors.js';

export type HeaderInput =
  | HeaderMap
  | Iterable<readonly [string, string]>
  | Record<string, string | number | readonly string[] | undefined>;

/**
 * Case-insensitive, multi-valued header map. Names are stored lower-cased (as Node does).
 * Once the message head is committed the map is locked and every edit throws
 * HeadersCommittedError: Apache lets late edits vanish silently, we do not.
 */
export class HeaderMap implements Iterable<[string, string]> {
  readonly #map = new Map<string, string[]>();
  #locked = false;

  constructor(init?: HeaderInput) {
    if (init) this.#fill(init);
  }

  /** Lower-cased names, in insertion order. */
  names(): IterableIterator<string> {
    return this.#map.keys();
  }

  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }

  /** All values joined with ", " (RFC 9110 list form); Set-Cookie joined is meaningless, use getAll. */
  get(name: string): string | undefined {
    const v = this.#map.get(name.toLowerCase());
    if (v === undefined) return undefined;
    return v.length === 1 ? v[0] : v.join(', ');
  }

  getAll(name: string): readonly string[] {
    return this.#map.get(name.toLowerCase()) ?? [];
  }

  set(name: string, value: string | number | readonly string[]): this {
    this.#check(`set("${name}")`);
    this.#map.set(name.toLowerCase(), toValues(value));
    return this;
  }

  append(name: string, value: string | number | readonly string[]): this {
    this.#check(`append("${name}")`);
    const key = name.toLowerCase();
    const prev = this.#map.get(key);
    if (prev) prev.push(...toValues(value));
    else this.#map.set(key, toValues(value));
    return this;
  }

  delete(name: string): boolean {
    this.#check(`delete("${name}")`);
    return this.#map.delete(name.toLowerCase());
  }

  /**
   * Comma-separated tokens of a list header, trimmed, across all its lines (for Vary,
   * Content-Encoding, Cache-Control ...).
   */
  tokens(name: string): string[] {
    const out: string[] = [];
    for (const line of this.getAll(name)) {
      for (const part of line.split(',')) {
        const t = part.trim();
        if (t) out.push(t);
      }
    }
    return out;
  }

  /** Add a token to a list header unless present (case-insensitive); `*` in Vary covers all. */
  mergeToken(name: string, token: string): this {
    const have = this.tokens(name);
    const lower = token.toLowerCase();
    if (have.some((t) => t === '*' || t.toLowerCase() === lower)) return this;
    return this.set(name, have.length ? `${have.join(', ')}, ${token}` : token);
  }

  get locked(): boolean {
    return this.#locked;
  }

  /** Freeze the map; called by the runtime when the head is committed. */
  lock(): void {
    this.#locked = true;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  *entries(): IterableIterator<[string, string]> {
    for (const [k, vs] of this.#map) for (const v of vs) yield [k, v];
  }

  /** Node's OutgoingHttpHeaders shape (arrays for repeated headers). */
  toNode(): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    for (const [k, vs] of this.#map) out[k] = vs.length === 1 ? vs[0] : [...vs];
    return out;
  }

  /** A fetch Headers object (repeated Set-Cookie kept as separate lines). */
  toWeb(): Headers {
    const h = new Headers();
    for (const [k, v] of this.entries()) h.append(k, v);
    return h;
  }

  clone(): HeaderMap {
    const c = new HeaderMap();
    for (const [k, vs] of this.#map) c.#map.set(k, [...vs]);
    return c;
  }

  static fromNode(headers: IncomingHttpHeaders | OutgoingHttpHeaders): HeaderMap {
    return new HeaderMap(headers as Record<string, string | number | readonly string[] | undefined>);
  }

  #fill(init: HeaderInput): void {
    if (init instanceof HeaderMap) {
      for (const [k, vs] of init.#map) this.#map.set(k, [...vs]);
      return;
    }
    if (isIterable(init)) {
      for (const [k, v] of init) this.append(k, v);
      return;
    }
    for (const k of Object.keys(init)) {
      const v = init[k];
      if (v !== undefined) this.append(k, v);
    }
  }

  #check(what: string): void {
    if (this.#locked) throw new HeadersCommittedError(`header ${what}`);
  }
}

function toValues(value: string | number | readonly string[]): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number') return [String(value)];
  return [...value];
}

function isIterable(x: unknown): x is Iterable<readonly [string, string]> {
  return typeof x === 'object' && x !== null && Symbol.iterator in x;
}

import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FilterOptionsError } from '../errors.js';
import type { FilterDefinition } from './types.js';

/**
 * Validate raw options against a filter's schema once, at config load: defaults applied,
 * unknown keys and bad values rejected with the filter and option named.
 */
export function validateOptions<O>(def: FilterDefinition<O>, raw: unknown): O {
  const schema: TSchema | undefined = def.options;
  let value: unknown = raw;
  if (schema === undefined) {
    if (raw !== undefined && !(isPlainObject(raw) && Object.keys(raw).length === 0)) {
      const key = isPlainObject(raw) ? Object.keys(raw)[0] ?? '' : '';
      throw new FilterOptionsError(def.name, key, 'this filter takes no options');
    }
    value = {};
  } else {
    value = Value.Default(schema, structuredClone(raw === undefined ? {} : raw));
    const first = Value.Errors(schema, value).First();
    if (first) {
      const option = first.path.replace(/^\//, '');
      const message = first.message === 'Unexpected property' ? 'unknown option' : first.message;
      throw new FilterOptionsError(def.name, option, message);
    }
  }
  if (def.validate) {
    try {
      def.validate(value as O);
    } catch (err) {
      if (err instanceof FilterOptionsError) throw err;
      throw new FilterOptionsError(def.name, '', err instanceof Error ? err.message : String(err));
    }
  }
  return deepFreeze(value) as O;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Options are shared by every instance of a compiled chain: freeze them so none can leak state. */
function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}

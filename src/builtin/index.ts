import { FilterRegistry } from '../filters/registry.js';
import { identity } from './identity.js';

/** The shipped filters, one file each. */
export const builtinFilters = [identity] as const;

/**
 * The registry of built-in filters. Add your own with `builtins.extend().register(def)` (a
 * child registry) or `builtins.register(def)` (process-wide).
 */
export const builtins: FilterRegistry = new FilterRegistry();
for (const def of builtinFilters) builtins.register(def);

import { FilterRegistry } from '../filters/registry.js';
import type { FilterDefinition } from '../filters/types.js';
import { br } from './br.js';
import { charset } from './charset.js';
import { compress } from './compress.js';
import { decompress } from './decompress.js';
import { deflate } from './deflate.js';
import { gzip } from './gzip.js';
import { identity } from './identity.js';
import { inflate } from './inflate.js';
import { htmlUrlmap } from './html-urlmap.js';
import { substitute } from './substitute.js';
import { sed } from './sed.js';
import { limit } from './limit.js';
import { headers } from './headers.js';
import { proxyReverse } from './proxy-reverse.js';
import { buffer } from './buffer.js';
import { ratelimit } from './ratelimit.js';
import { trace } from './trace.js';

/** The shipped filters, one file each. */
export const builtinFilters: readonly FilterDefinition<never>[] = [identity, gzip, deflate, br, compress, decompress, inflate, charset, limit, headers, proxyReverse, buffer, ratelimit, substitute, sed, htmlUrlmap, trace];

/**
 * The registry of built-in filters. Add your own with `builtins.extend().register(def)` (a
 * child registry) or `builtins.register(def)` (process-wide).
 */
export const builtins: FilterRegistry = new FilterRegistry();
for (const def of builtinFilters) builtins.register(def);

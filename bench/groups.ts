import { chainGroup } from './chain.bench.js';
import { codecGroup } from './codec.bench.js';
import { htmlurlmapGroup } from './htmlurlmap.bench.js';
import { memGroup } from './mem.bench.js';
import { peersGroup } from './peers.bench.js';
import type { BenchGroup } from './lib/group.js';
import { proxyGroup } from './proxy.bench.js';
import { rewriteGroup } from './rewrite.bench.js';
import { soakGroup } from './soak.bench.js';

/** Every group of figures, in run order. A new group: add its module here. */
export const groups: readonly BenchGroup[] = [chainGroup, codecGroup, htmlurlmapGroup, rewriteGroup, proxyGroup, peersGroup, memGroup, soakGroup];

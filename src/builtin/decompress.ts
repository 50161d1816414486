import { Stage } from '../filters/stage.js';
import { decoderFilter } from './support/decoder-filter.js';

/**
 * Decodes an upstream's gzip/deflate/br response (stacked codings too) so rewriting filters see
 * text. It sits before every rewriter (Apache's INFLATE is RESOURCE-1), and `compress` after
 * them, so a client that accepts compression still gets a compressed body. Over a limit or on
 * corrupt data the response fails: 502 before the head is sent, an abort after.
 */
export const decompress = decoderFilter({
  name: 'decompress',
  description: "Decodes the upstream's gzip/deflate/br response body so rewriting filters can work on it.",
  direction: 'output',
  stage: Stage.resource - 1,
  defaultMaxSize: 0,
});

import { decoderFilter } from './support/decoder-filter.js';

/**
 * Decodes a compressed request body (Content-Encoding on the request), as mod_deflate's input
 * filter does, with DeflateInflateLimitRequestBody/RatioLimit/RatioBurst-style limits: over a
 * limit the request fails with 413, corrupt data with 400. It is an `encoding`-stage input
 * filter, so it runs before any rewriting of the request body.
 */
export const inflate = decoderFilter({
  name: 'inflate',
  description: 'Decodes a gzip/deflate/br request body before it goes upstream (413 past the limits).',
  direction: 'input',
  stage: 'encoding',
  defaultMaxSize: 16 * 1024 * 1024,
});

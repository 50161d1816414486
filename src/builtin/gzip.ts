import { Type, type Static } from '@sinclair/typebox';
import { checkBackend, CommonCompressionOptions, ZlibParams } from './support/compression.js';
import { compressorFilter } from './support/compressor.js';

const options = Type.Object({ ...ZlibParams, ...CommonCompressionOptions }, { additionalProperties: false });

/** gzip output compression with mod_deflate's rules, when the client accepts gzip. */
export const gzip = compressorFilter<Static<typeof options>>({
  name: 'gzip',
  description: 'Compresses responses with gzip when the client accepts it (mod_deflate rules; flush-safe).',
  options,
  validate: (o) => checkBackend(o.backend, ['gzip']),
  codings: () => ['gzip'],
  params: (o) => ({ level: o.level, window: o.windowBits }),
});

import { Type, type Static } from '@sinclair/typebox';
import { BrotliParams, checkBackend, CommonCompressionOptions } from './support/compression.js';
import { compressorFilter } from './support/compressor.js';

const options = Type.Object({ ...BrotliParams, ...CommonCompressionOptions }, { additionalProperties: false });

/** Brotli output compression (node:zlib; fflate has none), when the client accepts br. */
export const br = compressorFilter<Static<typeof options>>({
  name: 'br',
  description: 'Compresses responses with brotli when the client accepts it (mod_brotli rules; flush-safe).',
  options,
  validate: (o) => checkBackend(o.backend, ['br']),
  codings: () => ['br'],
  params: (o) => ({ level: o.quality, window: o.window }),
});

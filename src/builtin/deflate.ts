import { Type, type Static } from '@sinclair/typebox';
import { checkBackend, CommonCompressionOptions, ZlibParams } from './support/compression.js';
import { compressorFilter } from './support/compressor.js';

const options = Type.Object({ ...ZlibParams, ...CommonCompressionOptions }, { additionalProperties: false });

/** "deflate" coding: zlib-wrapped (RFC 1950), as browsers expect, not raw deflate. */
export const deflate = compressorFilter<Static<typeof options>>({
  name: 'deflate',
  description: 'Compresses responses with the deflate coding (zlib-wrapped) when the client accepts it.',
  options,
  validate: (o) => checkBackend(o.backend, ['deflate']),
  codings: () => ['deflate'],
  params: (o) => ({ level: o.level, window: o.windowBits }),
});

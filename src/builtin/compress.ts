import { Type, type Static } from '@sinclair/typebox';
import { BrotliParamsSchema, checkBackend, CommonCompressionOptions, ZlibParamsSchema } from './support/compression.js';
import { compressorFilter } from './support/compressor.js';

const Coding = Type.Union([Type.Literal('br'), Type.Literal('gzip'), Type.Literal('deflate')]);

const options = Type.Object(
  {
    encodings: Type.Array(Coding, {
      minItems: 1,
      uniqueItems: true,
      default: ['br', 'gzip'],
      description: 'Codings offered, in the server preference order that breaks q-value ties.',
    }),
    gzip: ZlibParamsSchema,
    deflate: ZlibParamsSchema,
    br: BrotliParamsSchema,
    ...CommonCompressionOptions,
  },
  { additionalProperties: false },
);

/**
 * One filter that negotiates among br, gzip and deflate from Accept-Encoding (q-values, `*`,
 * identity;q=0; server order on ties) and never answers 406: with nothing acceptable it sends
 * identity.
 */
export const compress = compressorFilter<Static<typeof options>>({
  name: 'compress',
  description: 'Negotiates br/gzip/deflate from Accept-Encoding and compresses (flush-safe; mod_deflate rules).',
  options,
  validate: (o) => checkBackend(o.backend, o.encodings),
  codings: (o) => o.encodings,
  params: (o, coding) => (coding === 'br' ? { level: o.br.quality, window: o.br.window } : { level: o[coding].level, window: o[coding].windowBits }),
});

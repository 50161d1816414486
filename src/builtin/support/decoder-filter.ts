import { Type, type Static } from '@sinclair/typebox';
import type { Direction, FilterDefinition, FilterInstance } from '../../filters/types.js';
import { resolveBackend } from './codecs.js';
import { decodableCoding, decoderInstance, type Decodable } from './decoders.js';

export function decoderOptions(defaultMaxSize: number) {
  return Type.Object(
    {
      maxSize: Type.Integer({ minimum: 0, default: defaultMaxSize, description: 'Maximum decoded bytes (0: no limit).' }),
      ratio: Type.Integer({ minimum: 0, default: 200, description: 'Maximum decoded:encoded ratio (0: no limit), as DeflateInflateRatioLimit.' }),
      burst: Type.Integer({ minimum: 0, default: 3, description: 'Chunks in a row allowed over the ratio, as DeflateInflateRatioBurst.' }),
      maxLayers: Type.Integer({ minimum: 1, maximum: 5, default: 2, description: 'Most stacked codings decoded (e.g. "gzip, br" is 2).' }),
      backend: Type.Union([Type.Literal('auto'), Type.Literal('node'), Type.Literal('fflate')], { default: 'auto' }),
    },
    { additionalProperties: false },
  );
}
type DecoderOptions = Static<ReturnType<typeof decoderOptions>>;

export interface DecoderFilterSpec {
  name: string;
  description: string;
  direction: Direction;
  stage: number | 'encoding';
  defaultMaxSize: number;
}

/**
 * Decode a body whose Content-Encoding we understand, so later filters see identity bytes.
 * Anything we cannot decode (an unknown coding, too many layers, a partial body) is left
 * as it is and the filter steps aside.
 */
export function decoderFilter(spec: DecoderFilterSpec): FilterDefinition<DecoderOptions> {
  return {
    name: spec.name,
    description: spec.description,
    directions: [spec.direction],
    stage: spec.stage,
    options: decoderOptions(spec.defaultMaxSize),
    create(ctx): FilterInstance {
      let dec: FilterInstance | undefined;
      let seen = false;
      return {
        onHead(head) {
          const h = head.headers;
          const o = ctx.options;
          const noBody =
            spec.direction === 'output' &&
            (head.request.method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200);
          const tokens = h.tokens('content-encoding').filter((t) => t.toLowerCase() !== 'identity');
          const codings = tokens.map(decodableCoding);
          const usable =
            !noBody &&
            tokens.length > 0 &&
            tokens.length <= o.maxLayers &&
            !h.has('content-range') &&
            codings.every((c): c is Decodable => c !== undefined) &&
            !(o.backend === 'fflate' && codings.includes('br'));
          if (!usable) {
            head.passOn();
            return;
          }
          h.delete('content-encoding');
          h.delete('content-length');
          h.delete('content-md5');
          head.changesLength(true);
          const backend = codings.includes('br') ? 'node' : resolveBackend(o.backend, 'gzip');
          dec = decoderInstance(codings as Decodable[], backend, o, spec.direction, ctx.out);
        },
        onData: (c, out) => {
          seen = true;
          return dec!.onData!(c, out);
        },
        onFlush: (out) => dec!.onFlush?.(out),
        // A request with no body at all (a GET with a stray Content-Encoding) has nothing to
        // decode: Apache never runs an input filter for it. An empty response body labelled
        // as compressed stays an error (a truncated upstream).
        onEnd: (out) => {
          if (seen || spec.direction === 'output') return dec!.onEnd?.(out);
          dec!.onAbort?.(new Error('no request body to decode')); // releases the codec
          return undefined;
        },
        onAbort: (r) => dec?.onAbort?.(r),
      };
    },
  };
}

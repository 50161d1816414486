import type { TSchema } from '@sinclair/typebox';
import type { FilterContext, FilterDefinition, FilterInstance, HeadPhase } from '../../filters/types.js';
import { negotiateEncoding } from './accept-encoding.js';
import { encoderInstance, resolveBackend, type Coding, type EncodeParams } from './codecs.js';
import { applyEncoding, sizeHint, skipReason, typeMatcher, type CommonCompression } from './compression.js';

export interface CompressorSpec<O extends CommonCompression> {
  name: string;
  description: string;
  options: TSchema;
  validate: (o: O) => void;
  /** Codings this filter may produce, in the server's order of preference. */
  codings: (o: O) => readonly Coding[];
  params: (o: O, coding: Coding) => EncodeParams;
}

/**
 * The shared shape of gzip, deflate, br and compress: decide in the header phase (Apache's
 * skip rules, then Accept-Encoding), set the headers, and only then make the encoder, so a
 * response that is not compressed costs no zlib stream.
 */
export function compressorFilter<O extends CommonCompression>(spec: CompressorSpec<O>): FilterDefinition<O> {
  return {
    name: spec.name,
    description: spec.description,
    directions: ['output'],
    stage: 'encoding',
    options: spec.options,
    validate: spec.validate,
    create(ctx: FilterContext<O>): FilterInstance {
      let enc: FilterInstance | undefined;
      return {
        onHead(head: HeadPhase) {
          const o = ctx.options;
          if (skipReason(head, o, typeMatcher(o.types)) !== undefined) {
            head.passOn();
            return;
          }
          // From here on the representation depends on Accept-Encoding, whatever we choose.
          head.headers.mergeToken('vary', 'Accept-Encoding');
          const codings = spec.codings(o);
          const chosen = negotiateEncoding(head.request.headers.get('accept-encoding'), codings);
          if (chosen === null || chosen === 'identity' || !codings.includes(chosen as Coding)) {
            head.passOn();
            return;
          }
          const coding = chosen as Coding;
          const params = { ...spec.params(o, coding) };
          const hint = sizeHint(head);
          if (hint !== undefined) params.sizeHint = hint;
          applyEncoding(head, coding, o.etag);
          if (head.request.method === 'HEAD' || head.status === 304) {
            // same headers as the GET/200, no body to encode
            return;
          }
          enc = encoderInstance(coding, params, resolveBackend(o.backend, coding), ctx.out);
        },
        // enc is absent only for HEAD/304, whose (empty) body passes as it is
        onData: (chunk, out) => (enc ? enc.onData!(chunk, out) : out.push(chunk)),
        onFlush: (out) => enc?.onFlush?.(out),
        onEnd: (out) => enc?.onEnd?.(out),
        onAbort: (reason) => enc?.onAbort?.(reason),
      };
    },
  };
}

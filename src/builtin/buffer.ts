import { Type } from '@sinclair/typebox';
import { BodyTooLargeError } from '../errors.js';
import { defineFilter } from '../filters/registry.js';
import { Stage } from '../filters/stage.js';
import type { Emitter, Step } from '../filters/types.js';

const options = Type.Object(
  {
    maxSize: Type.Integer({ minimum: 1, default: 131072, description: 'Most bytes held (BufferSize; default 128 KiB).' }),
    overflow: Type.Union([Type.Literal('error'), Type.Literal('stream')], {
      default: 'error',
      description: 'A body over maxSize: fail it (413 for a request, 502 for a response), or pass it on without a Content-Length (mod_buffer).',
    }),
    flush: Type.Union([Type.Literal('hold'), Type.Literal('release')], {
      default: 'hold',
      description: 'Flush marks: keep collecting (hold), or pass on what is held and stream from then on (release, as mod_buffer).',
    }),
  },
  { additionalProperties: false },
);

/**
 * mod_buffer: collects a body up to `maxSize`, then hands it on in one piece with its
 * Content-Length, for upstreams that refuse a chunked request (411) and clients that want a
 * length. The head is held open until then (HeadPhase.deferCommit), so the Content-Length can
 * still be set; behind the proxy, the upstream request starts only once the body is complete.
 *
 * It is the last filter before the wire in both chains (output: after compression, before
 * ratelimit; input: after inflate and every rewriter), so the length it sets is the length
 * that is sent. Flush marks are held by default: the proxy puts one at every pause of the
 * upstream, so honouring them would give up the length on almost every real response. Do not
 * put it in front of event streams.
 */
export const buffer = defineFilter({
  name: 'buffer',
  description: 'Collects a body up to a bound and sends it with a Content-Length (mod_buffer); over the bound, an error or streaming.',
  directions: ['input', 'output'],
  stage: Stage.protocol - 1,
  stageByDirection: { input: Stage.resource - 5 },
  preservesLength: true,
  options,
  create: (ctx) => {
    const { maxSize, overflow, flush } = ctx.options;
    let held: Uint8Array[] = [];
    let size = 0;
    let streaming = false;
    let declared = false;

    const release = (out: Emitter): Step => {
      streaming = true;
      const chunks = held;
      held = [];
      let last: Step = undefined;
      for (const c of chunks) last = out.push(c);
      return last;
    };

    return {
      onHead(head) {
        const noBody =
          head.direction === 'output' && (head.request.method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200);
        if (noBody) {
          head.passOn();
          return;
        }
        declared = head.headers.has('content-length');
        head.deferCommit();
      },
      onData(chunk, out) {
        if (streaming) return out.push(chunk);
        size += chunk.length;
        held.push(chunk);
        if (size <= maxSize) return undefined;
        if (overflow === 'error') throw new BodyTooLargeError(maxSize, ctx.direction, 'buffer maxSize');
        return release(out);
      },
      onFlush(out) {
        // a mark before any data has nothing to release: keep the chance of a length
        if (!streaming && flush === 'release' && size > 0) return release(out);
        return undefined;
      },
      onEnd(out) {
        if (streaming) return undefined;
        streaming = true;
        // A bodyless request keeps having no Content-Length (RFC 9110 §8.6: none for no content).
        if (size > 0 || declared || ctx.direction === 'output') ctx.head.headers.set('content-length', size);
        const body = held.length === 1 ? held[0]! : Buffer.concat(held, size);
        held = [];
        return body.length > 0 ? out.push(body) : undefined;
      },
      onAbort() {
        held = [];
      },
    };
  },
});

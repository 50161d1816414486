import { Type } from '@sinclair/typebox';
import { BodyTooLargeError } from '../errors.js';
import { defineFilter } from '../filters/registry.js';

const options = Type.Object(
  {
    maxSize: Type.Integer({
      minimum: 0,
      default: 1073741824,
      description: 'Largest request body in bytes (0: no limit). Default 1 GiB, as LimitRequestBody since httpd 2.4.54.',
    }),
  },
  { additionalProperties: false },
);

/** A declared length we can trust to compare: digits only (a list or junk is not a length). */
function declaredLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/**
 * LimitRequestBody: a request whose Content-Length is over the limit fails in the header phase
 * (413 before a byte of the body is read). Every body is also counted as it passes, so one of
 * unknown length (chunked), or a source that does not hold to its declared length, fails with
 * the chunk that crosses the limit, which is never passed on. At the protocol stage the limit
 * counts the bytes on the wire, before `inflate` (which has its own `maxSize` for the decoded
 * size).
 */
export const limit = defineFilter({
  name: 'limit',
  description: 'Request body size limit (LimitRequestBody): 413 before reading past it, with or without Content-Length.',
  directions: ['input'],
  stage: 'protocol',
  preservesLength: true,
  options,
  create: (ctx) => {
    const max = ctx.options.maxSize;
    let seen = 0;
    return {
      onHead(head) {
        if (max === 0) {
          head.passOn();
          return;
        }
        const declared = declaredLength(head.headers.get('content-length'));
        if (declared === undefined) return;
        if (declared > max) throw new BodyTooLargeError(max, 'input', `Content-Length: ${declared}`);
      },
      onData(chunk, out) {
        seen += chunk.length;
        if (seen > max) throw new BodyTooLargeError(max, 'input');
        return out.push(chunk);
      },
    };
  },
});

import { defineFilter } from '../filters/registry.js';
import { traceMessage } from '../pipeline/run.js';

/**
 * Apache's FilterTrace: for each message it is applied to, the runtime logs at debug level one
 * line per filter of the chain (bytes in, bytes out, time spent) when the message is over.
 *
 * It does no work on the body: in its onHead it marks the message as traced (traceMessage)
 * and steps aside, so it costs nothing per chunk and its place in the chain does not matter.
 * The figures come from the runtime's own accounting (pipeline/meter.ts), which wraps every
 * filter alike: custom filters are traced like builtins, with no code of their own. The lines
 * go to the logger the run was given: the proxy gives each request's (fastify's pino logger,
 * so they carry the request id); a library caller passes `log` to `chain.run()`.
 *
 * Time is synchronous time in each filter's callbacks, not counting the filters downstream;
 * an async filter's work after its promise was returned is not counted (see meter.ts).
 * To trace only some requests, give the entry a condition, e.g.
 * `{ filter: trace, when: { requestHeader: { x-sluice-trace: true } } }`.
 */
export const trace = defineFilter({
  name: 'trace',
  description: "Logs at debug level, per filter, the bytes in and out and the time spent for each message (Apache's FilterTrace).",
  directions: ['input', 'output'],
  stage: 'resource',
  preservesLength: true,
  create: () => ({
    onHead: (head) => {
      traceMessage(head);
      head.passOn();
    },
  }),
});

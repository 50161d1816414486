import { defineFilter } from '../filters/registry.js';

/** Passes every byte through unchanged. For benchmarks, tests and as a template. */
export const identity = defineFilter({
  name: 'identity',
  description: 'Passes the body through unchanged (a template, and a baseline for benchmarks).',
  stage: 'content',
  preservesLength: true,
  create: () => ({
    onData: (chunk, out) => out.push(chunk),
  }),
});

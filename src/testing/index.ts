/**
 * `sluice/testing`: check that a filter gives the same output and head however its input is
 * split into chunks and wherever flush marks fall, from any test runner.
 *
 *   import { assertSplits } from 'sluice/testing';
 *   await assertSplits(myFilter, '<p>some input</p>', { options: { … }, init: { headers: { 'content-type': 'text/html' } } });
 */
export {
  assertSplits,
  checkSplits,
  runFilter,
  SplitAssertionError,
  type HeadSnapshot,
  type RunResult,
  type SplitFailure,
  type SplitOptions,
  type SplitReport,
  type Subject,
} from './check.js';
export { describeSplit, feed as splitInput, type Split } from './splits.js';

import type { IncomingMessage } from 'node:http';

/**
 * nginx's client_body_timeout: the time allowed between two reads of the request body, not for
 * the whole body, so a large upload at a steady pace is never cut. Time while the proxy itself
 * holds the body back (backpressure from a slow upstream pauses the request) does not count:
 * the client is not at fault then.
 *
 * Call it once the body is being read (a 'data' listener of its own would otherwise start the
 * flow before the pump is attached). Returns a function that stops watching.
 */
export function watchRequestBody(req: IncomingMessage, ms: number, onTimeout: () => void): () => void {
  if (ms <= 0 || req.complete || req.destroyed) return () => undefined;
  const refresh = (): void => void timer.refresh();
  const stop = (): void => {
    clearTimeout(timer);
    req.off('data', refresh);
    req.off('end', stop);
    req.off('close', stop);
  };
  const timer = setTimeout(() => {
    if (req.isPaused()) {
      refresh();
      return;
    }
    stop();
    onTimeout();
  }, ms);
  req.on('data', refresh);
  req.once('end', stop);
  req.once('close', stop);
  return stop;
}

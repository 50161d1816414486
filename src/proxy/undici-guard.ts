import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/**
 * undici 7 crashes the process when an upstream closes its connection (FIN, or a reset) while
 * the HTTP/1 parser is paused by backpressure: `Parser.finish()` asserts `!this.paused` inside
 * the socket's 'end'/'error'/'close' handler, an uncatchable AssertionError
 * (nodejs/undici#5360, fixed in undici 8, which needs Node 22). A slow client reading a
 * `Connection: close` response is enough to trigger it.
 *
 * The guard runs before undici's own handlers on those events and resumes a paused parser
 * first, delivering what is still buffered in the socket (at most the socket's buffer, past the
 * body stream's high-water mark: the same as undici 8's fix), so `finish()` then runs on a
 * parser that is not paused. It reaches the parser through the socket's `Symbol(parser)`
 * property; if a future undici renames it the guard does nothing and the upgrade (to 8) is the
 * fix.
 */
export function guardedConnector(opts: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(opts);
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (socket) guardSocket(socket as Socket);
      callback(err, socket as never);
    });
}

interface PausableParser {
  paused: boolean;
  resume(): void;
}

let parserKey: symbol | undefined;

function parserOf(socket: Socket): PausableParser | undefined {
  parserKey ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === 'parser');
  if (parserKey === undefined) return undefined;
  const p = (socket as unknown as Record<symbol, unknown>)[parserKey];
  return p && typeof p === 'object' && typeof (p as PausableParser).resume === 'function' ? (p as PausableParser) : undefined;
}

function guardSocket(socket: Socket): void {
  const unpause = (): void => {
    const parser = parserOf(socket);
    // each resume delivers buffered bytes and may pause again: bounded by the socket's buffer
    for (let i = 0; parser?.paused && !socket.destroyed && i < 1024; i++) parser.resume();
  };
  socket.prependListener('end', unpause);
  socket.prependListener('error', unpause);
}

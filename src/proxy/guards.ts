/**
 * Request checks the HTTP parser does not make, and server-level limits: what lets a request
 * be read one way by the proxy and another by the upstream is refused before any location's
 * chain runs (docs/reliability.md).
 */
import type { IncomingMessage, Server } from 'node:http';
import { normalisePath } from '../pipeline/locations.js';

/** Characters after which a backend might see another path than the one the proxy matched. */
const AMBIGUOUS = /%2F|%5C|%00|;|%25/i;
/** A dot, slash, backslash or NUL encoded twice: only a backend that decodes twice sees it. */
const DOUBLE_ENCODED = /%25(2E|2F|5C|00)/i;

/**
 * Why a request must be refused with 400, or undefined. `path` is the normalised path;
 * `match` the location matcher it was matched with.
 *
 * - More than one Host header (RFC 9112 §3.2 says 400; Node keeps the first and silently
 *   drops the others, so the proxy and an upstream could disagree on the host).
 * - A path that another reading would put under another location: encoded slashes or
 *   backslashes (%2F, %5C) that a backend decodes as separators (`/public/..%2Fadmin`,
 *   `/admin%2Fsecret` against a `/admin` rule), path parameters a backend strips
 *   (`/admin;x` against `/admin`, Tomcat's reading), a NUL (%00) a C backend stops at, or a
 *   dot, slash, backslash or NUL encoded twice (%252e...), for backends that decode twice.
 *   Such a path is forwarded unchanged when every reading selects the same location
 *   (`/api/projects/group%2Fname` under `/api/`): Apache refuses every encoded slash
 *   (AllowEncodedSlashes Off), nginx decodes them; this keeps them where they are harmless.
 */
export function requestProblem<T>(req: IncomingMessage, path: string, match: (path: string) => T | undefined): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return 'more than one Host header';
  }
  return pathProblem(path, match);
}

/** The path part of requestProblem. */
export function pathProblem<T>(path: string, match: (path: string) => T | undefined): string | undefined {
  if (!AMBIGUOUS.test(path)) return undefined;
  if (/%00/i.test(path)) return 'a NUL (%00) in the path';
  if (DOUBLE_ENCODED.test(path)) return 'a double-encoded dot, slash, backslash or NUL in the path';
  const here = match(path);
  const slashes = path.replace(/%2F|%5C/gi, '/');
  const variants = [
    ['an encoded slash or backslash', slashes],
    ['path parameters (;...)', path.replace(/;[^/]*/g, '')],
    ['encoded slashes and path parameters', slashes.replace(/;[^/]*/g, '')],
  ] as const;
  for (const [what, variant] of variants) {
    if (variant === path) continue;
    if (match(normalisePath(variant).path) !== here) return `${what} in the path would select another location if a backend decoded it`;
  }
  return undefined;
}

/** What the server guard logs through. */
export interface GuardLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Server-level guards:
 *
 * - requests the HTTP parser refuses (framing, smuggling attempts, oversized heads) are logged,
 *   one line each, with the parser's reason (fastify itself answers them, 400 or 431, and
 *   closes the connection);
 * - `maxConnections` (listen.maxConnections; 0: no limit): a connection over the limit is
 *   closed as soon as it is accepted, before a byte is read (Node's server.maxConnections, as
 *   nginx's worker_connections), so the requests already admitted keep their latency and memory
 *   stays bounded. Refusals are logged at most once a second, with how many there were.
 */
export function guardServer(server: Server, log: GuardLog, maxConnections = 0): void {
  if (maxConnections > 0) {
    server.maxConnections = maxConnections;
    let dropped = 0;
    let timer: NodeJS.Timeout | undefined;
    server.on('drop', () => {
      dropped++;
      timer ??= setTimeout(() => {
        log.warn({ dropped, maxConnections }, 'connections refused: maxConnections reached');
        dropped = 0;
        timer = undefined;
      }, 1000);
      timer.unref();
    });
    server.once('close', () => clearTimeout(timer));
  }
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    if (!err.code?.startsWith('HPE_')) return; // resets and timeouts are not bad requests
    log.info({ code: err.code, reason: err.message, remoteAddress: (socket as { remoteAddress?: string }).remoteAddress }, 'bad request refused');
  });
}

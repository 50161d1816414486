import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { SluiceError } from '../errors.js';
import { HeaderMap } from '../filters/headers.js';
import type { CompiledLocation } from '../pipeline/config/types.js';
import { normalisePath } from '../pipeline/locations.js';
import type { ChainRun } from '../pipeline/run.js';
import { nodeSink } from '../pipeline/sink.js';
import { pump } from '../pipeline/source.js';
import { watchRequestBody } from './body-timeout.js';
import { requestProblem } from './guards.js';
import { appendList, withoutHopByHop } from './hop-headers.js';
import type { LiveConfig } from './live-config.js';
import { NO_LOCATION, upstreamErrorKind, type ProxyMetrics } from './metrics.js';
import { faultStatus, isConnectFailure, type UpstreamClient } from './upstream.js';
import type { UpstreamExchange, UpstreamHead } from './upstream-exchange.js';

/**
 * One proxied exchange: match the location on the current config generation (held until the
 * response is done, so a reload never changes a chain in flight), then stream the request
 * through the input chain to the upstream and the response through the output chain.
 */
export function handleProxyRequest(live: LiveConfig, req: IncomingMessage, res: ServerResponse, via: string, log: Log, metrics: ProxyMetrics): void {
  const { path, query } = normalisePath(req.url ?? '/');
  const gen = live.current;
  // Read one way here and another by the upstream (two Hosts, %2F, ;params, %00): refused.
  const refused = requestProblem(req, path, gen.config.match);
  if (refused) {
    log.info({ method: req.method, url: req.url, reason: refused }, 'bad request refused');
    sendError(res, 400, refused);
    metrics.exchange(NO_LOCATION, 400, 0, undefined, undefined, false);
    return;
  }
  const location = gen.config.match(path);
  if (!location) {
    sendError(res, 404, 'no location matches this path');
    metrics.exchange(NO_LOCATION, 404, 0, undefined, undefined, false);
    return;
  }
  gen.acquire();
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    gen.release();
  };
  res.once('close', release);
  const client = gen.clients.get(location.upstream.name)!;
  void proxy(req, res, location, client, `${path}${query}`, via, log, metrics).catch((err: unknown) => {
    log.error({ err, location: location.name }, 'proxy failure');
    if (!res.headersSent) sendError(res, 500, 'internal error');
    else res.destroy();
  });
}

/**
 * Requests that sent `Expect: 100-continue` and have not been told to go on. The server hands
 * them here instead of letting Node answer 100 at once, so the proxy sends 100 Continue when
 * it starts reading the body, as nginx and Apache do.
 */
export const awaitingContinue = new WeakSet<IncomingMessage>();

export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

async function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  location: CompiledLocation,
  client: UpstreamClient,
  url: string,
  via: string,
  log: Log,
  metrics: ProxyMetrics,
): Promise<void> {
  const started = process.hrtime.bigint();
  let finished = false;
  let outputRun: ChainRun | undefined;
  let exchange: UpstreamExchange | undefined;
  /** Why the exchange was stopped from this side (client gone, request body timed out). */
  let stopped: Error | undefined;
  /** The request body's pump listens on this; made only when there is a body. */
  let bodyAbort: AbortController | undefined;
  const stop = (reason: Error): void => {
    if (stopped) return;
    stopped = reason;
    bodyAbort?.abort(reason);
    exchange?.abort(reason);
    outputRun?.abort(reason);
  };
  res.on('finish', () => {
    finished = true;
  });
  // The client went away before the response was complete: stop the upstream request and
  // the chains, so the upstream socket is released.
  res.on('close', () => {
    if (!finished) stop(new SluiceError('ERR_SLUICE_CLIENT_GONE', 'the client closed the connection'));
    // One record per exchange, whichever way it ended (499: gone before any head, as nginx says).
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.exchange(location.name, res.headersSent ? res.statusCode : 499, seconds, inputRun?.stats(), outputRun?.stats(), res.headersSent && !res.writableFinished);
  });
  // Bytes per filter feed the metrics; a traced message (the `trace` filter) logs through `log`.
  const runOptions = { instrument: 'bytes', log } as const;

  // A client that leaves early is logged once (nginx's 499); its upstream request is aborted above.
  res.on('close', () => {
    if (!finished) log.info({ location: location.name, upstream: client.name, method: req.method, url, headSent: res.headersSent }, 'client went away before the response was complete');
  });

  // ---- request head and body -------------------------------------------------------------
  const upHeaders = withoutHopByHop(req.headers, 'request');
  delete upHeaders['expect'];
  const spec = location.upstream;
  const server = client.pick();
  if (!spec.preserveHost) upHeaders['host'] = server.url.host;
  appendList(upHeaders, 'x-forwarded-for', req.socket.remoteAddress ?? 'unknown');
  appendList(upHeaders, 'x-forwarded-proto', 'http');
  if (req.headers.host) appendList(upHeaders, 'x-forwarded-host', req.headers.host);
  appendList(upHeaders, 'via', `1.1 ${via}`);
  if (location.outputChangesBody) {
    // A range of the upstream's bytes is not a range of ours (Apache's byteranges=no).
    delete upHeaders['range'];
    delete upHeaders['if-range'];
  }
  const method = req.method ?? 'GET';
  const requestHeaders = new HeaderMap(upHeaders);
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  const remoteAddress = req.socket.remoteAddress;
  const request = { method, url, headers: requestHeaders, ...(remoteAddress !== undefined && { remoteAddress }) };
  let body: PassThrough | undefined;
  let inputRun: ChainRun | undefined;
  // A bodyless request goes through a non-empty input chain too, with an empty body, so that
  // header-only input filters (`headers`) edit every request, not only those with a body.
  if (hasBody || location.input.entries.length > 0) {
    if (hasBody) {
      body = new PassThrough();
      // A chain failure destroys this stream with the error; the chain reports it (413, 502...),
      // and an unobserved 'error' event would otherwise take the process down.
      body.on('error', () => undefined);
    }
    let headCommitted!: () => void;
    const committed = new Promise<void>((resolve) => (headCommitted = resolve));
    const sink = body ? nodeSink(body) : { write: () => undefined, end: () => undefined };
    inputRun = location.input.run({ request }, { ...sink, head: () => headCommitted() }, runOptions);
    try {
      await inputRun.start();
      if (body) {
        // Only now, with the input chain's header phase passed, is the body wanted (a `limit` that
        // refuses the length has answered 413 above, without the client ever sending it).
        if (awaitingContinue.has(req)) res.writeContinue();
        bodyAbort = new AbortController();
        if (stopped) bodyAbort.abort(stopped);
        pump(inputRun, req, { signal: bodyAbort.signal, drainOnFailure: true }).catch(() => undefined);
        // A client that stops sending its body (slowloris) gets 408 and the upstream request goes.
        watchRequestBody(req, spec.requestBodyTimeout, () => {
          log.warn({ location: location.name, upstream: client.name, method, url, ms: spec.requestBodyTimeout }, 'request body timed out');
          sendError(res, 408, 'the request body did not arrive in time');
          stop(new SluiceError('ERR_SLUICE_REQUEST_TIMEOUT', 'the request body did not arrive in time', { status: 408 }));
        });
      } else {
        await inputRun.end();
      }
      // A filter that collects the body (`buffer`) commits the request head, with its
      // Content-Length, once it has the body: the upstream request waits for that.
      if (!inputRun.head.committed) await Promise.race([committed, inputRun.done]);
    } catch (err) {
      sendError(res, statusOf(err, 500), errorText(err));
      req.resume();
      return;
    }
  }
  const outgoing = requestHeaders.toNode() as Record<string, string | string[]>;

  // ---- upstream ---------------------------------------------------------------------------
  let up: UpstreamHead;
  let target = server;
  for (let attempt = 1; ; attempt++) {
    try {
      if (stopped) return;
      exchange = client.dispatch(target, { method, path: url, headers: outgoing, body: body ?? null });
      up = await exchange.head;
      break;
    } catch (err) {
      if (isConnectFailure(err)) {
        client.markDown(target);
        // nginx's proxy_next_upstream error: a server that refused the connection never saw the
        // request, so the next one may take it; not with a body, which cannot be replayed.
        const next = body === undefined && attempt < client.size && !stopped ? client.pick() : target;
        if (next !== target) {
          metrics.upstreamError(client.name, upstreamErrorKind(err) ?? 'refused');
          log.warn({ location: location.name, upstream: client.name, server: target.url.origin, err: errorText(err) }, 'upstream server refused; trying the next');
          // (the header map is committed once an input chain ran: the next server's Host goes in
          // the outgoing copy, unless an input filter chose its own)
          if (!spec.preserveHost && outgoing['host'] === target.url.host) outgoing['host'] = next.url.host;
          target = next;
          continue;
        }
      }
      inputRun?.abort(err);
      if (stopped) return;
      const inputFailed = inputRun?.failed;
      const status = inputFailed instanceof SluiceError ? inputFailed.status : faultStatus(err);
      if (!inputFailed) metrics.upstreamError(client.name, upstreamErrorKind(err) ?? 'other');
      log.warn({ location: location.name, upstream: client.name, server: target.url.origin, err: errorText(err), status }, 'upstream fault');
      // A body the input chain refused mid-stream (`limit` on a chunked body) is named as such.
      sendError(res, status, inputFailed ? errorText(inputFailed) : status === 504 ? 'the upstream did not answer in time' : 'the upstream could not be reached');
      return;
    }
  }

  // ---- response head through the output chain -----------------------------------------------
  const ex = exchange!;
  const responseHeaders = HeaderMap.fromNode(withoutHopByHop(up.headers as Record<string, string | string[]>, 'response'));
  responseHeaders.append('via', `1.1 ${via}`);
  const resSink = nodeSink(res);
  let corked = false;
  const uncork = (): void => {
    corked = false;
    res.uncork();
  };
  const run: ChainRun = (outputRun = location.output.run(
    { request, status: up.statusCode, headers: responseHeaders },
    {
      ...resSink,
      write: (chunk) => {
        // Writes made in one turn of the event loop leave in one system call, as nginx's
        // postpone_output does: a 64 KiB body that arrives in two socket reads went out in
        // two writes, the head with the first. The socket is uncorked in the check phase of
        // the same turn, so a stream (SSE) waits microseconds, not for more data.
        if (!corked) {
          corked = true;
          res.cork();
          setImmediate(uncork);
        }
        return resSink.write(chunk);
      },
      // The head goes out when the chain commits it: after the header phase, or with the first
      // byte when a filter holds it open (`buffer`, to set Content-Length).
      head: (head) => {
        const outHeaders = head.headers.toNode();
        if (run.lengthChanged) delete outHeaders['accept-ranges'];
        res.writeHead(head.status, outHeaders);
      },
      // Before the head is sent a failure can still become an error response (below).
      abort: (reason) => {
        if (res.headersSent) resSink.abort?.(reason);
      },
    },
    runOptions,
  ));
  try {
    // (no await when the header phase was synchronous: one microtask hop less per exchange)
    const headPhase = run.start();
    if (headPhase) await headPhase;
  } catch (err) {
    ex.abort(err);
    log.warn({ location: location.name, err: errorText(err) }, 'output chain failed before the head');
    sendError(res, statusOf(err, 502), errorText(err));
    return;
  }

  // ---- response body ------------------------------------------------------------------------
  try {
    if (stopped) throw stopped;
    await ex.feed(run);
    finished = true;
  } catch (err) {
    // Once bytes may have gone out, the only honest signal left is to cut the connection.
    finished = true;
    if (!res.headersSent && !res.destroyed) sendError(res, statusOf(err, 502), errorText(err));
    else if (!res.destroyed) res.destroy();
    // (the exchange is aborted already: by the failed run it fed, or by stop())
    if (!stopped) {
      const kind = upstreamErrorKind(err, 'reset');
      if (kind) metrics.upstreamError(client.name, kind);
      log.warn({ location: location.name, upstream: client.name, err: errorText(err) }, 'response aborted mid-body');
    }
  }
  if (infoEnabled(log)) {
    log.info(
      {
        location: location.name,
        upstream: client.name,
        method,
        url,
        status: run.head.status,
        filters: run.active,
        bytes: { in: inputRun?.stats()?.bytesIn ?? 0, out: run.stats()?.bytesOut ?? 0 },
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      },
      'proxied',
    );
  }
}

/** Whether an info line would be written: not with fastify's logger off (its methods are no-ops). */
function infoEnabled(log: Log): boolean {
  const l = log as Log & { isLevelEnabled?: (level: string) => boolean };
  if (typeof l.isLevelEnabled === 'function') return l.isLevelEnabled('info');
  return l.info.name !== 'noop';
}

function statusOf(err: unknown, fallback: number): number {
  return err instanceof SluiceError && err.status >= 400 ? err.status : fallback;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${status} ${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

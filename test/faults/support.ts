/**
 * Tools for the fault-injection suite: a scriptable misbehaving upstream on a raw `net` server
 * (http.Server would not misbehave on request), raw clients that report exactly how a response
 * ended, a log capture for the proxy's pino output, and leak checks (file descriptors, timers).
 */
import { readdirSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'vitest';

// ---- a scriptable upstream ------------------------------------------------------------------

/** One request as the upstream received it, raw. */
export interface RawRequest {
  /** The bytes of the head, request line included, up to and including the blank line. */
  head: string;
  method: string;
  target: string;
  /** Body bytes that arrived after the head on this connection (until the script answered). */
  body: Buffer;
}

/** What a behaviour gets: the socket, the request, and helpers to misbehave with. */
export type Behaviour = (socket: Socket, req: RawRequest) => void;

export interface ScriptedUpstream {
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RawRequest[];
  /** Sockets currently open on the upstream side. */
  readonly open: Set<Socket>;
  close(): Promise<void>;
}

/**
 * A raw upstream: each request's head is read (up to the blank line), then the behaviour
 * chosen by `pick(target)` owns the socket. Behaviours that answer cleanly end the connection
 * (`connection: close`), so every request gets a fresh one and connection reuse never hides
 * what a fault did to the previous socket.
 */
export async function startScriptedUpstream(pick: (req: RawRequest) => Behaviour): Promise<ScriptedUpstream> {
  const requests: RawRequest[] = [];
  const open = new Set<Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let req: RawRequest | undefined;
    const onData = (c: Buffer): void => {
      if (req) {
        req.body = Buffer.concat([req.body, c]);
        return;
      }
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end + 4).toString('latin1');
      const [method = '', target = ''] = head.split('\r\n')[0]!.split(' ');
      req = { head, method, target, body: buf.subarray(end + 4) };
      requests.push(req);
      pick(req)(socket, req);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    open,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A port that was free a moment ago: connections to it are refused. */
export async function refusedPort(): Promise<number> {
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const port = (tmp.address() as AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  return port;
}

/** A response head as bytes: status line, headers in order, blank line. */
export function rawHead(status: number, headers: ReadonlyArray<readonly [string, string | number]>, reason = 'OK'): string {
  return `HTTP/1.1 ${status} ${reason}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Chunked framing of a body in pieces, with the final 0-chunk. */
export function chunked(pieces: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of pieces) parts.push(Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

// ---- raw clients ----------------------------------------------------------------------------

/** How a response ended, as a client sees it on the wire. */
export interface RawResponse {
  /** 0 when no status line arrived before the connection ended. */
  status: number;
  headers: Record<string, string>;
  /** The body as framed (de-chunked), whatever arrived. */
  body: Buffer;
  /** True only when the framing (Content-Length or the 0-chunk) said the body was complete. */
  complete: boolean;
  /** Everything that arrived, raw. */
  raw: Buffer;
  /** How the connection ended: 'end' (FIN), 'error' (reset), or 'open' (still open when read). */
  ended: 'end' | 'error' | 'open';
  /** The exchange gave up waiting: neither a complete response nor the end of the connection. */
  timedOut: boolean;
  /** Bytes this message took in `raw` (head and framed body), when complete. */
  length: number;
}

/**
 * Parse what arrived for one response (status, headers, body by its framing). Tolerant: a
 * truncated message is reported as incomplete, never thrown about.
 */
export function parseResponse(raw: Buffer, ended: RawResponse['ended'], head = false): RawResponse {
  const out: RawResponse = { status: 0, headers: {}, body: Buffer.alloc(0), complete: false, raw, ended, timedOut: false, length: 0 };
  let at = 0;
  // skip 1xx responses
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end === -1) return out;
    const lines = raw.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    at = end + 4;
    if (status >= 100 && status < 200 && status !== 101) continue;
    out.status = status;
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      out.headers[k] = out.headers[k] === undefined ? v : `${out.headers[k]}, ${v}`;
    }
    break;
  }
  const rest = raw.subarray(at);
  if (head || out.status === 204 || out.status === 304) {
    out.complete = true;
    out.length = at;
    return out;
  }
  if (out.headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    let p = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', p);
      if (nl === -1) break;
      const size = parseInt(rest.subarray(p, nl).toString('latin1'), 16);
      if (!Number.isFinite(size)) break;
      if (size === 0) {
        out.complete = rest.length >= nl + 4;
        out.length = at + nl + 4;
        break;
      }
      if (rest.length < nl + 2 + size + 2) {
        parts.push(rest.subarray(nl + 2, Math.min(rest.length, nl + 2 + size)));
        break;
      }
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      p = nl + 2 + size + 2;
    }
    out.body = Buffer.concat(parts);
  } else if (out.headers['content-length'] !== undefined) {
    const n = Number(out.headers['content-length']);
    out.body = rest.subarray(0, n);
    out.complete = rest.length >= n;
    out.length = at + n;
  } else {
    // read until close: complete only on a clean FIN (HTTP/1.0 style framing)
    out.body = rest;
    out.complete = ended === 'end';
    out.length = raw.length;
  }
  return out;
}

/** Every response in `raw`, in order (pipelined requests on one connection). */
export function parseResponses(raw: Buffer, ended: RawResponse['ended']): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const r = parseResponse(rest, ended);
    out.push(r);
    if (!r.complete || r.length === 0) break;
    rest = rest.subarray(r.length);
  }
  return out;
}

export interface RawExchange {
  /** Bytes written as the request (head and any body). */
  request: string | Buffer;
  /** Give up waiting after this many ms (the connection is then destroyed). */
  timeoutMs?: number;
  /** A HEAD request: the response has no body whatever its headers say. */
  head?: boolean;
  /** Resolve only when the server closes the connection (or at the timeout), not at the end of the response. */
  waitClose?: boolean;
}

/**
 * Send raw bytes on a fresh connection and read until the response is complete (by its own
 * framing) or the connection ends. The connection is destroyed afterwards either way.
 */
export function rawExchange(port: number, ex: RawExchange): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (how: RawResponse['ended'], timedOut = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponse(Buffer.concat(chunks), how, ex.head), timedOut });
    };
    const timer = setTimeout(() => finish('open', true), ex.timeoutMs ?? 5000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const r = parseResponse(Buffer.concat(chunks), 'open', ex.head);
      if (r.complete && r.status >= 200 && !ex.waitClose) finish('open');
    });
    socket.on('end', () => finish('end'));
    socket.on('error', () => finish('error'));
    socket.on('close', () => finish('end'));
    socket.write(ex.request);
  });
}

/** A GET request head. */
export function get(path: string, headers: Record<string, string> = {}): string {
  return `GET ${path} HTTP/1.1\r\nhost: test.local\r\nconnection: close\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

// ---- log capture ----------------------------------------------------------------------------

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino destination that keeps every line, parsed. */
export function logCapture(): { stream: Writable; lines: LogLine[]; since(mark: number): LogLine[] } {
  const lines: LogLine[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString();
      let nl;
      while ((nl = partial.indexOf('\n')) !== -1) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      }
      cb();
    },
  });
  return { stream, lines, since: (mark) => lines.slice(mark) };
}

// ---- leak checks ----------------------------------------------------------------------------

/** Open file descriptors of this process (sockets, pipes, files). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Active timers of this process (`Timeout` resources). */
export function timerCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** TCP handles of this process. */
export function socketCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

export interface Baseline {
  fds: number;
  timers: number;
  sockets: number;
}

export function baseline(): Baseline {
  return { fds: fdCount(), timers: timerCount(), sockets: socketCount() };
}

/**
 * Wait (up to `ms`) for the process to come back to the baseline: no more file descriptors,
 * sockets or timers than before. Fails the test naming what stayed open.
 */
export async function expectSettled(before: Baseline, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  let now = baseline();
  while (Date.now() < until) {
    now = baseline();
    if (now.fds <= before.fds && now.timers <= before.timers && now.sockets <= before.sockets) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect({ fds: now.fds, timers: now.timers, sockets: now.sockets, resources: process.getActiveResourcesInfo() }).toMatchObject({
    fds: before.fds,
    timers: before.timers,
    sockets: before.sockets,
  });
}

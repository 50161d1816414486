import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { normalisePath } from '../pipeline/locations.js';
import { requestProblem } from './guards.js';
import { appendList, withoutHopByHop } from './hop-headers.js';
import type { Generation } from './live-config.js';

/**
 * Upgrade requests (WebSocket and others) are passed through untouched: the request head goes
 * to the location's upstream with Upgrade/Connection kept, then bytes flow both ways as they
 * are. No filter sees an upgraded stream (there is no HTTP body to filter).
 */
export function handleUpgrade(gen: Generation, via: string, req: IncomingMessage, client: Duplex, head: Buffer): void {
  const { path, query } = normalisePath(req.url ?? '/');
  if (requestProblem(req, path, gen.config.match)) return refuse(client, 400, 'Bad Request');
  const location = gen.config.match(path);
  if (!location) return refuse(client, 404, 'Not Found');
  // Same round robin and passive health as plain requests.
  const pool = gen.clients.get(location.upstream.name)!;
  const server = pool.pick();
  const target = server.url;
  const headers = withoutHopByHop(req.headers, 'request');
  headers['connection'] = 'upgrade';
  if (req.headers.upgrade) headers['upgrade'] = req.headers.upgrade;
  if (!location.upstream.preserveHost) headers['host'] = target.host;
  appendList(headers, 'x-forwarded-for', req.socket.remoteAddress ?? 'unknown');
  appendList(headers, 'x-forwarded-proto', 'http');
  if (req.headers.host) appendList(headers, 'x-forwarded-host', req.headers.host);
  appendList(headers, 'via', `1.1 ${via}`);

  const upstream: Socket = net.connect({ host: target.hostname, port: Number(target.port || 80) });
  const destroyBoth = (): void => {
    upstream.destroy();
    client.destroy();
  };
  upstream.setTimeout(location.upstream.connectTimeout, () => {
    if (upstream.connecting) {
      pool.markDown(server);
      upstream.destroy();
      refuse(client, 504, 'Gateway Timeout');
    }
  });
  upstream.once('error', () => {
    if (upstream.connecting) pool.markDown(server);
    if (upstream.connecting || upstream.bytesRead === 0) refuse(client, 502, 'Bad Gateway');
    else client.destroy();
  });
  client.on('error', destroyBoth);
  upstream.once('connect', () => {
    upstream.setTimeout(0);
    const lines = [`${req.method ?? 'GET'} ${path}${query} HTTP/1.1`];
    for (const [k, v] of Object.entries(headers)) for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
}

function refuse(client: Duplex, status: number, text: string): void {
  if (client.destroyed) return;
  client.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

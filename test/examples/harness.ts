/**
 * Shared by the example tests: load an example's config (its modules from their files, the
 * upstream pointed at a real one), run the proxy on 127.0.0.1, make real HTTP requests, and
 * check a chain at every cut point of an input.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { FLUSH, processChain, type CompiledChain, type Flush, type MessageInit } from '../../src/index.js';
import { formatProblems } from '../../src/pipeline/config/errors.js';
import { validateConfigWithModules } from '../../src/pipeline/config/modules.js';
import type { CompiledConfig } from '../../src/pipeline/config/types.js';
import { createProxyServer } from '../../src/proxy/server.js';

export const CONFIG_DIR = fileURLToPath(new URL('../../examples/configs/', import.meta.url));

/** examples/configs/NAME.yaml with every upstream's servers replaced by `upstreamUrl`. */
export async function loadExampleConfig(name: string, upstreamUrl: string): Promise<CompiledConfig> {
  const raw = parseYaml(readFileSync(`${CONFIG_DIR}${name}.yaml`, 'utf8')) as { upstreams: Record<string, { servers: string[] }> };
  for (const u of Object.values(raw.upstreams)) u.servers = [upstreamUrl];
  const r = await validateConfigWithModules(raw, { baseDir: CONFIG_DIR });
  if (!r.ok) throw new Error(`examples/configs/${name}.yaml:\n${formatProblems(r.errors)}`);
  return r.config;
}

export interface Route {
  status?: number;
  headers: http.OutgoingHttpHeaders;
  /** Written one by one, a few milliseconds apart, so the proxy gets them as separate reads. */
  chunks: Array<string | Buffer>;
  /** ms between chunks; default 3. */
  gapMs?: number;
}

export interface Upstream {
  url: string;
  close(): Promise<void>;
}

/** A real upstream on 127.0.0.1, port 0, serving `routes` by path. */
export async function startUpstream(routes: Record<string, Route>): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0]!];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such route');
      return;
    }
    res.writeHead(route.status ?? 200, route.headers);
    const chunks = [...route.chunks];
    const next = (): void => {
      const c = chunks.shift();
      if (c === undefined) return void res.end();
      res.write(c);
      setTimeout(next, route.gapMs ?? 3);
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

export async function startProxy(config: CompiledConfig): Promise<{ app: FastifyInstance; base: string }> {
  const app = createProxyServer(config);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base };
}

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body ended cleanly (not cut). */
  complete: boolean;
}

/** `onData` sees the body so far at each chunk (to check what arrived before the end). */
export function get(url: string, headers: http.OutgoingHttpHeaders = {}, onData?: (soFar: Buffer) => void): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let ended = false;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        onData?.(Buffer.concat(chunks));
      });
      res.on('end', () => (ended = true));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: ended && res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What differed at one cut point, for a readable failure. */
export interface CutMismatch {
  cut: number;
  flush: boolean;
  body: string;
}

/**
 * Run `input` through `chain` whole, then cut in two at every point (once as two chunks, once
 * with a flush mark between them) and in single bytes; every run must give the unsplit run's
 * bytes and headers. Returns the unsplit body and the mismatches (none when the filter is
 * right).
 */
export async function everyCut(chain: CompiledChain, input: Buffer, init: MessageInit): Promise<{ whole: Buffer; mismatches: CutMismatch[] }> {
  const reference = await processChain(chain, [input], init);
  const whole = reference.body();
  const headers = JSON.stringify(reference.head.headers.toNode());
  const mismatches: CutMismatch[] = [];
  const check = async (parts: Array<Uint8Array | Flush>, cut: number, flush: boolean): Promise<void> => {
    const r = await processChain(chain, parts, init);
    if (!r.body().equals(whole) || JSON.stringify(r.head.headers.toNode()) !== headers) {
      mismatches.push({ cut, flush, body: r.text() });
    }
  };
  for (let cut = 1; cut < input.length; cut++) {
    const a = input.subarray(0, cut);
    const b = input.subarray(cut);
    await check([a, b], cut, false);
    await check([a, FLUSH, b], cut, true);
  }
  await check([...input].map((byte) => Uint8Array.of(byte)), -1, false);
  return { whole, mismatches };
}

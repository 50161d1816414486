import { describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { compileChain, nodeSink, pump, modPythonFilter, type ChainItem } from '../../src/index.js';
import { asyncIdentity } from '../helpers.js';

const MB = 1024 * 1024;
const TOTAL = 500 * MB;
const CHUNK = 64 * 1024;

/** A source that makes TOTAL bytes on demand and records how many it has handed out. */
function generator(counter: { produced: number }): Readable {
  const block = Buffer.alloc(CHUNK, 'x');
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (counter.produced >= TOTAL) {
        this.push(null);
        return;
      }
      counter.produced += CHUNK;
      this.push(block);
    },
  });
}

const mpIdentity = modPythonFilter({
  name: 'mp-identity',
  handler: async (f) => {
    for (let c; (c = await f.read()) !== null; ) await f.write(c);
    f.close();
  },
});

/**
 * 500 MB from a fast source through a chain into a real HTTP response, read by a client over
 * loopback that pauses after every MB. Memory must stay bounded: the bytes produced but not
 * yet received never exceed socket buffers plus a little, and RSS does not grow with the body.
 */
async function slowClientRun(items: ChainItem[]): Promise<{ maxInFlight: number; rssGrowth: number; received: number }> {
  const counter = { produced: 0 };
  let received = 0;
  let maxInFlight = 0;
  const chain = compileChain(items);
  const server = http.createServer(async (req, res) => {
    const run = chain.run({ request: { method: req.method ?? 'GET', url: req.url ?? '/' }, headers: { 'content-type': 'application/octet-stream' } }, nodeSink(res));
    await run.start();
    res.writeHead(run.head.status, run.head.headers.toNode());
    await pump(run, generator(counter)).catch(() => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  try {
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let sincePause = 0;
          res.on('data', (c: Buffer) => {
            received += c.length;
            sincePause += c.length;
            maxInFlight = Math.max(maxInFlight, counter.produced - received);
            if (sincePause >= MB) {
              sincePause = 0;
              rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
              res.pause();
              setTimeout(() => res.resume(), 2);
            }
          });
          res.on('end', resolve);
          res.on('error', reject);
        })
        .on('error', reject);
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
  return { maxInFlight, rssGrowth: rssPeak - rssBefore, received };
}

describe('backpressure', () => {
  const cases: Array<[string, ChainItem[]]> = [
    ['sync chain (10 identity filters)', Array.from({ length: 10 }, () => 'identity')],
    ['async filters in the chain', ['identity', asyncIdentity, 'identity', asyncIdentity]],
    ['a mod_python-style filter', [mpIdentity, 'identity']],
  ];
  for (const [label, items] of cases) {
    it(`keeps memory bounded with 500 MB into a slow reader: ${label}`, async () => {
      const r = await slowClientRun(items);
      expect(r.received).toBe(TOTAL);
      // loopback socket buffers can hold a few MB; anything near the body size is a leak
      expect(r.maxInFlight).toBeLessThan(24 * MB);
      expect(r.rssGrowth).toBeLessThan(120 * MB);
    }, 120_000);
  }
});

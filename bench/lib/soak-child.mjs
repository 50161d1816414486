// The proxy under soak, in its own process (so its memory is its own): started with
//   node --expose-gc soak-child.mjs '{"entry":"file:///…/index.js","config":{…}}'
// it prints "listening URL", then answers each "mem" line on stdin with one JSON line: RSS and
// heap after two full collections, and the handles the process holds (by kind).
import { createInterface } from 'node:readline';

const spec = JSON.parse(process.argv[2]);
const { createProxy } = await import(spec.entry);
const app = createProxy(spec.config);
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${address}\n`);

createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line.trim() !== 'mem') return;
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  const handles = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, handles })}\n`);
});

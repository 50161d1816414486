// Servers for the proxy figures, one per child process so that the load generator (the bench
// process), the proxy under test and the upstream do not share an event loop. Plain JS: the
// child runs the code under test and nothing of tsx's.
//   node servers.mjs '{"kind":"upstream","bytes":65536}'
//   node servers.mjs '{"kind":"upstream","sizes":{"1k":1024,"64k":65536}}'   (size by the path's last segment)
//   node servers.mjs '{"kind":"upstream","stream":1073741824}'   (a 1 MiB page repeated, written with backpressure)
//   node servers.mjs '{"kind":"sluice","entry":"file:///…/index.js","config":{…}}'
//   node servers.mjs '{"kind":"fastify-http-proxy","upstream":"http://…","compress":true}'
// Prints "listening <url>" once it listens.
import http from 'node:http';

const spec = JSON.parse(process.argv[2]);

/** The realistic page the proxy figures move (the same generator as the codec figures). */
function realisticHtml(bytes) {
  const words = 'sluice filter stream chunk header body proxy upstream client flush gzip brotli charset rewrite location condition request response server event buffer window internal.example'.split(' ');
  let seed = 42;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const parts = ['<!doctype html><html><head><title>Sluice</title></head><body>\n'];
  let size = parts[0].length;
  while (size < bytes) {
    const n = 8 + rnd(20);
    const line = `<p id="p${rnd(100000)}" class="c${rnd(50)}"><a href="http://internal.example/x${rnd(1000)}">${Array.from({ length: n }, () => words[rnd(words.length)]).join(' ')}</a> ${rnd(1e6)}</p>\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** `total` bytes of `page` repeated, written as the socket takes them (never queued ahead). */
function streamBody(res, page, total) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': total });
  let left = total;
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, page.length);
      left -= n;
      if (!res.write(n === page.length ? page : page.subarray(0, n))) return void res.once('drain', more);
    }
    res.end();
  };
  res.on('close', () => (left = 0));
  more();
}

async function main() {
  let address;
  if (spec.kind === 'upstream') {
    const bodies = new Map(Object.entries(spec.sizes ?? {}).map(([name, bytes]) => [name, realisticHtml(bytes)]));
    const body = spec.stream ? realisticHtml(1 << 20) : bodies.size === 0 ? realisticHtml(spec.bytes) : undefined;
    const server = http.createServer((req, res) => {
      req.resume();
      if (spec.stream) return streamBody(res, body, spec.stream);
      const b = body ?? bodies.get(req.url.split('?')[0].split('/').pop());
      if (!b) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': b.length });
      res.end(b);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    address = `http://127.0.0.1:${server.address().port}`;
  } else if (spec.kind === 'sluice') {
    const { createProxy } = await import(spec.entry);
    const app = createProxy(spec.config);
    address = await app.listen({ port: 0, host: '127.0.0.1' });
  } else if (spec.kind === 'fastify-http-proxy') {
    const { default: Fastify } = await import('fastify');
    const { default: proxy } = await import('@fastify/http-proxy');
    const app = Fastify({ logger: false });
    if (spec.compress) {
      const { default: compress } = await import('@fastify/compress');
      await app.register(compress, { global: true, encodings: ['gzip'], threshold: 0, zlibOptions: { level: 6 } });
    }
    await app.register(proxy, { upstream: spec.upstream });
    address = await app.listen({ port: 0, host: '127.0.0.1' });
  } else {
    throw new Error(`unknown kind ${spec.kind}`);
  }
  process.stdout.write(`listening ${address}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});

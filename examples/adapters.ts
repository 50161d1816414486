/**
 * Adapters: a Node zlib Transform as a flush-aware gzip filter, a chain used as a WHATWG
 * TransformStream, and a chain applied to a fetch Response.
 *   npx tsx examples/adapters.ts
 */
import zlib from 'node:zlib';
import {
  chainOverResponse,
  chainToTransformStream,
  compileChain,
  defineFilter,
  FLUSH,
  fromNodeTransform,
  processChain,
} from '../src/index.js';

const gzip = fromNodeTransform({ name: 'node-gzip', stage: 'encoding', directions: ['output'], transform: () => zlib.createGzip() });
const tag = defineFilter({ name: 'tag', create: () => ({ onEnd: (out) => out.push(Buffer.from('\n<!-- filtered -->')) }) });

// 1. A flush mark makes gzip emit a sync-flushed block the client can decode at once.
const res = await processChain(compileChain([gzip, tag]), [Buffer.from('event one\n'), FLUSH, Buffer.from('event two\n')]);
const beforeFlush = res.events.slice(0, res.events.indexOf(FLUSH)) as Uint8Array[];
console.log('decoded before the flush mark:', JSON.stringify(zlib.gunzipSync(Buffer.concat(beforeFlush), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString()));
console.log('whole body:', JSON.stringify(zlib.gunzipSync(res.body()).toString()));

// 2. The chain as one TransformStream (one boundary, however many filters).
const piped = await new Response(new Blob(['<p>hi</p>']).stream().pipeThrough(chainToTransformStream(compileChain([tag])) as TransformStream<Uint8Array, Uint8Array>)).text();
console.log('through a TransformStream:', JSON.stringify(piped));

// 3. Over a fetch Response: Content-Length goes because the body changed.
const upstream = new Response('<p>hello</p>', { headers: { 'content-type': 'text/html', 'content-length': '12' } });
const filtered = await chainOverResponse(compileChain([tag]), upstream);
console.log('response:', filtered.status, Object.fromEntries(filtered.headers), JSON.stringify(await filtered.text()));

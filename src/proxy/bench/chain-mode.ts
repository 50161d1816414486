/**
 * `sluice bench --location`: the message heads a location's chains see, then each chain run
 * over the body (chain-runner.ts), output first.
 *
 * The heads are what a browser's request for a page and an ordinary upstream answer would
 * give, so that negotiating filters do their work: the request accepts "gzip, deflate, br"
 * (compress picks from it as for a browser), the response is a 200 with the body's
 * Content-Type and Content-Length. Every part can be changed with --request-header,
 * --header, --status and --method.
 */
import type { MessageInit } from '../../pipeline/compile.js';
import type { CompiledLocation } from '../../pipeline/config/types.js';
import type { ChainArgs, HeaderEdit } from './args.js';
import { chunked, CONTENT_TYPES, type Body } from './body.js';
import { benchChain } from './chain-runner.js';
import { bytes, mbps, num, pct } from './format.js';
import type { Progress } from './progress.js';
import type { ChainSection } from './report.js';

export const DEFAULT_REQUEST_HEADERS: Readonly<Record<string, string>> = {
  host: 'localhost',
  'accept-encoding': 'gzip, deflate, br',
};

/** Defaults, then the user's edits in order; an empty value removes the header. */
export function withEdits(base: Readonly<Record<string, string>>, edits: readonly HeaderEdit[]): Record<string, string> {
  const out: Record<string, string> = { ...base };
  for (const e of edits) {
    if (e.value === '') delete out[e.name];
    else out[e.name] = e.value;
  }
  return out;
}

/** `url`: the normalised request path and query, as the proxy hands it to the chains. */
export async function runChainMode(args: ChainArgs, url: string, location: CompiledLocation, body: Body, progress: Progress): Promise<ChainSection> {
  const method = args.method ?? (args.input ? 'POST' : 'GET');
  const bodyHeaders = { 'content-type': CONTENT_TYPES[body.kind], 'content-length': String(body.bytes.length) };
  const requestHeaders = withEdits(DEFAULT_REQUEST_HEADERS, args.requestHeaders);
  const responseHeaders = withEdits(bodyHeaders, args.headers);
  const chunks = chunked(body.bytes, args.chunk);
  const warmup = args.warmup !== undefined ? { seconds: args.warmup } : args.stop.kind === 'iterations' ? { messages: Math.ceil(args.stop.count / 10) } : { seconds: Math.min(1, args.stop.seconds / 5) };

  const inits: Array<[typeof location.output, () => MessageInit]> = [
    [location.output, () => ({ request: { method, url, headers: requestHeaders }, status: args.status, headers: responseHeaders })],
  ];
  if (args.input) {
    // The input chain's message is the request: its headers are the request's, with the body's.
    const inputHeaders = withEdits({ ...DEFAULT_REQUEST_HEADERS, ...bodyHeaders }, args.requestHeaders);
    inits.push([location.input, () => ({ request: { method, url, headers: inputHeaders } })]);
  }

  const directions: ChainSection['directions'] = [];
  for (const [chain, init] of inits) {
    const label = `${chain.direction} chain`;
    progress.start(label);
    let figures: Awaited<ReturnType<typeof benchChain>>;
    try {
      figures = await benchChain({
        chain,
        init,
        chunks,
        stop: args.stop,
        warmup,
        onProgress: (p) => progress.update(p.fraction, `${p.messages} messages, ${mbps(p.mbps)}`),
      });
    } catch (err) {
      progress.end('failed');
      throw new Error(`the ${label} failed on the benchmark body: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const top = [...figures.filters].sort((a, b) => b.share - a.share)[0];
    progress.end(`${mbps(figures.mbps)}, ${bytes(figures.bytesIn)} → ${bytes(figures.bytesOut)}${top ? `, ${top.name} ${pct(top.share)} of the time` : ''}`);
    directions.push({
      ...figures,
      filters: figures.filters.map((f) => ({ ...f })),
      passedOn: [...figures.passedOn],
      head: { status: figures.head.status, headers: { ...figures.head.headers } },
    });
  }
  return {
    body: { source: body.source, kind: body.kind, bytes: body.bytes.length, chunk: args.chunk },
    request: { method, headers: requestHeaders },
    warmup: 'messages' in warmup ? `${warmup.messages} message${warmup.messages === 1 ? '' : 's'}` : `${num(warmup.seconds)} s`,
    directions,
  };
}

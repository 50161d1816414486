import type { SluiceConfig } from '../pipeline/config/types.js';

/**
 * The embedded configuration `npm start` runs: every location of the built-in demo upstream
 * with the filters that show what Sluice does there.
 */
export function demoConfig(upstreamUrl: string, port: number, host = '127.0.0.1'): SluiceConfig {
  return {
    listen: { host, port },
    upstreams: { demo: { servers: [upstreamUrl] } },
    filters: {
      compress: { filter: 'compress', options: { encodings: ['br', 'gzip'], minLength: 256 } },
    },
    locations: [
      { path: '/', upstream: 'demo', output: ['compress'] },
      // windows-1252 declared in Content-Type, converted to UTF-8, then compressed
      { path: '/legacy', match: 'exact', upstream: 'demo', output: ['charset', 'compress'] },
      // Shift_JIS declared only in <meta>: sniffed, converted, the <meta> rewritten
      { path: '/legacy-sjis', match: 'exact', upstream: 'demo', output: ['charset', 'compress'] },
      // an app that always gzips: decoded, then re-encoded as the client asked (or not at all)
      { path: '/gzipped', match: 'exact', upstream: 'demo', output: ['decompress', 'compress'] },
      // server-sent events through compress: each event arrives as it is sent
      { path: '/events', match: 'exact', upstream: 'demo', output: ['compress'] },
      // request bodies: a gzip-encoded POST is inflated before the upstream sees it
      { path: '/echo', match: 'exact', upstream: 'demo', input: ['inflate'] },
    ],
  };
}

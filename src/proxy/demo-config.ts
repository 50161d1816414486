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
      // an app that always gzips: decoded, rewritten (its internal host becomes this proxy's
      // paths), then re-encoded as the client asked (or not at all)
      {
        path: '/gzipped',
        match: 'exact',
        upstream: 'demo',
        output: ['decompress', { filter: 'substitute', options: { rules: ['s|http://internal.example:8000/|/|n'] } }, 'compress'],
      },
      // a page full of internal URLs in links: mapped while it streams, the rest untouched
      { path: '/links', match: 'exact', upstream: 'demo', output: [{ filter: 'html-urlmap', options: { rules: ['http://internal.example:8000/ /'] } }, 'compress'] },
      // a redirect and a cookie for the internal host: Location and Set-Cookie made public
      {
        path: '/moved',
        match: 'exact',
        upstream: 'demo',
        output: [{ filter: 'proxy-reverse', options: { rules: [{ from: 'http://internal.example:8000/', to: '/' }], cookieDomains: [{ from: 'internal.example', to: '' }] } }],
      },
      // server-sent events through compress: each event arrives as it is sent
      { path: '/events', match: 'exact', upstream: 'demo', output: ['compress'] },
      // request bodies: a gzip-encoded POST is inflated before the upstream sees it
      { path: '/echo', match: 'exact', upstream: 'demo', input: ['inflate'] },
    ],
  };
}

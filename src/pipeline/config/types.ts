import type { CompiledChain } from '../compile.js';

/**
 * The configuration as a user writes it (JSON or YAML). `defineConfig` types it in
 * TypeScript; the JSON Schema (config/schema.ts) validates it at load.
 */
export interface SluiceConfig {
  /** maxConnections: client connections open at once; one more is closed at once (default: no limit). */
  listen?: { host?: string; port?: number; maxConnections?: number };
  /**
   * The admin listener (/healthz, /readyz, /metrics), separate from the proxy's. The `sluice`
   * command starts it by default on 127.0.0.1:9080; the library only when configured.
   */
  admin?: { enabled?: boolean; host?: string; port?: number };
  upstreams: Record<string, UpstreamSpec>;
  /**
   * Files that export filter definitions (.js/.mjs/.cjs, or .ts/.mts/.cts without a build
   * step), relative to the config file; their filters are usable by name in this config.
   */
  modules?: string[];
  /** Named filter declarations, usable by name in any chain (Apache's FilterDeclare). */
  filters?: Record<string, FilterDeclaration>;
  locations: LocationSpec[];
}

export interface UpstreamSpec {
  /** One or more base URLs (http://host:port), used round robin. */
  servers: string[];
  /** Keep the client's Host header (default true, as nginx's proxy_set_header Host $host). */
  preserveHost?: boolean;
  /** ms to connect before the server counts as down: 502. Default 5000. */
  connectTimeout?: number;
  /** ms to wait for the response head: 504. Default 30000. */
  headersTimeout?: number;
  /** ms without body data from the upstream before the response is aborted. Default 60000. */
  bodyTimeout?: number;
  /** ms without request body data from the client: 408, the upstream request aborted. Default 60000. */
  requestBodyTimeout?: number;
}

export interface FilterDeclaration {
  filter: string;
  options?: unknown;
}

/** A filter in a chain: a declared or registered name, or one with options and a condition. */
export type ChainEntryConfig = string | { filter: string; options?: unknown; when?: ConditionSpec; name?: string };

/** mod_filter-like conditions; all given keys must hold. */
export interface ConditionSpec {
  /** Response Content-Type, wildcards allowed ("text/*"); a list matches any. */
  contentType?: string | string[];
  /** Response status: 200, "2xx", "200-299", or a list. */
  status?: number | string | Array<number | string>;
  /** Request method(s). */
  method?: string | string[];
  /** Request path regular expression. */
  path?: string;
  /** Request header name → regular expression (or true: present). */
  requestHeader?: Record<string, string | boolean>;
  /** Response header name → regular expression (or true: present). */
  responseHeader?: Record<string, string | boolean>;
  not?: ConditionSpec;
}

export interface LocationSpec {
  /** A path: prefix by default; `match` says how. */
  path: string;
  match?: 'prefix' | 'exact' | 'regex';
  /** Default: the upstream of the enclosing prefix location. */
  upstream?: string;
  /**
   * Response body chain. Absent: inherited from the nearest enclosing prefix location. A plain
   * list replaces the inherited chain; a list using Apache's FilterChain operators edits it:
   * `+name` (or `name`) appends, `@name` prepends, `-name` removes, `=name` replaces all, `!`
   * empties.
   */
  output?: ChainEntryConfig[];
  /** Request body chain; inherited and edited as `output`. */
  input?: ChainEntryConfig[];
}

/** An upstream as the proxy uses it. */
export interface CompiledUpstream {
  readonly name: string;
  readonly servers: readonly URL[];
  readonly preserveHost: boolean;
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly requestBodyTimeout: number;
}

/** A location ready to serve: chains compiled once, at load. */
export interface CompiledLocation {
  /** For logs and metrics: the path as written (with its match kind). */
  readonly name: string;
  readonly upstream: CompiledUpstream;
  readonly output: CompiledChain;
  readonly input: CompiledChain;
  /** True when a response filter may change the body: Range is then not forwarded. */
  readonly outputChangesBody: boolean;
}

export interface CompiledConfig {
  /** maxConnections 0: no limit. */
  readonly listen: { readonly host: string; readonly port: number; readonly maxConnections: number };
  /** As configured (defaults applied); absent when the config has no `admin` section. */
  readonly admin?: { readonly enabled: boolean; readonly host: string; readonly port: number };
  readonly upstreams: ReadonlyMap<string, CompiledUpstream>;
  readonly locations: readonly CompiledLocation[];
  /** The location for a normalised request path, by the documented precedence; undefined: 404. */
  match(path: string): CompiledLocation | undefined;
  /** The filter modules this config loaded (absent when it names none). */
  readonly modules?: readonly LoadedFilterModule[];
}

/** A filter module as loaded for a config. */
export interface LoadedFilterModule {
  /** As written in the config. */
  readonly path: string;
  /** Resolved, absolute. */
  readonly file: string;
  /** Every file this load compiled (absolute): `file`, then the files it imports by relative path. Watched for reload. */
  readonly files: readonly string[];
  /** The filters it registered. */
  readonly filters: readonly string[];
}

/** Types a config written in TypeScript. */
export function defineConfig(config: SluiceConfig): SluiceConfig {
  return config;
}

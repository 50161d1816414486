import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The JSON Schema of a Sluice config (see types.ts for the TypeScript shape), built with
 * TypeBox. Unknown keys are rejected everywhere (a typo is an error, never silently ignored),
 * and defaults (below) are applied when the config is compiled.
 *
 * What a schema cannot say (upstream names exist, regexes compile, filters exist and take
 * these options, status patterns parse) is checked by load.ts.
 */

const closed = { additionalProperties: false } as const;

/**
 * Defaults. Properties that have one are optional in the schema (so editors do not ask for
 * them) and carry it as `default`; load.ts applies these when compiling.
 */
export const LISTEN_DEFAULTS = { host: '127.0.0.1', port: 8080 } as const;
/** Not 9090: that is Prometheus's own port, often on the same host as what it scrapes. */
export const ADMIN_DEFAULTS = { enabled: true, host: '127.0.0.1', port: 9080 } as const;
export const UPSTREAM_DEFAULTS = { preserveHost: true, connectTimeout: 5000, headersTimeout: 30000, bodyTimeout: 60000, requestBodyTimeout: 60000 } as const;
export const DEFAULT_MATCH = 'prefix' as const;

const StringOrList = (description: string): TSchema =>
  Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { description });

/** mod_filter-like conditions: every key given must hold. */
export const ConditionSchema = Type.Recursive(
  (This) =>
    Type.Object(
      {
        contentType: Type.Optional(
          StringOrList(
            'Content-Type of the filtered message (the response for output chains, the request for input ones); "text/*", "application/*+json" and "*" wildcards; a list matches any.',
          ),
        ),
        status: Type.Optional(
          Type.Union(
            [
              Type.Integer({ minimum: 100, maximum: 599 }),
              Type.String(),
              Type.Array(Type.Union([Type.Integer({ minimum: 100, maximum: 599 }), Type.String()]), { minItems: 1 }),
            ],
            { description: 'Response status: 200, "2xx", "200-299", or a list of these (output chains only).' },
          ),
        ),
        method: Type.Optional(StringOrList('Request method(s), case-insensitive.')),
        path: Type.Optional(Type.String({ description: 'Regular expression (JavaScript syntax) tested against the normalised request path, without the query.' })),
        requestHeader: Type.Optional(
          Type.Record(Type.String(), Type.Union([Type.String(), Type.Boolean()]), {
            description: 'Header name → regular expression tested against its value; true: present; false: absent.',
          }),
        ),
        responseHeader: Type.Optional(
          Type.Record(Type.String(), Type.Union([Type.String(), Type.Boolean()]), {
            description: 'As requestHeader, for the response (output chains only).',
          }),
        ),
        not: Type.Optional(This),
      },
      closed,
    ),
  { $id: 'ConditionSpec' },
);

export const ChainEntrySchema = Type.Union(
  [
    Type.String({ minLength: 1, description: 'A declared (filters) or registered filter name.' }),
    Type.Object(
      {
        filter: Type.String({ minLength: 1, description: 'A declared (filters) or registered filter name, optionally after a FilterChain operator (+ @ - =).' }),
        options: Type.Optional(Type.Unknown({ description: 'Options of the filter; over a declaration, merged key by key over its options.' })),
        when: Type.Optional(ConditionSchema),
        name: Type.Optional(Type.String({ minLength: 1, description: 'Alias in errors and metrics.' })),
      },
      closed,
    ),
  ],
  { description: 'A filter in a chain.' },
);

export const UpstreamSchema = Type.Object(
  {
    servers: Type.Array(Type.String({ description: 'http:// or https:// origin, e.g. http://127.0.0.1:3000' }), {
      minItems: 1,
      description: 'One or more origins, used round robin.',
    }),
    preserveHost: Type.Optional(Type.Boolean({ default: UPSTREAM_DEFAULTS.preserveHost, description: "Keep the client's Host header." })),
    connectTimeout: Type.Optional(
      Type.Integer({ minimum: 1, default: UPSTREAM_DEFAULTS.connectTimeout, description: 'ms to connect before the server counts as down (502).' }),
    ),
    headersTimeout: Type.Optional(
      Type.Integer({ minimum: 0, default: UPSTREAM_DEFAULTS.headersTimeout, description: 'ms to wait for the response head (504); 0: no limit.' }),
    ),
    bodyTimeout: Type.Optional(
      Type.Integer({ minimum: 0, default: UPSTREAM_DEFAULTS.bodyTimeout, description: 'ms without body data before the response is aborted; 0: no limit.' }),
    ),
    requestBodyTimeout: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: UPSTREAM_DEFAULTS.requestBodyTimeout,
        description: "ms without request body data from the client (nginx's client_body_timeout): 408 and the upstream request is aborted; 0: no limit.",
      }),
    ),
  },
  closed,
);

export const FilterDeclarationSchema = Type.Object(
  {
    filter: Type.String({ minLength: 1, description: 'A registered filter name.' }),
    options: Type.Optional(Type.Unknown({ description: 'Options of the filter.' })),
  },
  closed,
);

const CHAIN_DOC = (what: string): string =>
  `${what} body chain. Absent: the enclosing prefix location's. A plain list replaces it; with FilterChain operators it edits it: +name (or name) append, @name prepend, -name remove, =name replace all, ! empty.`;

export const LocationSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'A path prefix (default), an exact path, or a regular expression (match: regex).' }),
    match: Type.Optional(
      Type.Union([Type.Literal('prefix'), Type.Literal('exact'), Type.Literal('regex')], {
        default: DEFAULT_MATCH,
        description: 'prefix (segment-aware), exact, or regex; precedence: exact > longest prefix > first regex.',
      }),
    ),
    upstream: Type.Optional(Type.String({ minLength: 1, description: 'Name of an upstream; default: that of the enclosing prefix location.' })),
    output: Type.Optional(Type.Array(ChainEntrySchema, { description: CHAIN_DOC('Response') })),
    input: Type.Optional(Type.Array(ChainEntrySchema, { description: CHAIN_DOC('Request') })),
  },
  closed,
);

export const ConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'For editors: where this schema is.' })),
    admin: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ default: ADMIN_DEFAULTS.enabled, description: 'false: no admin listener.' })),
          host: Type.Optional(Type.String({ minLength: 1, default: ADMIN_DEFAULTS.host, description: 'Keep it private: the endpoints have no authentication.' })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: ADMIN_DEFAULTS.port, description: '0: any free port.' })),
        },
        { ...closed, description: 'The admin listener: /healthz, /readyz, /metrics (Prometheus text format).' },
      ),
    ),
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1, default: LISTEN_DEFAULTS.host })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: LISTEN_DEFAULTS.port })),
          maxConnections: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Client connections open at once; one more is closed as soon as it is accepted. Default: no limit. Read at start, not on reload.' }),
          ),
        },
        closed,
      ),
    ),
    upstreams: Type.Record(Type.String(), UpstreamSchema),
    modules: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Files exporting filter definitions (.js, .mjs, .cjs, .ts, .mts, .cts), relative to this config file.',
      }),
    ),
    filters: Type.Optional(Type.Record(Type.String(), FilterDeclarationSchema)),
    locations: Type.Array(LocationSchema),
  },
  { ...closed, title: 'Sluice configuration' },
);

export type ConfigSchemaType = Static<typeof ConfigSchema>;

/** The schema as plain JSON Schema (TypeBox's symbols stripped), for editors and docs. */
export const configJsonSchema: Record<string, unknown> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  ...(JSON.parse(JSON.stringify(ConfigSchema)) as Record<string, unknown>),
};

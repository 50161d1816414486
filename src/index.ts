/**
 * Sluice: streaming HTTP filter chains. The public API, from one entry.
 */
export * from './errors.js';
export { HeaderMap, type HeaderInput } from './filters/headers.js';
export {
  FLUSH,
  type Direction,
  type Emitter,
  type FilterContext,
  type FilterDefinition,
  type FilterInfo,
  type FilterInstance,
  type Flush,
  type HeadPhase,
  type OptionsOf,
  type RequestInfo,
  type StageName,
  type Step,
} from './filters/types.js';
export { Stage, STAGE_NAMES, stageLabel, stageValue, orderByStage } from './filters/stage.js';
export { validateOptions } from './filters/options.js';
export { FilterRegistry, defineFilter, type DefineFilterInput } from './filters/registry.js';
export { Type, type Static, type TSchema } from '@sinclair/typebox';

export {
  fromTransformStream,
  chainToTransformStream,
  chainOverResponse,
  type FromTransformStreamInput,
  type ChainStreamOptions,
} from './filters/adapters/web.js';
export { fromNodeTransform, chainToDuplex, type FromNodeTransformInput, type ChainDuplexOptions } from './filters/adapters/node.js';
export {
  modPythonFilter,
  type ModPythonFilter,
  type ModPythonHandler,
  type ModPythonFilterInput,
} from './filters/adapters/modpython.js';
export { webStreams, nativeStreams, polyfillStreams, type WebStreams } from './filters/adapters/web-streams.js';

export {
  compileChain,
  processChain,
  CompiledChain,
  type ChainItem,
  type ChainEntrySpec,
  type CompileOptions,
  type MessageInit,
  type Processed,
} from './pipeline/compile.js';
export type { CompiledEntry } from './pipeline/compiled-entry.js';
export { ChainRun, traceMessage, type ChainSink, type HeadInit, type RunOptions } from './pipeline/run.js';
export type { FilterStats, Instrument, RunStats, TraceLog } from './pipeline/meter.js';
export { pump, type ChainSource, type PumpOptions } from './pipeline/source.js';
export { nodeSink, collectSink, countingSink, webSink, type Collected } from './pipeline/sink.js';

export { builtins, builtinFilters } from './builtin/index.js';
export { identity } from './builtin/identity.js';
export { gzip } from './builtin/gzip.js';
export { deflate } from './builtin/deflate.js';
export { br } from './builtin/br.js';
export { compress } from './builtin/compress.js';
export { decompress } from './builtin/decompress.js';
export { inflate } from './builtin/inflate.js';
export { charset } from './builtin/charset.js';
export { trace } from './builtin/trace.js';
export { htmlUrlmap } from './builtin/html-urlmap.js';
export { substitute } from './builtin/substitute.js';
export { sed } from './builtin/sed.js';
export { limit } from './builtin/limit.js';
export { headers } from './builtin/headers.js';
export { proxyReverse } from './builtin/proxy-reverse.js';
export { buffer } from './builtin/buffer.js';
export { ratelimit } from './builtin/ratelimit.js';
export { negotiateEncoding, parseAcceptEncoding, type AcceptEntry } from './builtin/support/accept-encoding.js';

export { createProxy } from './proxy/create.js';
export { createProxyServer, type ProxyOptions } from './proxy/server.js';
export { sluice as sluicePlugin, type SluicePluginOptions } from './proxy/plugin.js';
export { ProxyMetrics, LATENCY_BUCKETS, type UpstreamErrorKind, type ConfigState } from './proxy/metrics.js';
export { AdminServer, type AdminOptions, type AdminServerInput } from './proxy/admin.js';
export { LiveConfig, Generation } from './proxy/live-config.js';
export { startDemoUpstream, type DemoUpstream } from './proxy/demo-upstream.js';
export {
  defineConfig,
  type SluiceConfig,
  type UpstreamSpec,
  type LocationSpec,
  type ChainEntryConfig,
  type ConditionSpec,
  type FilterDeclaration,
  type CompiledConfig,
  type CompiledLocation,
  type CompiledUpstream,
} from './pipeline/config/types.js';
export { validateConfig, loadConfigFile, parseConfigText } from './pipeline/config/load.js';
export { loadConfigFileWithModules, validateConfigWithModules, loadFilterModules, type LoadedModules, type LoadedFilterModule, type ModuleProblem } from './pipeline/config/modules.js';
export { ConfigError, formatProblems, type ConfigProblem } from './pipeline/config/errors.js';
export { configJsonSchema } from './pipeline/config/schema.js';
export { compileCondition } from './pipeline/conditions.js';
export { normalisePath } from './pipeline/locations.js';

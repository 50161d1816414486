import type { CompiledConfig } from '../pipeline/config/types.js';
import { UpstreamClient } from './upstream.js';

/**
 * One loaded config with its own upstream clients. A request holds the generation it started
 * on until its response is done, so a reload never changes the chain under a request in flight
 * (as Apache's graceful restart lets old children finish on the old config).
 */
export class Generation {
  readonly config: CompiledConfig;
  readonly clients: ReadonlyMap<string, UpstreamClient>;
  readonly loadedAt = Date.now();
  #inFlight = 0;
  #retired = false;
  #closed: Promise<void> | undefined;
  readonly #drained: Promise<void>;
  #onDrained!: () => void;

  constructor(config: CompiledConfig) {
    this.config = config;
    const clients = new Map<string, UpstreamClient>();
    for (const [name, spec] of config.upstreams) clients.set(name, new UpstreamClient(spec));
    this.clients = clients;
    this.#drained = new Promise((resolve) => (this.#onDrained = resolve));
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  acquire(): void {
    this.#inFlight++;
  }

  release(): void {
    this.#inFlight--;
    if (this.#retired && this.#inFlight === 0) void this.close();
  }

  /**
   * No new requests: the upstream pools close once the last request in flight is done. The
   * promise settles then.
   */
  retire(): Promise<void> {
    this.#retired = true;
    if (this.#inFlight === 0) void this.close();
    return this.#drained;
  }

  /** Close the upstream pools now (requests still in flight fail). */
  close(): Promise<void> {
    this.#closed ??= Promise.all([...this.clients.values()].map((c) => c.close())).then(() => this.#onDrained());
    return this.#closed;
  }
}

/** The config a server serves now; `swap` installs a new one (already validated and compiled). */
export class LiveConfig {
  #current: Generation;
  #generation = 1;
  readonly #retiring = new Set<Generation>();

  constructor(config: CompiledConfig) {
    this.#current = new Generation(config);
  }

  get current(): Generation {
    return this.#current;
  }

  /** How many configs this server has served (1 before any reload). */
  get generation(): number {
    return this.#generation;
  }

  /** New requests get `config`; requests in flight finish on the old one. */
  swap(config: CompiledConfig): void {
    const old = this.#current;
    this.#current = new Generation(config);
    this.#generation++;
    this.#retiring.add(old);
    void old.retire().then(() => this.#retiring.delete(old));
  }

  /** Stop: resolves when requests in flight on every generation are done and pools closed. */
  drain(): Promise<void> {
    return Promise.all([this.#current.retire(), ...[...this.#retiring].map((g) => g.retire())]).then(() => undefined);
  }

  /** Stop now: close the current generation's pools whatever is in flight. */
  close(): Promise<void> {
    const all = [this.#current, ...this.#retiring];
    for (const g of all) void g.retire();
    return Promise.all(all.map((g) => g.close())).then(() => undefined);
  }
}

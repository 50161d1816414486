import { Type } from '@sinclair/typebox';
import { defineFilter } from '../filters/registry.js';
import type { Emitter, FilterInstance, HeadPhase, Step } from '../filters/types.js';

const options = Type.Object(
  {
    rate: Type.Number({ exclusiveMinimum: 0, description: 'KiB per second per response (rate-limit).' }),
    burst: Type.Number({ minimum: 0, default: 0, description: 'KiB sent at full speed first (rate-initial-burst).' }),
  },
  { additionalProperties: false },
);

/** How much sending time one release of bytes covers: 50 ms worth, so 20 wake-ups a second at most. */
const QUANTUM_MS = 50;
/** Shortest sleep, so a stream of tiny chunks does not become a storm of 1 ms timers. */
const MIN_SLEEP_MS = 10;

/**
 * mod_ratelimit: bytes per second per response, after an initial burst. A token bucket: it
 * starts with the burst (or one quantum, 50 ms worth, if that is more) and fills at the rate,
 * up to one quantum once the burst is spent, so a pause in the upstream does not buy a burst
 * later. A chunk that fits goes on at once (no promise); one that does not is sent in slices
 * as the bucket fills, and the filter's onData does not settle until it has all gone, which
 * holds the source back: memory stays at one chunk. The only timer is cleared on abort.
 */
export const ratelimit = defineFilter({
  name: 'ratelimit',
  description: 'Limits each response to a rate in KiB/s after an initial burst (mod_ratelimit).',
  directions: ['output'],
  stage: 'protocol',
  preservesLength: true,
  options,
  create: (ctx) => new RateLimiter(ctx.options.rate * 1024, ctx.options.burst * 1024),
});

class RateLimiter implements FilterInstance {
  readonly #perMs: number;
  readonly #quantum: number;
  #tokens: number;
  #last = -1;
  #aborted = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(bytesPerSecond: number, burstBytes: number) {
    this.#perMs = bytesPerSecond / 1000;
    this.#quantum = Math.max(1, Math.round(this.#perMs * QUANTUM_MS));
    this.#tokens = Math.max(burstBytes, this.#quantum);
  }

  onHead(head: HeadPhase): void {
    const noBody = head.request.method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200;
    if (noBody) head.passOn();
  }

  onData(chunk: Uint8Array, out: Emitter): Step {
    this.#refill();
    if (chunk.length <= this.#tokens) {
      this.#tokens -= chunk.length;
      return out.push(chunk);
    }
    return this.#trickle(chunk, out);
  }

  onAbort(): void {
    this.#aborted = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #trickle(chunk: Uint8Array, out: Emitter): Promise<void> {
    let off = 0;
    while (off < chunk.length && !this.#aborted) {
      this.#refill();
      const left = chunk.length - off;
      const can = Math.min(Math.floor(this.#tokens), left);
      // send when a quantum's worth (or all that is left) is allowed, not byte by byte
      if (can >= Math.min(left, this.#quantum)) {
        this.#tokens -= can;
        const r = out.push(off === 0 && can === chunk.length ? chunk : chunk.subarray(off, off + can));
        off += can;
        if (r) await r;
        continue;
      }
      const need = Math.min(left, this.#quantum) - this.#tokens;
      await this.#sleep(Math.max(MIN_SLEEP_MS, Math.ceil(need / this.#perMs)));
    }
  }

  /** The clock starts at the first byte: time spent waiting for the upstream is not credit. */
  #refill(): void {
    const now = performance.now();
    if (this.#last >= 0) {
      const cap = Math.max(this.#tokens, this.#quantum);
      this.#tokens = Math.min(this.#tokens + (now - this.#last) * this.#perMs, cap);
    }
    this.#last = now;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      }, ms);
    });
  }
}

/**
 * Progress on stderr, so stdout carries only the summary. On a terminal: one bar redrawn in
 * place (at most ten times a second). Elsewhere (CI logs, a pipe): a plain line when a phase
 * starts, at each quarter, and when it ends, so a log stays short and readable.
 */
export interface ProgressSink {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Progress {
  /** A phase begins (e.g. "output chain", "load through sluice"). */
  start(label: string): void;
  /** fraction 0..1 of the phase, with a short figure to show beside it. */
  update(fraction: number, detail: string): void;
  /** The phase is over; `summary` replaces the bar. */
  end(summary: string): void;
}

const QUIET: Progress = { start: () => undefined, update: () => undefined, end: () => undefined };

export function createProgress(out: ProgressSink, opts: { quiet: boolean }): Progress {
  if (opts.quiet) return QUIET;
  return out.isTTY ? new Bar(out) : new Lines(out);
}

class Bar implements Progress {
  readonly #out: ProgressSink;
  #label = '';
  #last = 0;

  constructor(out: ProgressSink) {
    this.#out = out;
  }

  start(label: string): void {
    this.#label = label;
    this.#last = 0;
    this.#draw(0, '');
  }

  update(fraction: number, detail: string): void {
    const t = Date.now();
    if (t - this.#last < 100 && fraction < 1) return;
    this.#last = t;
    this.#draw(fraction, detail);
  }

  end(summary: string): void {
    this.#out.write(`\r\x1b[2K  ${this.#label}: ${summary}\n`);
  }

  #draw(fraction: number, detail: string): void {
    const width = Math.max(10, Math.min(30, (this.#out.columns ?? 80) - this.#label.length - detail.length - 16));
    const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
    const bar = `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
    this.#out.write(`\r\x1b[2K  ${this.#label} ${bar} ${String(Math.floor(fraction * 100)).padStart(3)}%  ${detail}`);
  }
}

class Lines implements Progress {
  readonly #out: ProgressSink;
  #label = '';
  #quarter = 0;

  constructor(out: ProgressSink) {
    this.#out = out;
  }

  start(label: string): void {
    this.#label = label;
    this.#quarter = 0;
    this.#out.write(`  ${label}: started\n`);
  }

  update(fraction: number, detail: string): void {
    const q = Math.floor(fraction * 4);
    if (q <= this.#quarter || q >= 4) return;
    this.#quarter = q;
    this.#out.write(`  ${this.#label}: ${q * 25}%  ${detail}\n`);
  }

  end(summary: string): void {
    this.#out.write(`  ${this.#label}: ${summary}\n`);
  }
}

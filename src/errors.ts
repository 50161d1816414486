/**
 * Every error Sluice raises is a SluiceError with a stable `code` (undici's convention):
 * match on `code`, never on the message, which may be reworded.
 */
export class SluiceError extends Error {
  readonly code: string;
  /** HTTP status this error maps to when it happens before the head is sent. */
  readonly status: number;

  constructor(code: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status ?? 500;
  }
}

/** A filter name that is not registered. */
export class UnknownFilterError extends SluiceError {
  readonly filter: string;
  constructor(filter: string, known: readonly string[]) {
    super(
      'ERR_SLUICE_UNKNOWN_FILTER',
      `unknown filter "${filter}" (registered: ${known.length ? known.join(', ') : 'none'})`,
    );
    this.filter = filter;
  }
}

/** Registering a second filter under a name already taken (names are case-insensitive). */
export class DuplicateFilterError extends SluiceError {
  readonly filter: string;
  constructor(filter: string) {
    super('ERR_SLUICE_DUPLICATE_FILTER', `a filter named "${filter}" is already registered`);
    this.filter = filter;
  }
}

/** A filter definition that breaks the contract (bad stage, no directions, ...). */
export class FilterDefinitionError extends SluiceError {
  readonly filter: string;
  constructor(filter: string, problem: string) {
    super('ERR_SLUICE_FILTER_DEFINITION', `filter "${filter}": ${problem}`);
    this.filter = filter;
  }
}

/** An option rejected at config load; names the filter and the option. */
export class FilterOptionsError extends SluiceError {
  readonly filter: string;
  /** Option path, e.g. `level` or `rules/0/pattern`; empty when the options object itself is bad. */
  readonly option: string;
  constructor(filter: string, option: string, problem: string) {
    super(
      'ERR_SLUICE_FILTER_OPTIONS',
      option
        ? `filter "${filter}": option "${option}": ${problem}`
        : `filter "${filter}": options: ${problem}`,
    );
    this.filter = filter;
    this.option = option;
  }
}

/** A filter used in a direction it does not serve (e.g. an output-only filter in an input chain). */
export class FilterDirectionError extends SluiceError {
  readonly filter: string;
  constructor(filter: string, direction: string, serves: readonly string[]) {
    super(
      'ERR_SLUICE_FILTER_DIRECTION',
      `filter "${filter}" cannot be used in an ${direction} chain (it serves: ${serves.join(', ')})`,
    );
    this.filter = filter;
  }
}

/** Phase of a message in which a filter failed. */
export type FilterPhase = 'create' | 'head' | 'data' | 'flush' | 'end';

/**
 * A filter raised an error (threw, rejected, or reported one). Carries the filter's name and
 * the phase; `status` comes from the cause when it is a SluiceError (e.g. 413 for a size
 * limit), else 500.
 */
export class FilterError extends SluiceError {
  readonly filter: string;
  readonly phase: FilterPhase;
  constructor(filter: string, phase: FilterPhase, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('ERR_SLUICE_FILTER', `filter "${filter}" failed in ${phase}: ${detail}`, {
      cause,
      status: cause instanceof SluiceError ? cause.status : 500,
    });
    this.filter = filter;
    this.phase = phase;
  }
}

/** A header edit after the head was committed: an error, never a silent loss. */
export class HeadersCommittedError extends SluiceError {
  constructor(what: string) {
    super(
      'ERR_SLUICE_HEADERS_COMMITTED',
      `${what} after the head was committed; make header decisions in onHead`,
    );
  }
}

/**
 * A body over a size limit (`limit`, `buffer`): 413 for a request body (LimitRequestBody),
 * 502 for a response, which is aborted if its head has already gone out.
 */
export class BodyTooLargeError extends SluiceError {
  readonly limit: number;
  constructor(limit: number, direction: 'input' | 'output', detail?: string) {
    super(
      'ERR_SLUICE_BODY_TOO_LARGE',
      `the ${direction === 'input' ? 'request' : 'response'} body is larger than ${limit} bytes${detail ? ` (${detail})` : ''}`,
      { status: direction === 'input' ? 413 : 502 },
    );
    this.limit = limit;
  }
}

/**
 * A header value built at run time (a request variable in `headers`) holds a character no
 * header may carry (CR, LF, NUL, other controls): refused rather than sent, so nothing can be
 * injected. 400: the request supplied it.
 */
export class HeaderValueError extends SluiceError {
  readonly header: string;
  constructor(header: string, problem: string) {
    super('ERR_SLUICE_HEADER_VALUE', `header "${header}": ${problem}`, { status: 400 });
    this.header = header;
  }
}

/** A chain used out of order: data after end, a second start, a push after end. */
export class ChainStateError extends SluiceError {
  constructor(message: string) {
    super('ERR_SLUICE_CHAIN_STATE', message);
  }
}

/** The message was aborted from outside (client gone, upstream reset, caller's signal). */
export class ChainAbortedError extends SluiceError {
  constructor(reason?: unknown) {
    super('ERR_SLUICE_ABORTED', 'the message was aborted', { cause: reason, status: 502 });
  }
}

/**
 * html-urlmap met a tag (or, rewriting script or style text, a line) longer than its
 * maxTagLength: the message fails rather than the held bytes growing without bound. 502: the
 * upstream sent it.
 */
export class MarkupTooLongError extends SluiceError {
  readonly limit: number;
  constructor(what: string, limit: number) {
    super('ERR_SLUICE_MARKUP_TOO_LONG', `${what} is longer than maxTagLength (${limit} bytes)`, { status: 502 });
    this.limit = limit;
  }
}

/**
 * A line-based rewriter (substitute's regex rules, sed) met a line longer than its
 * maxLineLength: the message fails rather than the buffer growing (mod_substitute's AH01328).
 * 413 for a request body, 500 for a response.
 */
export class LineTooLongError extends SluiceError {
  readonly limit: number;
  constructor(limit: number, direction: 'input' | 'output') {
    super('ERR_SLUICE_LINE_TOO_LONG', `a line is longer than maxLineLength (${limit} bytes)`, {
      status: direction === 'input' ? 413 : 500,
    });
    this.limit = limit;
  }
}

/**
 * `sluice bench` was called wrongly: an unknown flag, a missing or contradictory one, a number
 * that is not one, a location that matches nothing. The command prints it and exits 2.
 */
export class BenchUsageError extends SluiceError {
  constructor(message: string) {
    super('ERR_SLUICE_BENCH_USAGE', message);
  }
}

/** `sluice bench --url`: Sluice or the upstream could not be reached before the load began. */
export class BenchTargetError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super('ERR_SLUICE_BENCH_TARGET', message, { cause });
  }
}

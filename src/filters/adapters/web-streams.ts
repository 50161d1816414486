/**
 * The WHATWG streams implementation Sluice uses: the runtime's own where it has one (Node 20
 * does), else web-streams-polyfill's ponyfill, loaded only then. Adapters take a `streams`
 * option so either can be chosen explicitly (the tests run both).
 */
export interface WebStreams {
  readonly ReadableStream: typeof globalThis.ReadableStream;
  readonly WritableStream: typeof globalThis.WritableStream;
  readonly TransformStream: typeof globalThis.TransformStream;
}

export const nativeStreams: WebStreams | undefined =
  typeof globalThis.TransformStream === 'function' && typeof globalThis.ReadableStream === 'function'
    ? {
        ReadableStream: globalThis.ReadableStream,
        WritableStream: globalThis.WritableStream,
        TransformStream: globalThis.TransformStream,
      }
    : undefined;

/** The web-streams-polyfill ponyfill (never installed as globals). */
export async function polyfillStreams(): Promise<WebStreams> {
  const m = await import('web-streams-polyfill');
  return {
    ReadableStream: m.ReadableStream as unknown as typeof globalThis.ReadableStream,
    WritableStream: m.WritableStream as unknown as typeof globalThis.WritableStream,
    TransformStream: m.TransformStream as unknown as typeof globalThis.TransformStream,
  };
}

/** Native streams where present, else the ponyfill. */
export const webStreams: WebStreams = nativeStreams ?? (await polyfillStreams());

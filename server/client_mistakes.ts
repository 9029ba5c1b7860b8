/**
 * connect-es answers a request body it cannot decode with `internal` (gRPC's convention), which
 * the Connect protocol sends as HTTP 500 (and so a compressed envelope it was not told how to
 * decompress), and an unknown `content-encoding` with `unimplemented`
 * (HTTP 501, where HTTP says 415). Both are the client's mistake: this restates them, in every
 * protocol, as `invalid_argument` (HTTP 400) and HTTP 415, and passes everything else as it is.
 *
 * @module
 */
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

/** How connect-es words a body it could not decode (a message, or a compressed envelope). */
const UNDECODABLE = ["parse binary:", "received compressed envelope"];
const undecodable = (message: string) => UNDECODABLE.some((prefix) => message.startsWith(prefix));
/** How connect-es words an unknown content encoding. */
const UNKNOWN_ENCODING = "unknown compression";
/** gRPC status codes (the Connect protocol names them instead). */
const GRPC_INTERNAL = "13";
const GRPC_INVALID_ARGUMENT = "3";
/** Envelope flags: the Connect protocol's end of stream, gRPC-Web's trailers. */
const CONNECT_END_STREAM = 0b10;
const GRPC_WEB_TRAILER = 0x80;

/**
 * `handler` with the client's mistakes restated as client errors.
 *
 * @example
 * ```ts ignore
 * const handlers = router.handlers.map(restateClientMistakes);
 * ```
 */
export function restateClientMistakes(handler: UniversalHandler): UniversalHandler {
  const restated = async (request: Parameters<UniversalHandler>[0]) => {
    const response = await handler(request);
    if (response.trailer) restateGrpcStatus(response.trailer); // trailers-only answers
    if (response.header?.has("content-encoding") || response.header?.has("grpc-encoding")) {
      return response; // errors are never compressed: nothing to restate
    }
    if (response.status >= 500 && response.body) return await restateUnary(response);
    return {
      ...response,
      body: response.body && restateEnvelopes(response.body, response.trailer),
    };
  };
  return Object.assign(restated, { ...handler });
}

/** A Connect unary error: a JSON body with `code` and `message`, the code given as HTTP status. */
async function restateUnary(response: UniversalServerResponse): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body!) chunks.push(chunk);
  const bytes = new Uint8Array(await new Blob(chunks as Uint8Array<ArrayBuffer>[]).arrayBuffer());
  const error = parseJson(bytes) as { code?: unknown; message?: unknown } | undefined;
  const message = typeof error?.message === "string" ? error.message : "";
  const restate = (status: number, code: unknown) => {
    const header = new Headers(response.header);
    header.delete("content-length"); // the body changes length
    const body = new TextEncoder().encode(JSON.stringify({ ...error, code }));
    return { ...response, status, header, body: once(body) };
  };
  if (error?.code === "internal" && undecodable(message)) {
    return restate(400, "invalid_argument");
  }
  if (error?.code === "unimplemented" && message.startsWith(UNKNOWN_ENCODING)) {
    return restate(415, error.code);
  }
  return { ...response, body: once(bytes) };
}

/**
 * The stream protocols' errors: gRPC's trailers once the body ended, gRPC-Web's trailer envelope,
 * the Connect protocol's end-of-stream envelope (connect-es writes each envelope as one chunk).
 */
async function* restateEnvelopes(
  body: AsyncIterable<Uint8Array>,
  trailer: Headers | undefined,
): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of body) {
      if (chunk[0] === GRPC_WEB_TRAILER) yield restateGrpcWebTrailer(chunk);
      else if (chunk[0] === CONNECT_END_STREAM) yield restateEndStream(chunk);
      else yield chunk;
    }
  } finally {
    if (trailer) restateGrpcStatus(trailer);
  }
}

function restateGrpcStatus(headers: Headers): void {
  const message = decodeURIComponent(headers.get("grpc-message") ?? "");
  if (headers.get("grpc-status") === GRPC_INTERNAL && undecodable(message)) {
    headers.set("grpc-status", GRPC_INVALID_ARGUMENT);
  }
}

function restateGrpcWebTrailer(envelope: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(envelope.subarray(5));
  const headers = new Headers();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  if (headers.get("grpc-status") !== GRPC_INTERNAL) return envelope;
  restateGrpcStatus(headers);
  if (headers.get("grpc-status") === GRPC_INTERNAL) return envelope;
  let restated = "";
  headers.forEach((value, name) => (restated += `${name}: ${value}\r\n`));
  return frame(GRPC_WEB_TRAILER, new TextEncoder().encode(restated));
}

function restateEndStream(envelope: Uint8Array): Uint8Array {
  const end = parseJson(envelope.subarray(5)) as
    | { error?: { code?: unknown; message?: unknown } }
    | undefined;
  const message = end?.error?.message;
  if (
    end?.error?.code !== "internal" || typeof message !== "string" ||
    !undecodable(message)
  ) return envelope;
  const restated = { ...end, error: { ...end.error, code: "invalid_argument" } };
  return frame(CONNECT_END_STREAM, new TextEncoder().encode(JSON.stringify(restated)));
}

function frame(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

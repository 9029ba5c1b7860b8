/**
 * Serving Connect services from Deno (server side only; not part of the browser surface):
 * `Deno.serve` for the Connect and gRPC-Web protocols, and an optional second listener on
 * `node:http2` for plain gRPC, which needs HTTP trailers that `Deno.serve` cannot send.
 *
 * Closing a listener ends what it serves: every running handler's `context.signal` aborts at once
 * (a server stream that waits for its client to leave would otherwise hold the shutdown forever),
 * streams still open after a grace period are cut, and the wait for open requests is bounded.
 *
 * @module
 */
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  cors as connectCors,
  createConnectRouter,
} from "@connectrpc/connect";
import { Hono } from "hono";
import { grpcServices } from "./grpc_services.ts";
import { cors } from "hono/cors";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { restateClientMistakes } from "./client_mistakes.ts";

/** How long `close()` waits for open requests by default. */
export const CLOSE_TIMEOUT_MILLIS = 5000;
/** How long open streams may take to end after `close()` before they are cut, by default. */
export const CLOSE_GRACE_MILLIS = 1000;

/** Where to listen. */
export interface ListenOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /**
   * How long `close()` waits for open requests before it gives up and rejects; default
   * {@linkcode CLOSE_TIMEOUT_MILLIS}.
   */
  readonly closeTimeoutMillis?: number;
}

/** Where and what to serve. */
export interface ServeOptions extends ListenOptions {
  /** Registers the Connect services. */
  readonly routes: (router: ConnectRouter) => void;
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes: number;
  /** Plain HTTP routes tried before the Connect services (health, metrics, REST…). */
  readonly fallback?: (request: Request) => Response | Promise<Response | undefined> | undefined;
  /**
   * How long streams may take to end after `close()` aborted their handlers' signals before they
   * are cut; default {@linkcode CLOSE_GRACE_MILLIS}.
   */
  readonly closeGraceMillis?: number;
  /**
   * Origins browsers may call from (`*` for any); none by default. Preflights and responses get
   * the CORS headers the Connect and gRPC-Web protocols need.
   */
  readonly corsOrigins?: readonly string[];
}

/** A running listener. */
export interface Listener {
  readonly hostname: string;
  readonly port: number;
  /**
   * Stops accepting and waits for open requests to end; rejects, saying so, if they have not
   * within the close timeout. The Connect and gRPC listeners first abort their handlers' signals.
   */
  close(): Promise<void>;
}

/** What `close()` aborts running Connect handlers with; clients see `unavailable`. */
const shuttingDown = () => new ConnectError("the server is shutting down", Code.Unavailable);

/** Resolves with `done`, or rejects with `message` once `millis` have passed. */
async function within(done: Promise<void>, millis: number, message: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), millis);
  });
  try {
    await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

const tooSlow = (protocol: string, addr: { hostname: string; port: number }, millis: number) =>
  `${protocol} listener ${addr.hostname}:${addr.port}: open requests did not end within ` +
  `${millis} ms of close(); stopped waiting for them`;

/**
 * `body` until `signal` aborts, then a clean end: a stream whose handler ignores its own signal
 * stops anyway (and no error is logged for it).
 */
function until(body: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  body.pipeTo(writable, { signal, preventAbort: true })
    .catch(() => writable.close())
    .catch(() => {}); // the client left first: nothing to end
  return readable;
}

/**
 * Serves `handler` on `Deno.serve`; `close()` waits at most the close timeout for open requests.
 *
 * @example
 * ```ts
 * import { serveFetch } from "@allegro/server/listen";
 *
 * const listener = serveFetch({ hostname: "127.0.0.1", port: 0 }, () => new Response("ok"));
 * const response = await fetch(`http://127.0.0.1:${listener.port}/`);
 * console.log(await response.text()); // ok
 * await listener.close();
 * ```
 */
export function serveFetch(
  options: ListenOptions,
  handler: (request: Request) => Response | Promise<Response>,
): Listener {
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, onListen: () => {} },
    handler,
  );
  const addr = server.addr as Deno.NetAddr;
  const timeout = options.closeTimeoutMillis ?? CLOSE_TIMEOUT_MILLIS;
  let closed: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    close: () => closed ??= within(server.shutdown(), timeout, tooSlow("HTTP", addr, timeout)),
  };
}

/** `handler` behind Hono's CORS middleware for `origins`, or as is when there are none. */
function withCors(
  origins: readonly string[],
  handler: (request: Request) => Promise<Response>,
): (request: Request) => Response | Promise<Response> {
  if (origins.length === 0) return handler;
  const app = new Hono();
  app.use(cors({
    origin: origins.includes("*") ? "*" : [...origins],
    allowMethods: [...connectCors.allowedMethods],
    allowHeaders: [...connectCors.allowedHeaders],
    exposeHeaders: [...connectCors.exposedHeaders],
    maxAge: 7200,
  }));
  app.all("*", (c) => handler(c.req.raw));
  return app.fetch;
}

/**
 * Serves Connect services (Connect and gRPC-Web protocols) and plain HTTP routes on
 * `Deno.serve`. `close()` aborts the running handlers' signals, and cuts the server streams still
 * open after the grace period.
 *
 * @example
 * ```ts ignore
 * import { serveConnect } from "@allegro/server/listen";
 *
 * const listener = serveConnect({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   readMaxBytes: 1 << 20,
 *   routes: (router) => router.service(FastPaySidecar, impl),
 *   fallback: (req) => new URL(req.url).pathname === "/healthz" ? new Response("ok") : undefined,
 * });
 * await listener.close();
 * ```
 */
export function serveConnect(options: ServeOptions): Listener {
  const shutdown = new AbortController();
  const cut = new AbortController();
  const router = createConnectRouter({
    grpc: false,
    readMaxBytes: options.readMaxBytes,
    shutdownSignal: shutdown.signal,
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, {
    handle: createFetchHandler(restateClientMistakes(h), { httpVersion: "1.1" }),
    streams: h.method.methodKind === "server_streaming",
  }]));
  const listener = serveFetch(
    options,
    withCors(options.corsOrigins ?? [], async (request) => {
      const extra = await options.fallback?.(request);
      if (extra) return extra;
      const handler = handlers.get(new URL(request.url).pathname);
      if (handler) {
        const response = await handler.handle(request);
        if (!handler.streams || response.body === null) return response;
        return new Response(until(response.body, cut.signal), response);
      }
      return Response.json(
        { error: { code: "not_found", message: `no route for ${new URL(request.url).pathname}` } },
        { status: 404 },
      );
    }),
  );
  let closed: Promise<void> | undefined;
  const close = async () => {
    shutdown.abort(shuttingDown());
    const timer = setTimeout(() => cut.abort(), options.closeGraceMillis ?? CLOSE_GRACE_MILLIS);
    try {
      await listener.close();
    } finally {
      clearTimeout(timer);
    }
  };
  return { hostname: listener.hostname, port: listener.port, close: () => closed ??= close() };
}

/**
 * Serves the same services over plain gRPC (HTTP/2 with trailers) on `node:http2`, cleartext,
 * with the standard health service (`grpc.health.v1`, following `serving`) and server
 * reflection (`grpc.reflection.v1`) beside them. `close()` aborts the running handlers' signals,
 * tells every session to stop (GOAWAY), and resets the sessions still open after the grace period.
 *
 * @example
 * ```ts ignore
 * import { serveGrpc } from "@allegro/server/listen";
 *
 * const grpc = await serveGrpc({ hostname: "127.0.0.1", port: 0, readMaxBytes: 1 << 20, routes });
 * await grpc.close();
 * ```
 */
export async function serveGrpc(
  options: Omit<ServeOptions, "fallback" | "corsOrigins"> & {
    /** Whether the component can serve now: `grpc.health.v1` reports it (default: always). */
    readonly serving?: () => boolean;
  },
): Promise<Listener> {
  const shutdown = new AbortController();
  const router = createConnectRouter({
    readMaxBytes: options.readMaxBytes,
    connect: false,
    grpcWeb: false,
    acceptCompression: [compressionGzip, compressionBrotli],
    shutdownSignal: shutdown.signal,
  });
  options.routes(router);
  grpcServices(
    router,
    [...new Set(router.handlers.map((h) => h.service))],
    options.serving ?? (() => true),
  );
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, restateClientMistakes(h)]));
  // connectNodeAdapter's loop, with each handler's answers to a client's mistakes restated.
  const server: Http2Server = createServer((request, response) => {
    const handler = handlers.get(request.url?.split("?", 1)[0] ?? "");
    if (!handler) {
      response.writeHead(404).end();
      return;
    }
    handler(universalRequestFromNodeRequest(request, response, undefined, undefined))
      .then((answer) => universalResponseToNodeResponse(answer, response))
      .catch((e) => {
        if (ConnectError.from(e).code !== Code.Aborted) {
          console.error(`gRPC ${handler.method.name} of ${handler.service.typeName} failed`, e);
        }
      });
  });
  // Clients keep their sessions open between calls; server.close() alone waits for them.
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const hostPort = { hostname: addr.address, port: addr.port };
  const timeout = options.closeTimeoutMillis ?? CLOSE_TIMEOUT_MILLIS;
  let closed: Promise<void> | undefined;
  const close = async () => {
    shutdown.abort(shuttingDown());
    const ended = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.close();
    const reset = setTimeout(() => {
      for (const session of sessions) session.destroy();
    }, options.closeGraceMillis ?? CLOSE_GRACE_MILLIS);
    try {
      await within(ended, timeout, tooSlow("gRPC", hostPort, timeout));
    } finally {
      clearTimeout(reset);
    }
  };
  return { ...hostPort, close: () => closed ??= close() };
}

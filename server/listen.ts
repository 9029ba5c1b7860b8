/**
 * Serving Connect services from Deno (server side only; not part of the browser surface):
 * `Deno.serve` for the Connect and gRPC-Web protocols, and an optional second listener on
 * `node:http2` for plain gRPC, which needs HTTP trailers that `Deno.serve` cannot send.
 *
 * @module
 */
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { type ConnectRouter, createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/** Where and what to serve. */
export interface ServeOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Registers the Connect services. */
  readonly routes: (router: ConnectRouter) => void;
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes: number;
  /** Plain HTTP routes tried before the Connect services (health, metrics, REST…). */
  readonly fallback?: (request: Request) => Response | Promise<Response | undefined> | undefined;
  readonly signal?: AbortSignal;
}

/** A running listener. */
export interface Listener {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting and waits for open requests to finish. */
  close(): Promise<void>;
}

/**
 * Serves Connect services (Connect and gRPC-Web protocols) and plain HTTP routes on
 * `Deno.serve`.
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
 * ```
 */
export function serveConnect(options: ServeOptions): Listener {
  const router = createConnectRouter({ grpc: false, readMaxBytes: options.readMaxBytes });
  options.routes(router);
  const handlers = new Map(
    router.handlers.map((h) => [h.requestPath, createFetchHandler(h, { httpVersion: "1.1" })]),
  );
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: options.signal,
    onListen: () => {},
  }, async (request) => {
    const extra = await options.fallback?.(request);
    if (extra) return extra;
    const handler = handlers.get(new URL(request.url).pathname);
    if (handler) return await handler(request);
    return Response.json(
      { error: { code: "not_found", message: `no route for ${new URL(request.url).pathname}` } },
      { status: 404 },
    );
  });
  const addr = server.addr as Deno.NetAddr;
  return {
    hostname: addr.hostname,
    port: addr.port,
    close: () => server.shutdown(),
  };
}

/**
 * Serves the same services over plain gRPC (HTTP/2 with trailers) on `node:http2`, cleartext.
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
  options: Omit<ServeOptions, "fallback" | "signal">,
): Promise<Listener> {
  const server: Http2Server = createServer(
    connectNodeAdapter({
      routes: options.routes,
      readMaxBytes: options.readMaxBytes,
      connect: false,
      grpcWeb: false,
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    hostname: addr.address,
    port: addr.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

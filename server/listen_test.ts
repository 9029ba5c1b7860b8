/**
 * Closing a listener ends the streams it serves: at once when their handlers follow their
 * signal, after the grace period when they do not, and close() gives up at its deadline.
 */
import assert from "node:assert/strict";
import { type ConnectRouter, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { FastPayAggregator } from "@allegro/proto";
import { type Listener, serveConnect, serveFetch, serveGrpc } from "./listen.ts";

const sleep = (millis: number) => new Promise((r) => setTimeout(r, millis));

/** A head every 5 ms, forever — or until the handler's signal aborts, if it follows it. */
const foreverHeads = (followSignal: boolean) => (router: ConnectRouter) =>
  router.service(FastPayAggregator, {
    async *watchHeads(_request, context) {
      for (let height = 1n; !(followSignal && context.signal.aborted); height++) {
        yield { height };
        await sleep(5);
      }
    },
  });

const LISTENERS: {
  name: string;
  serve(routes: (router: ConnectRouter) => void): Promise<Listener>;
  transport(baseUrl: string): Transport;
}[] = [
  {
    name: "Connect",
    serve: (routes) =>
      Promise.resolve(
        serveConnect({ hostname: "127.0.0.1", port: 0, readMaxBytes: 1 << 16, routes }),
      ),
    transport: (baseUrl) => createConnectTransport({ baseUrl }),
  },
  {
    name: "gRPC",
    serve: (routes) => serveGrpc({ hostname: "127.0.0.1", port: 0, readMaxBytes: 1 << 16, routes }),
    transport: (baseUrl) => createGrpcTransport({ baseUrl }),
  },
];

/** Opens a WatchHeads stream, waits for 3 heads, closes the listener; how long did close take? */
async function closeWhileStreaming(
  listener: Listener,
  transport: Transport,
): Promise<{ closeMillis: number; stream: Promise<string> }> {
  const client = createClient(FastPayAggregator, transport);
  let heads = 0;
  const stream = (async () => {
    try {
      for await (const _ of client.watchHeads({})) heads++;
      return "ended";
    } catch (e) {
      return `failed: ${(e as Error).message}`;
    }
  })();
  while (heads < 3) await sleep(5);
  const start = performance.now();
  await listener.close();
  return { closeMillis: performance.now() - start, stream };
}

for (const { name, serve, transport } of LISTENERS) {
  Deno.test(`${name}: close() ends a stream whose handler follows its signal at once`, async () => {
    const listener = await serve(foreverHeads(true));
    const closed = await closeWhileStreaming(
      listener,
      transport(`http://127.0.0.1:${listener.port}`),
    );
    assert.ok(closed.closeMillis < 500, `close took ${closed.closeMillis} ms`);
    assert.equal(await closed.stream, "ended");
  });

  Deno.test(`${name}: close() cuts a stream whose handler ignores its signal`, async () => {
    const listener = await serve(foreverHeads(false));
    const closed = await closeWhileStreaming(
      listener,
      transport(`http://127.0.0.1:${listener.port}`),
    );
    assert.ok(closed.closeMillis < 3000, `close took ${closed.closeMillis} ms`);
    assert.match(await closed.stream, /^failed: /);
  });
}

Deno.test("close() gives up at its deadline, saying what it waited for", async () => {
  let release = () => {};
  const released = new Promise<void>((r) => (release = r));
  const listener = serveFetch(
    { hostname: "127.0.0.1", port: 0, closeTimeoutMillis: 200 },
    async () => {
      await released;
      return new Response("late");
    },
  );
  const answered = fetch(`http://127.0.0.1:${listener.port}/`);
  await sleep(50);
  await assert.rejects(
    listener.close(),
    new Error(
      `HTTP listener 127.0.0.1:${listener.port}: open requests did not end within 200 ms of ` +
        "close(); stopped waiting for them",
    ),
  );
  release();
  assert.equal(await (await answered).text(), "late");
});

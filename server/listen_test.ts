/**
 * Closing a listener ends the streams it serves: at once when their handlers follow their
 * signal, after the grace period when they do not, and close() gives up at its deadline; a
 * malformed unary request is answered with a 4xx.
 */
import assert from "node:assert/strict";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { connect } from "node:http2";
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

/** A truncated message: field 1, length 255, no bytes. */
const UNDECODABLE = new Uint8Array([0x0a, 0xff, 0x01]);
const framed = (bytes: Uint8Array) => new Uint8Array([0, 0, 0, 0, bytes.length, ...bytes]);

/** An aggregator whose unary handler fails on its own and whose stream answers nothing. */
const failing = (router: ConnectRouter) =>
  router.service(FastPayAggregator, {
    getTxStatus: (_request, context) => {
      throw new ConnectError(`a failure of ${context.service.name}`, Code.Internal);
    },
    async *watchHeads() {},
  });

Deno.test("a client's malformed Connect request is a 4xx naming the problem, never a 5xx", async () => {
  const listener = serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 16,
    routes: failing,
  });
  const url = (method: string) =>
    `http://127.0.0.1:${listener.port}/${FastPayAggregator.typeName}/${method}`;
  try {
    const cases: [string, BodyInit, Record<string, string>, number, string, RegExp][] = [
      [
        "undecodable binary",
        UNDECODABLE,
        { "content-type": "application/proto" },
        400,
        "invalid_argument",
        /^parse binary: /,
      ],
      ["bad JSON", "{", { "content-type": "application/json" }, 400, "invalid_argument", /JSON/],
      [
        "unknown content-encoding",
        "{}",
        { "content-type": "application/json", "content-encoding": "x" },
        415,
        "unimplemented",
        /^unknown compression "x"/,
      ],
      // The server's own failure stays what it is.
      ["a handler's failure", "{}", { "content-type": "application/json" }, 500, "internal", /of /],
    ];
    for (const [name, body, headers, status, code, message] of cases) {
      const response = await fetch(url("GetTxStatus"), { method: "POST", headers, body });
      const error = await response.json();
      assert.equal(response.status, status, name);
      assert.equal(error.code, code, name);
      assert.match(error.message, message, name);
    }

    const stream = await fetch(url("WatchHeads"), {
      method: "POST",
      headers: { "content-type": "application/connect+proto" },
      body: framed(UNDECODABLE),
    });
    const end = new Uint8Array(await stream.arrayBuffer());
    assert.equal(end[0], 0b10, "an end-of-stream envelope");
    const { error } = JSON.parse(new TextDecoder().decode(end.subarray(5)));
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /^parse binary: /);

    const web = await fetch(url("GetTxStatus"), {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: framed(UNDECODABLE),
    });
    const trailer = new TextDecoder().decode((await web.bytes()).subarray(5));
    assert.equal(web.status, 200);
    assert.match(trailer, /grpc-status: 3\r\n/);
    assert.match(trailer, /grpc-message: parse%20binary/);
  } finally {
    await listener.close();
  }
});

Deno.test("a client's malformed gRPC request is invalid_argument", async () => {
  const listener = await serveGrpc({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 16,
    routes: failing,
  });
  const session = connect(`http://127.0.0.1:${listener.port}`);
  const call = async (method: string, body: Uint8Array) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/${FastPayAggregator.typeName}/${method}`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const status = new Promise<string | undefined>((resolve) => {
      stream.on("response", (headers) => {
        if (headers["grpc-status"] !== undefined) resolve(String(headers["grpc-status"]));
      });
      stream.on("trailers", (trailers) => resolve(String(trailers["grpc-status"])));
      stream.on("close", () => resolve(undefined));
    });
    stream.on("data", () => {});
    stream.end(body);
    return await status;
  };
  try {
    assert.equal(await call("GetTxStatus", framed(UNDECODABLE)), "3");
    assert.equal(await call("WatchHeads", framed(UNDECODABLE)), "3");
    assert.equal(await call("GetTxStatus", framed(new Uint8Array())), "13", "its own failure");
  } finally {
    session.close();
    await listener.close();
  }
});

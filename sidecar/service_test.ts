import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { hexToBytes } from "viem";
import { FastPaySidecar, RejectCode, Stage } from "@allegro/proto";
import { serveConnect, serveGrpc } from "@allegro/server/listen";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TxEvents } from "./events.ts";
import { SidecarMetrics } from "./metrics.ts";
import { sidecarService, submitFastPath } from "./service.ts";
import { alice, bob, carol, PATH_USD, submission, testCertifier } from "./testing.ts";

/** A submission of `account`'s payment as a wire request. */
async function signed(...args: Parameters<typeof submission>) {
  return { signedTx: (await submission(...args)).signedTx };
}

async function setup(options: { fastPath?: boolean; binary?: boolean } = {}) {
  const f = await testCertifier();
  f.chain.setBalance(alice.address, PATH_USD, 10n ** 12n);
  f.chain.setBalance(bob.address, PATH_USD, 10n ** 12n);
  const events = new TxEvents();
  const metrics = new SidecarMetrics();
  const fastPath = submitFastPath({ certifier: f.certifier, metrics }, 1 << 16);
  let fastAnswers = 0;
  const fast = (request: Request) => {
    const response = fastPath(request);
    if (response !== undefined) fastAnswers++;
    return response;
  };
  const listener = serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 16,
    ...(options.fastPath ? { fallback: (request: Request) => fast(request) } : {}),
    routes: (router) =>
      router.service(
        FastPaySidecar,
        sidecarService({
          name: "v0",
          committee: f.committee,
          signer: f.signers[0],
          peers: ["http://127.0.0.1:1"],
          certifier: f.certifier,
          store: f.store,
          ledger: f.ledger,
          events,
          metrics,
          maxPage: 3,
        }),
      ),
  });
  const client = createClient(
    FastPaySidecar,
    createConnectTransport({
      baseUrl: `http://127.0.0.1:${listener.port}`,
      useBinaryFormat: options.binary ?? false,
    }),
  );
  const close = async () => {
    await listener.close();
    f.store.close();
  };
  return {
    f,
    events,
    client,
    close,
    metrics,
    url: `http://127.0.0.1:${listener.port}`,
    fastAnswers: () => fastAnswers,
  };
}

Deno.test("SubmitFastPayStream: ACCEPTED, CERTIFICATE, then QUEUED_ONCHAIN and INCLUDED", async () => {
  const { events, client, close } = await setup();
  const request = await signed();
  const stages: Stage[] = [];
  let heights: bigint[] = [];
  for await (const e of client.submitFastPayStream(request)) {
    stages.push(e.stage);
    heights.push(e.blockHeight);
    if (e.stage === Stage.CERTIFICATE) {
      assert.equal(e.certificate?.signature.length, 64);
      setTimeout(() => {
        events.emit({ kind: "queued", txHash: e.txHash });
        events.emit({ kind: "included", txHash: e.txHash, blockHeight: 101n });
      }, 10);
    }
  }
  assert.deepEqual(stages, [
    Stage.ACCEPTED,
    Stage.CERTIFICATE,
    Stage.QUEUED_ONCHAIN,
    Stage.INCLUDED,
  ]);
  assert.equal(heights.at(-1), 101n);
  heights = [];
  const rejected = [];
  for await (const e of client.submitFastPayStream(await signed(alice, { amount: 5n }))) {
    rejected.push(e.stage);
    if (e.stage === Stage.REJECTED) assert.equal(e.reject?.code, RejectCode.EQUIVOCATION);
  }
  assert.deepEqual(rejected, [Stage.ACCEPTED, Stage.REJECTED]);
  await close();
});

Deno.test("GetBulletinBoard pages by cursor without skips or repeats, and filters", async () => {
  const { client, close } = await setup();
  const sent = [];
  for (let i = 0; i < 4; i++) {
    sent.push(await client.submitFastPay(await signed(alice, { nonce: BigInt(i) })));
  }
  await client.submitFastPay(await signed(bob, { recipient: carol.address }));
  const seen: bigint[] = [];
  let after = 0n;
  for (let page = 0; page < 10; page++) {
    const r = await client.getBulletinBoard({ afterSequence: after });
    assert.ok(r.entries.length <= 3);
    seen.push(...r.entries.map((e) => e.sequence));
    after = r.nextAfterSequence;
    if (!r.hasMore) break;
  }
  assert.deepEqual(seen, [1n, 2n, 3n, 4n, 5n]);
  const byTx = await client.getBulletinBoard({ txHash: sent[2].txHash });
  assert.deepEqual(byTx.entries.map((e) => e.sequence), [3n]);
  const toCarol = await client.getBulletinBoard({ address: hexToBytes(carol.address) });
  assert.deepEqual(toCarol.entries.map((e) => e.sequence), [5n]);
  assert.equal(toCarol.entries[0].payment?.amount, 10_000_000n);
  const fromAlice = await client.getBulletinBoard({
    address: hexToBytes(alice.address),
    afterSequence: 2n,
  });
  assert.deepEqual(fromAlice.entries.map((e) => e.sequence), [3n, 4n]);
  await assert.rejects(client.getBulletinBoard({ txHash: new Uint8Array(5) }), (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.InvalidArgument);
    assert.match(e.message, /tx_hash must be 32 bytes, got 5/);
    return true;
  });
  await close();
});

Deno.test("GetValidatorInfo and GetChainHead; no head means Unavailable", async () => {
  const { f, client, close } = await setup();
  const info = await client.getValidatorInfo({});
  assert.equal(info.name, "v0");
  assert.deepEqual(info.pubkey, f.signers[0].publicKey);
  assert.equal(info.chainId, 1337n);
  assert.equal(info.epoch, 42n);
  assert.equal((await client.getChainHead({})).height, 100n);
  f.ledger.head = undefined;
  await assert.rejects(
    client.getChainHead({}),
    (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable,
  );
  await close();
});

Deno.test("a request body over the limit is refused, not processed", async () => {
  const { client, close } = await setup();
  const big = await signed();
  await assert.rejects(
    client.submitFastPay({ ...big, clientRequestId: "x".repeat(70_000) }),
    (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
  );
  await close();
});

Deno.test("the same service answers plain gRPC on the node:http2 listener", async () => {
  const f = await testCertifier();
  const grpc = await serveGrpc({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 16,
    routes: (router) =>
      router.service(
        FastPaySidecar,
        sidecarService({
          name: "v0",
          committee: f.committee,
          signer: f.signers[0],
          peers: [],
          certifier: f.certifier,
          store: f.store,
          ledger: f.ledger,
          events: new TxEvents(),
          metrics: new SidecarMetrics(),
          maxPage: 3,
        }),
      ),
  });
  const client = createClient(
    FastPaySidecar,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpc.port}` }),
  );
  assert.equal((await client.getValidatorInfo({})).name, "v0");
  assert.equal((await client.getChainHead({})).height, 100n);
  await grpc.close();
  f.store.close();
});

Deno.test("binary SubmitFastPay on the fast path answers as the Connect handler does", async () => {
  const fast = await setup({ fastPath: true, binary: true });
  const slow = await setup({ fastPath: false, binary: true });
  const json = await setup({ fastPath: true, binary: false });
  try {
    for (const s of [fast, slow, json]) {
      const request = await signed();
      const first = await s.client.submitFastPay(request);
      assert.equal(first.result.case, "certificate");
      // Idempotent replay, then a conflicting transaction for the same contention key.
      const again = await s.client.submitFastPay(request);
      assert.deepEqual(again.result.value, first.result.value);
      const conflict = await s.client.submitFastPay(await signed(alice, { amount: 7n }));
      assert.equal(conflict.result.case, "reject");
      assert.equal(
        conflict.result.case === "reject" && conflict.result.value.code,
        RejectCode.EQUIVOCATION,
      );
      // Metrics count every submission, whichever path served it.
      assert.match(s.metrics.render(), /EQUIVOCATION/);
    }
    assert.equal(fast.fastAnswers(), 3, "binary submissions did not take the fast path");
    assert.equal(json.fastAnswers(), 0, "JSON took the fast path");
    // Same deterministic keys and clock: the same certificate bytes on both paths.
    const a = await fast.client.submitFastPay(await signed(bob));
    const b = await slow.client.submitFastPay(await signed(bob));
    assert.deepEqual(a, b);
    // Over the limit, malformed, or not binary: Connect's errors, as before.
    await assert.rejects(
      fast.client.submitFastPay({ ...(await signed(carol)), clientRequestId: "x".repeat(70_000) }),
      (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
    );
    const garbage = await fetch(`${fast.url}/allegro.v1.FastPaySidecar/SubmitFastPay`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array([0xff, 0xff, 0xff]),
    });
    assert.equal(garbage.status, 400);
    assert.equal((await garbage.json()).code, "invalid_argument");
  } finally {
    await fast.close();
    await slow.close();
    await json.close();
  }
});

/**
 * `watch` against a tiny in-process fake aggregator served with `serveConnect`: stages come
 * through in order with verified certificates and QC, the iteration ends at a terminal stage,
 * a bad QC is refused, and a client without a backend says so.
 */
import assert from "node:assert/strict";
import { privateKeyToAccount } from "viem/accounts";
import { FastPayAggregator, RejectCode, Stage } from "@allegro/proto";
import {
  AllegroClient,
  AllegroError,
  assembleQuorumCertificate,
  certificateToProto,
  qcInit,
  Wallet,
} from "./mod.ts";
import { serveConnect } from "@allegro/server/listen";
import { testCommittee } from "./testing.ts";

const { committee, signers } = await testCommittee(4);
const txHash = new Uint8Array(32).fill(0xab);
const effectsHash = new Uint8Array(32).fill(0xcd);
const certificates = await Promise.all(
  signers.slice(0, 3).map((s, i) => s.sign(txHash, effectsHash, 1000n + BigInt(i))),
);
const qc = assembleQuorumCertificate(committee, certificates)!;
const wallet = new Wallet(
  privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
);

/** A fake backend whose WatchTx stream is `statuses`, then stays open until the client leaves. */
function fakeBackend(statuses: unknown[]) {
  const listener = serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 20,
    routes: (router) =>
      router.service(FastPayAggregator, {
        async *watchTx(request, context) {
          assert.deepEqual(request.txHash, txHash);
          for (const status of statuses) yield status as never;
          await new Promise((r) => context.signal.addEventListener("abort", r));
        },
      }),
  });
  return { url: `http://127.0.0.1:${listener.port}`, close: () => listener.close() };
}

Deno.test("watch yields each stage with verified certificates and QC, ending when final", async () => {
  const forged = { ...certificateToProto(certificates[0]), signature: new Uint8Array(64) };
  const backend = fakeBackend([
    { txHash, stage: Stage.ACCEPTED, certificates: [certificateToProto(certificates[0]), forged] },
    {
      txHash,
      stage: Stage.CERTIFIED,
      certificates: certificates.map(certificateToProto),
      rejects: [{
        validator: "v3",
        reject: { code: RejectCode.INSUFFICIENT_FUNDS, message: "balance 1 < 12" },
      }],
      qc: qcInit(qc),
      certifiedUnixMillis: 1234n,
    },
    { txHash, stage: Stage.QUEUED_ONCHAIN, qc: qcInit(qc) },
    { txHash, stage: Stage.INCLUDED, qc: qcInit(qc), blockHeight: 42n },
    { txHash, stage: Stage.FINALIZED, qc: qcInit(qc), blockHeight: 42n },
  ]);
  try {
    const client = new AllegroClient({ committee, wallet, backendUrl: backend.url });
    const events = await Array.fromAsync(client.watch(txHash));
    assert.deepEqual(events.map((e) => e.stage), [
      "ACCEPTED",
      "CERTIFIED",
      "QUEUED_ONCHAIN",
      "INCLUDED",
      "FINALIZED",
    ]);
    assert.equal(events[0].certificates.length, 1, "the forged certificate is dropped");
    assert.equal(events[0].qc, undefined);
    assert.deepEqual(events[1].qc?.qcHash, qc.qcHash);
    assert.equal(events[1].certificates.length, 3);
    assert.deepEqual(events[1].rejects, [{
      validator: "v3",
      code: "INSUFFICIENT_FUNDS",
      message: "balance 1 < 12",
    }]);
    assert.equal(events[1].certifiedUnixMillis, 1234n);
    assert.equal(events[3].blockHeight, 42n);
  } finally {
    await backend.close();
  }
});

Deno.test("watch refuses a CERTIFIED stage whose QC does not verify", async () => {
  const short = { ...qcInit(qc), certificates: qcInit(qc).certificates!.slice(0, 2) };
  const backend = fakeBackend([{ txHash, stage: Stage.CERTIFIED, qc: short }]);
  try {
    const client = new AllegroClient({ committee, wallet, backendUrl: backend.url });
    await assert.rejects(
      Array.fromAsync(client.watch(txHash)),
      (e) => e instanceof AllegroError && e.code === "INVALID_PARENT_QC",
    );
  } finally {
    await backend.close();
  }
});

Deno.test("watch ends quietly when its signal aborts", async () => {
  const backend = fakeBackend([{ txHash, stage: Stage.ACCEPTED }]);
  try {
    const client = new AllegroClient({ committee, wallet, backendUrl: backend.url });
    const stop = new AbortController();
    const stages: string[] = [];
    for await (const event of client.watch(txHash, { signal: stop.signal })) {
      stages.push(event.stage);
      stop.abort();
    }
    assert.deepEqual(stages, ["ACCEPTED"]);
  } finally {
    await backend.close();
  }
});

Deno.test("watch without a backend says what is missing", () => {
  const client = new AllegroClient({ committee, wallet });
  assert.throws(() => client.watch(txHash), /needs the aggregator backend: pass backendUrl/);
});

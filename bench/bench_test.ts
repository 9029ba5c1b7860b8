/** The load generator's parts, end to end on a small scale (the full runs are `deno task bench`). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CHAIN_ID, startIsolated } from "./isolated.ts";
import { drive, quantile, summarize } from "./load.ts";
import { markdownTable } from "./report.ts";
import { measureProcesses, spawnReady } from "./proc.ts";
import {
  benchAccounts,
  chainedPayments,
  Lanes,
  payloadSigner,
  type PaymentPlan,
  singlePayments,
} from "./payments.ts";
import { decodePayment } from "@allegro/client";

const plan: PaymentPlan = {
  chainId: CHAIN_ID,
  validBefore: BigInt(Math.floor(Date.now() / 1000)) + 1800n,
  recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  amount: 1_000_000n,
};

Deno.test("statistics: nearest-rank quantiles, rejects by code, throughput", () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(sorted, 0.5), 50);
  assert.equal(quantile(sorted, 0.99), 99);
  const stats = summarize(sorted, [
    ...Array.from({ length: 98 }, () => ({ ok: true as const })),
    { ok: false, code: "EXPIRED" },
    { ok: false, code: "EXPIRED" },
  ], 1000);
  assert.equal(stats.certified, 98);
  assert.deepEqual(stats.rejects, { EXPIRED: 2 });
  assert.equal(stats.throughput, 98);
  assert.match(
    markdownTable([{ scenario: "s", mode: "m", stats, processes: [] }]),
    /\| s \| m \| 98 \|/,
  );
});

Deno.test("pre-built payments decode to their accounts; warm lanes count nonces up", async () => {
  const signer = await payloadSigner();
  const accounts = benchAccounts("test", 3);
  const lanes = new Lanes();
  const payments = singlePayments(signer, accounts, plan, 6, lanes);
  for (const [i, p] of payments.entries()) {
    const decoded = decodePayment(p.request.signedTx, { chainId: CHAIN_ID });
    assert.equal(decoded.sender, accounts[i % 3].address);
    assert.equal(decoded.nonceSeq, BigInt(Math.floor(i / 3)));
  }
});

Deno.test("an isolated sidecar certifies single and chained payments, closed loop and at a rate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-bench-test-" });
  const payees = benchAccounts("payee", 20);
  const sidecar = await startIsolated({
    kvPath: join(dir, "s.kv"),
    emptyAccounts: new Set(payees.map((p) => p.address.toLowerCase())),
  });
  try {
    const signer = await payloadSigner();
    const payers = benchAccounts("payer", 20);
    const lanes = new Lanes();
    const send = async (p: { request: Parameters<typeof sidecar.certifier.submit>[0] }) => {
      const answer = await sidecar.certifier.submit(p.request);
      return "certificate" in answer
        ? { ok: true as const }
        : { ok: false as const, code: answer.reject.code };
    };
    const window = measureProcesses([{ name: "self", pid: "self" }]);
    const closed = await drive(singlePayments(signer, payers, plan, 60, lanes), send, {
      concurrency: 8,
      durationMillis: 20_000,
    });
    assert.equal(closed.certified, 60, JSON.stringify(closed.rejects));
    const rated = await drive(singlePayments(signer, payers, plan, 20, lanes, 60), send, {
      rate: 200,
      durationMillis: 20_000,
    });
    assert.equal(rated.certified, 20, JSON.stringify(rated.rejects));
    const pairs = await chainedPayments(
      signer,
      payers,
      payees,
      plan,
      sidecar.committee,
      sidecar.signers,
      20,
      lanes,
      80,
    );
    const parents = await drive(pairs.parents, send, { concurrency: 4, durationMillis: 20_000 });
    assert.equal(parents.certified, 20, JSON.stringify(parents.rejects));
    const children = await drive(pairs.children, send, { concurrency: 4, durationMillis: 20_000 });
    assert.equal(children.certified, 20, JSON.stringify(children.rejects));
    assert.ok(window.stop().length <= 1);
    assert.equal(await sidecar.store.lastSequence(), 120n);
  } finally {
    sidecar.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the platform-floor server commits each request durably, answers, and exits with its stdin", async () => {
  const dir = await Deno.makeTempDir();
  const server = await spawnReady<{ url: string; pid: number }>([
    new URL("./floor_server.ts", import.meta.url).href,
    join(dir, "floor.kv"),
  ]);
  const body = new Uint8Array(300).map((_, i) => i % 256);
  const answer = new Uint8Array(
    await (await fetch(server.info.url, { method: "POST", body })).arrayBuffer(),
  );
  assert.deepEqual(answer, body.subarray(0, 200));
  await server.stop();
  assert.equal((await server.child.status).success, true);
  const kv = await Deno.openKv(join(dir, "floor.kv"));
  assert.deepEqual((await kv.get(["request", 1n])).value, body);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

/**
 * Stages without a chain: records in an in-memory store get certificates from a test committee
 * (the lifecycle forms the QC) and vault blocks made up here; the tracker and the lifecycle move
 * them — INCLUDED then FINALIZED, EXPIRED and FAILED alerted and counted, CONFIRMED counted apart
 * and never alerted, an expiry the vault contradicts recorded as INCLUDED.
 */
import assert from "node:assert/strict";
import { bytesToHex, encodeErrorResult, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  signOrder,
  vaultAbi,
  vaultError,
  type VaultEvent,
} from "@allegro/client";
import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
import { jsonLogger } from "@allegro/server/log";
import type { VaultBlock } from "@allegro/server/vault-follower";
import type { SettledAt } from "./chain.ts";
import { EventHub } from "./events.ts";
import { Lifecycle, mergeAnswers, type TxSeed } from "./lifecycle.ts";
import { BackendMetrics } from "./metrics.ts";
import type { TxRecord } from "./record.ts";
import { Store } from "./store.ts";
import { Tracker } from "./tracker.ts";

const { committee, signers } = testCommittee(4, { chainId: 1337n, epoch: 1n });
const alice = privateKeyToAccount(
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
);
const BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const TOKEN = "0x20C0000000000000000000000000000000000000";
const SETTLEMENT_TX: Hex = `0x${"5e".repeat(32)}`;

/** A backend's record keeping without a chain: chain time, and what the vault says, are set here. */
async function setUp(vault: { settledAt?: SettledAt } = {}) {
  const logs: string[] = [];
  const log = jsonLogger("backend", (line) => logs.push(line));
  const store = await Store.open(":memory:", { recordTtlMillis: 60_000, maxBoardEntries: 100 });
  const metrics = new BackendMetrics();
  const events = new EventHub({ ringSize: 64, queueSize: 64, maxSubscribers: 4 });
  const clock = { chainTime: 1_000n };
  const chainTime = () => Promise.resolve(clock.chainTime);
  const lifecycle = new Lifecycle({ store, committee, events, log, metrics, chainTime });
  const settledAt = () => Promise.resolve(vault.settledAt);
  const tracker = new Tracker({
    lifecycle,
    store,
    events,
    metrics,
    log,
    confirmations: 2,
    settledAt,
  });
  const alerts = () => logs.filter((l) => l.includes("ALERT")).length;
  const metric = async (name: string) =>
    Number(
      / (\S+)$/.exec((await metrics.render()).split("\n").find((l) => l.startsWith(name))!)![1],
    );
  return { store, lifecycle, tracker, clock, alerts, metric, close: () => store.close() };
}

/** A signed order of 10 valid before `validBefore`, and certificates of `n` validators over it. */
async function certified(seq: bigint, validBefore: bigint, n = 3) {
  const signed = await signOrder(alice, {
    chainId: 1337n,
    vault: TEST_VAULT,
    payer: alice.address,
    recipient: BOB,
    token: TOKEN,
    amount: 10n,
    fee: 0n,
    seq,
    validBefore,
    parent: NO_PARENT,
    exit: false,
    memo: NO_PARENT,
  });
  const txHash = orderTxHash(signed.order);
  const effectsHash = orderEffectsHash(signed.order);
  const seed: TxSeed = {
    signed,
    txHash: bytesToHex(txHash),
    effectsHash: bytesToHex(effectsHash),
    source: "submission",
  };
  const certificates = signers.slice(0, n).map((s, i) => ({
    validator: `v${i}`,
    certificate: s.sign(txHash, effectsHash, 1000n),
    receivedMillis: 1000n,
  }));
  return { seed, add: (r: TxRecord | undefined) => mergeAnswers(r, seed, certificates, []) };
}

/** A vault block at `height` and chain time `time` with `events` (their place filled in). */
function block(height: bigint, time: bigint, events: Record<string, unknown>[] = []): VaultBlock {
  return {
    height,
    hash: `0x${height.toString(16).padStart(64, "0")}`,
    time,
    headerMillis: time,
    events: events.map((e) => ({
      blockNumber: height,
      logIndex: 0,
      transactionHash: SETTLEMENT_TX,
      ...e,
    })) as VaultEvent[],
  };
}

Deno.test("a certified order is INCLUDED in the block of its Settled event, FINALIZED after the confirmations", async () => {
  const t = await setUp();
  try {
    const { seed, add } = await certified(0n, 30_000n);
    const record = await t.lifecycle.update(seed.txHash, add);
    assert.equal(record?.stage, "CERTIFIED");
    assert.equal(record?.qc?.certificates.length, 3);
    await t.tracker.apply([block(5n, 2_000n, [{ kind: "Settled", txHash: seed.txHash }])]);
    const included = await t.lifecycle.get(seed.txHash);
    assert.equal(included?.stage, "INCLUDED");
    assert.equal(included?.blockHeight, 5n);
    assert.equal(included?.settlement?.txHash, SETTLEMENT_TX);
    await t.tracker.apply([block(6n, 3_000n)]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "INCLUDED");
    await t.tracker.apply([block(7n, 4_000n)]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "FINALIZED");
    assert.equal(await t.store.followFrom(), 8n);
    assert.equal(t.tracker.head?.height, 7n);
    assert.equal(t.alerts(), 0);
  } finally {
    t.close();
  }
});

Deno.test("a certified order that passes validBefore unsettled is EXPIRED, counted and alerted", async () => {
  const t = await setUp();
  try {
    const { seed, add } = await certified(0n, 30_000n);
    await t.lifecycle.update(seed.txHash, add);
    await t.tracker.apply([block(5n, 29_999n)]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "CERTIFIED");
    await t.tracker.apply([block(6n, 30_000n)]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "EXPIRED");
    assert.equal(await t.metric("allegro_backend_certified_expired_unsettled_total"), 1);
    assert.equal(t.alerts(), 1);
  } finally {
    t.close();
  }
});

Deno.test("an order with too few certificates expires quietly", async () => {
  const t = await setUp();
  try {
    const { seed, add } = await certified(0n, 30_000n, 2);
    assert.equal((await t.lifecycle.update(seed.txHash, add))?.stage, "ACCEPTED");
    await t.tracker.apply([block(6n, 30_000n)]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "EXPIRED");
    assert.equal(await t.metric("allegro_backend_certified_expired_unsettled_total"), 0);
    assert.equal(t.alerts(), 0);
  } finally {
    t.close();
  }
});

Deno.test("an expiry the vault contradicts is recorded as INCLUDED where the vault says", async () => {
  const t = await setUp({ settledAt: { blockHeight: 4n, transaction: SETTLEMENT_TX } });
  try {
    const { seed, add } = await certified(0n, 30_000n);
    await t.lifecycle.update(seed.txHash, add);
    await t.tracker.apply([block(6n, 30_000n)]);
    const record = await t.lifecycle.get(seed.txHash);
    assert.equal(record?.stage, "INCLUDED");
    assert.equal(record?.blockHeight, 4n);
    assert.equal(t.alerts(), 0);
  } finally {
    t.close();
  }
});

Deno.test("a stranger's SettleSkipped changes nothing; a FAILED record is alerted; a later Settled wins", async () => {
  const t = await setUp();
  try {
    const { seed, add } = await certified(0n, 30_000n);
    await t.lifecycle.update(seed.txHash, add);
    const parent: Hex = `0x${"77".repeat(32)}`;
    const reason = encodeErrorResult({
      abi: vaultAbi,
      errorName: "ParentNotSettled",
      args: [parent],
    });
    await t.tracker.apply([block(5n, 2_000n, [{
      kind: "SettleSkipped",
      txHash: seed.txHash,
      index: 0n,
      reason,
    }])]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "CERTIFIED");
    assert.equal(t.alerts(), 0);
    // The settler's own settlement skipped it: FAILED, with the vault's reason.
    await t.lifecycle.move(seed.txHash, "FAILED", { failure: vaultError(reason) });
    const failed = await t.lifecycle.get(seed.txHash);
    assert.equal(failed?.stage, "FAILED");
    assert.equal(failed?.failure, `ParentNotSettled(${parent})`);
    assert.equal(await t.metric("allegro_backend_certified_failed_total"), 1);
    assert.equal(t.alerts(), 1);
    await t.tracker.apply([block(6n, 3_000n, [{ kind: "Settled", txHash: seed.txHash }])]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "INCLUDED");
  } finally {
    t.close();
  }
});

Deno.test("a QC over an order already past validBefore is CONFIRMED: counted apart, never alerted", async () => {
  const t = await setUp();
  try {
    t.clock.chainTime = 30_000n;
    const { seed, add } = await certified(0n, 30_000n);
    assert.equal((await t.lifecycle.update(seed.txHash, add))?.stage, "CONFIRMED");
    await t.tracker.apply([block(6n, 31_000n)]);
    assert.equal((await t.lifecycle.get(seed.txHash))?.stage, "CONFIRMED");
    assert.equal(await t.metric("allegro_backend_confirmations_total"), 1);
    assert.equal(await t.metric("allegro_backend_qcs_total"), 0);
    assert.equal(await t.metric("allegro_backend_certified_expired_unsettled_total"), 0);
    assert.equal(t.alerts(), 0);
  } finally {
    t.close();
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { bytesToHex, type Hex } from "viem";
import { allegroNonceKey, type Certificate } from "@allegro/client";
import type { PendingTx } from "./ledger.ts";
import { type CertifyWrite, Store } from "./store.ts";
import { alice, bob, PATH_USD, submission, testCertifier } from "./testing.ts";

const lower = (a: Hex) => a.toLowerCase() as Hex;

async function tempKv() {
  const dir = await Deno.makeTempDir({ prefix: "allegro-store-" });
  return { path: join(dir, "s.kv"), cleanup: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("a failed group commit returns no certificate, frees every key, and the retry certifies", async () => {
  const { path, cleanup } = await tempKv();
  const f = await testCertifier({ kvPath: path });
  f.chain.setBalance(alice.address, PATH_USD, 1_000_000_000n);
  f.chain.setBalance(bob.address, PATH_USD, 1_000_000_000n);
  try {
    // Certify once so that the store caches the board sequence's versionstamp …
    assert.ok("certificate" in await f.certifier.submit(await submission(alice)));
    // … then another writer moves it: the next commit fails its version check.
    const other = await Deno.openKv(path);
    await other.set(["v1", "meta", "board_seq"], 1n);
    other.close();
    const requests = await Promise.all([
      submission(alice, { nonce: 1n }),
      submission(bob),
      submission(bob, { nonce: 1n }),
    ]);
    const answers = await Promise.all(requests.map((r) => f.certifier.submit(r)));
    // The batch that met the moved sequence fails as a whole; the store then reads the
    // sequence again and later batches commit.
    const failed = requests.filter((_, i) => "reject" in answers[i]);
    assert.ok(failed.length >= 1, "no commit failed");
    const board = await f.store.board({ afterSequence: 0n, limit: 10 });
    for (const a of answers) {
      if ("reject" in a) {
        assert.equal(a.reject.code, "TEMPORARY_UNAVAILABLE");
        assert.match(a.reject.message, /could not be stored/);
        assert.ok(!board.some((e) => bytesToHex(e.certificate.txHash) === bytesToHex(a.txHash!)));
        assert.ok(!f.ledger.pending.has(bytesToHex(a.txHash!)));
      } else {
        assert.ok(board.some((e) => bytesToHex(e.certificate.txHash) === bytesToHex(a.txHash!)));
      }
    }
    assert.equal(board.length, 1 + requests.length - failed.length);
    // Their keys were freed: the same payments certify on retry.
    for (const r of failed) assert.ok("certificate" in await f.certifier.submit(r));
    assert.equal(f.ledger.pending.size, 1 + requests.length);
  } finally {
    f.store.close();
    await cleanup();
  }
});

function fakeWrite(i: number, withCredit: boolean): CertifyWrite {
  const txHash = new Uint8Array(32);
  txHash.set([i >> 8, i & 255, withCredit ? 1 : 0]);
  const certificate: Certificate = {
    signer: new Uint8Array(32).fill(7),
    txHash,
    effectsHash: new Uint8Array(32),
    signature: new Uint8Array(64),
    createdUnixMillis: 1n,
  };
  const sender = lower(alice.address);
  const nonceKey = new Uint8Array(32).fill(0x5b);
  const pending: PendingTx = {
    txHash,
    chainTxHash: `0x${"00".repeat(32)}`,
    rawTx: new Uint8Array([0x76]),
    sender,
    nonceKey,
    nonceSeq: BigInt(i),
    validBeforeMillis: 1n,
    debits: [{ account: sender, token: PATH_USD, amount: 1n }],
    ...(withCredit
      ? {
        credit: {
          account: sender,
          token: PATH_USD,
          amount: 1n,
          parentTxHash: new Uint8Array(32).fill(i % 256).map((b, j) => j === 0 ? i >> 8 : b),
          parentChainTxHash: `0x${"11".repeat(32)}`,
        },
      }
      : {}),
  };
  return {
    kind: "certify",
    certificate,
    sender,
    nonceKey,
    nonceSeq: BigInt(i),
    pending,
    entry: {
      certificate,
      signedTx: new Uint8Array([0x76]),
      parentQcHash: new Uint8Array(),
      sender,
      recipient: lower(bob.address),
      amount: 1n,
      asset: PATH_USD,
      nonceKey,
      nonceSeq: BigInt(i),
      validBeforeMillis: 1n,
    },
  };
}

Deno.test("group commits stay within Deno KV's per-commit limits (100 checks, 1000 mutations)", async () => {
  const store = await Store.open(":memory:", { maxBatch: 96 });
  try {
    // 300 certifications with a parent credit (2 checks each) queued at once.
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.certify(fakeWrite(i, true))));
    assert.equal(await store.lastSequence(), 300n);
    const page = await store.board({ afterSequence: 0n, limit: 1000 });
    assert.deepEqual(
      page.map((e) => e.sequence),
      Array.from({ length: 300 }, (_, i) => BigInt(i + 1)),
    );
  } finally {
    store.close();
  }
});

Deno.test("the next nonce of a lane is one past its highest lock, also after a restart", async () => {
  const { path, cleanup } = await tempKv();
  try {
    const f = await testCertifier({ kvPath: path });
    f.chain.setBalance(alice.address, PATH_USD, 1_000_000_000n);
    for (const nonce of [0n, 1n, 2n]) {
      assert.ok("certificate" in await f.certifier.submit(await submission(alice, { nonce })));
    }
    f.store.close();
    const store = await Store.open(path);
    assert.equal(await store.getNonce(lower(alice.address), numberKey(1n)), 3n);
    assert.equal(await store.getNonce(lower(alice.address), numberKey(2n)), null);
    assert.equal(await store.getNonce(lower(bob.address), numberKey(1n)), null);
    store.close();
    // A restarted certifier knows the lane: nonce 2 is taken, 3 is next.
    const g = await testCertifier({ kvPath: path });
    g.chain.setBalance(alice.address, PATH_USD, 1_000_000_000n);
    const again = await g.certifier.submit(await submission(alice, { nonce: 2n, amount: 5n }));
    assert.ok("reject" in again && again.reject.code === "EQUIVOCATION");
    assert.ok("certificate" in await g.certifier.submit(await submission(alice, { nonce: 3n })));
    g.store.close();
  } finally {
    await cleanup();
  }
});

const numberKey = (id: bigint) => {
  const key = allegroNonceKey(id);
  return Uint8Array.from(key.toString(16).padStart(64, "0").match(/../g)!, (h) => parseInt(h, 16));
};

Deno.test("pending entries: keyed by sequence, and the earlier tx-hash keys still load and settle", async () => {
  const { path, cleanup } = await tempKv();
  try {
    const store = await Store.open(path);
    await store.certify(fakeWrite(1, false));
    store.close();
    // A pending row as earlier versions wrote it, keyed by tx hash.
    const legacy = fakeWrite(2, false).pending;
    const kv = await Deno.openKv(path);
    await kv.set(["v1", "pending", legacy.txHash], legacy);
    const keys = [];
    for await (const e of kv.list({ prefix: ["v1", "pending"] })) keys.push(e.key[2]);
    assert.deepEqual(keys.map((k) => typeof k).sort(), ["bigint", "object"]);
    kv.close();

    const reopened = await Store.open(path);
    const loaded = [];
    for await (const tx of reopened.pending()) loaded.push(bytesToHex(tx.txHash));
    assert.equal(loaded.length, 2);
    await reopened.updatePending({ ...legacy, debits: [] });
    await reopened.settle([fakeWrite(1, false).pending.txHash, legacy.txHash]);
    const left = [];
    for await (const tx of reopened.pending()) left.push(tx);
    assert.equal(left.length, 0);
    reopened.close();
  } finally {
    await cleanup();
  }
});

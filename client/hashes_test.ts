import assert from "node:assert/strict";
import { bytesToHex } from "viem";
import { certDigest, effectsHash, qcHash, txHash } from "./hashes.ts";
import { AllegroError } from "./errors.ts";

const fill = (n: number, byte: number) => new Uint8Array(n).fill(byte);

// SPEC §4 golden vector, shared with the Rust prototype.
const golden = {
  tx: {
    chainId: 1337n,
    tempoTx: new TextEncoder().encode("tempo:transfer:alice:bob:10"),
    nonceKey: fill(32, 0x5b),
    nonceSeq: 7n,
    expiry: { maxBlockHeight: 99n },
    parentQcHash: fill(32, 0x11),
  },
  effects: {
    sender: fill(20, 0x01),
    recipient: fill(20, 0x02),
    amount: 10n,
    asset: fill(20, 0x03),
    nonceKey: fill(32, 0x5b),
    nonceSeq: 7n,
  },
  certificates: [
    { signer: fill(32, 0x0a), signature: fill(64, 0xaa), createdUnixMillis: 1000n },
    { signer: fill(32, 0x0b), signature: fill(64, 0xbb), createdUnixMillis: 1001n },
  ],
};

const hex = (b: Uint8Array) => bytesToHex(b).slice(2);

Deno.test("golden vector: tx_hash", () => {
  assert.equal(
    hex(txHash(golden.tx)),
    "80f0bddcad91b05df8b0f96fe3b42fea9a5b5d358a61664616ec17289d80d8df",
  );
});

Deno.test("golden vector: effects_hash", () => {
  assert.equal(
    hex(effectsHash(golden.effects)),
    "7ff26a3ecef7a937adaa2f13bcbb2dc349b1daaa63b5ede4b18f20d130f8859e",
  );
});

Deno.test("golden vector: cert_digest", () => {
  const digest = certDigest({
    chainId: 1337n,
    epoch: 42n,
    txHash: txHash(golden.tx),
    effectsHash: effectsHash(golden.effects),
  });
  assert.equal(hex(digest), "02bf6c27eb0c808a9fbda3cad277eab0634e6050a068054b878eeccc3e712313");
});

Deno.test("golden vector: qc_hash in either certificate order", () => {
  const base = {
    txHash: txHash(golden.tx),
    effectsHash: effectsHash(golden.effects),
    threshold: 2,
  };
  const want = "fee9c0774bd5e57638e46c265bba36430f22e76ce9fa203a5eba6972a7809737";
  assert.equal(hex(qcHash({ ...base, certificates: golden.certificates })), want);
  assert.equal(hex(qcHash({ ...base, certificates: [...golden.certificates].reverse() })), want);
});

Deno.test("tx_hash separates expiry kinds and parent presence", () => {
  const byHeight = hex(txHash(golden.tx));
  const byTime = hex(txHash({ ...golden.tx, expiry: { unixMillis: 99n } }));
  const noParent = hex(txHash({ ...golden.tx, parentQcHash: undefined }));
  assert.equal(new Set([byHeight, byTime, noParent]).size, 3);
});

Deno.test("hash inputs of the wrong size or range are INVALID_FORMAT naming the field", () => {
  const cases: [() => unknown, string][] = [
    [() => txHash({ ...golden.tx, nonceKey: fill(31, 0) }), "nonce_key"],
    [() => txHash({ ...golden.tx, parentQcHash: fill(33, 0) }), "parent_qc_hash"],
    [() => txHash({ ...golden.tx, nonceSeq: 1n << 64n }), "nonce_seq"],
    [() => effectsHash({ ...golden.effects, sender: fill(32, 1) }), "sender"],
    [() => effectsHash({ ...golden.effects, amount: -1n }), "amount"],
    [
      () => certDigest({ chainId: 1n, epoch: 1n, txHash: fill(32, 0), effectsHash: fill(3, 0) }),
      "effects_hash",
    ],
  ];
  for (const [fn, field] of cases) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof AllegroError);
      assert.equal(e.code, "INVALID_FORMAT");
      assert.match(e.message, new RegExp(field));
      return true;
    });
  }
});

import assert from "node:assert/strict";
import {
  assembleQuorumCertificate,
  type QuorumCertificate,
  verifyQuorumCertificate,
} from "./quorum.ts";
import { CertificateSigner } from "./certificate.ts";
import { AllegroError } from "./errors.ts";
import { qcHash } from "./hashes.ts";
import { testCommittee, testSettlementKey } from "./testing.ts";

const txHash = new Uint8Array(32).fill(0x80);
const effectsHash = new Uint8Array(32).fill(0x7f);

function setup() {
  const { committee, signers } = testCommittee(4); // threshold 3
  const certs = signers.map((s, i) => s.sign(txHash, effectsHash, 1000n + BigInt(i)));
  return { committee, signers, certs };
}

function rehash(qc: Omit<QuorumCertificate, "qcHash" | "epoch">, epoch = 42n): QuorumCertificate {
  return { ...qc, qcHash: qcHash(qc), epoch };
}

async function rejects(promise: Promise<unknown>, message: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof AllegroError);
    assert.equal(e.code, "INVALID_PARENT_QC");
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("assembles and verifies a QC, in any certificate order", async () => {
  const { committee, certs } = setup();
  const qc = assembleQuorumCertificate(committee, certs.slice(0, 3))!;
  assert.equal(qc.certificates.length, 3);
  await verifyQuorumCertificate(committee, qc);
  const reversed = assembleQuorumCertificate(committee, certs.slice(0, 3).reverse())!;
  assert.deepEqual(reversed.qcHash, qc.qcHash);
  await verifyQuorumCertificate(committee, { ...qc, certificates: [...qc.certificates].reverse() });
});

Deno.test("no QC below threshold", () => {
  const { committee, certs } = setup();
  assert.equal(assembleQuorumCertificate(committee, certs.slice(0, 2)), undefined);
  assert.equal(assembleQuorumCertificate(committee, [certs[0], certs[0], certs[1]]), undefined);
});

Deno.test("assembly picks the effects group with most signers", () => {
  const { committee, signers, certs } = setup();
  const other = signers[3].sign(txHash, new Uint8Array(32).fill(1), 5n);
  const qc = assembleQuorumCertificate(committee, [other, ...certs.slice(0, 3)])!;
  assert.deepEqual(qc.effectsHash, effectsHash);
  assert.equal(qc.certificates.length, 3);
});

Deno.test("rejects duplicate signers", async () => {
  const { committee, certs } = setup();
  const qc = rehash({
    txHash,
    effectsHash,
    threshold: 3,
    certificates: [certs[0], certs[1], certs[1]],
  });
  await rejects(verifyQuorumCertificate(committee, qc), /repeats signer/);
});

Deno.test("rejects too few signers", async () => {
  const { committee, certs } = setup();
  const qc = rehash({ txHash, effectsHash, threshold: 3, certificates: certs.slice(0, 2) });
  await rejects(verifyQuorumCertificate(committee, qc), /has 2 certificates, threshold is 3/);
});

Deno.test("rejects a lowered threshold", async () => {
  const { committee, certs } = setup();
  const qc = rehash({ txHash, effectsHash, threshold: 2, certificates: certs.slice(0, 2) });
  await rejects(verifyQuorumCertificate(committee, qc), /threshold 2 differs/);
});

Deno.test("rejects mixed effects", async () => {
  const { committee, signers, certs } = setup();
  const other = signers[2].sign(txHash, new Uint8Array(32).fill(1), 5n);
  const qc = rehash({
    txHash,
    effectsHash,
    threshold: 3,
    certificates: [certs[0], certs[1], other],
  });
  await rejects(verifyQuorumCertificate(committee, qc), /over other hashes/);
});

Deno.test("rejects an unknown signer", async () => {
  const { committee, certs } = setup();
  const outsider = CertificateSigner.create(new Uint8Array(32).fill(99), testSettlementKey(9), {
    chainId: 1337n,
    epoch: 42n,
  });
  const forged = outsider.sign(txHash, effectsHash, 5n);
  const qc = rehash({
    txHash,
    effectsHash,
    threshold: 3,
    certificates: [certs[0], certs[1], forged],
  });
  await rejects(verifyQuorumCertificate(committee, qc), /not in the committee/);
});

Deno.test("rejects a forged signature", async () => {
  const { committee, certs } = setup();
  const signature = certs[2].signature.slice();
  signature[0] ^= 0x80;
  const qc = rehash({
    txHash,
    effectsHash,
    threshold: 3,
    certificates: [certs[0], certs[1], { ...certs[2], signature }],
  });
  await rejects(verifyQuorumCertificate(committee, qc), /certificates\[2\].*does not verify/);
});

Deno.test("rejects another epoch, and a certificate whose attestation does not count", async () => {
  const { committee, certs } = setup();
  const qc = assembleQuorumCertificate(committee, certs.slice(0, 3))!;
  await rejects(verifyQuorumCertificate(committee, { ...qc, epoch: 41n }), /epoch 41/);
  const attestation = certs[1].attestation.slice();
  attestation[5] ^= 1;
  const bad = rehash({
    txHash,
    effectsHash,
    threshold: 3,
    certificates: [certs[0], { ...certs[1], attestation }, certs[2]],
  });
  await rejects(verifyQuorumCertificate(committee, bad), /certificates\[1\]: attestation of v1/);
});

Deno.test("rejects a wrong qc_hash", async () => {
  const { committee, certs } = setup();
  const qc = assembleQuorumCertificate(committee, certs.slice(0, 3))!;
  const wrong = qc.qcHash.slice();
  wrong[0] ^= 1;
  await rejects(verifyQuorumCertificate(committee, { ...qc, qcHash: wrong }), /does not match/);
  const tampered = {
    ...qc,
    certificates: [{ ...certs[0], createdUnixMillis: 1n }, certs[1], certs[2]],
  };
  await rejects(verifyQuorumCertificate(committee, tampered), /does not match/);
});

import assert from "node:assert/strict";
import { hexToBytes } from "viem";
import { certificateProblem, CertificateSigner } from "./certificate.ts";
import { certDigest } from "./hashes.ts";
import { signAttestation } from "./attestation.ts";
import { testCommittee, testSettlementKey } from "./testing.ts";

const txHash = new Uint8Array(32).fill(0x80);
const effectsHash = new Uint8Array(32).fill(0x7f);
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

Deno.test("sign then verify round trip: Ed25519 and attestation", async () => {
  const { committee, signers } = testCommittee(4);
  const cert = signers[2].sign(txHash, effectsHash, 1000n);
  assert.equal(await certificateProblem(committee, cert), undefined);
  assert.equal(cert.signature.length, 64);
  assert.equal(cert.attestation.length, 65);
  assert.equal(cert.epoch, committee.epoch);
});

Deno.test("a flipped signature bit does not verify", async () => {
  const { committee, signers } = testCommittee(4);
  const cert = signers[0].sign(txHash, effectsHash, 1000n);
  const signature = cert.signature.slice();
  signature[63] ^= 0x01;
  assert.match(
    (await certificateProblem(committee, { ...cert, signature }))!,
    /signature of v0 does not verify/,
  );
});

Deno.test("a signature over another digest does not verify", async () => {
  const { committee, signers } = testCommittee(4);
  const cert = signers[0].sign(txHash, effectsHash, 1000n);
  assert.match(
    (await certificateProblem(committee, { ...cert, txHash: new Uint8Array(32).fill(1) }))!,
    /does not verify/,
  );
  assert.match(
    (await certificateProblem(committee, { ...cert, effectsHash: new Uint8Array(32).fill(2) }))!,
    /does not verify/,
  );
});

Deno.test("a certificate from another epoch or chain does not count", async () => {
  const { committee } = testCommittee(4);
  const seed = new Uint8Array(32).fill(1); // validator 0's key
  const otherEpoch = CertificateSigner.create(seed, testSettlementKey(0), {
    chainId: 1337n,
    epoch: 43n,
  });
  assert.match(
    (await certificateProblem(committee, otherEpoch.sign(txHash, effectsHash, 1000n)))!,
    /epoch 43, the committee's is 42/,
  );
  const otherChain = CertificateSigner.create(seed, testSettlementKey(0), {
    chainId: 1n,
    epoch: 42n,
  });
  assert.match(
    (await certificateProblem(committee, otherChain.sign(txHash, effectsHash, 1000n)))!,
    /does not verify/,
  );
});

Deno.test("a signer outside the committee is refused", async () => {
  const { committee } = testCommittee(4);
  const outsider = CertificateSigner.create(new Uint8Array(32).fill(99), testSettlementKey(9), {
    chainId: 1337n,
    epoch: 42n,
  });
  assert.match(
    (await certificateProblem(committee, outsider.sign(txHash, effectsHash, 1000n)))!,
    /not in the committee/,
  );
});

Deno.test("an attestation by another key, not canonical, or over another digest does not count", async () => {
  const { committee, signers } = testCommittee(4);
  const cert = signers[1].sign(txHash, effectsHash, 1000n);
  const digest = certDigest({ chainId: 1337n, epoch: 42n, txHash, effectsHash });
  // Validator 0's settlement key attesting in validator 1's certificate.
  const borrowed = await signAttestation(testSettlementKey(0), digest);
  assert.match(
    (await certificateProblem(committee, { ...cert, attestation: borrowed }))!,
    /recovers to 0x[0-9a-fA-F]{40}, not its settlement address/,
  );
  // The malleable twin (n − s, v flipped) of a valid attestation.
  const high = cert.attestation.slice();
  const s = BigInt(
    `0x${Array.from(high.subarray(32, 64), (b) => b.toString(16).padStart(2, "0")).join("")}`,
  );
  high.set(hexToBytes(`0x${(N - s).toString(16).padStart(64, "0")}`), 32);
  high[64] = high[64] === 27 ? 28 : 27;
  assert.match(
    (await certificateProblem(committee, { ...cert, attestation: high }))!,
    /lower half/,
  );
  const v = cert.attestation.slice();
  v[64] = 1;
  assert.match(
    (await certificateProblem(committee, { ...cert, attestation: v }))!,
    /v must be 27 or 28/,
  );
  const other = await signAttestation(testSettlementKey(1), new Uint8Array(32).fill(3));
  assert.match(
    (await certificateProblem(committee, { ...cert, attestation: other }))!,
    /recovers to/,
  );
});

Deno.test("wrong field sizes are refused", async () => {
  const { committee, signers } = testCommittee(1);
  const cert = signers[0].sign(txHash, effectsHash, 1000n);
  assert.match(
    (await certificateProblem(committee, { ...cert, signature: new Uint8Array(63) }))!,
    /signature must be 64/,
  );
  assert.match(
    (await certificateProblem(committee, { ...cert, txHash: new Uint8Array(31) }))!,
    /tx_hash must be 32/,
  );
  assert.match(
    (await certificateProblem(committee, { ...cert, attestation: new Uint8Array(64) }))!,
    /attestation must be 65/,
  );
});

import assert from "node:assert/strict";
import { certificateProblem, CertificateSigner } from "./certificate.ts";
import { testCommittee } from "./testing.ts";

const txHash = new Uint8Array(32).fill(0x80);
const effectsHash = new Uint8Array(32).fill(0x7f);

Deno.test("sign then verify round trip", async () => {
  const { committee, signers } = await testCommittee(4);
  const cert = await signers[2].sign(txHash, effectsHash, 1000n);
  assert.equal(await certificateProblem(committee, cert), undefined);
  assert.equal(cert.signature.length, 64);
});

Deno.test("a flipped signature bit does not verify", async () => {
  const { committee, signers } = await testCommittee(4);
  const cert = await signers[0].sign(txHash, effectsHash, 1000n);
  const signature = cert.signature.slice();
  signature[63] ^= 0x01;
  assert.match(
    (await certificateProblem(committee, { ...cert, signature }))!,
    /signature of v0 does not verify/,
  );
});

Deno.test("a signature over another digest does not verify", async () => {
  const { committee, signers } = await testCommittee(4);
  const cert = await signers[0].sign(txHash, effectsHash, 1000n);
  const otherTx = new Uint8Array(32).fill(1);
  assert.match(
    (await certificateProblem(committee, { ...cert, txHash: otherTx }))!,
    /does not verify/,
  );
  const otherEffects = new Uint8Array(32).fill(2);
  assert.match(
    (await certificateProblem(committee, { ...cert, effectsHash: otherEffects }))!,
    /does not verify/,
  );
});

Deno.test("a certificate from another epoch or chain does not verify", async () => {
  const { committee, signers } = await testCommittee(4);
  const seed = new Uint8Array(32).fill(1); // signers[0]'s key
  for (const scope of [{ chainId: 1337n, epoch: 43n }, { chainId: 1n, epoch: 42n }]) {
    const other = await CertificateSigner.create(seed, scope);
    assert.deepEqual(other.publicKey, signers[0].publicKey);
    const cert = await other.sign(txHash, effectsHash, 1000n);
    assert.match((await certificateProblem(committee, cert))!, /does not verify/);
  }
});

Deno.test("a signer outside the committee is refused", async () => {
  const { committee } = await testCommittee(4);
  const outsider = await CertificateSigner.create(new Uint8Array(32).fill(99), {
    chainId: 1337n,
    epoch: 42n,
  });
  const cert = await outsider.sign(txHash, effectsHash, 1000n);
  assert.match((await certificateProblem(committee, cert))!, /not in the committee/);
});

Deno.test("wrong field sizes are refused", async () => {
  const { committee, signers } = await testCommittee(1);
  const cert = await signers[0].sign(txHash, effectsHash, 1000n);
  assert.match(
    (await certificateProblem(committee, { ...cert, signature: new Uint8Array(63) }))!,
    /signature must be 64/,
  );
  assert.match(
    (await certificateProblem(committee, { ...cert, txHash: new Uint8Array(31) }))!,
    /tx_hash must be 32/,
  );
});

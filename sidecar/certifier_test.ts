import assert from "node:assert/strict";
import { bytesToHex, type Hex, hexToBytes, numberToBytes } from "viem";
import { Transaction } from "viem/tempo";
import {
  allegroNonceKey,
  assembleQuorumCertificate,
  buildPaymentTransaction,
  certificateProblem,
  CertificateSigner,
  qcHash,
  type RejectCode,
} from "@allegro/client";
import { laneId } from "./ledger.ts";
import type { Answer } from "./certifier.ts";
import {
  alice,
  ALPHA_USD,
  bob,
  carol,
  DEFAULT_MAX_FEE,
  HEAD_MILLIS,
  PATH_USD,
  paymentParams,
  qcFor,
  submission,
  testCertifier,
} from "./testing.ts";
import type { SubmissionRequest } from "./submission.ts";

type Fixture = Awaited<ReturnType<typeof testCertifier>>;

async function fixture(): Promise<Fixture> {
  const f = await testCertifier();
  f.chain.setBalance(alice.address, PATH_USD, 100_000_000n);
  f.chain.setBalance(bob.address, PATH_USD, 5_000_000n);
  return f;
}

const lower = (a: Hex) => a.toLowerCase() as Hex;

/** What a reject must leave untouched (cache fills of known-absent entries are not state). */
async function snapshot(f: Fixture) {
  const present = <V>(m: Map<string, V | null>) =>
    JSON.stringify([...m].filter(([, v]) => v !== null).map(([k]) => k));
  return {
    board: await f.store.lastSequence(),
    pending: [...f.ledger.pending.keys()].join(),
    locks: present(f.ledger.locks),
    nonces: JSON.stringify(
      [...f.ledger.localNonces].filter(([, v]) => v !== null),
      (_, v) => String(v),
    ),
    consumed: present(f.ledger.consumed),
    postings: [alice, bob, carol].flatMap((a) =>
      [PATH_USD, ALPHA_USD].map((t) => f.ledger.pendingOf(lower(a.address), t))
    ),
  };
}

function certificateOf(answer: Answer) {
  assert.ok(
    "certificate" in answer,
    `expected a certificate, got ${
      JSON.stringify(answer, (_, v) => typeof v === "bigint" ? String(v) : v)
    }`,
  );
  return answer.certificate;
}

async function expectReject(
  f: Fixture,
  request: SubmissionRequest,
  code: RejectCode,
  text: RegExp,
) {
  const before = await snapshot(f);
  const answer = await f.certifier.submit(request);
  assert.ok("reject" in answer, "expected a reject");
  assert.equal(answer.reject.code, code);
  assert.match(answer.reject.message, text);
  f.ledger.requests.clear(); // a remembered reject is not state the rule may change
  assert.deepEqual(await snapshot(f), before);
  return answer;
}

Deno.test("certifies a valid payment and reserves amount + max fee", async () => {
  const f = await fixture();
  const answer = await f.certifier.submit(await submission());
  const cert = certificateOf(answer);
  assert.equal(await certificateProblem(f.committee, cert), undefined);
  assert.equal(
    f.ledger.available(alice.address.toLowerCase() as Hex, PATH_USD),
    100_000_000n - 10_000_000n - DEFAULT_MAX_FEE,
  );
  assert.equal(await f.store.lastSequence(), 1n);
  const [entry] = await f.store.board({ afterSequence: 0n, limit: 10 });
  assert.deepEqual(entry.certificate, cert);
  f.store.close();
});

Deno.test("rule 1 INVALID_FORMAT: undecodable bytes, bad parent hash size, claims that differ", async () => {
  const f = await fixture();
  await expectReject(
    f,
    { ...await submission(), signedTx: Uint8Array.of(0x76, 1, 2) },
    "INVALID_FORMAT",
    /transaction/,
  );
  await expectReject(
    f,
    { ...await submission(), parentQcHash: new Uint8Array(31) },
    "INVALID_FORMAT",
    /parent_qc_hash must be 32 bytes/,
  );
  const claimed = {
    sender: new Uint8Array(),
    recipient: new Uint8Array(),
    amount: 11n,
    asset: new Uint8Array(),
    chainId: 0n,
    nonceKey: new Uint8Array(),
    nonceSeq: 0n,
    expiryUnixMillis: 0n,
  };
  await expectReject(
    f,
    { ...await submission(), payment: claimed },
    "INVALID_FORMAT",
    /payment.amount 11 differs/,
  );
  await expectReject(
    f,
    await submission(alice, { gas: 50_000n }),
    "INVALID_FORMAT",
    /gas 50000 is below/,
  );
  f.store.close();
});

Deno.test("rule 2 WRONG_CHAIN", async () => {
  const f = await fixture();
  await expectReject(
    f,
    await submission(alice, { chainId: 1n }),
    "WRONG_CHAIN",
    /chainId 1 does not match the expected 1337/,
  );
  f.store.close();
});

Deno.test("rule 3 NOT_PAYMENT_TX", async () => {
  const f = await fixture();
  const tx = { ...buildPaymentTransaction(paymentParams()), nonceKey: 7n };
  const signed = await alice.signTransaction(tx, { serializer: Transaction.serialize });
  await expectReject(
    f,
    { ...await submission(), signedTx: hexToBytes(signed) },
    "NOT_PAYMENT_TX",
    /nonceKey 0x7 is outside the Allegro lane/,
  );
  f.store.close();
});

Deno.test("rule 4: same client_request_id, same tx → same answer; other tx → INVALID_FORMAT", async () => {
  const f = await fixture();
  const first = await f.certifier.submit(await submission(alice, {}, { clientRequestId: "r1" }));
  const again = await f.certifier.submit(await submission(alice, {}, { clientRequestId: "r1" }));
  assert.deepEqual(certificateOf(again), certificateOf(first));
  const before = await snapshot(f);
  const other = await f.certifier.submit(
    await submission(alice, { nonce: 1n }, { clientRequestId: "r1" }),
  );
  assert.ok("reject" in other);
  assert.equal(other.reject.code, "INVALID_FORMAT");
  assert.match(other.reject.message, /client_request_id "r1" .* was used for tx/);
  assert.deepEqual(await snapshot(f), before);
  f.store.close();
});

Deno.test("rule 4: a remembered reject is answered again for the same request id", async () => {
  const f = await fixture();
  const request = await submission(alice, { nonce: 5n }, { clientRequestId: "r2" });
  const first = await f.certifier.submit(request);
  assert.ok("reject" in first && first.reject.code === "NONCE_SEQ_TOO_HIGH");
  f.ledger.requests.clear(); // served from the store this time
  const again = await f.certifier.submit(request);
  assert.deepEqual(again, first);
  f.store.close();
});

Deno.test("rule 5: idempotent replay returns the same certificate bytes; a conflict is EQUIVOCATION", async () => {
  const f = await fixture();
  const request = await submission();
  const first = certificateOf(await f.certifier.submit(request));
  const second = certificateOf(await f.certifier.submit(request));
  assert.deepEqual(second, first);
  f.ledger.locks.clear(); // forget the cache: the store answers
  assert.deepEqual(certificateOf(await f.certifier.submit(request)), first);
  await expectReject(
    f,
    await submission(alice, { amount: 1n }),
    "EQUIVOCATION",
    /contention key .* is signed for tx/,
  );
  f.store.close();
});

Deno.test("rule 5 holds under concurrency: 50 conflicting transactions, exactly one certificate", async () => {
  const f = await fixture();
  const requests = await Promise.all(
    Array.from({ length: 50 }, (_, i) => submission(alice, { amount: 1_000n + BigInt(i) })),
  );
  const answers = await Promise.all(requests.map((r) => f.certifier.submit(r)));
  const certified = answers.filter((a) => "certificate" in a);
  const codes = answers.flatMap((a) => ("reject" in a ? [a.reject.code] : []));
  assert.equal(certified.length, 1);
  assert.equal(codes.length, 49);
  assert.ok(codes.every((c) => c === "EQUIVOCATION"));
  assert.equal(await f.store.lastSequence(), 1n);
  f.store.close();
});

Deno.test("rule 6 EXPIRED: past, too close, beyond the window, not yet valid", async () => {
  const f = await fixture();
  const head = HEAD_MILLIS / 1000n;
  await expectReject(
    f,
    await submission(alice, { validBefore: head - 1n }),
    "EXPIRED",
    /validBefore/,
  );
  await expectReject(
    f,
    await submission(alice, { validBefore: head + 5n }),
    "EXPIRED",
    /not at least 10000 ms/,
  );
  await expectReject(
    f,
    await submission(alice, { validBefore: head + 7200n }),
    "EXPIRED",
    /more than 3600000 ms/,
  );
  await expectReject(
    f,
    await submission(alice, { validAfter: head + 30n }),
    "EXPIRED",
    /validAfter .* not yet reached/,
  );
  f.store.close();
});

Deno.test("rule 7 NONCE_SEQ_TOO_LOW / NONCE_SEQ_TOO_HIGH against max(chain, local)", async () => {
  const f = await fixture();
  await expectReject(
    f,
    await submission(alice, { nonce: 1n }),
    "NONCE_SEQ_TOO_HIGH",
    /nonce_seq 1 .* above the next expected 0/,
  );
  certificateOf(await f.certifier.submit(await submission(alice, { nonce: 0n })));
  certificateOf(await f.certifier.submit(await submission(alice, { nonce: 1n })));
  // The chain is ahead of this sidecar in another lane.
  const lane2 = numberToBytes(allegroNonceKey(2n), { size: 32 });
  f.chain.nonces.set(laneId(lower(alice.address), lane2), 4n);
  await expectReject(
    f,
    await submission(alice, { nonceKey: allegroNonceKey(2n), nonce: 3n }),
    "NONCE_SEQ_TOO_LOW",
    /nonce_seq 3 .* below the next expected 4/,
  );
  f.store.close();
});

Deno.test("rule 9 INSUFFICIENT_FUNDS at exactly amount + max fee, per fee token", async () => {
  const f = await fixture();
  f.chain.setBalance(carol.address, PATH_USD, 10_000_000n + DEFAULT_MAX_FEE - 1n);
  await expectReject(
    f,
    await submission(carol),
    "INSUFFICIENT_FUNDS",
    /has 10001999 .* needs amount 10000000 \+ max fee 2000 = 10002000/,
  );
  f.chain.setBalance(carol.address, PATH_USD, 10_000_000n + DEFAULT_MAX_FEE);
  certificateOf(await f.certifier.submit(await submission(carol)));
  // Fee in another token: both balances must cover their part.
  f.chain.setBalance(bob.address, ALPHA_USD, DEFAULT_MAX_FEE - 1n);
  await expectReject(
    f,
    await submission(bob, { amount: 1n, feeToken: ALPHA_USD }),
    "INSUFFICIENT_FUNDS",
    /needs max fee 2000/,
  );
  f.store.close();
});

Deno.test("rule 10 TEMPORARY_UNAVAILABLE while the chain view is not ready; not remembered", async () => {
  const f = await fixture();
  const head = f.ledger.head;
  f.ledger.head = undefined;
  const request = await submission(alice, {}, { clientRequestId: "r3" });
  await expectReject(f, request, "TEMPORARY_UNAVAILABLE", /chain view is not ready/);
  f.ledger.head = head;
  certificateOf(await f.certifier.submit(request));
  f.store.close();
});

// --- parents -------------------------------------------------------------------------------------

/** Alice pays Bob 10 USD; returns the parent request, its certificate and a 3-of-4 QC. */
async function parentPayment(f: Fixture) {
  const request = await submission(alice);
  const cert = certificateOf(await f.certifier.submit(request));
  const qc = await qcFor(f.committee, f.signers, cert);
  return { request, cert, qc };
}

function childOf(
  qc: Awaited<ReturnType<typeof qcFor>>,
  parent: SubmissionRequest,
  qcForParents = qc,
) {
  return submission(bob, { recipient: carol.address, memo: qc.qcHash }, {
    parentQcHash: qc.qcHash,
    parents: [{ qc: qcForParents, signedTx: parent.signedTx, parentQcHash: new Uint8Array() }],
  });
}

Deno.test("a child spends its parent's credit before the parent is included", async () => {
  const f = await fixture();
  f.chain.setBalance(bob.address, PATH_USD, DEFAULT_MAX_FEE); // only the fee of his own
  const { request, qc } = await parentPayment(f);
  const child = certificateOf(await f.certifier.submit(await childOf(qc, request)));
  assert.equal(await certificateProblem(f.committee, child), undefined);
  assert.equal(f.ledger.available(bob.address.toLowerCase() as Hex, PATH_USD), 0n);
  f.store.close();
});

Deno.test("rule 8 MISSING_PARENT_QC when the named QC is not carried", async () => {
  const f = await fixture();
  const { request, qc } = await parentPayment(f);
  const child = await childOf(qc, request);
  await expectReject(
    f,
    { ...child, parents: [] },
    "MISSING_PARENT_QC",
    /names a QC the request does not carry/,
  );
  f.store.close();
});

Deno.test("rule 8 INVALID_PARENT_QC: forged signature, below threshold, outsider, wrong recipient", async () => {
  const f = await fixture();
  const { request, cert, qc } = await parentPayment(f);

  const forged = {
    ...qc,
    certificates: qc.certificates.map((c, i) =>
      i === 1 ? { ...c, signature: c.signature.map((b, j) => j === 0 ? b ^ 1 : b) } : c
    ),
  };
  const rehash = (q: typeof qc) => ({ ...q, qcHash: qcHash(q) });
  const forgedQc = rehash(forged);
  await expectReject(f, await childOf(forgedQc, request), "INVALID_PARENT_QC", /does not verify/);

  const fewQc = await qcFor(f.committee, f.signers, cert, 2);
  await expectReject(
    f,
    await childOf(fewQc, request),
    "INVALID_PARENT_QC",
    /has 2 certificates, threshold is 3/,
  );

  const outsider = await CertificateSigner.create(new Uint8Array(32).fill(99), {
    chainId: 1337n,
    epoch: 42n,
  });
  const outsiderQc = rehash({
    ...qc,
    certificates: [
      ...qc.certificates.slice(0, 2),
      await outsider.sign(cert.txHash, cert.effectsHash, 5n),
    ],
  });
  await expectReject(
    f,
    await childOf(outsiderQc, request),
    "INVALID_PARENT_QC",
    /not in the committee/,
  );

  // Carol tries to spend Alice's payment to Bob.
  const stolen = await submission(carol, { recipient: alice.address, memo: qc.qcHash }, {
    parentQcHash: qc.qcHash,
    parents: [{ qc, signedTx: request.signedTx, parentQcHash: new Uint8Array() }],
  });
  f.chain.setBalance(carol.address, PATH_USD, 0n);
  await expectReject(f, stolen, "INVALID_PARENT_QC", /parent pays 0x.*, not this payment's sender/);

  // The QC of one transaction presented with another transaction's bytes.
  const other = await submission(alice, { nonce: 1n, amount: 7n });
  await expectReject(f, await childOf(qc, other), "INVALID_PARENT_QC", /hashes to tx_hash/);
  f.store.close();
});

Deno.test("rule 8: a parent is spent once, even through a different QC of the same transaction", async () => {
  const f = await fixture();
  const { request, cert, qc } = await parentPayment(f);
  certificateOf(await f.certifier.submit(await childOf(qc, request)));
  // Signers 1..3 form another valid QC of the same parent transaction.
  const certs = await Promise.all(
    f.signers.slice(1).map((s) => s.sign(cert.txHash, cert.effectsHash, 77n)),
  );
  const otherQc = assembleQuorumCertificate(f.committee, certs)!;
  assert.notEqual(bytesToHex(otherQc.qcHash), bytesToHex(qc.qcHash));
  const second = await submission(bob, {
    recipient: carol.address,
    memo: otherQc.qcHash,
    nonce: 1n,
    amount: 1n,
  }, {
    parentQcHash: otherQc.qcHash,
    parents: [{ qc: otherQc, signedTx: request.signedTx, parentQcHash: new Uint8Array() }],
  });
  await expectReject(f, second, "INVALID_PARENT_QC", /already spent by tx/);
  f.store.close();
});

Deno.test("rule 9: no credit once the parent's nonce is used on chain (the balance holds it)", async () => {
  const f = await fixture();
  const { request, qc } = await parentPayment(f);
  // The parent landed: Alice's lane nonce moved past it, Bob's balance would include it.
  f.chain.setNonce(alice.address, numberToBytes(allegroNonceKey(1n), { size: 32 }), 1n);
  f.chain.setBalance(bob.address, PATH_USD, DEFAULT_MAX_FEE);
  await expectReject(f, await childOf(qc, request), "INSUFFICIENT_FUNDS", /has 2000 of/);
  f.chain.setBalance(bob.address, PATH_USD, 10_000_000n + DEFAULT_MAX_FEE);
  const child = await f.certifier.submit(await childOf(qc, request));
  assert.ok("certificate" in child);
  assert.equal(f.ledger.available(lower(bob.address), PATH_USD), 0n);
  f.store.close();
});

Deno.test("ledger caches stay bounded; evicted entries are read back from the store", async () => {
  const f = await testCertifier({ maxCachedEntries: 8 });
  f.chain.setBalance(alice.address, PATH_USD, 10n ** 12n);
  const requests = await Promise.all(
    Array.from(
      { length: 40 },
      (_, i) => submission(alice, { nonceKey: allegroNonceKey(BigInt(i + 1)), amount: 1n }),
    ),
  );
  const first = certificateOf(await f.certifier.submit(requests[0]));
  for (const r of requests.slice(1)) certificateOf(await f.certifier.submit(r));
  assert.ok(f.ledger.locks.size <= 8, `locks cache holds ${f.ledger.locks.size}`);
  assert.ok(f.ledger.localNonces.size <= 8);
  assert.deepEqual(certificateOf(await f.certifier.submit(requests[0])), first);
  const conflict = await submission(alice, { nonceKey: allegroNonceKey(1n), amount: 2n });
  await expectReject(f, conflict, "EQUIVOCATION", /is signed for tx/);
  f.store.close();
});

/**
 * `watchIncoming` against fake bulletin boards (real Connect servers on loopback): certificates
 * spread over two boards form one QC, the payment is yielded once, forged entries and payments
 * the address makes are ignored, cursors page through and never go back, and the number of
 * payments waiting for a QC stays bounded.
 */
import assert from "node:assert/strict";
import { bytesToHex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type BulletinEntry, BulletinEntrySchema, FastPaySidecar } from "@allegro/proto";
import { create } from "@bufbuild/protobuf";
import {
  allegroNonceKey,
  type Certificate,
  CertificateSigner,
  certificateToProto,
  type CertifiedPayment,
  decodePayment,
  parseCommittee,
  PATH_USD,
  paymentEffectsHash,
  paymentTxHash,
  signPaymentTransaction,
  verifyCertifiedPayment,
  watchIncoming,
} from "./mod.ts";
import { connectSidecars } from "./transport.ts";
import { type Listener, serveConnect } from "@allegro/server/listen";

const CHAIN = { chainId: 1337n, epoch: 3n };
const alice = privateKeyToAccount(
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
);
const bob = privateKeyToAccount(
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
);
const carol = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const signers = await Promise.all(
  [1, 2].map((i) => CertificateSigner.create(new Uint8Array(32).fill(i), CHAIN)),
);

async function payment(from: typeof alice, to: `0x${string}`, nonce: bigint) {
  const signedTx = hexToBytes(
    await signPaymentTransaction(from, {
      chainId: CHAIN.chainId,
      token: PATH_USD,
      recipient: to,
      amount: 1000n + nonce,
      nonceKey: allegroNonceKey(1n),
      nonce,
      validBefore: 1_900_000_000n,
      gas: 100_000n,
      maxFeePerGas: 20n,
      maxPriorityFeePerGas: 0n,
      feeToken: PATH_USD,
    }),
  );
  const decoded = decodePayment(signedTx, { chainId: CHAIN.chainId });
  const certify = (signer: CertificateSigner) =>
    signer.sign(paymentTxHash(decoded), paymentEffectsHash(decoded), 1n);
  return { signedTx, certify };
}

function entry(sequence: bigint, certificate: Certificate, signedTx: Uint8Array): BulletinEntry {
  return create(BulletinEntrySchema, {
    sequence,
    certificate: certificateToProto(certificate),
    signedTx,
  });
}

/**
 * Fake sidecars serving `boards[i]` (entries in sequence order) with a page limit of 2; board
 * `i` shows nothing before `hiddenMillis[i]` have passed.
 */
function fakeBoards(boards: BulletinEntry[][], hiddenMillis: number[] = []) {
  const requests: bigint[][] = boards.map(() => []);
  const started = Date.now();
  const listeners: Listener[] = boards.map((board, i) =>
    serveConnect({
      hostname: "127.0.0.1",
      port: 0,
      readMaxBytes: 1 << 20,
      routes: (router) =>
        router.service(FastPaySidecar, {
          getBulletinBoard(request) {
            requests[i].push(request.afterSequence);
            const limit = Math.min(request.limit || 2, 2);
            const visible = Date.now() - started >= (hiddenMillis[i] ?? 0) ? board : [];
            const entries = visible.filter((e) => e.sequence > request.afterSequence).slice(
              0,
              limit,
            );
            return {
              entries,
              nextAfterSequence: entries.at(-1)?.sequence ?? request.afterSequence,
              hasMore: entries.length === limit,
            };
          },
        }),
    })
  );
  const committee = parseCommittee({
    chain_id: CHAIN.chainId.toString(),
    epoch: CHAIN.epoch.toString(),
    validators: signers.map((s, i) => ({
      name: `v${i}`,
      pubkey: bytesToHex(s.publicKey),
      endpoint: `http://127.0.0.1:${listeners[i].port}`,
    })),
  });
  return { committee, requests, close: () => Promise.all(listeners.map((l) => l.close())) };
}

Deno.test("incoming yields a payment once its certificates across boards form a QC", async () => {
  const paid = await payment(alice, bob.address, 0n);
  const spent = await payment(bob, carol, 0n); // Bob pays: not incoming for Bob
  const lonely = await payment(alice, bob.address, 1n); // only one certificate: no QC
  const [p0, p1] = [await paid.certify(signers[0]), await paid.certify(signers[1])];
  const forged = { ...p1, signature: new Uint8Array(64).fill(1) };
  const net = fakeBoards([
    [
      entry(1n, p0, paid.signedTx),
      entry(2n, forged, paid.signedTx),
      entry(3n, await spent.certify(signers[0]), spent.signedTx),
      entry(4n, await lonely.certify(signers[0]), lonely.signedTx),
    ],
    [entry(7n, forged, paid.signedTx), entry(8n, p1, paid.signedTx), entry(9n, p0, paid.signedTx)],
  ]);
  try {
    const got: CertifiedPayment[] = [];
    for await (
      const p of watchIncoming(net.committee, connectSidecars(net.committee), bob.address, {
        signal: AbortSignal.timeout(600),
        pollMillis: 20,
      })
    ) {
      got.push(p);
    }
    assert.equal(got.length, 1, "one payment, once, however many boards and rounds");
    await verifyCertifiedPayment(net.committee, got[0]);
    assert.deepEqual(got[0].signedTx, paid.signedTx);
    assert.equal(got[0].qc.certificates.length, 2);
    // Pages of two, then the cursor stays at the last entry: nothing is read twice.
    assert.deepEqual(net.requests[0].slice(0, 3), [0n, 2n, 4n]);
    assert.ok(net.requests[0].slice(3).every((s) => s === 4n));
    assert.ok(net.requests[1].slice(2).every((s) => s === 9n));
  } finally {
    await net.close();
  }
});

Deno.test("incoming keeps at most maxPending payments waiting for a QC", async () => {
  // Three payments certified by v0 on board 0 at once, and by v1 on board 1 only later.
  const payments = await Promise.all([0n, 1n, 2n].map((n) => payment(alice, bob.address, n)));
  const first = await Promise.all(payments.map((p) => p.certify(signers[0])));
  const second = await Promise.all(payments.map((p) => p.certify(signers[1])));
  const boards = [
    payments.map((p, i) => entry(BigInt(i + 1), first[i], p.signedTx)),
    payments.map((p, i) => entry(BigInt(i + 1), second[i], p.signedTx)),
  ];
  const run = async (maxPending: number) => {
    const net = fakeBoards(boards, [0, 150]);
    try {
      const got: bigint[] = [];
      const options = { signal: AbortSignal.timeout(600), pollMillis: 20, maxPending };
      for await (
        const p of watchIncoming(
          net.committee,
          connectSidecars(net.committee),
          bob.address,
          options,
        )
      ) got.push(p.payment.nonceSeq);
      return got;
    } finally {
      await net.close();
    }
  };
  assert.deepEqual(await run(1000), [0n, 1n, 2n]);
  // With room for one waiting payment, each newcomer evicts the oldest: nothing completes.
  assert.deepEqual(await run(1), []);
});

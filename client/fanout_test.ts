/**
 * The fan-out against in-process fake sidecars (real Connect servers on loopback): it decides
 * as soon as the threshold is met or impossible, keeps collecting slower answers, and tells a
 * sidecar's reject from an unreachable sidecar and from a certificate that does not verify.
 */
import assert from "node:assert/strict";
import { bytesToHex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { FastPaySidecar, RejectCode } from "@allegro/proto";
import {
  allegroNonceKey,
  CertificateSigner,
  certificateToProto,
  connectSidecars,
  decodePayment,
  fanOut,
  parseCommittee,
  PATH_USD,
  paymentEffectsHash,
  paymentTxHash,
  signPaymentTransaction,
  verifyQuorumCertificate,
} from "./mod.ts";
import { type Listener, serveConnect } from "@allegro/server/listen";

type Behaviour = "sign" | "reject" | "impostor" | "slow";

const CHAIN = { chainId: 1337n, epoch: 7n };

async function fakeNetwork(behaviours: Behaviour[]) {
  const signers = await Promise.all(
    behaviours.map((_, i) => CertificateSigner.create(new Uint8Array(32).fill(i + 1), CHAIN)),
  );
  const stranger = await CertificateSigner.create(new Uint8Array(32).fill(99), CHAIN);
  const calls = behaviours.map(() => 0);
  const listeners: Listener[] = behaviours.map((behaviour, i) =>
    serveConnect({
      hostname: "127.0.0.1",
      port: 0,
      readMaxBytes: 1 << 20,
      routes: (router) =>
        router.service(FastPaySidecar, {
          async submitFastPay(request, context) {
            calls[i]++;
            const payment = decodePayment(request.signedTx, { chainId: CHAIN.chainId });
            const txHash = paymentTxHash(payment, request.parentQcHash);
            const effectsHash = paymentEffectsHash(payment);
            if (behaviour === "reject") {
              return {
                txHash,
                effectsHash,
                result: {
                  case: "reject",
                  value: { code: RejectCode.INSUFFICIENT_FUNDS, message: "balance 0 < 12" },
                },
              };
            }
            if (behaviour === "slow") {
              await new Promise((r) => context.signal.addEventListener("abort", r));
            }
            const signer = behaviour === "impostor" ? stranger : signers[i];
            const certificate = await signer.sign(txHash, effectsHash, BigInt(Date.now()));
            return {
              txHash,
              effectsHash,
              result: { case: "certificate", value: certificateToProto(certificate) },
            };
          },
        }),
    })
  );
  const committee = parseCommittee({
    chain_id: CHAIN.chainId.toString(),
    epoch: CHAIN.epoch.toString(),
    validators: signers.map((s, i) => ({
      name: `v${i}-${behaviours[i]}`,
      pubkey: bytesToHex(s.publicKey),
      endpoint: `http://127.0.0.1:${listeners[i].port}`,
    })),
  });
  return {
    committee,
    calls,
    close: () => Promise.all(listeners.map((l) => l.close())),
  };
}

const signedTx = hexToBytes(
  await signPaymentTransaction(
    privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    {
      chainId: CHAIN.chainId,
      token: PATH_USD,
      recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      amount: 10n,
      nonceKey: allegroNonceKey(1n),
      nonce: 0n,
      validBefore: 1_900_000_000n,
      gas: 100_000n,
      maxFeePerGas: 20n,
      maxPriorityFeePerGas: 0n,
      feeToken: PATH_USD,
    },
  ),
);

Deno.test("fan-out returns the QC at the threshold while a slow sidecar is still out", async () => {
  const net = await fakeNetwork(["sign", "slow", "sign", "sign"]);
  try {
    const seen: string[] = [];
    const started = Date.now();
    const fan = fanOut(net.committee, connectSidecars(net.committee), { signedTx }, {
      timeoutMillis: 700,
      onCertificate: (v) => {
        seen.push(v.name);
        throw new Error("a throwing callback does not disturb the fan-out");
      },
    });
    const decided = await fan.decided;
    assert.ok(Date.now() - started < 500, "decided before the slow sidecar's timeout");
    assert.ok(decided.qc);
    assert.equal(decided.qc.certificates.length, 3);
    await verifyQuorumCertificate(net.committee, decided.qc);
    assert.deepEqual(seen.sort(), ["v0-sign", "v2-sign", "v3-sign"]);
    const complete = await fan.complete;
    assert.equal(complete.rejects.length, 1);
    assert.equal(complete.rejects[0].validator.name, "v1-slow");
    assert.equal(complete.rejects[0].kind, "unreachable");
    assert.equal(complete.rejects[0].code, "TEMPORARY_UNAVAILABLE");
  } finally {
    await net.close();
  }
});

Deno.test("fan-out decides as soon as the threshold is impossible and classifies failures", async () => {
  const net = await fakeNetwork(["sign", "reject", "impostor", "slow"]);
  try {
    const fan = fanOut(net.committee, connectSidecars(net.committee), { signedTx }, {
      timeoutMillis: 700,
    });
    const started = Date.now();
    const decided = await fan.decided;
    assert.ok(Date.now() - started < 500, "no need to wait for the slow sidecar");
    assert.equal(decided.qc, undefined);
    const kinds = Object.fromEntries(decided.rejects.map((r) => [r.validator.name, r]));
    assert.equal(kinds["v1-reject"].kind, "rejected");
    assert.equal(kinds["v1-reject"].code, "INSUFFICIENT_FUNDS");
    assert.equal(kinds["v1-reject"].message, "balance 0 < 12");
    assert.equal(kinds["v2-impostor"].kind, "invalid");
    assert.match(kinds["v2-impostor"].message, /bad certificate: signed by 0x/);
    const complete = await fan.complete;
    assert.equal(complete.certificates.length, 1);
    assert.equal(complete.rejects.length, 3);
  } finally {
    await net.close();
  }
});

Deno.test("fan-out counts distinct signers, not answers", async () => {
  const net = await fakeNetwork(["sign", "sign", "sign", "reject"]);
  try {
    const [first, second, third] = connectSidecars(net.committee);
    // The same validator asked three times is still one signer: the QC needs all three.
    const sidecars = [first, first, first, second, third];
    const decided = await fanOut(net.committee, sidecars, { signedTx }, {
      timeoutMillis: 1500,
    }).decided;
    assert.ok(decided.qc, "decided only once three distinct validators signed");
    assert.equal(decided.qc.certificates.length, 3);
    assert.deepEqual(net.calls, [3, 1, 1, 0]);
  } finally {
    await net.close();
  }
});

Deno.test("fan-out refuses a transaction that is no payment before sending anything", async () => {
  const net = await fakeNetwork(["sign"]);
  try {
    assert.throws(
      () =>
        fanOut(net.committee, connectSidecars(net.committee), { signedTx: Uint8Array.of(2) }, {
          timeoutMillis: 100,
        }),
      /not a Tempo transaction/,
    );
    assert.deepEqual(net.calls, [0]);
  } finally {
    await net.close();
  }
});

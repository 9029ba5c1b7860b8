/**
 * The page side of `browser_test.ts`, bundled for the browser from `mod.ts` and `testing.ts`:
 * signs an order with a viem local account and verifies it, signs certificates with a test
 * committee, assembles and verifies their QC (Ed25519 and attestations), and saves and loads a
 * lane in the IndexedDB wallet store. It publishes `globalThis.allegroBrowser`; the test runs
 * the same `protocol()` in Deno and compares.
 */
import { bytesToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  assembleQuorumCertificate,
  ed25519,
  IdbWalletStore,
  type LaneRecord,
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  signOrder,
  verifyCertifiedOrder,
  verifyQuorumCertificate,
  verifySignedOrder,
} from "../mod.ts";
import { TEST_VAULT, testCommittee } from "../testing.ts";

const PAYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const TOKEN = "0x20c0000000000000000000000000000000000000";
const DATABASE = "allegro-browser-test";

/** The certified order every step uses: deterministic keys, so Deno computes the same bytes. */
async function certifiedOrder() {
  const payer = privateKeyToAccount(PAYER_KEY);
  const signed = await verifySignedOrder(
    await signOrder(payer, {
      chainId: 1337n,
      vault: TEST_VAULT,
      payer: payer.address,
      recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
      token: TOKEN,
      amount: 1_250_000n,
      fee: 0n,
      seq: 0n,
      validBefore: 1_900_000_000_000n,
      parent: NO_PARENT,
      exit: false,
      memo: `0x${"11".repeat(32)}`,
    }),
  );
  const { committee, signers } = testCommittee(4);
  const txHash = orderTxHash(signed.order);
  const effectsHash = orderEffectsHash(signed.order);
  // Three of four sign: the threshold.
  const certificates = signers.slice(0, 3).map((s, i) =>
    s.sign(txHash, effectsHash, 1000n + BigInt(i))
  );
  const qc = assembleQuorumCertificate(committee, certificates);
  if (qc === undefined) throw new Error("three certificates did not form a QC");
  return { committee, signed, qc, txHash: bytesToHex(txHash) };
}

/** Signs, certifies and verifies in this runtime; what it returns is compared with Deno's. */
export async function protocol(): Promise<Record<string, unknown>> {
  const { committee, signed, qc, txHash } = await certifiedOrder();
  await verifyQuorumCertificate(committee, qc);
  const certified = await verifyCertifiedOrder(committee, { signed, qc });
  const forged = {
    ...qc,
    certificates: [qc.certificates[0], qc.certificates[0], qc.certificates[2]],
  };
  return {
    payer: signed.order.payer,
    signature: signed.signature,
    txHash,
    certifiedTxHash: certified.txHash,
    threshold: qc.threshold,
    qcHash: bytesToHex(qc.qcHash),
    certificateSignatures: qc.certificates.map((c) => bytesToHex(c.signature)),
    attestations: qc.certificates.map((c) => bytesToHex(c.attestation)),
    forgedQc: await verifyQuorumCertificate(committee, forged).then(
      () => "accepted",
      (e: Error) => e.message,
    ),
  };
}

/** Writes the certified order's lane to IndexedDB. */
async function saveLane(): Promise<void> {
  const { signed, qc, txHash } = await certifiedOrder();
  const store = new IdbWalletStore({ database: DATABASE });
  await store.put(signed.order.payer, TOKEN, { next: 1n, orders: [{ signed, txHash, qc }] });
  store.close();
}

/**
 * Reads the lane back (after a reload) and says what came back: types as well as values, since
 * the record must survive structured clone with its bigints and byte arrays intact.
 */
async function loadLane(): Promise<Record<string, unknown> | null> {
  const { committee, signed, qc } = await certifiedOrder();
  const store = new IdbWalletStore({ database: DATABASE });
  const record: LaneRecord | undefined = await store.get(signed.order.payer, TOKEN);
  store.close();
  if (record === undefined) return null;
  const [order] = record.orders;
  return {
    next: typeof record.next === "bigint" ? record.next.toString() : record.next,
    orders: record.orders.length,
    amount: typeof order.signed.order.amount === "bigint"
      ? order.signed.order.amount.toString()
      : null,
    txHash: order.txHash,
    qcHashIsBytes: order.qc?.qcHash instanceof Uint8Array,
    qcHash: order.qc ? bytesToHex(order.qc.qcHash) : null,
    sameQc: order.qc !== undefined && bytesToHex(order.qc.qcHash) === bytesToHex(qc.qcHash),
    // The stored QC must still verify as loaded.
    qcVerifies: order.qc
      ? await verifyQuorumCertificate(committee, order.qc).then(() => true, (e: Error) => e.message)
      : false,
    sameSignature: order.signed.signature === signed.signature,
  };
}

/** What the test drives in the page. */
const api = {
  userAgent: () => navigator.userAgent,
  ed25519Backend: async () => (await ed25519()).name,
  protocol,
  saveLane,
  loadLane,
};

(globalThis as { allegroBrowser?: typeof api }).allegroBrowser = api;

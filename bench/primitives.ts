/**
 * The cost of each building block of a v2 certification on this machine, measured alone: the
 * payer's EIP-712 signature (digest and recovery), the order hashes, Ed25519 sign and verify,
 * the settlement attestation (sign and recover), a parent's QC of 3 certificates, and a durable
 * Deno KV commit of what one certification writes (the real authority's writes, through the real
 * store). Their sum bounds what one main thread can certify; `BENCHMARKS.md` uses it to show the
 * limits.
 *
 * @module
 */
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "viem";
import { ed25519 as nobleEd25519 } from "@noble/curves/ed25519";
import { secp256k1 } from "@noble/curves/secp256k1";
import {
  attestationSigner,
  certDigest,
  ed25519,
  orderDigest,
  orderEffectsHash,
  orderTxHash,
  verifyCertifiedOrder,
  verifyQuorumCertificate,
  verifySignedOrder,
} from "@allegro/client";
import { testSettlementKey } from "@allegro/client/testing";
import type { Writes } from "@allegro/sidecar/bench";
import { type IsolatedSidecar, MAX_VALIDITY, startIsolated } from "./isolated.ts";
import {
  benchAccounts,
  type BenchOrder,
  chainedOrders,
  LanePool,
  orderPlan,
  singleOrders,
} from "./orders.ts";

/** One measured primitive. */
export interface PrimitiveCost {
  readonly name: string;
  /** Microseconds of wall time per operation (the process does nothing else meanwhile). */
  readonly micros: number;
  readonly note?: string;
}

/** Median of `rounds` timings of `n` calls of `f` (after `warm` calls), in µs per call. */
async function time(
  n: number,
  f: (i: number) => unknown,
  { rounds = 5, warm = Math.min(n, 200) } = {},
): Promise<number> {
  for (let i = 0; i < warm; i++) await f(i);
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < n; i++) await f(warm + r * n + i);
    results.push((performance.now() - started) * 1000 / n);
  }
  results.sort((a, b) => a - b);
  return Math.round(results[Math.floor(rounds / 2)] * 10) / 10;
}

/**
 * Measures every primitive; takes about half a minute (`scale` < 1 for fewer iterations).
 *
 * @example
 * ```ts ignore
 * const costs = await measurePrimitives(await Deno.makeTempDir(), 0.05);
 * console.log(primitivesTable(costs));
 * ```
 */
export async function measurePrimitives(dir: string, scale = 1): Promise<PrimitiveCost[]> {
  const n = (count: number) => Math.max(5, Math.round(count * scale));
  const sidecar = await startIsolated(join(dir, "primitives.kv"));
  try {
    const { committee, signers, store } = sidecar;
    const plan = orderPlan(committee, 1_000_000n, MAX_VALIDITY / 2n);
    const payers = benchAccounts("primitives", 100);
    const lanes = new LanePool(payers.length);
    const { parents: { orders: [parent] }, children: [child] } = await chainedOrders(
      payers,
      benchAccounts("primitives-payee", 100),
      plan,
      lanes,
      1,
      committee,
      signers,
    );
    const out: PrimitiveCost[] = [];
    const signed = parent.signed;
    const o = signed.order;
    out.push({
      name: "EIP-712 order digest (`orderDigest`)",
      micros: await time(n(1000), () => orderDigest(o)),
    });
    out.push({
      name: "payer signature: `verifySignedOrder` (fields, digest, secp256k1 recovery)",
      micros: await time(n(500), () => verifySignedOrder(signed)),
    });
    out.push({ name: "`orderTxHash`", micros: await time(n(5000), () => orderTxHash(o)) });
    out.push({
      name: "`orderEffectsHash`",
      micros: await time(n(5000), () => orderEffectsHash(o)),
    });

    const txHash = orderTxHash(o);
    const effectsHash = orderEffectsHash(o);
    const digest = certDigest({
      chainId: committee.chainId,
      epoch: committee.epoch,
      txHash,
      effectsHash,
    });
    const seed = new Uint8Array(32).fill(1);
    const settlementKey = hexToBytes(testSettlementKey(0));
    const backend = await ed25519();
    const certificate = signers[0].sign(txHash, effectsHash, 1n);
    out.push({
      name: "Ed25519 sign (noble, as `CertificateSigner`)",
      micros: await time(n(1000), () => nobleEd25519.sign(digest, seed)),
    });
    out.push({
      name: `Ed25519 sign (${backend.name})`,
      micros: await time(n(2000), () => backend.sign(seed, digest)),
      note: "not used by the sidecar",
    });
    out.push({
      name: `Ed25519 verify (${backend.name}, as \`certificateProblem\`)`,
      micros: await time(
        n(2000),
        () => backend.verify(certificate.signature, digest, certificate.signer),
      ),
    });
    out.push({
      name: "attestation sign (noble secp256k1, as `CertificateSigner`)",
      micros: await time(n(1000), () => secp256k1.sign(digest, settlementKey, { lowS: true })),
    });
    out.push({
      name: "`CertificateSigner.sign` (cert digest, Ed25519, attestation)",
      micros: await time(n(1000), () => signers[0].sign(txHash, effectsHash, 1n)),
    });
    out.push({
      name: "attestation recover (`attestationSigner`)",
      micros: await time(n(500), () => attestationSigner(digest, certificate.attestation)),
    });
    out.push({
      name: "`verifyQuorumCertificate`, 3 certificates",
      micros: await time(n(200), () => verifyQuorumCertificate(committee, child.parent!.qc)),
    });
    out.push({
      name: "`verifyCertifiedOrder`: a parent with its QC",
      micros: await time(n(200), () => verifyCertifiedOrder(committee, child.parent!)),
      note: "what a chained order costs more",
    });

    // What one certification writes, decided by the authority itself, committed by the store.
    const alone = n(200);
    const group = 64;
    const groups = Math.max(3, Math.round(10 * scale));
    const built = await singleOrders(payers, plan, lanes, 50 + alone * 3 + group * groups);
    await sidecar.chain.deposit(built.deposits);
    const writes: Writes[] = [];
    for (const order of built.orders) writes.push(await certification(sidecar, order));
    out.push({
      name: "Deno KV durable commit, 1 certification's writes",
      micros: await time(alone, (i) => store.commit(writes[i]), { rounds: 3, warm: 50 }),
    });
    const rest = writes.slice(50 + alone * 3);
    const micros = await time(
      1,
      (i) => Promise.all(rest.slice(i * group, (i + 1) * group).map((w) => store.commit(w))),
      { rounds: groups, warm: 0 },
    );
    out.push({
      name: `Deno KV durable commit, ${group} certifications' writes`,
      micros,
      note: `${Math.round(micros / group)} µs per certification (a group commit)`,
    });
    return out;
  } finally {
    sidecar.close();
  }
}

/** The writes the sidecar's authority returns for certifying `order`, decided outside its driver. */
async function certification(
  { authority, store }: Pick<IsolatedSidecar, "authority" | "store">,
  order: BenchOrder,
): Promise<Writes> {
  const o = order.signed.order;
  const submission = {
    signed: order.signed,
    txHash: bytesToHex(orderTxHash(o)),
    effectsHash: orderEffectsHash(o),
    laneQcs: [],
  };
  for (let round = 0; round < 4; round++) {
    const decision = authority.handle(submission, BigInt(Date.now()));
    if (decision.kind === "certify") return decision.writes;
    if (decision.kind !== "need") throw new Error(`not certified: ${decision.kind}`);
    for (const key of decision.keys) authority.load(key, await store.read(key));
  }
  throw new Error("the authority kept asking for keys");
}

/**
 * The primitives as a Markdown table.
 *
 * @example
 * ```ts
 * import { primitivesTable } from "./primitives.ts";
 *
 * console.log(primitivesTable([{ name: "x", micros: 1 }]).split("\n").length); // 3
 * ```
 */
export function primitivesTable(costs: readonly PrimitiveCost[]): string {
  return [
    "| primitive | µs per operation | note |",
    "|---|--:|---|",
    ...costs.map((c) => `| ${c.name} | ${c.micros} | ${c.note ?? ""} |`),
  ].join("\n");
}

/**
 * Pre-built signed payment orders for the load generator: many deterministic payers, each order
 * the first one (seq 0) of a lane of its own — a lane `(payer, token)` whose earlier seqs the
 * sidecar has nothing to wait for — and chained orders whose parents carry a 3-of-4 QC signed with
 * the committee's test keys. Building is not timed.
 *
 * @module
 */
import { type Address, bytesToHex, getAddress, type Hex } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { sha256 } from "@noble/hashes/sha2.js";
import { create } from "@bufbuild/protobuf";
import { type SubmitFastPayRequest, SubmitFastPayRequestSchema } from "@allegro/proto";
import {
  assembleQuorumCertificate,
  type CertificateSigner,
  certifiedOrderInit,
  type Committee,
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  type QuorumCertificate,
  type SignedOrder,
  signedOrderInit,
  signOrder,
} from "@allegro/client";
import type { SubmissionRequest } from "@allegro/sidecar/bench";

/** A lane to fund: `(payer, token)`. */
export interface LaneRef {
  readonly payer: Address;
  readonly token: Address;
}

/** One order ready to send, with the parent it spends (order and QC) if it is a child. */
export interface BenchOrder {
  readonly signed: SignedOrder;
  readonly parent?: { readonly signed: SignedOrder; readonly qc: QuorumCertificate };
}

/** What every order of a run shares. */
export interface OrderPlan {
  readonly chainId: bigint;
  readonly vault: Address;
  readonly recipient: Address;
  readonly amount: bigint;
  /** Unix milliseconds. */
  readonly validBefore: bigint;
}

/** Who the benchmark's orders pay, unless they pay a payee: none of the payers. */
const RECIPIENT: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/**
 * The plan of a run on `committee`'s chain and vault: `amount` to a fixed recipient, valid for
 * `validForMillis` from now.
 *
 * @example
 * ```ts ignore
 * const plan = orderPlan(committee, 1_000_000n, 1_800_000n);
 * ```
 */
export function orderPlan(
  committee: Pick<Committee, "chainId" | "vault">,
  amount: bigint,
  validForMillis: bigint,
): OrderPlan {
  return {
    chainId: committee.chainId,
    vault: committee.vault,
    recipient: RECIPIENT,
    amount,
    validBefore: BigInt(Date.now()) + validForMillis,
  };
}

/**
 * `count` deterministic accounts derived from `seed` (same seed, same accounts).
 *
 * @example
 * ```ts
 * import { benchAccounts } from "./orders.ts";
 *
 * const [a] = benchAccounts("payer", 1);
 * console.log(a.address === benchAccounts("payer", 1)[0].address); // true
 * ```
 */
export function benchAccounts(seed: string, count: number): PrivateKeyAccount[] {
  const encoder = new TextEncoder();
  return Array.from(
    { length: count },
    (_, i) => privateKeyToAccount(bytesToHex(sha256(encoder.encode(`allegro-bench:${seed}:${i}`)))),
  );
}

/**
 * The `i`-th benchmark token: a TIP-20 address (`0x20c0`, ten zero bytes, `i`); token 0 is
 * pathUSD. Each (payer, token) pair is a lane of its own.
 *
 * @example
 * ```ts
 * import { benchToken } from "./orders.ts";
 *
 * console.log(benchToken(1)); // 0x20C0000000000000000000000000000000000001
 * ```
 */
export function benchToken(i: number): Address {
  return getAddress(`0x20c0${"0".repeat(20)}${i.toString(16).padStart(16, "0")}`);
}

/**
 * Hands out lanes, each once: lane `i` is `(payers[i mod n], benchToken(floor(i / n)))`, so that
 * consecutive orders come from different payers.
 */
export class LanePool {
  #next = 0;
  constructor(readonly payers: number) {}

  /** The next `count` lanes: payer index and token. */
  take(count: number): { payer: number; token: Address }[] {
    return Array.from({ length: count }, () => {
      const i = this.#next++;
      return { payer: i % this.payers, token: benchToken(Math.floor(i / this.payers)) };
    });
  }
}

/**
 * Signs an order of `payer` in `token` for the plan's amount, to the plan's recipient unless
 * another is given, at seq 0 unless another is given; no fee, no memo.
 *
 * @example
 * ```ts ignore
 * const signed = await signBenchOrder(payer, plan, { token: PATH_USD, seq: 3n });
 * ```
 */
export function signBenchOrder(
  payer: PrivateKeyAccount,
  plan: OrderPlan,
  fields: { token: Address; seq?: bigint; recipient?: Address; parent?: Hex },
): Promise<SignedOrder> {
  return signOrder(payer, {
    chainId: plan.chainId,
    vault: plan.vault,
    payer: payer.address,
    recipient: fields.recipient ?? plan.recipient,
    token: fields.token,
    amount: plan.amount,
    fee: 0n,
    seq: fields.seq ?? 0n,
    validBefore: plan.validBefore,
    parent: fields.parent ?? NO_PARENT,
    exit: false,
    memo: NO_PARENT,
  });
}

/** Orders and the lanes that must hold a deposit before they are sent. */
export interface BuiltOrders {
  readonly orders: BenchOrder[];
  readonly deposits: LaneRef[];
}

/**
 * `count` single orders, each seq 0 of a fresh lane from `lanes`: the lanes to fund are theirs.
 *
 * @example
 * ```ts ignore
 * const { orders, deposits } = await singleOrders(payers, plan, new LanePool(payers.length), 100);
 * ```
 */
export async function singleOrders(
  payers: readonly PrivateKeyAccount[],
  plan: OrderPlan,
  lanes: LanePool,
  count: number,
): Promise<BuiltOrders> {
  const orders: BenchOrder[] = [];
  for (const lane of lanes.take(count)) {
    orders.push({ signed: await signBenchOrder(payers[lane.payer], plan, { token: lane.token }) });
  }
  return { orders, deposits: orders.map((o) => o.signed.order) };
}

/** Parent orders and the children that spend them. */
export interface ChainedOrders {
  /** `payer_i → payee_i`; certify these first (a sidecar has normally seen a parent). */
  readonly parents: BuiltOrders;
  /** `payee_i → recipient` with the parent's 3-of-4 QC; the payee's lane holds nothing. */
  readonly children: BenchOrder[];
}

/**
 * `count` parent/child pairs on fresh lanes: parent `i` pays the whole `plan.amount` from
 * `payers[k]` to `payees[k]` in the lane's token, with a QC of the first `threshold` of
 * `qcSigners`; child `i` spends all of it, citing the parent, in the payee's lane of that token.
 *
 * @example
 * ```ts ignore
 * const { parents, children } = await chainedOrders(payers, payees, plan, lanes, 100, committee, signers);
 * ```
 */
export async function chainedOrders(
  payers: readonly PrivateKeyAccount[],
  payees: readonly PrivateKeyAccount[],
  plan: OrderPlan,
  lanes: LanePool,
  count: number,
  committee: Committee,
  qcSigners: readonly CertificateSigner[],
): Promise<ChainedOrders> {
  const parents: BenchOrder[] = [];
  const children: BenchOrder[] = [];
  const created = BigInt(Date.now());
  for (const lane of lanes.take(count)) {
    const payee = payees[lane.payer];
    const parent = await signBenchOrder(payers[lane.payer], plan, {
      token: lane.token,
      recipient: payee.address,
    });
    const txHash = orderTxHash(parent.order);
    const effectsHash = orderEffectsHash(parent.order);
    const qc = assembleQuorumCertificate(
      committee,
      qcSigners.slice(0, committee.threshold).map((s) => s.sign(txHash, effectsHash, created)),
    )!;
    parents.push({ signed: parent });
    children.push({
      signed: await signBenchOrder(payee, plan, { token: lane.token, parent: bytesToHex(txHash) }),
      parent: { signed: parent, qc },
    });
  }
  return { parents: { orders: parents, deposits: parents.map((p) => p.signed.order) }, children };
}

/**
 * The certifier's request for an order (what the wire decodes to).
 *
 * @example
 * ```ts ignore
 * const answer = await certifier.submit(submission(order));
 * ```
 */
export function submission(o: BenchOrder): SubmissionRequest {
  return { signed: o.signed, laneQcs: [], ...(o.parent ? { parent: o.parent } : {}) };
}

/**
 * The wire request for an order, with the QCs of the payer's earlier orders in the lane.
 *
 * @example
 * ```ts ignore
 * const answer = await client.submitFastPay(wireRequest(order));
 * ```
 */
export function wireRequest(
  o: BenchOrder,
  laneQcs: readonly { signed: SignedOrder; qc: QuorumCertificate }[] = [],
): SubmitFastPayRequest {
  return create(SubmitFastPayRequestSchema, {
    order: signedOrderInit(o.signed),
    laneQcs: laneQcs.map(certifiedOrderInit),
    ...(o.parent ? { parent: certifiedOrderInit(o.parent) } : {}),
  });
}

/**
 * Settlement (SPEC §6): turning certified orders into one `settleBatch` on the vault, parents
 * before their children, each order with the attestation-only QC the vault checks (its
 * certificates' attestations, indexed by committee position). The backend, every sidecar with a
 * settler key and a recipient's client all settle through here.
 *
 * @module
 */
import { BaseError, ContractFunctionRevertedError, decodeErrorResult } from "viem";
import type { Address, Hex, PublicClient, TransactionReceipt } from "./deps.ts";
import type { CertifiedOrder } from "./certified.ts";
import type { Committee } from "./committee.ts";
import { AllegroError } from "./errors.ts";
import { NO_PARENT } from "./order.ts";
import { sendTempoTransaction, type TempoSigner, waitForSuccess } from "./tempo_tx.ts";
import { decodeVaultEvents, settleBatchCall, type SettleItem, vaultAbi } from "./vault.ts";

/**
 * The vault's view of a certified order: its attestations with their committee indices,
 * strictly increasing.
 *
 * @example
 * ```ts
 * import { bytesToHex } from "viem";
 * import { privateKeyToAccount } from "viem/accounts";
 * import {
 *   assembleQuorumCertificate,
 *   NO_PARENT,
 *   orderEffectsHash,
 *   orderTxHash,
 *   PATH_USD,
 *   settleItem,
 *   signOrder,
 * } from "@allegro/client";
 * import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [orderTxHash(signed.order), orderEffectsHash(signed.order)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * const item = settleItem(committee, { signed, txHash: bytesToHex(txHash), qc });
 * console.log(item.epoch, item.attestations.map((a) => a.index)); // 42n [ 0, 1, 2 ]
 * ```
 */
export function settleItem(committee: Committee, certified: CertifiedOrder): SettleItem {
  const attestations = certified.qc.certificates
    .map((c) => ({ index: committee.indexOf(c.signer), signature: c.attestation }))
    .filter((a) => a.index >= 0)
    .sort((a, b) => a.index - b.index)
    .filter((a, i, all) => i === 0 || all[i - 1].index !== a.index);
  return { signed: certified.signed, epoch: certified.qc.epoch, attestations };
}

/**
 * Puts every order after the parent it cites when that parent is in the list too; otherwise
 * keeps the given order.
 *
 * @example
 * ```ts
 * import { bytesToHex } from "viem";
 * import { privateKeyToAccount } from "viem/accounts";
 * import {
 *   assembleQuorumCertificate,
 *   type CertifiedOrder,
 *   NO_PARENT,
 *   orderEffectsHash,
 *   orderTxHash,
 *   parentsFirst,
 *   PATH_USD,
 *   type SignedOrder,
 *   signOrder,
 * } from "@allegro/client";
 * import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const certify = (signed: SignedOrder): CertifiedOrder => {
 *   const [txHash, effectsHash] = [orderTxHash(signed.order), orderEffectsHash(signed.order)];
 *   const certificates = signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n));
 *   return { signed, txHash: bytesToHex(txHash), qc: assembleQuorumCertificate(committee, certificates)! };
 * };
 * const bob = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const fields = {
 *   chainId: 1337n, vault: TEST_VAULT, token: PATH_USD, amount: 1_000_000n, fee: 0n, seq: 0n,
 *   validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * // Bob pays Alice, who pays Bob back out of it before it settles.
 * const parent = certify(await signOrder(bob, { ...fields, payer: bob.address, recipient: alice.address }));
 * const child = certify(
 *   await signOrder(alice, { ...fields, payer: alice.address, recipient: bob.address, parent: parent.txHash }),
 * );
 * console.log(parentsFirst([child, parent])[0] === parent); // true
 * ```
 */
export function parentsFirst(orders: readonly CertifiedOrder[]): CertifiedOrder[] {
  const byHash = new Map(orders.map((o) => [o.txHash, o]));
  const out: CertifiedOrder[] = [];
  const placed = new Set<Hex>();
  const place = (o: CertifiedOrder, depth: number) => {
    if (placed.has(o.txHash) || depth > orders.length) return;
    const parent = o.signed.order.parent;
    if (parent !== NO_PARENT && byHash.has(parent)) place(byHash.get(parent)!, depth + 1);
    placed.add(o.txHash);
    out.push(o);
  };
  for (const o of orders) place(o, 0);
  return out;
}

/** One order's outcome in a settlement transaction. */
export interface SettleOutcome {
  /** The order's `tx_hash`. */
  readonly txHash: Hex;
  /** `settled` (a `Settled` event of this transaction, or already settled before), or `skipped`. */
  readonly status: "settled" | "skipped";
  /** The vault's error for a skipped order, e.g. `ParentNotSettled(0x…)`. */
  readonly reason?: string;
}

/** What {@linkcode settleOrders} did. */
export interface SettlementReceipt {
  /** The settlement transaction's hash. */
  readonly hash: Hex;
  /** Its receipt (successful: a skipped order does not revert the batch). */
  readonly receipt: TransactionReceipt;
  /** Each order's outcome, parents first. */
  readonly outcomes: readonly SettleOutcome[];
}

/** How {@linkcode settleOrders} sends its transaction. */
export interface SettleOptions {
  /** The TIP-20 token the transaction fee is paid in. */
  readonly feeToken: Address;
  /** Gas added to the vault's estimate; default 100,000. */
  readonly extraGas?: bigint;
  /** How long to wait for the receipt; default 30 s. */
  readonly timeoutMillis?: number;
}

/**
 * Gas added per exit order: the vault gives its TIP-20 transfer exactly `EXIT_TRANSFER_GAS`
 * (300,000) and requires 64/63 of it left, inside `settleBatch`'s isolating self-call (which
 * itself gets 63/64 of what is left). An estimate cannot see this: a batch whose exit item is
 * skipped for want of gas does not revert, so the estimate may be one at which it is skipped.
 */
const GAS_PER_EXIT = 650_000n;

/**
 * Settles `orders` in one `settleBatch` from `account` (which earns their fees), parents first,
 * after simulating it (`eth_estimateGas`, which fails on a batch the vault would revert). Each
 * order the vault skipped is reported with its decoded reason.
 *
 * @example
 * ```ts ignore
 * const { outcomes } = await settleOrders(client, settler, committee, [qc1, qc2], {
 *   feeToken: PATH_USD,
 * });
 * ```
 */
export async function settleOrders(
  client: PublicClient,
  account: TempoSigner,
  committee: Committee,
  orders: readonly CertifiedOrder[],
  options: SettleOptions,
): Promise<SettlementReceipt> {
  if (orders.length === 0) throw new AllegroError("INVALID_FORMAT", "nothing to settle");
  const batch = parentsFirst(orders);
  const call = settleBatchCall(committee.vault, batch.map((o) => settleItem(committee, o)));
  let estimate: bigint;
  try {
    estimate = await client.estimateGas({ account: account.address, to: call.to, data: call.data });
  } catch (e) {
    throw new AllegroError(
      "TEMPORARY_UNAVAILABLE",
      `settleBatch of ${batch.length} orders would fail: ${(e as Error).message}`,
    );
  }
  const hash = await sendTempoTransaction(client, account, {
    chainId: committee.chainId,
    calls: [call],
    feeToken: options.feeToken,
    gas: estimate + estimate / 4n + (options.extraGas ?? 100_000n) +
      GAS_PER_EXIT * BigInt(batch.filter((o) => o.signed.order.exit).length),
  });
  const receipt = await waitForSuccess(client, hash, { timeoutMillis: options.timeoutMillis });
  const events = decodeVaultEvents(receipt.logs);
  const skipped = new Map<Hex, string>();
  for (const e of events) {
    if (e.kind === "SettleSkipped") skipped.set(e.txHash, vaultError(e.reason));
  }
  const outcomes = batch.map((o): SettleOutcome =>
    skipped.has(o.txHash)
      ? { txHash: o.txHash, status: "skipped", reason: skipped.get(o.txHash)! }
      : { txHash: o.txHash, status: "settled" }
  );
  return { hash, receipt, outcomes };
}

/**
 * Why a call to the vault reverted, from the error viem threw (`simulateContract`, `call`,
 * `estimateGas`): the vault's named error as `Name(arg, …)` when it is one, else viem's message.
 *
 * @example
 * ```ts
 * import { ContractFunctionRevertedError, encodeErrorResult } from "viem";
 * import { revertReason, vaultAbi } from "@allegro/client";
 *
 * // What simulateContract, call or estimateGas throw when the vault reverts:
 * const data = encodeErrorResult({ abi: vaultAbi, errorName: "AttestationsBelowThreshold", args: [2n, 3n] });
 * const error = new ContractFunctionRevertedError({ abi: vaultAbi, data, functionName: "settle" });
 * console.log(revertReason(error)); // AttestationsBelowThreshold(2, 3)
 * console.log(revertReason(new Error("fetch failed"))); // fetch failed
 * ```
 */
export function revertReason(error: unknown): string {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      if (reverted.data) {
        const args = (reverted.data.args ?? []).map((
          a,
        ) => (typeof a === "bigint" ? a.toString() : String(a)));
        return `${reverted.data.errorName}(${args.join(", ")})`;
      }
      if (reverted.raw) return vaultError(reverted.raw);
    }
    return error.shortMessage;
  }
  return (error as Error).message;
}

/**
 * A vault revert as `Name(arg, …)`, or the raw data when it is none of the vault's errors.
 *
 * @example
 * ```ts
 * import { encodeErrorResult } from "viem";
 * import { vaultAbi, vaultError } from "@allegro/client";
 *
 * const data = encodeErrorResult({ abi: vaultAbi, errorName: "ParentNotSettled", args: [`0x${"ab".repeat(32)}`] });
 * console.log(vaultError(data)); // ParentNotSettled(0xabab…ab)
 * console.log(vaultError("0x")); // reverted without data (out of gas?)
 * ```
 */
export function vaultError(data: Hex): string {
  try {
    const { errorName, args } = decodeErrorResult({ abi: vaultAbi, data });
    return `${errorName}(${
      (args ?? []).map((a) => typeof a === "bigint" ? a.toString() : String(a)).join(", ")
    })`;
  } catch {
    return data === "0x" ? "reverted without data (out of gas?)" : `reverted with ${data}`;
  }
}

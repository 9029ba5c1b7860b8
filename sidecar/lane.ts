/**
 * A lane `(payer, token)` as the sidecar's authority keeps it (SPEC §6): the payer's vault balance
 * and pending forced exit at the last processed block, the applied prefix, and one slot per seq
 * that still matters — the orders known there (this sidecar's certificate, other validators'
 * certificates, verified QCs) and whether the vault settled the key. Plain data plus the pure
 * accounting over it; no I/O.
 *
 * @module
 */
import type { Address, Hex } from "viem";
import type { Certificate, QuorumCertificate, SignedOrder } from "@allegro/client";

/** What is known of one order at its contention key. */
export interface OrderRecord {
  readonly txHash: Hex;
  readonly signed: SignedOrder;
  /** The epoch of its certificates and QC. */
  readonly epoch: bigint;
  /** This sidecar's certificate, once it signed the order. */
  own?: Certificate;
  /** The own certificate only confirms the seq (SPEC §6 rule 7's exception): no debit. */
  confirmOnly?: boolean;
  /** A verified QC over the order. */
  qc?: QuorumCertificate;
  /** Validator ids (hex) of other validators whose valid certificate for it was seen. */
  signers: string[];
  /** The parent whose credit this order consumed, the parent's amount, and whether it settled. */
  credit?: { readonly parent: Hex; readonly amount: bigint; settled: boolean };
}

/** Everything known at one seq of a lane. */
export interface Slot {
  readonly seq: bigint;
  orders: OrderRecord[];
  /** The `tx_hash` the vault settled at this key. */
  settled?: Hex;
  /** The chain time (ms) of the block that settled it. */
  settledAt?: bigint;
}

/** A lane's chain-side state and prefix. */
export interface LaneHeader {
  /** Vault balance at the last block applied to this lane. */
  balance: bigint;
  /** The pending forced exit. */
  exit?: { amount: bigint; readyAt: bigint };
  /** Every seq below it is applied (a verified QC or a `Settled` event). */
  prefix: bigint;
  /** The last block applied to this lane: a block is never applied to it twice. */
  height: bigint;
}

/** A lane with its slots. */
export interface Lane {
  readonly payer: Address;
  readonly token: Address;
  readonly header: LaneHeader;
  readonly slots: Map<bigint, Slot>;
}

/**
 * The map key of a lane: lowercase `payer|token`.
 *
 * @example
 * ```ts
 * import { laneId } from "./lane.ts";
 *
 * laneId("0xAb00000000000000000000000000000000000001", "0x20C0000000000000000000000000000000000000");
 * // "0xab00000000000000000000000000000000000001|0x20c0000000000000000000000000000000000000"
 * ```
 */
export function laneId(payer: Address, token: Address): string {
  return `${payer.toLowerCase()}|${token.toLowerCase()}`;
}

/**
 * A lane no block and no order has touched.
 *
 * @example
 * ```ts
 * import { emptyLane } from "./lane.ts";
 *
 * const lane = emptyLane("0x0000000000000000000000000000000000000001", "0x20C0000000000000000000000000000000000000");
 * console.log(lane.header.prefix); // 0n
 * ```
 */
export function emptyLane(payer: Address, token: Address): Lane {
  return { payer, token, header: { balance: 0n, prefix: 0n, height: 0n }, slots: new Map() };
}

/** Whether a slot's seq is applied: a verified QC of `epoch` for an order there, or settled. */
export function isApplied(slot: Slot | undefined, epoch: bigint): boolean {
  if (slot === undefined) return false;
  return slot.settled !== undefined || slot.orders.some((r) => r.qc && r.epoch === epoch);
}

/** Whether the order counts against the balance at `chainTime` (SPEC §6 accounting). */
export function counts(slot: Slot, record: OrderRecord, chainTime: bigint): boolean {
  if (slot.settled !== undefined) return false;
  if (record.signed.order.validBefore <= chainTime) return false;
  return record.qc !== undefined || (record.own !== undefined && !record.confirmOnly);
}

/** `amount + fee`, less the unsettled parent's amount when this order consumed that credit. */
export function debitOf(record: Pick<OrderRecord, "signed" | "credit">): bigint {
  const { amount, fee } = record.signed.order;
  const full = amount + fee;
  if (record.credit === undefined || record.credit.settled) return full;
  return full > record.credit.amount ? full - record.credit.amount : 0n;
}

/**
 * What the payer may still spend in the lane at `chainTime`: the vault balance, less the debits
 * of every unexpired, unsettled order with a verified QC or this sidecar's own certificate (each
 * order once, even two at one key), less the pending exit request.
 *
 * @example
 * ```ts
 * import { available, emptyLane } from "./lane.ts";
 *
 * const lane = emptyLane("0x0000000000000000000000000000000000000001", "0x20C0000000000000000000000000000000000000");
 * lane.header.balance = 10n;
 * lane.header.exit = { amount: 4n, readyAt: 0n };
 * console.log(available(lane, 0n)); // 6n
 * ```
 */
export function available(lane: Lane, chainTime: bigint): bigint {
  let debits = 0n;
  for (const slot of lane.slots.values()) {
    for (const record of slot.orders) {
      if (counts(slot, record, chainTime)) debits += debitOf(record);
    }
  }
  return lane.header.balance - debits - (lane.header.exit?.amount ?? 0n);
}

/** How many orders of the lane still count against its balance. */
export function unsettledCount(lane: Lane, chainTime: bigint): number {
  let n = 0;
  for (const slot of lane.slots.values()) {
    for (const record of slot.orders) if (counts(slot, record, chainTime)) n++;
  }
  return n;
}

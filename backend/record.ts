/**
 * The backend's view of one payment: its lifecycle record, and the rules of how its stage moves.
 *
 * Stages (SPEC §7): `ACCEPTED` (verified certificates, no QC yet) → `CERTIFIED` (a verified QC)
 * → `QUEUED_ONCHAIN` (a settlement including it was sent) → `INCLUDED` (a `Settled` event of its
 * `tx_hash` in block N) → `FINALIZED` (head ≥ N + confirmations). Or: `REJECTED` (so many
 * validators refused that no QC can form), `CONFIRMED` (a QC over an order already past its
 * `validBefore` when certified: it confirms a seq and never settles), `EXPIRED` (`validBefore`
 * passed unsettled), `FAILED` (a settlement skipped or reverted it). `EXPIRED` and `FAILED` of a
 * settleable QC must never happen: they are alerted and counted.
 *
 * @module
 */
import type { Hex } from "viem";
import type { Certificate, QuorumCertificate, RejectCode, SignedOrder } from "@allegro/client";

/** Stage names, as in the `allegro.v1.Stage` enum. */
export const STAGES = [
  "ACCEPTED",
  "CERTIFIED",
  "QUEUED_ONCHAIN",
  "INCLUDED",
  "FINALIZED",
  "REJECTED",
  "CONFIRMED",
  "EXPIRED",
  "FAILED",
] as const;

/** A lifecycle stage. */
export type StageName = typeof STAGES[number];

/**
 * Where each stage may go. The chain is the truth: a `Settled` event moves anything that can
 * still settle to `INCLUDED`, even after a `FAILED` settlement or a `REJECTED` fan-out (someone
 * else held a QC). New certificates may lift a `REJECTED` record to a QC.
 */
const NEXT: Record<StageName, readonly StageName[]> = {
  ACCEPTED: ["CERTIFIED", "CONFIRMED", "REJECTED", "INCLUDED", "EXPIRED"],
  REJECTED: ["ACCEPTED", "CERTIFIED", "CONFIRMED", "INCLUDED", "EXPIRED"],
  CERTIFIED: ["QUEUED_ONCHAIN", "INCLUDED", "FAILED", "EXPIRED"],
  QUEUED_ONCHAIN: ["INCLUDED", "FAILED", "EXPIRED"],
  FAILED: ["QUEUED_ONCHAIN", "INCLUDED", "EXPIRED"],
  INCLUDED: ["FINALIZED"],
  FINALIZED: [],
  CONFIRMED: [],
  EXPIRED: [],
};

/**
 * Whether a record at `from` may move to `to`.
 *
 * @example
 * ```ts
 * import { canMove } from "./record.ts";
 *
 * console.log(canMove("CERTIFIED", "INCLUDED"), canMove("INCLUDED", "CERTIFIED")); // true false
 * ```
 */
export function canMove(from: StageName, to: StageName): boolean {
  return NEXT[from].includes(to);
}

/**
 * Stages after which nothing more happens to a record (the `WatchTx` stream ends there, as the
 * client's `TERMINAL_STAGES`). `REJECTED` and `FAILED` are final for a watcher, though a
 * resubmission or the chain may still move the record on.
 */
export const TERMINAL_STAGES: ReadonlySet<StageName> = new Set([
  "FINALIZED",
  "REJECTED",
  "CONFIRMED",
  "EXPIRED",
  "FAILED",
]);

const OPEN: ReadonlySet<StageName> = new Set([
  "ACCEPTED",
  "CERTIFIED",
  "QUEUED_ONCHAIN",
  "FAILED",
  "INCLUDED",
]);

/**
 * Whether the vault follower watches a record: it may still settle, expire or finalize.
 *
 * @example
 * ```ts
 * import { isOpen } from "./record.ts";
 *
 * console.log(isOpen({ stage: "QUEUED_ONCHAIN" }), isOpen({ stage: "CONFIRMED" })); // true false
 * ```
 */
export function isOpen(record: Pick<TxRecord, "stage">): boolean {
  return OPEN.has(record.stage);
}

/**
 * Whether a record is certified (a settleable QC) and not yet settled: pending in `/accounts`.
 *
 * @example
 * ```ts
 * import { isPending } from "./record.ts";
 *
 * console.log(isPending({ stage: "CERTIFIED" }), isPending({ stage: "INCLUDED" })); // true false
 * ```
 */
export function isPending(record: Pick<TxRecord, "stage">): boolean {
  return record.stage === "CERTIFIED" || record.stage === "QUEUED_ONCHAIN" ||
    record.stage === "FAILED";
}

/** A verified certificate and the validator that gave it. */
export interface RecordCertificate {
  readonly validator: string;
  readonly certificate: Certificate;
  readonly receivedMillis: bigint;
}

/** A validator's refusal, failure to answer, or invalid answer. */
export interface RecordReject {
  readonly validator: string;
  readonly signer: Uint8Array;
  readonly code: RejectCode;
  readonly message: string;
  /**
   * `rejected`: the sidecar refused; `unreachable`: no answer in time; `invalid`: it answered
   * with something that does not verify (a faulty validator).
   */
  readonly kind: "rejected" | "unreachable" | "invalid";
  readonly atMillis: bigint;
}

/** One stage change. */
export interface StageChange {
  readonly stage: StageName;
  readonly atMillis: bigint;
  readonly blockHeight?: bigint;
}

/** The settlement transaction that settled (or tried to settle) an order. */
export interface Settlement {
  readonly txHash: Hex;
  /** Gas the whole transaction used, when this backend sent it. */
  readonly gasUsed?: bigint;
}

/** Everything the backend knows about one payment. */
export interface TxRecord {
  readonly txHash: Hex;
  readonly effectsHash: Hex;
  /** The order with its payer's signature, verified. */
  readonly signed: SignedOrder;
  readonly stage: StageName;
  /** At most one per validator, each verified, all over this order's hashes. */
  readonly certificates: readonly RecordCertificate[];
  /** At most one per validator; dropped once that validator's certificate arrives. */
  readonly rejects: readonly RecordReject[];
  /** The first verified QC; never replaced, so its `qc_hash` is stable. */
  readonly qc?: QuorumCertificate;
  /** The block whose `Settled` event carries this `tx_hash`. */
  readonly blockHeight?: bigint;
  readonly settlement?: Settlement;
  /** Why settlement failed (`FAILED`), or the vault's reason for skipping it. */
  readonly failure?: string;
  readonly history: readonly StageChange[];
  readonly firstSeenMillis: bigint;
  /** Where the backend first met it: a submission (it settles those) or a sidecar's board. */
  readonly source: "submission" | "board";
}

/** Most stage changes kept per record. */
const MAX_HISTORY = 32;

/** Longest reject message kept. */
export const MAX_REJECT_MESSAGE = 400;

/**
 * `record` moved to `stage` at `atMillis` (history appended, bounded).
 *
 * @example
 * ```ts ignore
 * const included = withStage(record, "INCLUDED", BigInt(Date.now()), { blockHeight: 12n });
 * ```
 */
export function withStage(
  record: TxRecord,
  stage: StageName,
  atMillis: bigint,
  extra: { readonly blockHeight?: bigint } = {},
): TxRecord {
  const change: StageChange = {
    stage,
    atMillis,
    ...(extra.blockHeight !== undefined ? { blockHeight: extra.blockHeight } : {}),
  };
  return {
    ...record,
    stage,
    ...(extra.blockHeight !== undefined ? { blockHeight: extra.blockHeight } : {}),
    history: [...record.history, change].slice(-MAX_HISTORY),
  };
}

/**
 * When `record` last entered `stage`, or `undefined`.
 *
 * @example
 * ```ts ignore
 * const certifiedAt = stageTime(record, "CERTIFIED");
 * ```
 */
export function stageTime(record: TxRecord, stage: StageName): bigint | undefined {
  return record.history.findLast((h) => h.stage === stage)?.atMillis;
}

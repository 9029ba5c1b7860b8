/**
 * The backend's view of one payment: its lifecycle record, and the rules of how a stage may
 * change.
 *
 * Stages (SPEC §6): `ACCEPTED` (some verified certificates) → `CERTIFIED` (a verified QC) →
 * `QUEUED_ONCHAIN` (the node accepted it) → `INCLUDED` (receipt with success in block N) →
 * `FINALIZED` (head ≥ N + confirmations); or `REJECTED` (the quorum is impossible because
 * validators refused), `EXPIRED` (`validBefore` passed without inclusion), `FAILED` (included
 * but reverted — never for a certified payment; logged as an alert).
 *
 * @module
 */
import type { Hex } from "viem";
import type { Certificate, QuorumCertificate, RejectCode } from "@allegro/client";

/** Stage names, as in the `allegro.v1.Stage` enum. */
export const STAGES = [
  "ACCEPTED",
  "CERTIFIED",
  "QUEUED_ONCHAIN",
  "INCLUDED",
  "FINALIZED",
  "REJECTED",
  "EXPIRED",
  "FAILED",
] as const;

/** A lifecycle stage. */
export type StageName = typeof STAGES[number];

/** Stages after which nothing changes (the record leaves the chain follower's watch). */
export const FINAL_STAGES: ReadonlySet<StageName> = new Set(["FINALIZED", "EXPIRED", "FAILED"]);

/** Position of a stage on the success path; terminal failures rank highest. */
const RANK: Record<StageName, number> = {
  REJECTED: 0,
  ACCEPTED: 1,
  CERTIFIED: 2,
  QUEUED_ONCHAIN: 3,
  INCLUDED: 4,
  FINALIZED: 5,
  EXPIRED: 6,
  FAILED: 6,
};

/**
 * Whether a record at `from` may move to `to`: forward along the success path, from any
 * non-final stage to `EXPIRED`/`FAILED`, and from `REJECTED` to anything (a resubmission or a
 * late certificate may still reach the quorum). `INCLUDED` may go back to `CERTIFIED` only
 * through a reorganisation, which the chain follower handles on its own.
 */
export function canMove(from: StageName | undefined, to: StageName): boolean {
  if (from === undefined) return true;
  if (from === to || FINAL_STAGES.has(from)) return false;
  if (from === "REJECTED") return true;
  if (to === "REJECTED") return false;
  return RANK[to] > RANK[from];
}

/** The payment a signed transaction makes, as the backend keeps it. */
export interface RecordPayment {
  readonly sender: Hex;
  readonly recipient: Hex;
  readonly amount: bigint;
  readonly asset: Hex;
  readonly feeToken: Hex;
  readonly chainId: bigint;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
  readonly validBeforeMillis: bigint;
  readonly memo?: Uint8Array;
  readonly gas: bigint;
  readonly maxFeePerGas: bigint;
}

/** A verified certificate and the validator that gave it. */
export interface RecordCertificate {
  readonly validator: string;
  readonly certificate: Certificate;
  readonly receivedMillis: bigint;
}

/** A validator's refusal (or failure to answer, or invalid answer). */
export interface RecordReject {
  readonly validator: string;
  readonly signer: Uint8Array;
  readonly code: RejectCode;
  readonly message: string;
  /**
   * `rejected`: the sidecar refused; `unreachable`: no answer in time; `invalid`: it answered
   * with a certificate that does not verify (a faulty validator).
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

/** Everything the backend knows about one payment (`["v1","tx",tx_hash]`). */
export interface TxRecord {
  readonly txHash: Uint8Array;
  readonly effectsHash: Uint8Array;
  /** keccak256 of the signed transaction: its hash on chain. */
  readonly chainTxHash: Hex;
  readonly signedTx: Uint8Array;
  /** Empty when the payment has no parent. */
  readonly parentQcHash: Uint8Array;
  readonly payment: RecordPayment;
  readonly stage: StageName;
  /** One per validator, verified. */
  readonly certificates: readonly RecordCertificate[];
  /** At most one per validator; dropped once that validator's certificate arrives. */
  readonly rejects: readonly RecordReject[];
  /** The first verified QC; never replaced, so its `qc_hash` is stable. */
  readonly qc?: QuorumCertificate;
  readonly block?: { readonly height: bigint; readonly hash: Hex };
  readonly history: readonly StageChange[];
  readonly firstSeenMillis: bigint;
  /** Where the backend first learnt of it. */
  readonly source: "submission" | "board";
}

/** Most stage changes kept per record. */
export const MAX_HISTORY = 32;

/** Longest reject message kept. */
export const MAX_REJECT_MESSAGE = 400;

/** `record` moved to `stage` at `atMillis` (history appended, bounded). */
export function withStage(
  record: TxRecord,
  stage: StageName,
  atMillis: bigint,
  extra: Partial<Pick<TxRecord, "block">> & { blockHeight?: bigint } = {},
): TxRecord {
  const change: StageChange = {
    stage,
    atMillis,
    ...(extra.blockHeight !== undefined ? { blockHeight: extra.blockHeight } : {}),
  };
  return {
    ...record,
    stage,
    ...(extra.block ? { block: extra.block } : {}),
    history: [...record.history, change].slice(-MAX_HISTORY),
  };
}

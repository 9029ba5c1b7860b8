/**
 * A payment's lifecycle as the aggregator backend reports it (`FastPayAggregator.WatchTx`),
 * with every certificate and QC checked against the committee before it is passed on.
 *
 * @module
 */
import type { Hex } from "./deps.ts";
import { bytesToHex, hexToBytes } from "viem";
import { Stage, type TxStatus } from "@allegro/proto";
import { bytesEqual } from "./bytes.ts";
import { type Certificate, certificateProblem } from "./certificate.ts";
import type { Committee } from "./committee.ts";
import { AllegroError, type RejectCode } from "./errors.ts";
import { type QuorumCertificate, verifyQuorumCertificate } from "./quorum.ts";
import type { BackendClient } from "./transport.ts";
import { certificateFromProto, qcFromProto, rejectCodeFromProto } from "./wire.ts";

/** Lifecycle stages of SPEC §7 (the `allegro.v1.Stage` names). */
export type TxStage =
  | "ACCEPTED"
  | "CERTIFICATE"
  | "CERTIFIED"
  | "QUEUED_ONCHAIN"
  | "INCLUDED"
  | "FINALIZED"
  | "REJECTED"
  | "EXPIRED"
  | "FAILED"
  | "CONFIRMED";

/**
 * Stages after which nothing more happens to a payment.
 *
 * @example
 * ```ts
 * import { TERMINAL_STAGES } from "@allegro/client";
 *
 * TERMINAL_STAGES.includes("INCLUDED"); // false: FINALIZED follows
 * ```
 */
export const TERMINAL_STAGES: readonly TxStage[] = [
  "FINALIZED",
  "REJECTED",
  "EXPIRED",
  "FAILED",
  "CONFIRMED",
];

const STAGES: Record<number, TxStage> = {
  [Stage.ACCEPTED]: "ACCEPTED",
  [Stage.CERTIFICATE]: "CERTIFICATE",
  [Stage.CERTIFIED]: "CERTIFIED",
  [Stage.QUEUED_ONCHAIN]: "QUEUED_ONCHAIN",
  [Stage.INCLUDED]: "INCLUDED",
  [Stage.FINALIZED]: "FINALIZED",
  [Stage.REJECTED]: "REJECTED",
  [Stage.EXPIRED]: "EXPIRED",
  [Stage.FAILED]: "FAILED",
  [Stage.CONFIRMED]: "CONFIRMED",
};

/** One status update of a watched payment. */
export interface TxLifecycleEvent {
  /** The stage this update reports. */
  readonly stage: TxStage;
  /** The payment's `tx_hash`, 32 bytes. */
  readonly txHash: Uint8Array;
  /** The certificates reported so far that verify against the committee. */
  readonly certificates: readonly Certificate[];
  /** Validators that refused, as reported by the backend. */
  readonly rejects: readonly { validator: string; code: RejectCode; message: string }[];
  /** The QC, verified, once the backend has one. */
  readonly qc?: QuorumCertificate;
  /** The block that settled the payment (stages `INCLUDED`, `FINALIZED`). */
  readonly blockHeight?: bigint;
  /** The settlement transaction, once sent. */
  readonly settlementTxHash?: Hex;
  /** The gas the settlement transaction used, once mined. */
  readonly settlementGasUsed?: bigint;
  /** Why settlement failed (stage `FAILED`). */
  readonly failure?: string;
  /** When the backend received the order, unix milliseconds. */
  readonly submittedUnixMillis?: bigint;
  /** When the QC formed, unix milliseconds. */
  readonly certifiedUnixMillis?: bigint;
  /** When the backend saw the settling block, unix milliseconds. */
  readonly includedUnixMillis?: bigint;
}

/**
 * Follows one payment through the backend's `WatchTx` stream until a terminal stage
 * ({@linkcode TERMINAL_STAGES}), the end of the stream, or `signal` (the iteration then ends
 * without an error); a broken stream throws its `ConnectError`. Certificates that do not
 * verify are dropped; a QC that does not verify, or a `CERTIFIED` stage without one, throws an
 * `INVALID_PARENT_QC` {@linkcode AllegroError}: nobody trusts a QC they did not check.
 *
 * @example
 * ```ts ignore
 * import { connectBackend, watchTx } from "@allegro/client";
 *
 * for await (const event of watchTx(connectBackend(url), committee, receipt.txHash)) {
 *   console.log(event.stage, event.blockHeight ?? "");
 * }
 * ```
 */
export async function* watchTx(
  backend: BackendClient,
  committee: Committee,
  txHash: Uint8Array | Hex,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<TxLifecycleEvent, void, undefined> {
  const hash = typeof txHash === "string" ? hexToBytes(txHash) : txHash;
  if (hash.length !== 32) {
    throw new AllegroError("INVALID_FORMAT", `tx_hash must be 32 bytes, got ${hash.length}`);
  }
  // Connect's stream iterator cannot be closed early: leaving the loop aborts the call instead.
  const call = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, call.signal]) : call.signal;
  try {
    for await (const status of backend.watchTx({ txHash: hash }, { signal })) {
      const event = await lifecycleEvent(committee, hash, status);
      if (event === undefined) continue;
      yield event;
      if (TERMINAL_STAGES.includes(event.stage)) return;
    }
  } catch (e) {
    if (options.signal?.aborted) return; // stopped on purpose
    throw e;
  } finally {
    call.abort();
  }
}

async function lifecycleEvent(
  committee: Committee,
  txHash: Uint8Array,
  status: TxStatus,
): Promise<TxLifecycleEvent | undefined> {
  const stage = STAGES[status.stage];
  if (stage === undefined) return undefined; // unspecified or newer than this client
  if (status.txHash.length > 0 && !bytesEqual(status.txHash, txHash)) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `backend answered about ${bytesToHex(status.txHash)}, not ${bytesToHex(txHash)}`,
    );
  }
  const certificates: Certificate[] = [];
  for (const message of status.certificates) {
    const certificate = certificateFromProto(message);
    if (!bytesEqual(certificate.txHash, txHash)) continue;
    if (await certificateProblem(committee, certificate) === undefined) {
      certificates.push(certificate);
    }
  }
  let qc: QuorumCertificate | undefined;
  if (status.qc !== undefined) {
    qc = qcFromProto(status.qc);
    if (!bytesEqual(qc.txHash, txHash)) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `backend sent a QC over ${bytesToHex(qc.txHash)} for ${bytesToHex(txHash)}`,
      );
    }
    await verifyQuorumCertificate(committee, qc);
  } else if (stage === "CERTIFIED" || stage === "CONFIRMED") {
    throw new AllegroError(
      "INVALID_PARENT_QC",
      `backend reports ${bytesToHex(txHash)} ${stage} without a QC`,
    );
  }
  const rejects = status.rejects.map((r) => ({
    validator: r.validator,
    code: safeCode(r.reject?.code ?? 0),
    message: r.reject?.message ?? "",
  }));
  const optional = (name: string, value: bigint) => (value > 0n ? { [name]: value } : {});
  return {
    stage,
    txHash,
    certificates,
    rejects,
    ...(qc ? { qc } : {}),
    ...optional("blockHeight", status.blockHeight),
    ...optional("submittedUnixMillis", status.submittedUnixMillis),
    ...optional("certifiedUnixMillis", status.certifiedUnixMillis),
    ...optional("includedUnixMillis", status.includedUnixMillis),
    ...(status.settlementTxHash.length === 32
      ? { settlementTxHash: bytesToHex(status.settlementTxHash) }
      : {}),
    ...optional("settlementGasUsed", status.settlementGasUsed),
    ...(status.failure ? { failure: status.failure } : {}),
  };
}

function safeCode(code: number): RejectCode {
  try {
    return rejectCodeFromProto(code);
  } catch {
    return "INVALID_FORMAT";
  }
}

/**
 * Submissions: checks what the backend can check itself (the signed bytes decode to a payment
 * of the committee's chain, the parent binding and the parent QC, the client request id), fans
 * the submission out to every sidecar with {@linkcode fanOut}, answers once the outcome is
 * decided, and keeps merging slower answers into the record.
 *
 * A payment that already has a QC is answered from the store without asking the sidecars again,
 * so resubmitting gives the same `tx_hash` and the same QC.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { bytesToHex } from "viem";
import { type ParentPayment, ParentPaymentSchema } from "@allegro/proto";
import {
  AllegroError,
  bytesEqual,
  checkParentBinding,
  type Committee,
  decodePayment,
  fanOut,
  type FanOutResult,
  type Payment,
  paymentEffectsHash,
  paymentTxHash,
  qcFromProto,
  qcInit,
  type RejectCode,
  type SidecarConnection,
  verifyQuorumCertificate,
} from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import {
  isPermanent,
  type Lifecycle,
  mergeAnswers,
  permanentRejects,
  recordPayment,
  type TxSeed,
} from "./lifecycle.ts";
import type { BackendMetrics } from "./metrics.ts";
import {
  canMove,
  type RecordCertificate,
  type RecordReject,
  type TxRecord,
  withStage,
} from "./record.ts";
import type { Store } from "./store.ts";

/** A submission as the REST and Connect layers hand it over. */
export interface SubmitInput {
  readonly signedTx: Uint8Array;
  /** Empty: no parent. */
  readonly parentQcHash: Uint8Array;
  /** Parent payments offered by the client; the one whose QC hash is `parentQcHash` is used. */
  readonly parents: readonly ParentPayment[];
  /** Empty: none. */
  readonly clientRequestId: string;
}

/** How a submission ended. */
export type Outcome =
  /** A verified QC exists. */
  | "certified"
  /** So many validators refused for good that no QC can form. */
  | "rejected"
  /** No QC yet, and only unreachable or temporarily unavailable validators stand in the way. */
  | "unavailable";

/** The answer to a submission. */
export interface SubmitResult {
  readonly outcome: Outcome;
  readonly txHash: Uint8Array;
  readonly effectsHash: Uint8Array;
  /** The stored record, when there is one (no record: nothing certified, nothing final). */
  readonly record?: TxRecord;
  readonly certificates: readonly RecordCertificate[];
  readonly rejects: readonly RecordReject[];
  /** The most common permanent reject code, for `rejected`. */
  readonly code?: RejectCode;
  /** True when answered from the store without a fan-out. */
  readonly replayed: boolean;
}

/** A submission the backend refuses itself (the sidecars are not asked). */
export class SubmitError extends Error {
  readonly code: RejectCode | "IDEMPOTENCY_CONFLICT";
  constructor(code: RejectCode | "IDEMPOTENCY_CONFLICT", message: string) {
    super(message);
    this.name = "SubmitError";
    this.code = code;
  }
}

/** What the aggregator needs. */
export interface AggregatorDeps {
  readonly committee: Committee;
  readonly sidecars: readonly SidecarConnection[];
  readonly lifecycle: Lifecycle;
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: BackendMetrics;
  readonly timeoutMillis: number;
  /** Fan-outs still collecting slower answers (awaited at shutdown). */
  readonly background: Set<Promise<unknown>>;
  /** Aborted at shutdown: calls still running end. */
  readonly closing: AbortSignal;
}

const MAX_CLIENT_REQUEST_ID = 128;

const now = () => BigInt(Date.now());

/**
 * Fans submissions out and keeps their lifecycle.
 *
 * @example
 * ```ts ignore
 * const result = await aggregator.submit({ signedTx, parentQcHash: new Uint8Array(), parents: [], clientRequestId: "" });
 * if (result.outcome === "certified") console.log(result.record!.qc!.qcHash);
 * ```
 */
export class Aggregator {
  readonly #deps: AggregatorDeps;

  constructor(deps: AggregatorDeps) {
    this.#deps = deps;
  }

  /** Submits one payment; throws {@linkcode SubmitError} for what the backend refuses itself. */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    const { committee, lifecycle, store } = this.#deps;
    if (input.signedTx.length === 0) {
      throw new SubmitError("INVALID_FORMAT", "signed_tx is required");
    }
    let payment: Payment;
    try {
      payment = decodePayment(input.signedTx, { chainId: committee.chainId });
    } catch (e) {
      if (e instanceof AllegroError) throw new SubmitError(e.code, e.message);
      throw e;
    }
    if (input.clientRequestId.length > MAX_CLIENT_REQUEST_ID) {
      throw new SubmitError(
        "INVALID_FORMAT",
        `client_request_id is ${input.clientRequestId.length} characters, at most ${MAX_CLIENT_REQUEST_ID}`,
      );
    }
    const parent = await this.#parent(payment, input);
    const txHash = paymentTxHash(payment, input.parentQcHash);
    const effectsHash = paymentEffectsHash(payment);
    if (input.clientRequestId !== "") {
      const bound = await store.claimRequest(payment.sender, input.clientRequestId, txHash);
      if (!bytesEqual(bound, txHash)) {
        throw new SubmitError(
          "IDEMPOTENCY_CONFLICT",
          `client_request_id "${input.clientRequestId}" of ${payment.sender} was used for tx ${
            bytesToHex(bound)
          }, not ${bytesToHex(txHash)}`,
        );
      }
    }
    const seed: TxSeed = {
      txHash,
      effectsHash,
      signedTx: payment.rawTx,
      parentQcHash: input.parentQcHash,
      payment: recordPayment(payment),
      source: "submission",
    };
    return await lifecycle.locked(txHash, async (tx) => {
      if (tx.record?.qc) return this.#result(tx.record, true);
      const started = performance.now();
      const arrivals = new Map<string, bigint>();
      const fan = fanOut(committee, this.#deps.sidecars, {
        signedTx: payment.rawTx,
        parentQcHash: input.parentQcHash,
        parents: parent ? [parent] : [],
        clientRequestId: input.clientRequestId,
      }, {
        timeoutMillis: this.#deps.timeoutMillis,
        signal: this.#deps.closing,
        onCertificate: (validator, certificate) => {
          const at = now();
          arrivals.set(bytesToHex(certificate.signer), at);
          lifecycle.announceCertificate(seed, validator.name, certificate, at);
        },
      });
      const decided = await fan.decided;
      this.#deps.metrics.fanOut(performance.now() - started, decided.qc !== undefined);
      let merged = mergeAnswers(tx.record, seed, ...this.#answers(decided, arrivals));
      const impossible =
        permanentRejects(merged) > committee.validators.length - committee.threshold;
      if (merged.certificates.length < committee.threshold && impossible) {
        if (canMove(merged.stage, "REJECTED") || tx.record === undefined) {
          merged = withStage(merged, "REJECTED", now());
        }
      } else if (tx.record?.stage === "REJECTED" && merged.certificates.length > 0) {
        merged = withStage(merged, "ACCEPTED", now());
      }
      const keep = tx.record !== undefined || merged.certificates.length > 0 ||
        merged.stage === "REJECTED";
      const stored = keep ? await tx.commit(merged) : undefined;
      const late = fan.complete.then(async (all) => {
        const [certs, rejects] = this.#answers(all, arrivals);
        const fresh = certs.filter((c) =>
          !decided.certificates.some((d) => d.certificate === c.certificate)
        );
        const newRejects = rejects.filter((r) =>
          !decided.rejects.some((d) => bytesEqual(d.validator.publicKey, r.signer))
        );
        if (fresh.length === 0 && newRejects.length === 0) return;
        await lifecycle.update(txHash, (record) => {
          if (record === undefined && fresh.length === 0) return undefined;
          return mergeAnswers(record, seed, fresh, newRejects);
        });
      }).catch((e) =>
        this.#deps.log.error("merging late answers failed", {
          tx_hash: bytesToHex(txHash),
          error: (e as Error).message,
        })
      );
      this.#deps.background.add(late);
      late.finally(() => this.#deps.background.delete(late));
      if (stored) return this.#result(stored, false);
      return {
        outcome: "unavailable",
        txHash,
        effectsHash,
        certificates: merged.certificates,
        rejects: merged.rejects,
        replayed: false,
      };
    });
  }

  /** The answer for a stored record. */
  #result(record: TxRecord, replayed: boolean): SubmitResult {
    const { committee } = this.#deps;
    const impossible = permanentRejects(record) > committee.validators.length - committee.threshold;
    const outcome: Outcome = record.qc ? "certified" : impossible ? "rejected" : "unavailable";
    return {
      outcome,
      txHash: record.txHash,
      effectsHash: record.effectsHash,
      record,
      certificates: record.certificates,
      rejects: record.rejects,
      replayed,
      ...(outcome === "rejected" ? { code: dominantCode(record.rejects) } : {}),
    };
  }

  #answers(
    result: FanOutResult,
    arrivals: Map<string, bigint>,
  ): [RecordCertificate[], RecordReject[]] {
    const certs = result.certificates.map(({ validator, certificate }) => ({
      validator: validator.name,
      certificate,
      receivedMillis: arrivals.get(bytesToHex(certificate.signer)) ?? now(),
    }));
    const rejects = result.rejects.map((r) => ({
      validator: r.validator.name,
      signer: r.validator.publicKey,
      code: r.code,
      message: r.message,
      kind: r.kind,
      atMillis: now(),
    }));
    return [certs, rejects];
  }

  /**
   * The parent payment to send along: the client's, or the one this backend certified; its QC
   * verified. Throws `INVALID_FORMAT`, `INVALID_PARENT_QC` or `MISSING_PARENT_QC`.
   */
  async #parent(payment: Payment, input: SubmitInput): Promise<ParentPayment | undefined> {
    const hash = input.parentQcHash;
    if (hash.length === 0) return undefined;
    if (hash.length !== 32) {
      throw new SubmitError(
        "INVALID_FORMAT",
        `parent_qc_hash must be 32 bytes, got ${hash.length}`,
      );
    }
    try {
      checkParentBinding(payment, hash);
    } catch (e) {
      if (e instanceof AllegroError) throw new SubmitError(e.code, e.message);
      throw e;
    }
    let parent = input.parents.find((p) => p.qc && bytesEqual(p.qc.qcHash, hash));
    if (parent === undefined) {
      const txHash = await this.#deps.store.txByQc(hash);
      const record = txHash && await this.#deps.store.tx(txHash);
      if (record?.qc) {
        parent = create(ParentPaymentSchema, {
          qc: qcInit(record.qc),
          signedTx: record.signedTx,
          parentQcHash: record.parentQcHash,
        });
      }
    }
    if (parent?.qc === undefined) {
      throw new SubmitError(
        "MISSING_PARENT_QC",
        `parent QC ${bytesToHex(hash)} was not supplied and this backend did not assemble it`,
      );
    }
    try {
      await verifyQuorumCertificate(this.#deps.committee, qcFromProto(parent.qc));
    } catch (e) {
      throw new SubmitError("INVALID_PARENT_QC", `parent QC: ${(e as Error).message}`);
    }
    return parent;
  }
}

/** The most common permanent reject code (ties: the first seen). */
export function dominantCode(rejects: readonly RecordReject[]): RejectCode {
  const counts = new Map<RejectCode, number>();
  for (const r of rejects) {
    if (isPermanent(r)) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  }
  let best: RejectCode = "TEMPORARY_UNAVAILABLE";
  let most = 0;
  for (const [code, n] of counts) {
    if (n > most) [best, most] = [code, n];
  }
  return best;
}

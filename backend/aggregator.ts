/**
 * Submissions (SPEC §8): the backend first checks what it can itself — the order's fields and its
 * payer's signature, the committee's chain and vault, the sizes of the wrapper, and the parent's
 * QC and binding (taking the parent from its own records when the request has none) — then fans
 * the request out to every sidecar with the client's {@linkcode fanOut} (each certificate
 * verified as it arrives), answers as soon as the outcome is decided, and keeps merging the
 * slower answers into the record afterwards. A payment with a QC is answered from the store
 * without asking the sidecars again: the same `tx_hash` always gets the same record and QC.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { bytesToHex, type Hex } from "viem";
import {
  type CertifiedOrderSchema,
  type SubmitFastPayRequest,
  SubmitFastPayRequestSchema,
} from "@allegro/proto";
import {
  AllegroError,
  type CertifiedOrder,
  certifiedOrderFromProto,
  certifiedOrderInit,
  type Committee,
  fanOut,
  type FanOutResult,
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  parentProblem,
  type RejectCode,
  type SidecarConnection,
  signedOrderFromProto,
  verifyCertifiedOrder,
  verifySignedOrder,
} from "@allegro/client";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "@allegro/server/log";
import {
  isPermanent,
  type Lifecycle,
  mergeAnswers,
  quorumImpossible,
  type TxSeed,
  withQc,
} from "./lifecycle.ts";
import type { BackendMetrics, SubmissionOutcome } from "./metrics.ts";
import type { RecordCertificate, RecordReject, TxRecord } from "./record.ts";

/** How a submission ended, when the sidecars were asked (or the store answered). */
export type Outcome = Exclude<SubmissionOutcome, "refused">;

/** The answer to a submission. */
export interface SubmitResult {
  readonly outcome: Outcome;
  readonly txHash: Hex;
  readonly effectsHash: Hex;
  /** The stored record, when there is one (none: no certificate and no final refusal yet). */
  readonly record?: TxRecord;
  readonly certificates: readonly RecordCertificate[];
  readonly rejects: readonly RecordReject[];
  /** The most common lasting reject code, for `rejected`. */
  readonly code?: RejectCode;
  /** True when answered from the store without a fan-out. */
  readonly replayed: boolean;
}

/**
 * A submission the backend refuses itself (the sidecars are not asked), with its reject code.
 *
 * @example
 * ```ts
 * import { SubmitError } from "./aggregator.ts";
 *
 * const e = new SubmitError("WRONG_CHAIN", "order is for chain 1");
 * console.log(e.code, e.message); // WRONG_CHAIN order is for chain 1
 * ```
 */
export class SubmitError extends Error {
  readonly code: RejectCode;
  constructor(code: RejectCode, message: string) {
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
  readonly log: Logger;
  readonly metrics: BackendMetrics;
  readonly timeoutMillis: number;
  /** Fan-outs still collecting slower answers (awaited at shutdown). */
  readonly background: Set<Promise<unknown>>;
  /** Aborted at shutdown: calls still running end. */
  readonly closing: AbortSignal;
}

/** Longest `client_request_id` (it is only logged). */
const MAX_CLIENT_REQUEST_ID = 128;
/** Most lane QCs one submission may carry (as a sidecar takes). */
export const MAX_LANE_QCS = 32;

const now = () => BigInt(Date.now());

/** Runs `fn`, turning its `AllegroError` into a {@linkcode SubmitError} whose message starts with `prefix`. */
async function refusing<T>(prefix: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AllegroError) throw new SubmitError(e.code, `${prefix}${e.message}`);
    throw e;
  }
}

/**
 * Fans submissions out and keeps their lifecycle.
 *
 * @example
 * ```ts ignore
 * const result = await aggregator.submit(create(SubmitFastPayRequestSchema, {
 *   order: signedOrderInit(signed),
 * }));
 * if (result.outcome === "certified") console.log(result.record!.qc!.qcHash);
 * ```
 */
export class Aggregator {
  readonly #deps: AggregatorDeps;

  constructor(deps: AggregatorDeps) {
    this.#deps = deps;
  }

  /** Submits one payment; throws {@linkcode SubmitError} for what the backend refuses itself. */
  async submit(message: SubmitFastPayRequest): Promise<SubmitResult> {
    const { log, metrics } = this.#deps;
    const id = { client_request_id: message.clientRequestId.slice(0, MAX_CLIENT_REQUEST_ID) };
    let request;
    try {
      request = await this.#checked(message);
    } catch (e) {
      if (e instanceof SubmitError) {
        metrics.submission("refused");
        log.info("payment refused", { code: e.code, message: e.message, ...id });
      }
      throw e;
    }
    const { signed, txHash, effectsHash } = request;
    const seed: TxSeed = { signed, txHash, effectsHash, source: "submission" };
    const { lifecycle, committee } = this.#deps;
    return await lifecycle.locked(txHash, async (tx) => {
      if (tx.record?.qc) {
        const result = this.#result(tx.record, true);
        metrics.submission(result.outcome);
        log.info("payment", { tx_hash: txHash, outcome: result.outcome, replayed: true, ...id });
        return result;
      }
      const started = performance.now();
      const arrivals = new Map<string, bigint>();
      const fan = fanOut(committee, this.#deps.sidecars, request.fanOut, {
        timeoutMillis: this.#deps.timeoutMillis,
        signal: this.#deps.closing,
        onCertificate: (validator, certificate) => {
          const at = now();
          arrivals.set(bytesToHex(certificate.signer), at);
          lifecycle.announceCertificate(signed, validator.name, certificate, at);
        },
      });
      const decided = await fan.decided;
      const fanOutMillis = performance.now() - started;
      const merged = {
        ...mergeAnswers(tx.record, seed, ...answers(decided, arrivals)),
        source: "submission" as const,
      };
      const keep = tx.record !== undefined || merged.certificates.length > 0 ||
        quorumImpossible(committee, merged);
      const stored = keep ? await tx.commit(merged) : undefined;
      this.#lateAnswers(txHash, seed, decided, fan.complete, arrivals);
      const result = stored ? this.#result(stored, false) : {
        outcome: "unavailable" as const,
        txHash,
        effectsHash,
        certificates: merged.certificates,
        rejects: merged.rejects,
        replayed: false,
      };
      metrics.submission(result.outcome, fanOutMillis);
      log.info("payment", {
        tx_hash: txHash,
        outcome: result.outcome,
        stage: stored?.stage ?? null,
        certificates: result.certificates.length,
        rejects: result.rejects.map((r) => `${r.validator}:${r.code}`),
        fan_out_ms: Math.round(fanOutMillis),
        ...id,
      });
      return result;
    });
  }

  /**
   * Checks the request and returns it ready to fan out: order and signature verified, the
   * wrapper within bounds, and the parent's QC verified and bound to the order (from the request,
   * or from this backend's records).
   */
  async #checked(message: SubmitFastPayRequest) {
    const { committee, lifecycle } = this.#deps;
    const signed = await refusing(
      "",
      async () => await verifySignedOrder(signedOrderFromProto(message.order)),
    );
    const o = signed.order;
    if (o.chainId !== committee.chainId || o.vault !== committee.vault) {
      throw new SubmitError(
        "WRONG_CHAIN",
        `order is for chain ${o.chainId} vault ${o.vault}; this backend serves chain ${committee.chainId} vault ${committee.vault}`,
      );
    }
    if (message.clientRequestId.length > MAX_CLIENT_REQUEST_ID) {
      throw new SubmitError(
        "INVALID_FORMAT",
        `client_request_id is ${message.clientRequestId.length} characters, at most ${MAX_CLIENT_REQUEST_ID}`,
      );
    }
    if (message.laneQcs.length > MAX_LANE_QCS) {
      throw new SubmitError(
        "INVALID_FORMAT",
        `lane_qcs has ${message.laneQcs.length} entries, at most ${MAX_LANE_QCS}`,
      );
    }
    for (const [i, q] of message.laneQcs.entries()) {
      await refusing(`lane_qcs[${i}].`, () => certifiedOrderFromProto(q));
    }
    let parent: MessageInitShape<typeof CertifiedOrderSchema> | undefined;
    if (o.parent !== NO_PARENT) {
      const supplied = message.parent && await refusing(
        "parent: ",
        () => verifyCertifiedOrder(committee, certifiedOrderFromProto(message.parent!)),
      );
      const certified = supplied ?? await lifecycle.get(o.parent);
      if (certified?.qc === undefined) {
        throw new SubmitError(
          "MISSING_PARENT_QC",
          `order.parent ${o.parent}: the request carries no parent and this backend holds no QC of it`,
        );
      }
      const problem = parentProblem(o, certified.signed.order);
      if (problem !== undefined) throw new SubmitError("INVALID_PARENT_QC", problem);
      if (supplied) await this.#remember(supplied);
      parent = certifiedOrderInit({ signed: certified.signed, qc: certified.qc });
    }
    const txHash = bytesToHex(orderTxHash(o));
    return {
      signed,
      txHash,
      effectsHash: bytesToHex(orderEffectsHash(o)),
      fanOut: create(SubmitFastPayRequestSchema, {
        order: message.order,
        laneQcs: message.laneQcs,
        ...(parent ? { parent } : {}),
        clientRequestId: message.clientRequestId,
      }),
    };
  }

  /**
   * Keeps a parent a request carried (verified): a record with its QC, which this backend then
   * settles, so that the child can settle after it.
   */
  async #remember(parent: CertifiedOrder): Promise<void> {
    const seed: TxSeed = {
      signed: parent.signed,
      txHash: parent.txHash,
      effectsHash: bytesToHex(orderEffectsHash(parent.signed.order)),
      source: "submission",
    };
    await this.#deps.lifecycle.update(parent.txHash, (r) => withQc(r, seed, parent.qc));
  }

  /** Merges the answers that arrive after the decision into the record. */
  #lateAnswers(
    txHash: Hex,
    seed: TxSeed,
    decided: FanOutResult,
    complete: Promise<FanOutResult>,
    arrivals: Map<string, bigint>,
  ): void {
    const late = complete.then(async (all) => {
      const [certs, rejects] = answers(all, arrivals);
      const fresh = certs.filter((c) =>
        !decided.certificates.some((d) => d.certificate === c.certificate)
      );
      const newRejects = rejects.filter((r) =>
        !decided.rejects.some((d) => bytesToHex(d.validator.publicKey) === bytesToHex(r.signer))
      );
      if (fresh.length === 0 && newRejects.length === 0) return;
      await this.#deps.lifecycle.update(txHash, (record) => {
        if (record === undefined && fresh.length === 0) return undefined;
        return mergeAnswers(record, seed, fresh, newRejects);
      });
    }).catch((e) =>
      this.#deps.log.error("merging late answers failed", {
        tx_hash: txHash,
        error: (e as Error).message,
      })
    );
    this.#deps.background.add(late);
    late.finally(() => this.#deps.background.delete(late));
  }

  /** The answer for a stored record. */
  #result(record: TxRecord, replayed: boolean): SubmitResult {
    const outcome: Outcome = record.qc
      ? (record.stage === "CONFIRMED" ? "confirmed" : "certified")
      : quorumImpossible(this.#deps.committee, record)
      ? "rejected"
      : "unavailable";
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
}

/** A fan-out's certificates and rejects as record entries. */
function answers(
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

/** The most common lasting reject code (ties: the first seen). */
function dominantCode(rejects: readonly RecordReject[]): RejectCode {
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

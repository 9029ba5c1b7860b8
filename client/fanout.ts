/**
 * Fan-out: sends one submission to every sidecar of the committee in parallel, verifies each
 * certificate as it arrives (committee member, signature and attestation, and over the hashes the
 * client computed itself from the signed order), and resolves as soon as the outcome is decided —
 * a QC once the threshold is met, or every answer that makes the threshold impossible. Slower
 * answers keep being collected in `complete`.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "./deps.ts";
import { bytesToHex } from "viem";
import { type SubmitFastPayRequest, SubmitFastPayRequestSchema } from "@allegro/proto";
import { bytesEqual } from "./bytes.ts";
import { type Certificate, certificateProblem } from "./certificate.ts";
import type { Committee, Validator } from "./committee.ts";
import type { RejectCode } from "./errors.ts";
import { orderEffectsHash, orderTxHash, type SignedOrder } from "./order.ts";
import { assembleQuorumCertificate, type QuorumCertificate } from "./quorum.ts";
import type { SidecarConnection } from "./transport.ts";
import { certificateFromProto, rejectCodeFromProto, signedOrderFromProto } from "./wire.ts";

/**
 * How a validator failed to certify: `"rejected"` — its sidecar answered with a reject (it
 * certainly did not sign this transaction); `"unreachable"` — no answer in time or a transport
 * error (it may or may not have signed); `"invalid"` — it answered with something that does not
 * verify.
 */
export type RejectKind = "rejected" | "unreachable" | "invalid";

/** A validator that refused, failed, or answered with something that does not verify. */
export interface ValidatorReject {
  /** The committee member. */
  readonly validator: Validator;
  /**
   * Its reject code; `TEMPORARY_UNAVAILABLE` when unreachable, `INVALID_FORMAT` when its answer did
   * not verify.
   */
  readonly code: RejectCode;
  /** What the sidecar said, or why its answer was refused. */
  readonly message: string;
  /** Whether it refused, could not be reached, or answered something invalid. */
  readonly kind: RejectKind;
}

/** What the fan-out has collected. */
export interface FanOutResult {
  /** The order submitted. */
  readonly signed: SignedOrder;
  /** Its `tx_hash`, computed by the client, 32 bytes. */
  readonly txHash: Uint8Array;
  /** Its `effects_hash`, computed by the client, 32 bytes. */
  readonly effectsHash: Uint8Array;
  /** Verified certificates, in arrival order. */
  readonly certificates: readonly { validator: Validator; certificate: Certificate }[];
  /** The validators that refused, failed or answered something invalid, in arrival order. */
  readonly rejects: readonly ValidatorReject[];
  /** The QC, once `threshold` verified certificates are in. */
  readonly qc?: QuorumCertificate;
}

/** Fan-out settings. */
export interface FanOutOptions {
  /** Per-sidecar timeout. */
  readonly timeoutMillis: number;
  /** Called for each verified certificate as it arrives. */
  readonly onCertificate?: (validator: Validator, certificate: Certificate) => void;
  /** Called for each reject as it arrives. */
  readonly onReject?: (reject: ValidatorReject) => void;
  /** Aborts every call still running (they count as `"unreachable"`). */
  readonly signal?: AbortSignal;
}

/** The decided result, and everything once every sidecar has answered or timed out. */
export interface FanOut {
  /** Resolves as soon as the outcome is decided: a QC, or so many failures that none can form. */
  readonly decided: Promise<FanOutResult>;
  /** Resolves once every sidecar has answered or timed out. */
  readonly complete: Promise<FanOutResult>;
}

/**
 * Submits to every sidecar in parallel. Throws an `INVALID_FORMAT` `AllegroError` if the
 * request carries no well-formed order.
 *
 * @example
 * ```ts ignore
 * import { connectSidecars, fanOut } from "@allegro/client";
 *
 * const { decided } = fanOut(committee, connectSidecars(committee), {
 *   order: signedOrderInit(signed),
 * }, { timeoutMillis: 2000 });
 * const result = await decided;
 * if (result.qc) console.log("QC", result.qc.qcHash);
 * else for (const r of result.rejects) console.log(r.validator.name, r.code, r.message);
 * ```
 */
export function fanOut(
  committee: Committee,
  sidecars: readonly SidecarConnection[],
  request: SubmitFastPayRequest | MessageInitShape<typeof SubmitFastPayRequestSchema>,
  options: FanOutOptions,
): FanOut {
  const message = create(SubmitFastPayRequestSchema, request);
  const signed = signedOrderFromProto(message.order);
  const txHash = orderTxHash(signed.order);
  const effectsHash = orderEffectsHash(signed.order);
  const certificates: { validator: Validator; certificate: Certificate }[] = [];
  const rejects: ValidatorReject[] = [];
  const result = (): FanOutResult => {
    const qc = assembleQuorumCertificate(committee, certificates.map((c) => c.certificate));
    return {
      signed,
      txHash,
      effectsHash,
      certificates: [...certificates],
      rejects: [...rejects],
      ...(qc ? { qc } : {}),
    };
  };
  const decided = Promise.withResolvers<FanOutResult>();
  const signers = new Set<string>();
  const failed = new Set<string>();
  const decideIfDone = () => {
    const n = committee.validators.length;
    if (signers.size >= committee.threshold || failed.size > n - committee.threshold) {
      decided.resolve(result());
    }
  };
  const refuse = (validator: Validator, code: RejectCode, text: string, kind: RejectKind) => {
    const reject = { validator, code, message: text, kind };
    rejects.push(reject);
    failed.add(bytesToHex(validator.publicKey));
    notify(() => options.onReject?.(reject));
  };

  const ask = async ({ validator, client }: SidecarConnection) => {
    try {
      const answer = await client.submitFastPay(message, {
        timeoutMs: options.timeoutMillis,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (answer.result.case === "reject") {
        const { code, message: text } = answer.result.value;
        refuse(validator, safeCode(code), text, "rejected");
        return;
      }
      if (answer.result.case !== "certificate") {
        refuse(
          validator,
          "INVALID_FORMAT",
          `${validator.name} answered neither certificate nor reject`,
          "invalid",
        );
        return;
      }
      const certificate = certificateFromProto(answer.result.value);
      const problem = !bytesEqual(certificate.signer, validator.publicKey)
        ? `signed by ${bytesToHex(certificate.signer)}, not ${validator.name}`
        : !bytesEqual(certificate.txHash, txHash) ||
            !bytesEqual(certificate.effectsHash, effectsHash)
        ? "over another order"
        : await certificateProblem(committee, certificate);
      if (problem !== undefined) {
        refuse(
          validator,
          "INVALID_FORMAT",
          `${validator.name} returned a bad certificate: ${problem}`,
          "invalid",
        );
        return;
      }
      certificates.push({ validator, certificate });
      signers.add(bytesToHex(certificate.signer));
      notify(() => options.onCertificate?.(validator, certificate));
    } catch (e) {
      refuse(
        validator,
        "TEMPORARY_UNAVAILABLE",
        `${validator.name} unreachable: ${(e as Error).message}`,
        "unreachable",
      );
    } finally {
      decideIfDone();
    }
  };
  const complete = Promise.all(sidecars.map(ask)).then(() => {
    decided.resolve(result());
    return result();
  });
  return { decided: decided.promise, complete };
}

/** Runs a caller's callback; its exceptions must not disturb the fan-out. */
function notify(callback: () => void): void {
  try {
    callback();
  } catch {
    // The caller's problem; the fan-out goes on.
  }
}

function safeCode(code: number): RejectCode {
  try {
    return rejectCodeFromProto(code);
  } catch {
    return "INVALID_FORMAT";
  }
}

/**
 * A certified payment: the signed transaction, what it pays, and a verified QC over it — what
 * `AllegroClient.pay` returns to the payer and `AllegroClient.incoming` yields to the recipient, and what a recipient passes as `parent` to spend the money at once.
 *
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { bytesToHex } from "viem";
import type { ParentPaymentSchema } from "@allegro/proto";
import { paymentEffectsHash, paymentTxHash } from "./board.ts";
import { bytesEqual } from "./bytes.ts";
import type { Committee } from "./committee.ts";
import { AllegroError } from "./errors.ts";
import { type QuorumCertificate, verifyQuorumCertificate } from "./quorum.ts";
import { decodePayment, type Payment } from "./tempo.ts";
import { qcInit } from "./wire.ts";

/**
 * A payment with a quorum certificate over it.
 *
 * @example
 * ```ts ignore
 * const received: CertifiedPayment = await verifyCertifiedPayment(committee, {
 *   signedTx,
 *   qc,
 * });
 * console.log(received.payment.amount, received.qc.qcHash);
 * ```
 */
export interface CertifiedPayment {
  /** The payment's `tx_hash` (SPEC §4): the signed bytes, expiry and parent. */
  readonly txHash: Uint8Array;
  /** The payment as derived from `signedTx`. */
  readonly payment: Payment;
  /** The signed Tempo transaction (`0x76…`). */
  readonly signedTx: Uint8Array;
  /** The QC of the payment that funded this one, when it was a chained payment. */
  readonly parentQcHash?: Uint8Array;
  /** A QC over `txHash` and the payment's `effects_hash`. */
  readonly qc: QuorumCertificate;
}

/**
 * The `ParentPayment` wire message naming `parent`: what a sidecar needs to check the QC of the
 * payment that funds a child, credit its recipient and forward it to the chain.
 *
 * @example
 * ```ts ignore
 * import { create } from "@bufbuild/protobuf";
 * import { SubmitFastPayRequestSchema } from "@allegro/proto";
 * import { parentPaymentInit } from "@allegro/client";
 *
 * const request = create(SubmitFastPayRequestSchema, {
 *   signedTx: childTx,
 *   parentQcHash: received.qc.qcHash,
 *   parents: [parentPaymentInit(received)],
 * });
 * ```
 */
export function parentPaymentInit(
  parent: CertifiedPayment,
): MessageInitShape<typeof ParentPaymentSchema> {
  return {
    qc: qcInit(parent.qc),
    signedTx: parent.signedTx,
    parentQcHash: parent.parentQcHash ?? new Uint8Array(),
  };
}

/**
 * Checks a certified payment against the committee, as a sidecar would check a parent: the
 * signed bytes decode to a payment, recompute the QC's `tx_hash` (with `parentQcHash`) and
 * `effects_hash`, and the QC verifies (SPEC §4). Returns it with `payment` and `txHash` as
 * derived from the bytes; throws an `INVALID_PARENT_QC` {@linkcode AllegroError} otherwise.
 *
 * @example
 * ```ts ignore
 * import { verifyCertifiedPayment } from "@allegro/client";
 *
 * const parent = await verifyCertifiedPayment(committee, receivedFromSomewhere);
 * ```
 */
export async function verifyCertifiedPayment(
  committee: Committee,
  certified: Pick<CertifiedPayment, "signedTx" | "parentQcHash" | "qc">,
): Promise<CertifiedPayment> {
  const invalid = (message: string): never => {
    throw new AllegroError("INVALID_PARENT_QC", message);
  };
  let payment: Payment;
  try {
    payment = decodePayment(certified.signedTx, { chainId: committee.chainId });
  } catch (e) {
    return invalid(`certified payment: ${(e as Error).message}`);
  }
  const parentQcHash = certified.parentQcHash?.length ? certified.parentQcHash : undefined;
  if (parentQcHash !== undefined && parentQcHash.length !== 32) {
    invalid(`parent_qc_hash must be 32 bytes, got ${parentQcHash.length}`);
  }
  const txHash = paymentTxHash(payment, parentQcHash);
  if (!bytesEqual(txHash, certified.qc.txHash)) {
    invalid(
      `signed_tx hashes to tx_hash ${bytesToHex(txHash)}, the QC certifies ${
        bytesToHex(certified.qc.txHash)
      }`,
    );
  }
  if (!bytesEqual(paymentEffectsHash(payment), certified.qc.effectsHash)) {
    invalid("signed_tx does not match the QC's effects_hash");
  }
  const qc = await verifyQuorumCertificate(committee, certified.qc);
  return {
    txHash,
    payment,
    signedTx: payment.rawTx,
    ...(parentQcHash ? { parentQcHash } : {}),
    qc,
  };
}

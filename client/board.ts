/**
 * Bulletin-board entries: a certificate with the signed transaction it certifies. Anyone who
 * reads a board (gossiping sidecars, the backend, a recipient) checks an entry here before
 * using it: the transaction decodes to a payment, its memo binds the entry's parent QC hash, its
 * `tx_hash` and `effects_hash` recompute to the certificate's, and the signature verifies
 * against the committee.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "viem";
import type { BulletinEntry } from "@allegro/proto";
import { bytesEqual } from "./bytes.ts";
import { type Certificate, certificateProblem } from "./certificate.ts";
import type { Committee } from "./committee.ts";
import { AllegroError } from "./errors.ts";
import { effectsHash, txHash } from "./hashes.ts";
import { checkParentBinding, decodePayment, type Payment } from "./tempo.ts";
import { certificateFromProto } from "./wire.ts";

/** A bulletin-board entry that passed {@linkcode verifyBoardEntry}. */
export interface VerifiedEntry {
  readonly sequence: bigint;
  readonly certificate: Certificate;
  readonly payment: Payment;
  /** Empty when the payment has no parent. */
  readonly parentQcHash: Uint8Array;
}

/**
 * The `tx_hash` of a decoded payment whose submission named `parentQcHash` (or none).
 *
 * @example
 * ```ts ignore
 * const hash = paymentTxHash(decodePayment(signedTx, { chainId: 1337n }));
 * ```
 */
export function paymentTxHash(payment: Payment, parentQcHash?: Uint8Array): Uint8Array {
  return txHash({
    chainId: payment.chainId,
    tempoTx: payment.rawTx,
    nonceKey: payment.nonceKey,
    nonceSeq: payment.nonceSeq,
    expiry: { unixMillis: payment.validBeforeMillis },
    ...(parentQcHash && parentQcHash.length > 0 ? { parentQcHash } : {}),
  });
}

/**
 * The `effects_hash` of a decoded payment.
 *
 * @example
 * ```ts ignore
 * const hash = paymentEffectsHash(decodePayment(signedTx, { chainId: 1337n }));
 * ```
 */
export function paymentEffectsHash(payment: Payment): Uint8Array {
  return effectsHash({
    sender: hexToBytes(payment.sender),
    recipient: hexToBytes(payment.recipient),
    amount: payment.amount,
    asset: hexToBytes(payment.asset),
    nonceKey: payment.nonceKey,
    nonceSeq: payment.nonceSeq,
  });
}

/**
 * Checks one board entry against the committee; throws an `INVALID_FORMAT`
 * {@linkcode AllegroError} saying what is wrong.
 *
 * @example
 * ```ts ignore
 * for (const entry of page.entries) {
 *   const verified = await verifyBoardEntry(committee, entry);
 *   console.log(verified.payment.recipient, verified.payment.amount);
 * }
 * ```
 */
export async function verifyBoardEntry(
  committee: Committee,
  entry: BulletinEntry,
): Promise<VerifiedEntry> {
  if (entry.certificate === undefined) {
    throw new AllegroError("INVALID_FORMAT", `board entry ${entry.sequence} has no certificate`);
  }
  const certificate = certificateFromProto(entry.certificate);
  if (entry.parentQcHash.length !== 0 && entry.parentQcHash.length !== 32) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `board entry ${entry.sequence} parent_qc_hash is ${entry.parentQcHash.length} bytes`,
    );
  }
  const payment = decodePayment(entry.signedTx, { chainId: committee.chainId });
  // The payer signs which parent funds it: another parent hash would be another, unsigned tx_hash.
  if (entry.parentQcHash.length > 0) {
    try {
      checkParentBinding(payment, entry.parentQcHash);
    } catch (e) {
      throw new AllegroError(
        "INVALID_FORMAT",
        `board entry ${entry.sequence}: ${(e as Error).message}`,
      );
    }
  }
  const tx = paymentTxHash(payment, entry.parentQcHash);
  if (!bytesEqual(tx, certificate.txHash)) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `board entry ${entry.sequence}: signed_tx hashes to ${
        bytesToHex(tx)
      }, the certificate names ${bytesToHex(certificate.txHash)}`,
    );
  }
  if (!bytesEqual(paymentEffectsHash(payment), certificate.effectsHash)) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `board entry ${entry.sequence}: the certificate's effects_hash does not match signed_tx`,
    );
  }
  const problem = await certificateProblem(committee, certificate);
  if (problem !== undefined) {
    throw new AllegroError("INVALID_FORMAT", `board entry ${entry.sequence}: ${problem}`);
  }
  // A copy, not a view into the page it came in (see certificateFromProto).
  const parentQcHash = entry.parentQcHash.slice();
  return { sequence: entry.sequence, certificate, payment, parentQcHash };
}

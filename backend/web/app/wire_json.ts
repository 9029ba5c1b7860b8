/**
 * The REST API's JSON forms of orders, certificates and QCs as the client library's types, so
 * that whatever the backend hands over is verified here with `@allegro/client`.
 *
 * @module
 */
import { type Address, type Hex, hexToBytes } from "viem";
import type { Certificate, QuorumCertificate, SignedOrder } from "@allegro/client";
import type { CertificateJson, QcJson, SignedOrderJson } from "./api.ts";

/** An order and signature from JSON (checked later, by `verifyCertifiedOrder`). */
export function signedOrderFromJson({ order: o, signature }: SignedOrderJson): SignedOrder {
  return {
    order: {
      chainId: BigInt(o.chain_id),
      vault: o.vault as Address,
      payer: o.payer as Address,
      recipient: o.recipient as Address,
      token: o.token as Address,
      amount: BigInt(o.amount),
      fee: BigInt(o.fee),
      seq: BigInt(o.seq),
      validBefore: BigInt(o.valid_before),
      parent: o.parent as Hex,
      exit: o.exit,
      memo: o.memo as Hex,
    },
    signature: signature as Hex,
  };
}

/** A certificate from JSON (checked later, by `certificateProblem`). */
export function certificateFromJson(c: CertificateJson): Certificate {
  return {
    signer: hexToBytes(c.signer as Hex),
    txHash: hexToBytes(c.tx_hash as Hex),
    effectsHash: hexToBytes(c.effects_hash as Hex),
    signature: hexToBytes(c.signature as Hex),
    attestation: hexToBytes(c.attestation as Hex),
    createdUnixMillis: BigInt(c.created_unix_millis),
    epoch: BigInt(c.epoch),
  };
}

/** A QC from JSON (checked later, by `verifyCertifiedOrder`). */
export function qcFromJson(qc: QcJson): QuorumCertificate {
  return {
    txHash: hexToBytes(qc.tx_hash as Hex),
    effectsHash: hexToBytes(qc.effects_hash as Hex),
    threshold: qc.threshold,
    epoch: BigInt(qc.epoch),
    qcHash: hexToBytes(qc.qc_hash as Hex),
    certificates: qc.certificates.map(certificateFromJson),
  };
}

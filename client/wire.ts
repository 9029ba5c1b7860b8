/**
 * Conversions between the client's protocol objects and the `allegro.v1` wire messages. Every
 * conversion from the wire validates sizes once, here at the boundary, and copies byte fields
 * (a message decoded from binary holds views into the whole response buffer, which a stored or
 * cached object would otherwise keep alive, and Deno KV would serialize in full).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { Address, Hex, MessageInitShape } from "./deps.ts";
import { bytesToHex, getAddress, hexToBytes, zeroHash } from "viem";
import {
  type CertifiedOrder as CertifiedOrderMessage,
  type CertifiedOrderSchema,
  type PaymentOrder as PaymentOrderMessage,
  type PaymentOrderSchema,
  type QuorumCertificate as QuorumCertificateMessage,
  QuorumCertificateSchema,
  RejectCode as RejectCodeMessage,
  type SignedOrder as SignedOrderMessage,
  type SignedOrderSchema,
  type ValidatorCertificate,
  ValidatorCertificateSchema,
} from "@allegro/proto";
import type { Certificate } from "./certificate.ts";
import { AllegroError, isRejectCode, type RejectCode } from "./errors.ts";
import { checkOrder, type PaymentOrder, type SignedOrder } from "./order.ts";
import type { QuorumCertificate } from "./quorum.ts";

/**
 * A certificate as a wire message.
 *
 * @example
 * ```ts ignore
 * const message = certificateToProto(certificate);
 * ```
 */
export function certificateToProto(c: Certificate): ValidatorCertificate {
  return create(ValidatorCertificateSchema, {
    signer: c.signer,
    txHash: c.txHash,
    effectsHash: c.effectsHash,
    signature: c.signature,
    attestation: c.attestation,
    createdUnixMillis: c.createdUnixMillis,
    epoch: c.epoch,
  });
}

/**
 * A wire certificate as a {@linkcode Certificate}, its byte fields copied (sizes are checked
 * when it is verified).
 *
 * @example
 * ```ts ignore
 * const certificate = certificateFromProto(message);
 * ```
 */
export function certificateFromProto(m: ValidatorCertificate): Certificate {
  return {
    signer: m.signer.slice(),
    txHash: m.txHash.slice(),
    effectsHash: m.effectsHash.slice(),
    signature: m.signature.slice(),
    attestation: m.attestation.slice(),
    createdUnixMillis: m.createdUnixMillis,
    epoch: m.epoch,
  };
}

/**
 * A QC as a wire message.
 *
 * @example
 * ```ts ignore
 * const message = qcToProto(qc);
 * ```
 */
export function qcToProto(qc: QuorumCertificate): QuorumCertificateMessage {
  return create(QuorumCertificateSchema, qcInit(qc));
}

/**
 * A QC as a wire init shape, for embedding in other messages.
 *
 * @example
 * ```ts ignore
 * create(CertifiedOrderSchema, { order: signedOrderInit(signed), qc: qcInit(qc) });
 * ```
 */
export function qcInit(qc: QuorumCertificate): MessageInitShape<typeof QuorumCertificateSchema> {
  return {
    txHash: qc.txHash,
    effectsHash: qc.effectsHash,
    threshold: qc.threshold,
    certificates: qc.certificates.map(certificateToProto),
    qcHash: qc.qcHash,
    epoch: qc.epoch,
  };
}

/**
 * A wire QC as a {@linkcode QuorumCertificate}; verify it before trusting it.
 *
 * @example
 * ```ts ignore
 * const qc = await verifyQuorumCertificate(committee, qcFromProto(message));
 * ```
 */
export function qcFromProto(m: QuorumCertificateMessage): QuorumCertificate {
  return {
    txHash: m.txHash.slice(),
    effectsHash: m.effectsHash.slice(),
    threshold: m.threshold,
    certificates: m.certificates.map(certificateFromProto),
    qcHash: m.qcHash.slice(),
    epoch: m.epoch,
  };
}

/**
 * An order as a wire init shape.
 *
 * @example
 * ```ts ignore
 * create(PaymentOrderSchema, orderInit(order));
 * ```
 */
export function orderInit(o: PaymentOrder): MessageInitShape<typeof PaymentOrderSchema> {
  return {
    chainId: o.chainId,
    vault: hexToBytes(o.vault),
    payer: hexToBytes(o.payer),
    recipient: hexToBytes(o.recipient),
    token: hexToBytes(o.token),
    amount: o.amount,
    fee: o.fee,
    seq: o.seq,
    validBefore: o.validBefore,
    parent: hexToBytes(o.parent),
    exit: o.exit,
    memo: hexToBytes(o.memo),
  };
}

function addressOf(field: string, bytes: Uint8Array): Address {
  if (bytes.length !== 20) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `order.${field} must be 20 bytes, got ${bytes.length}`,
      { field: `order.${field}` },
    );
  }
  return getAddress(bytesToHex(bytes));
}

function wordOf(field: string, bytes: Uint8Array): Hex {
  if (bytes.length === 0) return zeroHash;
  if (bytes.length !== 32) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `order.${field} must be 32 bytes or empty, got ${bytes.length}`,
      { field: `order.${field}` },
    );
  }
  return bytesToHex(bytes);
}

/**
 * A wire order as a {@linkcode PaymentOrder}, every field validated ({@linkcode checkOrder});
 * throws an `INVALID_FORMAT` {@linkcode AllegroError} naming the field otherwise.
 *
 * @example
 * ```ts ignore
 * const order = orderFromProto(request.order.order);
 * ```
 */
export function orderFromProto(m: PaymentOrderMessage | undefined): PaymentOrder {
  if (m === undefined) {
    throw new AllegroError("INVALID_FORMAT", "order is missing", { field: "order" });
  }
  return checkOrder({
    chainId: m.chainId,
    vault: addressOf("vault", m.vault),
    payer: addressOf("payer", m.payer),
    recipient: addressOf("recipient", m.recipient),
    token: addressOf("token", m.token),
    amount: m.amount,
    fee: m.fee,
    seq: m.seq,
    validBefore: m.validBefore,
    parent: wordOf("parent", m.parent),
    exit: m.exit,
    memo: wordOf("memo", m.memo),
  });
}

/**
 * A signed order as a wire init shape.
 *
 * @example
 * ```ts ignore
 * create(SubmitFastPayRequestSchema, { order: signedOrderInit(signed) });
 * ```
 */
export function signedOrderInit(s: SignedOrder): MessageInitShape<typeof SignedOrderSchema> {
  return { order: orderInit(s.order), payerSignature: hexToBytes(s.signature) };
}

/**
 * A wire signed order, fields validated (the signature is checked by `verifySignedOrder`).
 *
 * @example
 * ```ts ignore
 * const signed = await verifySignedOrder(signedOrderFromProto(request.order));
 * ```
 */
export function signedOrderFromProto(m: SignedOrderMessage | undefined): SignedOrder {
  if (m === undefined) {
    throw new AllegroError("INVALID_FORMAT", "order is missing", { field: "order" });
  }
  return { order: orderFromProto(m.order), signature: bytesToHex(m.payerSignature) };
}

/**
 * An order with its QC as a wire init shape.
 *
 * @example
 * ```ts ignore
 * create(SubmitFastPayRequestSchema, { order, parent: certifiedOrderInit(parent) });
 * ```
 */
export function certifiedOrderInit(
  c: { readonly signed: SignedOrder; readonly qc: QuorumCertificate },
): MessageInitShape<typeof CertifiedOrderSchema> {
  return { order: signedOrderInit(c.signed), qc: qcInit(c.qc) };
}

/**
 * A wire order with its QC, fields validated; verify it with `verifyCertifiedOrder`.
 *
 * @example
 * ```ts ignore
 * const parent = await verifyCertifiedOrder(committee, certifiedOrderFromProto(request.parent));
 * ```
 */
export function certifiedOrderFromProto(
  m: CertifiedOrderMessage,
): { signed: SignedOrder; qc: QuorumCertificate } {
  if (m.qc === undefined) {
    throw new AllegroError("INVALID_FORMAT", "qc is missing", { field: "qc" });
  }
  return { signed: signedOrderFromProto(m.order), qc: qcFromProto(m.qc) };
}

/**
 * The wire enum value of a reject code.
 *
 * @example
 * ```ts
 * import { rejectCodeToProto } from "@allegro/client";
 *
 * rejectCodeToProto("EXPIRED"); // RejectCode.EXPIRED (5)
 * ```
 */
export function rejectCodeToProto(code: RejectCode): RejectCodeMessage {
  return RejectCodeMessage[code];
}

/**
 * The reject code of a wire enum value; `UNSPECIFIED` or unknown values are `INVALID_FORMAT`
 * errors naming the value.
 *
 * @example
 * ```ts
 * import { rejectCodeFromProto } from "@allegro/client";
 * import { RejectCode } from "@allegro/proto";
 *
 * rejectCodeFromProto(RejectCode.EQUIVOCATION); // "EQUIVOCATION"
 * ```
 */
export function rejectCodeFromProto(value: RejectCodeMessage): RejectCode {
  const name = RejectCodeMessage[value];
  if (!isRejectCode(name)) {
    throw new AllegroError("INVALID_FORMAT", `reject code ${value} is not a known reject code`);
  }
  return name;
}

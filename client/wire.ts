/**
 * Conversions between the client's protocol objects and the `allegro.v1` wire messages.
 *
 * @module
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type QuorumCertificate as QuorumCertificateMessage,
  QuorumCertificateSchema,
  RejectCode as RejectCodeEnum,
  type ValidatorCertificate,
  ValidatorCertificateSchema,
} from "@allegro/proto";
import type { Certificate } from "./certificate.ts";
import { AllegroError, isRejectCode, type RejectCode } from "./errors.ts";
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
    createdUnixMillis: c.createdUnixMillis,
  });
}

/**
 * A wire certificate as a {@linkcode Certificate} (sizes are checked when it is verified). The
 * byte fields are copies: a message decoded from binary holds views into the whole response
 * buffer, which a stored or cached certificate would otherwise keep alive (and Deno KV would
 * serialize in full).
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
    createdUnixMillis: m.createdUnixMillis,
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
 * create(ParentPaymentSchema, { qc: qcInit(qc), signedTx });
 * ```
 */
export function qcInit(qc: QuorumCertificate): MessageInitShape<typeof QuorumCertificateSchema> {
  return {
    txHash: qc.txHash,
    effectsHash: qc.effectsHash,
    threshold: qc.threshold,
    certificates: qc.certificates.map(certificateToProto),
    qcHash: qc.qcHash,
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
    txHash: m.txHash,
    effectsHash: m.effectsHash,
    threshold: m.threshold,
    certificates: m.certificates.map(certificateFromProto),
    qcHash: m.qcHash,
  };
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
export function rejectCodeToProto(code: RejectCode): RejectCodeEnum {
  return RejectCodeEnum[code];
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
export function rejectCodeFromProto(value: RejectCodeEnum): RejectCode {
  const name = RejectCodeEnum[value];
  if (!isRejectCode(name)) {
    throw new AllegroError("INVALID_FORMAT", `reject code ${value} is not a known reject code`);
  }
  return name;
}

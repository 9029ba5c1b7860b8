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
 * ```ts
 * import { toBinary } from "@bufbuild/protobuf";
 * import { ValidatorCertificateSchema } from "@allegro/proto";
 * import { certificateToProto } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const certificate = signers[0].sign(txHash, effectsHash, 1000n);
 * const bytes = toBinary(ValidatorCertificateSchema, certificateToProto(certificate));
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
 * ```ts
 * import { bytesEqual, certificateFromProto, certificateToProto } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const certificate = signers[0].sign(txHash, effectsHash, 1000n);
 * const back = certificateFromProto(certificateToProto(certificate));
 * console.log(bytesEqual(back.attestation, certificate.attestation), back.epoch); // true 42n
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
 * ```ts
 * import { toBinary } from "@bufbuild/protobuf";
 * import { QuorumCertificateSchema } from "@allegro/proto";
 * import { assembleQuorumCertificate, qcToProto } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * const message = qcToProto(qc);
 * console.log(message.certificates.length, toBinary(QuorumCertificateSchema, message).length > 0); // 3 true
 * ```
 */
export function qcToProto(qc: QuorumCertificate): QuorumCertificateMessage {
  return create(QuorumCertificateSchema, qcInit(qc));
}

/**
 * A QC as a wire init shape, for embedding in other messages.
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { QuorumCertificateSchema } from "@allegro/proto";
 * import { assembleQuorumCertificate, qcInit } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * // An init shape goes wherever protobuf-es takes one: create(), a request, a field of one.
 * console.log(create(QuorumCertificateSchema, qcInit(qc)).threshold); // 3
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
 * ```ts
 * import { assembleQuorumCertificate, qcFromProto, qcToProto, verifyQuorumCertificate } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * const received = qcFromProto(qcToProto(qc)); // as from the wire: verify before use
 * await verifyQuorumCertificate(committee, received);
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
 * ```ts
 * import { create, toBinary } from "@bufbuild/protobuf";
 * import { PaymentOrderSchema } from "@allegro/proto";
 * import { NO_PARENT, orderInit, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * const message = create(PaymentOrderSchema, orderInit(order));
 * console.log(message.payer.length, message.amount); // 20 1000000n
 * const bytes = toBinary(PaymentOrderSchema, message);
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
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { PaymentOrderSchema } from "@allegro/proto";
 * import { NO_PARENT, orderFromProto, orderInit, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * const back = orderFromProto(create(PaymentOrderSchema, orderInit(order)));
 * console.log(back.recipient, back.validBefore); // 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC 1900000000000n
 * const empty = create(PaymentOrderSchema, {});
 * try {
 *   orderFromProto(empty);
 * } catch (e) {
 *   console.log((e as Error).message); // order.vault must be 20 bytes, got 0
 * }
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
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { SubmitFastPayRequestSchema } from "@allegro/proto";
 * import { NO_PARENT, PATH_USD, signedOrderInit, signOrder } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * const request = create(SubmitFastPayRequestSchema, { order: signedOrderInit(signed) });
 * console.log(request.order?.payerSignature.length); // 65
 * ```
 */
export function signedOrderInit(s: SignedOrder): MessageInitShape<typeof SignedOrderSchema> {
  return { order: orderInit(s.order), payerSignature: hexToBytes(s.signature) };
}

/**
 * A wire signed order, fields validated (the signature is checked by `verifySignedOrder`).
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { SignedOrderSchema } from "@allegro/proto";
 * import {
 *   NO_PARENT,
 *   PATH_USD,
 *   signedOrderFromProto,
 *   signedOrderInit,
 *   signOrder,
 *   verifySignedOrder,
 * } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * const message = create(SignedOrderSchema, signedOrderInit(signed));
 * const received = await verifySignedOrder(signedOrderFromProto(message));
 * console.log(received.signature === signed.signature); // true
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
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { SubmitFastPayRequestSchema } from "@allegro/proto";
 * import {
 *   assembleQuorumCertificate,
 *   certifiedOrderInit,
 *   NO_PARENT,
 *   orderEffectsHash,
 *   orderTxHash,
 *   PATH_USD,
 *   signOrder,
 * } from "@allegro/client";
 * import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [orderTxHash(signed.order), orderEffectsHash(signed.order)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * // The payer's next order in the lane carries this one with its QC in lane_qcs.
 * const request = create(SubmitFastPayRequestSchema, { laneQcs: [certifiedOrderInit({ signed, qc })] });
 * console.log(request.laneQcs[0].qc?.certificates.length); // 3
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
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { CertifiedOrderSchema } from "@allegro/proto";
 * import {
 *   assembleQuorumCertificate,
 *   certifiedOrderFromProto,
 *   certifiedOrderInit,
 *   NO_PARENT,
 *   orderEffectsHash,
 *   orderTxHash,
 *   PATH_USD,
 *   signOrder,
 *   verifyCertifiedOrder,
 * } from "@allegro/client";
 * import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [orderTxHash(signed.order), orderEffectsHash(signed.order)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * const message = create(CertifiedOrderSchema, certifiedOrderInit({ signed, qc }));
 * const parent = await verifyCertifiedOrder(committee, certifiedOrderFromProto(message));
 * console.log(parent.signed.order.amount); // 1000000n
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

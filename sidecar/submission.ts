/**
 * Turns a wire submission into a {@linkcode Submission}: everything a sidecar can establish
 * without its own state — rules 1 to 3 of SPEC §5 (thrown as {@linkcode AllegroError}), the
 * hashes, the maximum fee, and the stateless half of rule 8 (the parent QC and what it proves),
 * kept as a verdict for {@linkcode decide} to report in its place in the validation order.
 *
 * @module
 */
import { bytesToHex, type Hex, keccak256 } from "viem";
import type { PaymentCache } from "./caches.ts";
import {
  AllegroError,
  bytesEqual,
  checkParentBinding,
  type Committee,
  decodePayment,
  type Ed25519Backend,
  type Payment,
  paymentEffectsHash,
  paymentTxHash,
  type QuorumCertificate,
  verifyQuorumCertificate,
} from "@allegro/client";

/** The wire request, already parsed from protobuf. Empty byte fields mean "absent". */
export interface SubmissionRequest {
  readonly signedTx: Uint8Array;
  readonly parentQcHash: Uint8Array;
  readonly parents: readonly ParentRequest[];
  readonly clientRequestId: string;
  /** Informational copy of the payment; every field present must equal the derived value. */
  readonly payment?: ClaimedPayment;
}

/** A parent payment as sent on the wire. */
export interface ParentRequest {
  readonly qc?: QuorumCertificate;
  readonly signedTx: Uint8Array;
  readonly parentQcHash: Uint8Array;
}

/** The optional informational payment fields of a request (proto3 zero values = not given). */
export interface ClaimedPayment {
  readonly sender: Uint8Array;
  readonly recipient: Uint8Array;
  readonly amount: bigint;
  readonly asset: Uint8Array;
  readonly chainId: bigint;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
  readonly expiryUnixMillis: bigint;
}

/** What a verified parent QC proves: a payment of `amount` of `asset` to `recipient`. */
export interface ParentCredit {
  readonly txHash: Uint8Array;
  readonly qcHash: Uint8Array;
  /** How the chain names the parent transaction (keccak256 of its bytes). */
  readonly chainTxHash: Hex;
  readonly rawTx: Uint8Array;
  readonly recipient: Hex;
  readonly asset: Hex;
  readonly amount: bigint;
  /** The parent's contention key: once its lane nonce passes `nonceSeq`, the chain has it. */
  readonly sender: Hex;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
}

/** The stateless verdict on a submission's parent. */
export type ParentVerdict =
  | { readonly ok: true; readonly credit: ParentCredit }
  | {
    readonly ok: false;
    readonly code: "MISSING_PARENT_QC" | "INVALID_PARENT_QC";
    readonly message: string;
  };

/** The fee the chain may take at most, in which token (SPEC §3 fee rule). */
export interface MaxFee {
  readonly token: Hex;
  readonly amount: bigint;
}

/** A decoded, hashed submission ready for {@linkcode decide}. */
export interface Submission {
  readonly payment: Payment;
  readonly txHash: Uint8Array;
  readonly effectsHash: Uint8Array;
  readonly chainTxHash: Hex;
  readonly maxFee: MaxFee;
  readonly clientRequestId?: string;
  readonly parentQcHash?: Uint8Array;
  readonly parent?: ParentVerdict;
}

/** What preparing a submission needs to know. */
export interface PrepareContext {
  readonly committee: Committee;
  /**
   * Least gas limit accepted: below what a transfer uses, the chain drops the transaction or
   * includes it as failed, and a certified payment must settle.
   */
  readonly minGas: bigint;
  /** Longest accepted `client_request_id`, in UTF-16 code units. */
  readonly maxClientRequestIdLength: number;
  /** Most parent payments accepted in one request. */
  readonly maxParents: number;
  /** Decodes through this cache when given (parents are decoded once as payments already). */
  readonly payments?: PaymentCache;
  /** Verifies parent QC signatures with this backend (e.g. `cachingEd25519` of `caches.ts`). */
  readonly ed25519?: Ed25519Backend;
}

const decode = (context: PrepareContext, signedTx: Uint8Array): Payment =>
  context.payments
    ? context.payments.decode(signedTx, context.committee.chainId)
    : decodePayment(signedTx, { chainId: context.committee.chainId });

const FEE_DIVISOR = 10n ** 12n;

/**
 * The most the chain can charge for `payment`: `ceil(gas * maxFeePerGas / 10^12)` base units of
 * its fee token (TIP-20 tokens have 6 decimals, gas prices are in 18-decimal units; measured on
 * anvil in Tempo mode: the charge is `ceil(gas_used * effective_gas_price / 10^12)`, and the
 * effective price never exceeds `maxFeePerGas`).
 *
 * @example
 * ```ts ignore
 * maxFeeOf(payment); // { token: "0x20c0…", amount: 2000n } for gas 100000 at 20 gwei
 * ```
 */
export function maxFeeOf(payment: Payment): MaxFee {
  const wei = payment.gas * payment.maxFeePerGas;
  return {
    token: payment.feeToken.toLowerCase() as Hex,
    amount: (wei + FEE_DIVISOR - 1n) / FEE_DIVISOR,
  };
}

const invalidFormat = (field: string, message: string): never => {
  throw new AllegroError("INVALID_FORMAT", `${field} ${message}`, { field });
};

function checkClaims(payment: Payment, claimed: ClaimedPayment | undefined): void {
  if (claimed === undefined) return;
  const hex = (b: Uint8Array) => bytesToHex(b).toLowerCase();
  const pairs: [string, string | bigint, string | bigint, boolean][] = [
    [
      "payment.sender",
      hex(claimed.sender),
      payment.sender.toLowerCase(),
      claimed.sender.length > 0,
    ],
    [
      "payment.recipient",
      hex(claimed.recipient),
      payment.recipient.toLowerCase(),
      claimed.recipient.length > 0,
    ],
    ["payment.amount", claimed.amount, payment.amount, claimed.amount !== 0n],
    ["payment.asset", hex(claimed.asset), payment.asset.toLowerCase(), claimed.asset.length > 0],
    ["payment.chain_id", claimed.chainId, payment.chainId, claimed.chainId !== 0n],
    [
      "payment.nonce_key",
      hex(claimed.nonceKey),
      hex(payment.nonceKey),
      claimed.nonceKey.length > 0,
    ],
    ["payment.nonce_seq", claimed.nonceSeq, payment.nonceSeq, claimed.nonceSeq !== 0n],
    [
      "payment.expiry_unix_millis",
      claimed.expiryUnixMillis,
      payment.validBeforeMillis,
      claimed.expiryUnixMillis !== 0n,
    ],
  ];
  for (const [field, given, derived, present] of pairs) {
    if (present && given !== derived) {
      invalidFormat(field, `${given} differs from the signed transaction's ${derived}`);
    }
  }
}

async function judgeParent(
  child: Payment,
  parentQcHash: Uint8Array,
  parents: readonly ParentRequest[],
  context: PrepareContext,
): Promise<ParentVerdict> {
  const committee = context.committee;
  const parent = parents.find((p) => p.qc && bytesEqual(p.qc.qcHash, parentQcHash));
  if (parent?.qc === undefined) {
    return {
      ok: false,
      code: "MISSING_PARENT_QC",
      message: `parent_qc_hash ${bytesToHex(parentQcHash)} names a QC the request does not carry`,
    };
  }
  const qc = parent.qc;
  try {
    checkParentBinding(child, parentQcHash);
    await verifyQuorumCertificate(committee, qc, context.ed25519);
    const grandparent = parent.parentQcHash.length > 0 ? parent.parentQcHash : undefined;
    if (grandparent !== undefined && grandparent.length !== 32) {
      throw new AllegroError("INVALID_PARENT_QC", "parents[].parent_qc_hash is not 32 bytes");
    }
    let payment: Payment;
    try {
      payment = decode(context, parent.signedTx);
    } catch (e) {
      throw new AllegroError("INVALID_PARENT_QC", `parent signed_tx: ${(e as Error).message}`);
    }
    const parentTxHash = paymentTxHash(payment, grandparent);
    if (!bytesEqual(parentTxHash, qc.txHash)) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent signed_tx hashes to tx_hash ${bytesToHex(parentTxHash)}, the QC certifies ${
          bytesToHex(qc.txHash)
        }`,
      );
    }
    if (!bytesEqual(paymentEffectsHash(payment), qc.effectsHash)) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        "parent signed_tx does not match the QC's effects_hash",
      );
    }
    if (payment.recipient.toLowerCase() !== child.sender.toLowerCase()) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent pays ${payment.recipient}, not this payment's sender ${child.sender}`,
      );
    }
    if (payment.asset.toLowerCase() !== child.asset.toLowerCase()) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent pays in ${payment.asset}, this payment spends ${child.asset}`,
      );
    }
    return {
      ok: true,
      credit: {
        txHash: qc.txHash,
        qcHash: qc.qcHash,
        chainTxHash: keccak256(payment.rawTx),
        rawTx: payment.rawTx,
        recipient: payment.recipient.toLowerCase() as Hex,
        asset: payment.asset.toLowerCase() as Hex,
        amount: payment.amount,
        sender: payment.sender.toLowerCase() as Hex,
        nonceKey: payment.nonceKey,
        nonceSeq: payment.nonceSeq,
      },
    };
  } catch (e) {
    if (e instanceof AllegroError && e.code === "INVALID_PARENT_QC") {
      return { ok: false, code: "INVALID_PARENT_QC", message: e.message };
    }
    throw e;
  }
}

/**
 * Decodes and hashes a submission. Throws {@linkcode AllegroError} for rules 1–3 of SPEC §5
 * (`INVALID_FORMAT`, `WRONG_CHAIN`, `NOT_PAYMENT_TX`); parent problems are returned in
 * `parent` for {@linkcode decide} to report at rule 8.
 *
 * @example
 * ```ts ignore
 * const submission = await prepareSubmission(request, context);
 * ```
 */
export async function prepareSubmission(
  request: SubmissionRequest,
  context: PrepareContext,
): Promise<Submission> {
  // A copy: it is stored, and a binary request's fields are views into the whole request body.
  const parentQcHash = request.parentQcHash.length > 0 ? request.parentQcHash.slice() : undefined;
  if (parentQcHash !== undefined && parentQcHash.length !== 32) {
    invalidFormat("parent_qc_hash", `must be 32 bytes, got ${parentQcHash.length}`);
  }
  if (request.clientRequestId.length > context.maxClientRequestIdLength) {
    invalidFormat(
      "client_request_id",
      `is ${request.clientRequestId.length} characters, the limit is ${context.maxClientRequestIdLength}`,
    );
  }
  if (request.parents.length > context.maxParents) {
    invalidFormat(
      "parents",
      `has ${request.parents.length} entries, the limit is ${context.maxParents}`,
    );
  }
  const payment = decode(context, request.signedTx);
  checkClaims(payment, request.payment);
  if (payment.gas < context.minGas) {
    invalidFormat("gas", `${payment.gas} is below the ${context.minGas} a payment may need`);
  }
  return {
    payment,
    txHash: paymentTxHash(payment, parentQcHash),
    effectsHash: paymentEffectsHash(payment),
    chainTxHash: keccak256(payment.rawTx),
    maxFee: maxFeeOf(payment),
    ...(request.clientRequestId === "" ? {} : { clientRequestId: request.clientRequestId }),
    ...(parentQcHash === undefined ? {} : {
      parentQcHash,
      parent: await judgeParent(payment, parentQcHash, request.parents, context),
    }),
  };
}

/**
 * JSON shapes of the REST API: bytes as `0x` hex, u64 as decimal strings, and strict readers for
 * what clients send (a parent QC in a payment request).
 *
 * @module
 */
import { bytesToHex, type Hex, hexToBytes, isHex } from "viem";
import type { Certificate, QuorumCertificate } from "@allegro/client";
import type { SubmitResult } from "./aggregator.ts";
import type { Head } from "./chain.ts";
import type { ValidatorHealth } from "./health.ts";
import type { RecordCertificate, RecordReject, TxRecord } from "./record.ts";

/** A certificate as JSON. */
export function certificateJson(c: Certificate) {
  return {
    signer: bytesToHex(c.signer),
    tx_hash: bytesToHex(c.txHash),
    effects_hash: bytesToHex(c.effectsHash),
    signature: bytesToHex(c.signature),
    created_unix_millis: c.createdUnixMillis.toString(),
  };
}

/** A QC as JSON. */
export function qcJson(qc: QuorumCertificate) {
  return {
    tx_hash: bytesToHex(qc.txHash),
    effects_hash: bytesToHex(qc.effectsHash),
    threshold: qc.threshold,
    certificates: qc.certificates.map(certificateJson),
    qc_hash: bytesToHex(qc.qcHash),
  };
}

/** A validator's certificate in a status. */
export function recordCertificateJson(c: RecordCertificate) {
  return {
    validator: c.validator,
    ...certificateJson(c.certificate),
    received_unix_millis: c.receivedMillis.toString(),
  };
}

/** A validator's reject in a status. */
export function rejectJson(r: RecordReject) {
  return {
    validator: r.validator,
    signer: bytesToHex(r.signer),
    code: r.code,
    message: r.message,
    kind: r.kind,
    at_unix_millis: r.atMillis.toString(),
  };
}

/** The full status of a payment (`GET /api/v1/tx/{tx_hash}`). */
export function txJson(r: TxRecord) {
  const at = (stage: string) =>
    r.history.findLast((h) => h.stage === stage)?.atMillis.toString() ?? null;
  const p = r.payment;
  return {
    tx_hash: bytesToHex(r.txHash),
    effects_hash: bytesToHex(r.effectsHash),
    chain_tx_hash: r.chainTxHash,
    stage: r.stage,
    payment: {
      sender: p.sender,
      recipient: p.recipient,
      amount: p.amount.toString(),
      asset: p.asset,
      fee_token: p.feeToken,
      chain_id: p.chainId.toString(),
      nonce_key: bytesToHex(p.nonceKey),
      nonce_seq: p.nonceSeq.toString(),
      valid_before_unix_millis: p.validBeforeMillis.toString(),
      memo: p.memo ? bytesToHex(p.memo) : null,
      gas: p.gas.toString(),
      max_fee_per_gas: p.maxFeePerGas.toString(),
    },
    signed_tx: bytesToHex(r.signedTx),
    parent_qc_hash: r.parentQcHash.length ? bytesToHex(r.parentQcHash) : null,
    certificates: r.certificates.map(recordCertificateJson),
    rejects: r.rejects.map(rejectJson),
    qc: r.qc ? qcJson(r.qc) : null,
    block: r.block ? { height: r.block.height.toString(), hash: r.block.hash } : null,
    timestamps: {
      first_seen: r.firstSeenMillis.toString(),
      accepted: at("ACCEPTED"),
      certified: at("CERTIFIED"),
      queued_onchain: at("QUEUED_ONCHAIN"),
      included: at("INCLUDED"),
      finalized: at("FINALIZED"),
      rejected: at("REJECTED"),
      expired: at("EXPIRED"),
      failed: at("FAILED"),
    },
    history: r.history.map((h) => ({
      stage: h.stage,
      at_unix_millis: h.atMillis.toString(),
      ...(h.blockHeight !== undefined ? { block_height: h.blockHeight.toString() } : {}),
    })),
    source: r.source,
  };
}

/** The answer to `POST /api/v1/payments`. */
export function submitJson(s: SubmitResult, committee: { threshold: number; n: number }) {
  return {
    tx_hash: bytesToHex(s.txHash),
    effects_hash: bytesToHex(s.effectsHash),
    chain_tx_hash: s.record?.chainTxHash ?? null,
    stage: s.record?.stage ?? null,
    outcome: s.outcome,
    replayed: s.replayed,
    threshold: committee.threshold,
    validators: committee.n,
    certificates: s.certificates.map(recordCertificateJson),
    rejects: s.rejects.map(rejectJson),
    qc: s.record?.qc ? qcJson(s.record.qc) : null,
  };
}

/** A chain head as JSON. */
export function headJson(h: Head) {
  return {
    height: h.height.toString(),
    hash: h.hash,
    timestamp_unix_millis: h.timestampMillis.toString(),
    received_unix_millis: h.receivedMillis.toString(),
  };
}

/** A validator's health as JSON. */
export function validatorJson(v: ValidatorHealth) {
  return {
    name: v.name,
    pubkey: v.pubkey,
    endpoint: v.endpoint,
    up: v.status === "up",
    status: v.status,
    latency_ms: v.latencyMillis ?? null,
    head: v.head
      ? {
        height: v.head.height.toString(),
        hash: v.head.hash,
        timestamp_unix_millis: v.head.timestampMillis.toString(),
      }
      : null,
    checked_unix_millis: v.checkedMillis?.toString() ?? null,
    last_up_unix_millis: v.lastUpMillis?.toString() ?? null,
    error: v.error ?? null,
  };
}

/** A client input that does not have the expected shape. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** `value` as bytes from `0x` hex (of `size` bytes when given); throws {@linkcode InputError}. */
export function hexField(field: string, value: unknown, size?: number): Uint8Array {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || value.length % 2 !== 0) {
    throw new InputError(`${field} must be 0x-prefixed hex, got ${describe(value)}`);
  }
  const bytes = hexToBytes(value as Hex);
  if (size !== undefined && bytes.length !== size) {
    throw new InputError(`${field} must be ${size} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function u64Field(field: string, value: unknown): bigint {
  const ok = (typeof value === "string" && /^[0-9]{1,20}$/.test(value)) ||
    (typeof value === "number" && Number.isSafeInteger(value) && value >= 0);
  const v = ok ? BigInt(value as string | number) : -1n;
  if (v < 0n || v >= 1n << 64n) {
    throw new InputError(`${field} must be a u64 as a decimal string, got ${describe(value)}`);
  }
  return v;
}

function objectField(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(`${field} must be a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** A QC from JSON (shape only; verify it before use). */
export function qcFromJson(field: string, value: unknown): QuorumCertificate {
  const o = objectField(field, value);
  if (!Array.isArray(o.certificates) || o.certificates.length > 1024) {
    throw new InputError(`${field}.certificates must be an array of at most 1024 certificates`);
  }
  const threshold = Number(u64Field(`${field}.threshold`, o.threshold));
  return {
    txHash: hexField(`${field}.tx_hash`, o.tx_hash, 32),
    effectsHash: hexField(`${field}.effects_hash`, o.effects_hash, 32),
    threshold,
    certificates: o.certificates.map((raw, i) => {
      const at = `${field}.certificates[${i}]`;
      const c = objectField(at, raw);
      return {
        signer: hexField(`${at}.signer`, c.signer, 32),
        txHash: hexField(`${at}.tx_hash`, c.tx_hash ?? o.tx_hash, 32),
        effectsHash: hexField(`${at}.effects_hash`, c.effects_hash ?? o.effects_hash, 32),
        signature: hexField(`${at}.signature`, c.signature, 64),
        createdUnixMillis: u64Field(`${at}.created_unix_millis`, c.created_unix_millis),
      };
    }),
    qcHash: hexField(`${field}.qc_hash`, o.qc_hash, 32),
  };
}

/** The body of `POST /api/v1/payments`, checked for shape. */
export interface PaymentRequestJson {
  readonly signedTx: Uint8Array;
  readonly parentQcHash: Uint8Array;
  readonly parent?: {
    readonly qc: QuorumCertificate;
    readonly signedTx: Uint8Array;
    readonly parentQcHash: Uint8Array;
  };
  readonly clientRequestId: string;
}

/** Reads a payment request body; throws {@linkcode InputError} naming the field. */
export function paymentRequestFromJson(body: unknown): PaymentRequestJson {
  const o = objectField("body", body);
  if (o.signed_tx === undefined) throw new InputError("signed_tx is required");
  const signedTx = hexField("signed_tx", o.signed_tx);
  if (signedTx.length === 0) throw new InputError("signed_tx is empty");
  const parentQcHash = o.parent_qc_hash === undefined || o.parent_qc_hash === null
    ? new Uint8Array()
    : hexField("parent_qc_hash", o.parent_qc_hash, 32);
  let parent: PaymentRequestJson["parent"];
  if (o.parent !== undefined && o.parent !== null) {
    const p = objectField("parent", o.parent);
    parent = {
      qc: qcFromJson("parent.qc", p.qc),
      signedTx: hexField("parent.signed_tx", p.signed_tx),
      parentQcHash: p.parent_qc_hash === undefined || p.parent_qc_hash === null
        ? new Uint8Array()
        : hexField("parent.parent_qc_hash", p.parent_qc_hash, 32),
    };
  }
  let clientRequestId = "";
  if (o.client_request_id !== undefined && o.client_request_id !== null) {
    if (typeof o.client_request_id !== "string") {
      throw new InputError(
        `client_request_id must be a string, got ${describe(o.client_request_id)}`,
      );
    }
    clientRequestId = o.client_request_id;
  }
  return { signedTx, parentQcHash, ...(parent ? { parent } : {}), clientRequestId };
}

/**
 * JSON shapes of the REST API — bytes as `0x` hex, u64 as decimal strings, snake_case names
 * mirroring the `allegro.v1` messages — and a strict reader of what clients send: a payment
 * request becomes the very `SubmitFastPayRequest` message the Connect service takes, so both
 * reach the same checks. Every reader error names the field and the value.
 *
 * @module
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { bytesToHex, type Hex, hexToBytes, isHex } from "viem";
import {
  type CertifiedOrderSchema,
  type PaymentOrderSchema,
  type QuorumCertificateSchema,
  type SignedOrderSchema,
  type SubmitFastPayRequest,
  SubmitFastPayRequestSchema,
  type ValidatorCertificateSchema,
} from "@allegro/proto";
import type { Certificate, PaymentOrder, QuorumCertificate, SignedOrder } from "@allegro/client";
import { MAX_LANE_QCS, type SubmitResult } from "./aggregator.ts";
import type { ValidatorHealth } from "./health.ts";
import { type RecordCertificate, type RecordReject, stageTime, type TxRecord } from "./record.ts";
import type { Head } from "./tracker.ts";

/**
 * An order as JSON.
 *
 * @example
 * ```ts ignore
 * const json = orderJson(record.signed.order);
 * ```
 */
export function orderJson(o: PaymentOrder) {
  return {
    chain_id: o.chainId.toString(),
    vault: o.vault,
    payer: o.payer,
    recipient: o.recipient,
    token: o.token,
    amount: o.amount.toString(),
    fee: o.fee.toString(),
    seq: o.seq.toString(),
    valid_before: o.validBefore.toString(),
    parent: o.parent,
    exit: o.exit,
    memo: o.memo,
  };
}

/**
 * A signed order as JSON: `{ order, signature }`.
 *
 * @example
 * ```ts
 * import { signedOrderJson } from "./json.ts";
 *
 * const json = signedOrderJson({
 *   order: {
 *     chainId: 1337n, vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *     payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *     recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *     token: "0x20c0000000000000000000000000000000000000", amount: 10n, fee: 0n, seq: 0n,
 *     validBefore: 1_900_000_000_000n, parent: `0x${"00".repeat(32)}`, exit: false,
 *     memo: `0x${"00".repeat(32)}`,
 *   },
 *   signature: `0x${"11".repeat(65)}`,
 * });
 * console.log(json.order.amount, json.order.valid_before); // 10 1900000000000
 * ```
 */
export function signedOrderJson(s: SignedOrder) {
  return { order: orderJson(s.order), signature: s.signature };
}

/** A certificate as JSON. */
function certificateJson(c: Certificate) {
  return {
    signer: bytesToHex(c.signer),
    tx_hash: bytesToHex(c.txHash),
    effects_hash: bytesToHex(c.effectsHash),
    signature: bytesToHex(c.signature),
    attestation: bytesToHex(c.attestation),
    created_unix_millis: c.createdUnixMillis.toString(),
    epoch: c.epoch.toString(),
  };
}

/** A QC as JSON. */
function qcJson(qc: QuorumCertificate) {
  return {
    tx_hash: bytesToHex(qc.txHash),
    effects_hash: bytesToHex(qc.effectsHash),
    threshold: qc.threshold,
    epoch: qc.epoch.toString(),
    qc_hash: bytesToHex(qc.qcHash),
    certificates: qc.certificates.map(certificateJson),
  };
}

/**
 * A certified order as JSON: `{ tx_hash, order, qc }` — what a recipient cites as `parent`.
 *
 * @example
 * ```ts ignore
 * const json = certifiedOrderJson(record.txHash, record.signed, record.qc);
 * ```
 */
export function certifiedOrderJson(txHash: Hex, signed: SignedOrder, qc: QuorumCertificate) {
  return { tx_hash: txHash, order: signedOrderJson(signed), qc: qcJson(qc) };
}

function recordCertificateJson(c: RecordCertificate) {
  return {
    validator: c.validator,
    ...certificateJson(c.certificate),
    received_unix_millis: c.receivedMillis.toString(),
  };
}

function rejectJson(r: RecordReject) {
  return {
    validator: r.validator,
    signer: bytesToHex(r.signer),
    code: r.code,
    message: r.message,
    kind: r.kind,
    at_unix_millis: r.atMillis.toString(),
  };
}

const optional = (v: bigint | undefined) => v?.toString() ?? null;

/**
 * A payment's record as JSON (`GET /api/v1/tx/{tx_hash}`).
 *
 * @example
 * ```ts ignore
 * const json = txJson(record);
 * ```
 */
export function txJson(r: TxRecord) {
  return {
    tx_hash: r.txHash,
    effects_hash: r.effectsHash,
    stage: r.stage,
    order: signedOrderJson(r.signed),
    certificates: r.certificates.map(recordCertificateJson),
    rejects: r.rejects.map(rejectJson),
    qc: r.qc ? qcJson(r.qc) : null,
    block_height: optional(r.blockHeight),
    settlement: r.settlement
      ? { tx_hash: r.settlement.txHash, gas_used: optional(r.settlement.gasUsed) }
      : null,
    failure: r.failure ?? null,
    timestamps: {
      first_seen: r.firstSeenMillis.toString(),
      certified: optional(stageTime(r, "CERTIFIED") ?? stageTime(r, "CONFIRMED")),
      queued_onchain: optional(stageTime(r, "QUEUED_ONCHAIN")),
      included: optional(stageTime(r, "INCLUDED")),
      finalized: optional(stageTime(r, "FINALIZED")),
    },
    history: r.history.map((h) => ({
      stage: h.stage,
      at_unix_millis: h.atMillis.toString(),
      block_height: optional(h.blockHeight),
    })),
    source: r.source,
  };
}

/**
 * The answer to `POST /api/v1/payments` (also `error.details` of its 422 and 503 answers).
 *
 * @example
 * ```ts ignore
 * const json = submissionJson(result, { threshold: 3, validators: 4 });
 * ```
 */
export function submissionJson(
  s: SubmitResult,
  committee: { readonly threshold: number; readonly validators: number },
) {
  return {
    tx_hash: s.txHash,
    effects_hash: s.effectsHash,
    stage: s.record?.stage ?? null,
    outcome: s.outcome,
    replayed: s.replayed,
    threshold: committee.threshold,
    validators: committee.validators,
    certificates: s.certificates.map(recordCertificateJson),
    rejects: s.rejects.map(rejectJson),
    qc: s.record?.qc ? qcJson(s.record.qc) : null,
  };
}

/**
 * A chain head as JSON.
 *
 * @example
 * ```ts
 * import { headJson } from "./json.ts";
 *
 * console.log(headJson({ height: 7n, hash: "0x01", time: 7000n, headerMillis: 7250n,
 *   receivedMillis: 7300n }).timestamp_unix_millis); // 7000
 * ```
 */
export function headJson(h: Head) {
  return {
    height: h.height.toString(),
    hash: h.hash,
    timestamp_unix_millis: h.time.toString(),
    header_unix_millis: h.headerMillis.toString(),
    received_unix_millis: h.receivedMillis.toString(),
  };
}

/**
 * A validator's health as JSON.
 *
 * @example
 * ```ts ignore
 * const json = validatorJson(health.snapshot()[0]);
 * ```
 */
export function validatorJson(v: ValidatorHealth) {
  return {
    name: v.name,
    pubkey: v.pubkey,
    endpoint: v.endpoint,
    settlement_address: v.settlementAddress,
    up: v.status === "up",
    status: v.status,
    latency_ms: v.latencyMillis ?? null,
    head: v.head
      ? {
        height: v.head.height.toString(),
        hash: v.head.hash,
        timestamp_unix_millis: v.head.time.toString(),
      }
      : null,
    checked_unix_millis: v.checkedMillis?.toString() ?? null,
    error: v.error ?? null,
  };
}

/**
 * A client input that does not have the expected shape; the message names the field and value.
 *
 * @example
 * ```ts
 * import { InputError } from "./json.ts";
 *
 * console.log(new InputError("tx_hash must be 32 bytes, got 3").name); // InputError
 * ```
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/**
 * `value` as bytes from `0x` hex (of `size` bytes when given); throws {@linkcode InputError}.
 *
 * @example
 * ```ts
 * import { hexField } from "./json.ts";
 *
 * console.log(hexField("tx_hash", `0x${"ab".repeat(32)}`, 32).length); // 32
 * ```
 */
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

/** `value` as an object with only `keys` (`required` among them); throws naming the field. */
function objectField(
  field: string,
  value: unknown,
  keys: readonly string[],
  required: readonly string[],
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(`${field} must be a JSON object, got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  const at = (k: string) => field === "body" ? k : `${field}.${k}`;
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new InputError(`${at(k)} is not a known field`);
  }
  for (const k of required) {
    if (o[k] === undefined || o[k] === null) throw new InputError(`${at(k)} is required`);
  }
  return o;
}

function arrayField(field: string, value: unknown, max: number): unknown[] {
  if (!Array.isArray(value)) {
    throw new InputError(`${field} must be an array, got ${describe(value)}`);
  }
  if (value.length > max) {
    throw new InputError(`${field} has ${value.length} entries, at most ${max}`);
  }
  return value;
}

/** The fields of an order in JSON; the last four may be left out (their zero values). */
const ORDER_KEYS = [
  ...["chain_id", "vault", "payer", "recipient", "token", "amount", "seq", "valid_before"],
  ...["fee", "parent", "exit", "memo"],
];

function orderFromJson(field: string, value: unknown): MessageInitShape<typeof PaymentOrderSchema> {
  const o = objectField(field, value, ORDER_KEYS, ORDER_KEYS.slice(0, 8));
  const word = (k: string) =>
    o[k] === undefined || o[k] === null ? new Uint8Array(32) : hexField(`${field}.${k}`, o[k], 32);
  if (o.exit !== undefined && o.exit !== null && typeof o.exit !== "boolean") {
    throw new InputError(`${field}.exit must be true or false, got ${describe(o.exit)}`);
  }
  return {
    chainId: u64Field(`${field}.chain_id`, o.chain_id),
    vault: hexField(`${field}.vault`, o.vault, 20),
    payer: hexField(`${field}.payer`, o.payer, 20),
    recipient: hexField(`${field}.recipient`, o.recipient, 20),
    token: hexField(`${field}.token`, o.token, 20),
    amount: u64Field(`${field}.amount`, o.amount),
    fee: o.fee === undefined || o.fee === null ? 0n : u64Field(`${field}.fee`, o.fee),
    seq: u64Field(`${field}.seq`, o.seq),
    validBefore: u64Field(`${field}.valid_before`, o.valid_before),
    parent: word("parent"),
    exit: o.exit === true,
    memo: word("memo"),
  };
}

function signedOrderFromJson(
  field: string,
  value: unknown,
): MessageInitShape<typeof SignedOrderSchema> {
  const o = objectField(field, value, ["order", "signature"], ["order", "signature"]);
  return {
    order: orderFromJson(`${field}.order`, o.order),
    payerSignature: hexField(`${field}.signature`, o.signature, 65),
  };
}

/** Most certificates one QC in a request may hold. */
const MAX_QC_CERTIFICATES = 256;

function qcFromJson(
  field: string,
  value: unknown,
): MessageInitShape<typeof QuorumCertificateSchema> {
  const o = objectField(
    field,
    value,
    ["tx_hash", "effects_hash", "threshold", "epoch", "qc_hash", "certificates"],
    ["tx_hash", "effects_hash", "threshold", "epoch", "qc_hash", "certificates"],
  );
  const threshold = u64Field(`${field}.threshold`, o.threshold);
  if (threshold > 0xffffffffn) {
    throw new InputError(`${field}.threshold must be a u32, got ${describe(o.threshold)}`);
  }
  const certificates = arrayField(`${field}.certificates`, o.certificates, MAX_QC_CERTIFICATES)
    .map((raw, i): MessageInitShape<typeof ValidatorCertificateSchema> => {
      const at = `${field}.certificates[${i}]`;
      const c = objectField(at, raw, [
        "signer",
        "tx_hash",
        "effects_hash",
        "signature",
        "attestation",
        "created_unix_millis",
        "epoch",
      ], ["signer", "signature", "attestation", "created_unix_millis"]);
      return {
        signer: hexField(`${at}.signer`, c.signer, 32),
        txHash: hexField(`${at}.tx_hash`, c.tx_hash ?? o.tx_hash, 32),
        effectsHash: hexField(`${at}.effects_hash`, c.effects_hash ?? o.effects_hash, 32),
        signature: hexField(`${at}.signature`, c.signature, 64),
        attestation: hexField(`${at}.attestation`, c.attestation, 65),
        createdUnixMillis: u64Field(`${at}.created_unix_millis`, c.created_unix_millis),
        epoch: u64Field(`${at}.epoch`, c.epoch ?? o.epoch),
      };
    });
  return {
    txHash: hexField(`${field}.tx_hash`, o.tx_hash, 32),
    effectsHash: hexField(`${field}.effects_hash`, o.effects_hash, 32),
    threshold: Number(threshold),
    epoch: u64Field(`${field}.epoch`, o.epoch),
    qcHash: hexField(`${field}.qc_hash`, o.qc_hash, 32),
    certificates,
  };
}

function certifiedOrderFromJson(
  field: string,
  value: unknown,
): MessageInitShape<typeof CertifiedOrderSchema> {
  const o = objectField(field, value, ["tx_hash", "order", "qc"], ["order", "qc"]);
  return {
    order: signedOrderFromJson(`${field}.order`, o.order),
    qc: qcFromJson(`${field}.qc`, o.qc),
  };
}

/**
 * Reads the body of `POST /api/v1/payments` — `{ order, lane_qcs?, parent?,
 * client_request_id? }`, the JSON form of `SubmitFastPayRequest` — checking every field's shape
 * (hex and sizes, u64 decimal strings, no unknown fields); throws {@linkcode InputError} naming
 * the field. The order's meaning (signature, chain, parent binding) is checked afterwards, as
 * for a Connect request.
 *
 * @example
 * ```ts
 * import { InputError, submitRequestFromJson } from "./json.ts";
 *
 * try {
 *   submitRequestFromJson({ order: { order: {}, signature: "0x" } });
 * } catch (e) {
 *   console.log(e instanceof InputError, (e as Error).message); // true order.order.chain_id is required
 * }
 * ```
 */
export function submitRequestFromJson(body: unknown): SubmitFastPayRequest {
  const o = objectField("body", body, ["order", "lane_qcs", "parent", "client_request_id"], [
    "order",
  ]);
  const id = o.client_request_id;
  if (id !== undefined && id !== null && typeof id !== "string") {
    throw new InputError(`client_request_id must be a string, got ${describe(id)}`);
  }
  const laneQcs = o.lane_qcs === undefined || o.lane_qcs === null
    ? []
    : arrayField("lane_qcs", o.lane_qcs, MAX_LANE_QCS).map((q, i) =>
      certifiedOrderFromJson(`lane_qcs[${i}]`, q)
    );
  return create(SubmitFastPayRequestSchema, {
    order: signedOrderFromJson("order", o.order),
    laneQcs,
    ...(o.parent !== undefined && o.parent !== null
      ? { parent: certifiedOrderFromJson("parent", o.parent) }
      : {}),
    clientRequestId: typeof id === "string" ? id : "",
  });
}

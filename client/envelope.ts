/**
 * A direct parser for the one envelope shape a signed Allegro payment has: a type `0x76` Tempo
 * transaction whose RLP list holds 14 fields — one call, no access list, no fee payer, no
 * authorizations, no key authorization — and a 65-byte secp256k1 signature (`v` 27 or 28). It gives the fields
 * exactly as ox's `TxEnvelopeTempo.deserialize` would, without ox's detour through hex strings,
 * its second parse and its implicit sender recovery, and it accepts only bytes that are the
 * canonical encoding of what they decode to (so no re-encoding is needed to check that).
 *
 * Anything else — another shape, a non-canonical encoding, a value ox would refuse — gives
 * `undefined`, and {@linkcode decodePayment} takes the general path through ox, which decides
 * and words the reject. `envelope_test.ts` checks both paths agree on every input this accepts.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";

/** The fields of a signed payment envelope, as ox's `TxEnvelopeTempo.deserialize` gives them. */
export interface PaymentEnvelope {
  readonly tx: {
    readonly chainId: number;
    readonly maxPriorityFeePerGas?: bigint;
    readonly maxFeePerGas?: bigint;
    readonly gas?: bigint;
    readonly calls: readonly { to?: Hex; value?: bigint; data?: Hex }[];
    readonly nonceKey: bigint;
    readonly nonce: bigint;
    readonly validBefore?: number;
    readonly validAfter?: number;
    readonly feeToken?: Hex;
    readonly feePayerSignature?: undefined;
    readonly keyAuthorization?: undefined;
    readonly authorizationList?: undefined;
    readonly signature: {
      readonly type: "secp256k1";
      readonly signature: { r: bigint; s: bigint; yParity: 0 | 1 };
    };
  };
  /** What the sender signed: the transaction without its signature (`0x76 || rlp(fields 0–12)`). */
  readonly unsigned: Uint8Array;
}

/** An RLP item: a byte string (a view into the input) or a list of items. */
type Item = Uint8Array | Item[];

/** Thrown inside the parser for any shape or encoding it does not take; never escapes. */
const DECLINE = Symbol("decline");

const TEMPO_TX_TYPE = 0x76;
const FIELDS = 14;
const SIGNATURE_FIELD = 13;

/**
 * Parses `raw` if it is a canonically encoded payment envelope of the shape described in the
 * module documentation, else returns `undefined` (the caller then decodes it the general way).
 *
 * @example
 * ```ts
 * import { parsePaymentEnvelope } from "./envelope.ts";
 *
 * console.log(parsePaymentEnvelope(new Uint8Array([0x76, 0xc0]))); // undefined: not 14 fields
 * ```
 */
export function parsePaymentEnvelope(raw: Uint8Array): PaymentEnvelope | undefined {
  try {
    return parse(raw);
  } catch (e) {
    if (e === DECLINE) return undefined;
    throw e;
  }
}

function parse(raw: Uint8Array): PaymentEnvelope {
  if (raw[0] !== TEMPO_TX_TYPE) throw DECLINE;
  const [list, end] = readItem(raw, 1);
  if (end !== raw.length || !Array.isArray(list) || list.length !== FIELDS) throw DECLINE;
  const [
    chainId,
    maxPriorityFeePerGas,
    maxFeePerGas,
    gas,
    calls,
    accessList,
    nonceKey,
    nonce,
    validBefore,
    validAfter,
    feeToken,
    feePayer,
    authorizationList,
    signature,
  ] = list;
  const emptyList = (item: Item) => Array.isArray(item) && item.length === 0;
  if (!emptyList(accessList) || !emptyList(authorizationList)) throw DECLINE;
  if (!(feePayer instanceof Uint8Array) || feePayer.length !== 0) throw DECLINE;

  const tx = {
    chainId: safeInteger(chainId, 1),
    ...optional("maxPriorityFeePerGas", integer(maxPriorityFeePerGas)),
    ...optional("maxFeePerGas", integer(maxFeePerGas)),
    ...optional("gas", integer(gas)),
    calls: [call(calls)],
    nonceKey: integer(nonceKey),
    nonce: integer(nonce),
    ...optional("validBefore", empty(validBefore) ? undefined : safeInteger(validBefore, 0)),
    ...optional("validAfter", empty(validAfter) ? undefined : safeInteger(validAfter, 0)),
    ...optional("feeToken", address(feeToken, true)),
    signature: { type: "secp256k1" as const, signature: secp256k1Signature(signature) },
  };
  // What ox's `assert` refuses: a tip above the fee cap, an empty validity window.
  if ((tx.maxPriorityFeePerGas ?? 0n) > (tx.maxFeePerGas ?? 0n)) throw DECLINE;
  if (
    tx.validBefore !== undefined && tx.validAfter !== undefined &&
    tx.validBefore <= tx.validAfter
  ) {
    throw DECLINE;
  }
  return { tx, unsigned: unsignedBytes(raw, list) };
}

/** `0x76 || rlp(fields 0–12)`: the fields are contiguous in `raw`, only the list header differs. */
function unsignedBytes(raw: Uint8Array, list: Item[]): Uint8Array {
  const signature = list[SIGNATURE_FIELD] as Uint8Array;
  const first = list[0] as Uint8Array;
  // The fields start where the first one's header does: find it from the first field's bytes.
  const fieldsEnd = signature.byteOffset - raw.byteOffset - headerLength(signature.length);
  const fieldsStart = first.byteOffset - raw.byteOffset - headerLength(first.length, first[0]);
  const payload = fieldsEnd - fieldsStart;
  const header = listHeader(payload);
  const out = new Uint8Array(1 + header.length + payload);
  out[0] = TEMPO_TX_TYPE;
  out.set(header, 1);
  out.set(raw.subarray(fieldsStart, fieldsEnd), 1 + header.length);
  return out;
}

/** Length of the RLP header of a byte string of `length` bytes (`first`: its first byte). */
function headerLength(length: number, first?: number): number {
  if (length === 1 && first !== undefined && first < 0x80) return 0;
  return length < 56 ? 1 : 1 + byteLength(length);
}

function listHeader(length: number): Uint8Array {
  if (length < 56) return new Uint8Array([0xc0 + length]);
  const n = byteLength(length);
  const out = new Uint8Array(1 + n);
  out[0] = 0xf7 + n;
  for (let i = n, v = length; i > 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

function byteLength(n: number): number {
  let bytes = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes++;
  return bytes;
}

/**
 * Reads one canonically encoded RLP item at `at`; returns it and where it ends. Declines
 * non-minimal headers and single bytes below `0x80` wrapped in a header.
 */
function readItem(buf: Uint8Array, at: number): [Item, number] {
  if (at >= buf.length) throw DECLINE;
  const prefix = buf[at];
  if (prefix < 0x80) return [buf.subarray(at, at + 1), at + 1];
  if (prefix <= 0xbf) {
    const [start, length] = prefix <= 0xb7
      ? [at + 1, prefix - 0x80]
      : longLength(buf, at, prefix - 0xb7);
    const end = start + length;
    if (end > buf.length) throw DECLINE;
    if (length === 1 && buf[start] < 0x80) throw DECLINE;
    return [buf.subarray(start, end), end];
  }
  const [start, length] = prefix <= 0xf7
    ? [at + 1, prefix - 0xc0]
    : longLength(buf, at, prefix - 0xf7);
  const end = start + length;
  if (end > buf.length) throw DECLINE;
  const items: Item[] = [];
  for (let p = start; p < end;) {
    const [item, next] = readItem(buf, p);
    if (next > end) throw DECLINE;
    items.push(item);
    p = next;
  }
  return [items, end];
}

/** A long-form length of `n` bytes after the prefix at `at`: minimal and at least 56. */
function longLength(buf: Uint8Array, at: number, n: number): [number, number] {
  if (n > 4 || at + 1 + n > buf.length || buf[at + 1] === 0) throw DECLINE;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + buf[at + 1 + i];
  if (length < 56) throw DECLINE;
  return [at + 1 + n, length];
}

function empty(item: Item): boolean {
  return item instanceof Uint8Array && item.length === 0;
}

/** A canonical unsigned integer: no leading zero byte (zero is the empty string). */
function integer(item: Item): bigint {
  if (!(item instanceof Uint8Array) || item[0] === 0) throw DECLINE;
  if (item.length === 0) return 0n;
  return BigInt(bytesToHex(item));
}

function safeInteger(item: Item, min: number): number {
  const value = integer(item);
  if (value < BigInt(min) || value > BigInt(Number.MAX_SAFE_INTEGER)) throw DECLINE;
  return Number(value);
}

/** A 20-byte address as lowercase hex; the empty string only where `optional`. */
function address(item: Item, optional: boolean): Hex | undefined {
  if (!(item instanceof Uint8Array)) throw DECLINE;
  if (item.length === 0 && optional) return undefined;
  if (item.length !== 20) throw DECLINE;
  return bytesToHex(item);
}

/** `{ [key]: value }`, or nothing when the field is unset, the way ox leaves it out. */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined || value === 0n ? {} : { [key]: value }) as { [k in K]?: V };
}

/** The calls list: exactly one `[to, value, data]` with a 20-byte `to`. */
function call(calls: Item): { to?: Hex; value?: bigint; data?: Hex } {
  if (!Array.isArray(calls) || calls.length !== 1) throw DECLINE;
  const tuple = calls[0];
  if (!Array.isArray(tuple) || tuple.length !== 3) throw DECLINE;
  const [to, value, data] = tuple;
  if (!(data instanceof Uint8Array)) throw DECLINE;
  return {
    to: address(to, false),
    ...optional("value", integer(value)),
    ...(data.length === 0 ? {} : { data: bytesToHex(data) }),
  };
}

/** `r || s || v` with `v` 27 or 28, as ox encodes it (it reads 0 / 1 too, but re-encodes them). */
function secp256k1Signature(item: Item): { r: bigint; s: bigint; yParity: 0 | 1 } {
  if (!(item instanceof Uint8Array) || item.length !== 65) throw DECLINE;
  const v = item[64];
  if (v !== 27 && v !== 28) throw DECLINE;
  return {
    r: BigInt(bytesToHex(item.subarray(0, 32))),
    s: BigInt(bytesToHex(item.subarray(32, 64))),
    yParity: v === 27 ? 0 : 1,
  };
}

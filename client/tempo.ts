/**
 * Allegro payments as Tempo transactions (SPEC §5): build and sign the one shape a sidecar
 * certifies — a type `0x76` transaction with exactly one TIP-20 `transfer` or `transferWithMemo`
 * call on a `0x5b`-lane nonce key — and decode signed bytes back into a {@linkcode Payment},
 * rejecting everything else with an {@linkcode AllegroError}.
 *
 * Building, signing and hashing go through `viem` / `viem/tempo` (and the `ox/tempo` modules viem
 * re-exports). Decoding parses the usual payment envelope directly (`envelope.ts`, which defers
 * every other shape to ox) and checks the calldata word by word: the same answers as ox and viem's
 * ABI decoder, at a fraction of the cost of a payment a sidecar must certify.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { allegroNonceKey, decodePayment, signPaymentTransaction } from "./tempo.ts";
 *
 * const account = privateKeyToAccount(
 *   "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
 * );
 * const signed = await signPaymentTransaction(account, {
 *   chainId: 1337n,
 *   token: "0x20c0000000000000000000000000000000000001",
 *   recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   amount: 10n,
 *   nonceKey: allegroNonceKey(1n),
 *   nonce: 0n,
 *   validBefore: 1_900_000_000n,
 *   gas: 100_000n,
 *   maxFeePerGas: 20n,
 *   maxPriorityFeePerGas: 1n,
 *   feeToken: "0x20c0000000000000000000000000000000000000",
 * });
 * const payment = decodePayment(signed, { chainId: 1337n });
 * console.log(payment.sender === account.address, payment.amount); // true 10n
 * ```
 *
 * @module
 */

import {
  type Address,
  bytesToBigInt,
  bytesToHex,
  encodeFunctionData,
  getAbiItem,
  getAddress,
  type Hex,
  hexToBytes,
  isAddress,
  isHex,
  keccak256,
  type LocalAccount,
  numberToBytes,
  toFunctionSelector,
} from "viem";
import { Hex as OxHex, Rlp } from "ox";
import { Abis, Secp256k1, Transaction } from "viem/tempo";
import { parsePaymentEnvelope } from "./envelope.ts";
import { AllegroError, type RejectCode } from "./errors.ts";

// viem's `Transaction.deserialize` wraps ox's `TxEnvelopeTempo.deserialize` but turns `nonce` into
// a JS number (lossy above 2^53), so we call the ox functions viem re-exports (the same ox copy).
const TxEnvelopeTempo = Transaction.z_TxEnvelopeTempo;
const SignatureEnvelope = Transaction.z_SignatureEnvelope;

/** Top byte of every Allegro nonce key: Tempo's sub-block lane (`TEMPO_SUBBLOCK_NONCE_KEY_PREFIX`). */
export const ALLEGRO_NONCE_LANE = 0x5b;

/** EIP-2718 type byte of Tempo transactions. */
export const TEMPO_TX_TYPE = 0x76;

/** First 12 bytes of every TIP-20 token address (`0x20c0` then ten zero bytes; a u64 id follows). */
export const TIP20_ADDRESS_PREFIX: Hex = "0x20c000000000000000000000";

const TRANSFER_ABI = getAbiItem({ abi: Abis.tip20, name: "transfer" });
const TRANSFER_WITH_MEMO_ABI = getAbiItem({ abi: Abis.tip20, name: "transferWithMemo" });
const PAYMENT_ABI = [TRANSFER_ABI, TRANSFER_WITH_MEMO_ABI] as const;

/** Selector of TIP-20 `transfer(address,uint256)`: `0xa9059cbb`. */
export const TRANSFER_SELECTOR: Hex = toFunctionSelector(TRANSFER_ABI);

/** Selector of TIP-20 `transferWithMemo(address,uint256,bytes32)`: `0x95777d59`. */
export const TRANSFER_WITH_MEMO_SELECTOR: Hex = toFunctionSelector(TRANSFER_WITH_MEMO_ABI);

const U64_LIMIT = 1n << 64n;
const U256_LIMIT = 1n << 256n;
const SECP256K1_N = Secp256k1.noble.CURVE.n;
const SECP256K1_HALF_N = SECP256K1_N >> 1n;

/**
 * A secp256k1 public-key recovery implementation (for example libsecp256k1 through FFI or
 * WebAssembly) that {@linkcode decodePayment} uses instead of the pure-JS one of `viem` / `ox`
 * once installed with {@linkcode useSecp256k1Recovery}. It must behave exactly like ECDSA public
 * key recovery: the 65-byte uncompressed public key (`0x04 || x || y`) whose signature
 * `r || s` over `payload` verifies with recovery id `recoveryId`, or `undefined` when there is
 * none. {@linkcode decodePayment} only calls it with `1 ≤ r, s < n` and a recovery id of 0 or 1.
 */
export interface Secp256k1Recovery {
  /** Shown in logs and benchmarks, e.g. `"ffi"` or `"wasm"`. */
  readonly name: string;
  /** `payload`: 32 bytes; `signature`: `r || s`, 64 bytes big-endian. */
  recover(
    payload: Uint8Array,
    signature: Uint8Array,
    recoveryId: 0 | 1,
  ): Uint8Array | undefined;
}

let secp256k1Recovery: Secp256k1Recovery | undefined;

/**
 * Installs a faster secp256k1 sender recovery for {@linkcode decodePayment}, or with `undefined`
 * goes back to the pure-JS one. Results are identical either way (the sidecar tests both on
 * valid, high-s and invalid signatures); only the speed differs. Returns the previous one.
 *
 * @example
 * ```ts
 * import { secp256k1RecoveryName, useSecp256k1Recovery } from "./tempo.ts";
 *
 * useSecp256k1Recovery(undefined);
 * console.log(secp256k1RecoveryName()); // "js"
 * ```
 */
export function useSecp256k1Recovery(
  recovery: Secp256k1Recovery | undefined,
): Secp256k1Recovery | undefined {
  const previous = secp256k1Recovery;
  secp256k1Recovery = recovery;
  decoded.clear(); // so that a test comparing recoveries decodes afresh
  return previous;
}

/**
 * The name of the secp256k1 recovery {@linkcode decodePayment} uses: `"js"` unless one was
 * installed with {@linkcode useSecp256k1Recovery}.
 *
 * @example
 * ```ts
 * import { secp256k1RecoveryName } from "./tempo.ts";
 *
 * console.log(secp256k1RecoveryName()); // "js" by default
 * ```
 */
export function secp256k1RecoveryName(): string {
  return secp256k1Recovery?.name ?? "js";
}

/** Which TIP-20 function the payment calls. */
export type CallKind = "transfer" | "transferWithMemo";

/** Signature envelopes whose signer follows from the transaction bytes alone. */
export type SenderSignatureType = "secp256k1" | "p256" | "webAuthn";

/**
 * Whether `addr` is a 20-byte hex address with the TIP-20 prefix (`0x20c0` + ten zero bytes).
 *
 * @example
 * ```ts
 * import { isTip20Address } from "./tempo.ts";
 *
 * isTip20Address("0x20c0000000000000000000000000000000000001"); // true
 * isTip20Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"); // false
 * ```
 */
export function isTip20Address(addr: string): boolean {
  return isAddress(addr, { strict: false }) && addr.toLowerCase().startsWith(TIP20_ADDRESS_PREFIX);
}

/**
 * Forms an Allegro nonce key: top byte {@linkcode ALLEGRO_NONCE_LANE}, then `id` (at most 31
 * bytes, big-endian) in the low bytes. Returns the `bigint` viem takes as `nonceKey`.
 *
 * Throws `INVALID_FORMAT` if `id` is negative or does not fit in 31 bytes.
 *
 * @example
 * ```ts
 * import { allegroNonceKey } from "./tempo.ts";
 *
 * allegroNonceKey(7n).toString(16); // "5b000…0007" (64 hex digits)
 * allegroNonceKey(new Uint8Array([1, 2])) === allegroNonceKey(0x0102n); // true
 * ```
 */
export function allegroNonceKey(id: bigint | Uint8Array): bigint {
  const value = typeof id === "bigint" ? id : bytesToBigInt(id);
  if (value < 0n || value >= 1n << 248n || (id instanceof Uint8Array && id.length > 31)) {
    const shown = typeof id === "bigint" ? String(id) : bytesToHex(id);
    fail("INVALID_FORMAT", "nonceKey id", shown, "does not fit in 31 bytes");
  }
  return (BigInt(ALLEGRO_NONCE_LANE) << 248n) | value;
}

/** What {@linkcode buildPaymentTransaction} needs. Integers are `bigint`; times are unix seconds. */
export interface PaymentParams {
  /** Chain id (u64; at most 2^53 − 1, viem's limit). */
  chainId: bigint;
  /** TIP-20 token to transfer (the call target). */
  token: Address;
  /** Who receives the tokens. */
  recipient: Address;
  /** Amount in token base units, 1 … 2^64 − 1. */
  amount: bigint;
  /** 32 bytes (e.g. the parent QC hash); if given, the call is `transferWithMemo`. */
  memo?: Hex | Uint8Array;
  /** 2D nonce key; its top byte must be `0x5b` — use {@linkcode allegroNonceKey}. */
  nonceKey: bigint;
  /** Sequence number in that lane (u64; at most 2^53 − 1, viem's limit). */
  nonce: bigint;
  /** Unix seconds before which the transaction must be included (required by Allegro). */
  validBefore: bigint;
  /** Optional unix seconds after which the transaction may be included; `0n` means unset. */
  validAfter?: bigint;
  /** Gas limit. */
  gas: bigint;
  /** Maximum fee per gas. */
  maxFeePerGas: bigint;
  /** Maximum priority fee per gas. */
  maxPriorityFeePerGas: bigint;
  /**
   * TIP-20 token that pays the fee. Required: without it the chain picks the fee token from
   * mutable state (the sender's FeeManager preference), so no sidecar could check the balance.
   */
  feeToken: Address;
}

/** viem's serializable Tempo transaction, as {@linkcode buildPaymentTransaction} returns it. */
export type PaymentTransaction = Transaction.TransactionSerializableTempo;

/**
 * Builds the unsigned viem Tempo transaction (type `"tempo"`, `0x76`) for one payment: a single
 * call to `token` of `transfer(recipient, amount)`, or `transferWithMemo(recipient, amount, memo)`
 * when `memo` is given.
 *
 * Throws `INVALID_FORMAT` for out-of-range integers or a memo that is not 32 bytes, and
 * `NOT_PAYMENT_TX` for a token without the TIP-20 prefix or a nonce key outside the `0x5b` lane —
 * the codes {@linkcode decodePayment} would give the signed result.
 *
 * @example
 * ```ts
 * import { allegroNonceKey, buildPaymentTransaction } from "./tempo.ts";
 *
 * const tx = buildPaymentTransaction({
 *   chainId: 1337n,
 *   token: "0x20c0000000000000000000000000000000000001",
 *   recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   amount: 10n,
 *   memo: `0x${"11".repeat(32)}`,
 *   nonceKey: allegroNonceKey(1n),
 *   nonce: 0n,
 *   validBefore: 1_900_000_000n,
 *   gas: 100_000n,
 *   maxFeePerGas: 20n,
 *   maxPriorityFeePerGas: 1n,
 *   feeToken: "0x20c0000000000000000000000000000000000000",
 * });
 * console.log(tx.type, tx.calls.length); // tempo 1
 * ```
 */
export function buildPaymentTransaction(params: PaymentParams): PaymentTransaction {
  if (!isTip20Address(params.token)) {
    fail("NOT_PAYMENT_TX", "token", params.token, "is not a TIP-20 address (prefix 0x20c0…)");
  }
  if (!isTip20Address(params.feeToken)) {
    fail("INVALID_FORMAT", "feeToken", params.feeToken, "is not a TIP-20 address (prefix 0x20c0…)");
  }
  if (!isAddress(params.recipient, { strict: false })) {
    fail("INVALID_FORMAT", "recipient", params.recipient, "is not a 20-byte address");
  }
  checkAmount(params.amount);
  if (params.nonceKey < 0n || params.nonceKey >= U256_LIMIT) {
    fail("INVALID_FORMAT", "nonceKey", params.nonceKey, "does not fit in 32 bytes");
  }
  checkLane(params.nonceKey);
  const validAfter = params.validAfter ? safeNumber("validAfter", params.validAfter) : undefined;
  const validBefore = safeNumber("validBefore", params.validBefore, 1n);
  if (validAfter !== undefined && validAfter >= validBefore) {
    fail(
      "INVALID_FORMAT",
      "validAfter",
      params.validAfter,
      `is not before validBefore ${validBefore}`,
    );
  }
  let memo: Hex | undefined;
  if (params.memo !== undefined) {
    memo = typeof params.memo === "string" ? params.memo : bytesToHex(params.memo);
    if (!isHex(memo, { strict: true }) || memo.length !== 66) {
      fail("INVALID_FORMAT", "memo", memo, "is not 32 bytes");
    }
  }
  const data = encodeCall(params.recipient, params.amount, memo);
  return {
    type: "tempo",
    chainId: safeNumber("chainId", params.chainId, 1n),
    calls: [{ to: params.token, data }],
    nonceKey: params.nonceKey,
    nonce: safeNumber("nonce", params.nonce),
    validBefore,
    ...(validAfter === undefined ? {} : { validAfter }),
    gas: params.gas,
    maxFeePerGas: params.maxFeePerGas,
    maxPriorityFeePerGas: params.maxPriorityFeePerGas,
    feeToken: params.feeToken,
  };
}

/**
 * Builds the payment with {@linkcode buildPaymentTransaction} and signs it with a local viem
 * account (a plain `privateKeyToAccount` secp256k1 account, or a `viem/tempo` P256 / WebAuthn
 * account), returning the signed `0x76…` bytes ready for `eth_sendRawTransaction`.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { allegroNonceKey, signPaymentTransaction } from "./tempo.ts";
 *
 * const account = privateKeyToAccount(
 *   "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
 * );
 * const signed = await signPaymentTransaction(account, {
 *   chainId: 1337n,
 *   token: "0x20c0000000000000000000000000000000000001",
 *   recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   amount: 10n,
 *   nonceKey: allegroNonceKey(1n),
 *   nonce: 0n,
 *   validBefore: 1_900_000_000n,
 *   gas: 100_000n,
 *   maxFeePerGas: 20n,
 *   maxPriorityFeePerGas: 1n,
 *   feeToken: "0x20c0000000000000000000000000000000000000",
 * });
 * console.log(signed.slice(0, 4)); // 0x76
 * ```
 */
export async function signPaymentTransaction(
  account: Pick<LocalAccount, "signTransaction">,
  params: PaymentParams,
): Promise<Hex> {
  return await account.signTransaction(buildPaymentTransaction(params), {
    serializer: Transaction.serialize,
  });
}

/**
 * A payment as derived from signed Tempo transaction bytes (SPEC §5). Addresses are checksummed;
 * integers are `bigint`.
 */
export interface Payment {
  /** Signer of the transaction (secp256k1 recovery, or the P256 / WebAuthn key, verified). */
  sender: Address;
  /** `to` argument of the TIP-20 call. */
  recipient: Address;
  /** `amount` argument, 1 … 2^64 − 1. */
  amount: bigint;
  /** The TIP-20 token called. */
  asset: Address;
  /** Chain id of the transaction (equals the expected one). */
  chainId: bigint;
  /** `nonceKey` as 32 big-endian bytes (SPEC §4 `nonce_key`); `nonceKey[0]` is `0x5b`. */
  nonceKey: Uint8Array;
  /** `nonce` of the transaction (SPEC §4 `nonce_seq`, u64). */
  nonceSeq: bigint;
  /** `validBefore * 1000`: the expiry as unix milliseconds. */
  validBeforeMillis: bigint;
  /** `validAfter` in unix seconds, if set. */
  validAfterSeconds?: bigint;
  /** The 32-byte memo of a `transferWithMemo` call. */
  memo?: Uint8Array;
  /** Which TIP-20 function is called. */
  callKind: CallKind;
  /** How the sender signed. */
  signatureType: SenderSignatureType;
  /** Gas limit (0 if the field is empty). */
  gas: bigint;
  /** Maximum fee per gas (0 if the field is empty); `gas * maxFeePerGas` bounds the fee. */
  maxFeePerGas: bigint;
  /** The TIP-20 token that pays the fee (required, see {@linkcode PaymentParams.feeToken}). */
  feeToken: Address;
  /** The signed transaction bytes, exactly as given. */
  rawTx: Uint8Array;
}

/**
 * Decodes signed Tempo transaction bytes into a {@linkcode Payment}, or throws an
 * {@linkcode AllegroError} whose message names the field and its value. The last few thousand
 * successful decodes are remembered (each call returns a fresh copy), so the same transaction seen
 * on several bulletin boards, or as a parent and again as a child's parent, is decoded once.
 *
 * Codes follow the priority of SPEC §5 (first failure wins: 1 > 2 > 3):
 *
 * 1. `INVALID_FORMAT` — not hex / empty; type byte not `0x76` (legacy, EIP-1559, …); not decodable
 *    by viem/ox; not the canonical encoding of what it decodes to (trailing bytes, non-minimal
 *    integers — else third parties could mint other `tx_hash`es for the payer's transaction);
 *    unsigned; a signature that is not secp256k1 / P256 / WebAuthn (keychain and configurable
 *    senders depend on chain state, so no sender follows from the bytes); a signature that does
 *    not verify or a high-s secp256k1 signature; `nonceKey` over 32 bytes; `nonce` ≥ 2^64;
 *    missing `validBefore` (SPEC: required — a malformed Allegro message rather than a different
 *    kind of transaction); missing or non-TIP-20 `feeToken`; amount 0 or ≥ 2^64. The amount is only known once the call decodes, so
 *    it is checked when the call has the payment shape — before the chain id.
 * 2. `WRONG_CHAIN` — `chainId` ≠ `expected.chainId`.
 * 3. `NOT_PAYMENT_TX` — not exactly one call; `to` not a TIP-20 address; `value` ≠ 0; calldata not
 *    the canonical encoding of `transfer` / `transferWithMemo`; `nonceKey` top byte ≠ `0x5b`;
 *    a fee payer signature (sponsored transactions: the sender does not sign the fee payer's
 *    part, so anyone could re-sponsor the payer's transaction into another `tx_hash`);
 *    a key authorization or an authorization list (side effects besides the transfer).
 *
 * @example
 * ```ts
 * import { AllegroError } from "./errors.ts";
 * import { decodePayment } from "./tempo.ts";
 *
 * try {
 *   decodePayment("0x02f8", { chainId: 1337n });
 * } catch (err) {
 *   console.log((err as AllegroError).code); // INVALID_FORMAT
 * }
 * ```
 */
export function decodePayment(signedTx: Hex | Uint8Array, expected: { chainId: bigint }): Payment {
  let hex: Hex;
  if (typeof signedTx === "string") {
    if (!isHex(signedTx, { strict: true }) || signedTx.length % 2 !== 0) {
      fail("INVALID_FORMAT", "transaction", abbreviate(signedTx), "is not even-length hex");
    }
    hex = signedTx.toLowerCase() as Hex;
  } else {
    hex = bytesToHex(signedTx);
  }
  // Decoding is a pure function of the bytes and the chain id: the same signed transaction (on
  // several bulletin boards, a parent and its child, a retry) is decoded once.
  const key = `${expected.chainId}:${hex}`;
  const known = decoded.get(key);
  if (known !== undefined) return copyPayment(known);
  const payment = decodeSigned(
    hex,
    typeof signedTx === "string" ? hexToBytes(hex) : signedTx.slice(),
    expected,
  );
  decoded.set(key, copyPayment(payment));
  if (decoded.size > DECODED_LIMIT) decoded.delete(decoded.keys().next().value!);
  return payment;
}

/** Successful decodes by chain id and signed bytes, oldest first. */
const decoded = new Map<string, Payment>();
const DECODED_LIMIT = 4096;

/** A copy whose byte arrays the caller may change without touching the cache. */
function copyPayment(p: Payment): Payment {
  return {
    ...p,
    nonceKey: p.nonceKey.slice(),
    rawTx: p.rawTx.slice(),
    ...(p.memo === undefined ? {} : { memo: p.memo.slice() }),
  };
}

function decodeSigned(hex: Hex, rawTx: Uint8Array, expected: { chainId: bigint }): Payment {
  // --- 1. Format --------------------------------------------------------------------------------
  if (rawTx.length === 0) fail("INVALID_FORMAT", "transaction", "0x", "is empty");
  if (rawTx[0] !== TEMPO_TX_TYPE) {
    fail("INVALID_FORMAT", "type", hexByte(rawTx[0]), "is not a Tempo transaction (0x76)");
  }

  // The usual payment shape is parsed directly (canonical by construction); anything else goes
  // through ox, which decides and words the reject.
  const direct = parsePaymentEnvelope(rawTx);
  const { tx, signPayload } = direct
    ? { tx: direct.tx, signPayload: () => keccak256(direct.unsigned) }
    : generalEnvelope(hex);

  const signature = tx.signature;
  if (!signature) fail("INVALID_FORMAT", "signature", "none", "is missing (unsigned transaction)");
  if (
    signature.type !== "secp256k1" && signature.type !== "p256" && signature.type !== "webAuthn"
  ) {
    fail(
      "INVALID_FORMAT",
      "signature.type",
      signature.type,
      "has no sender derivable from the bytes (need secp256k1, p256 or webAuthn)",
    );
  }
  // Our own recovery: ox's `from` trusts a sender address placed in the fee-payer slot, and takes
  // P256 / WebAuthn public keys without verifying the signature.
  let sender: Address | undefined;
  try {
    const payload = signPayload();
    if (signature.type === "secp256k1") {
      // Recovery yields the one key the signature verifies with, so no separate verification.
      sender = recoverSecp256k1(payload, signature.signature);
    } else {
      const signer = SignatureEnvelope.extractAddress({ payload, signature });
      if (SignatureEnvelope.verify(signature, { payload, address: signer })) sender = signer;
    }
  } catch {
    // no sender
  }
  if (sender === undefined) {
    fail("INVALID_FORMAT", "signature", signature.type, "does not verify; no sender recoverable");
  }
  if (signature.type === "secp256k1" && signature.signature.s > SECP256K1_HALF_N) {
    fail("INVALID_FORMAT", "signature.s", signature.signature.s, "is high (malleable)");
  }

  const nonceKey = tx.nonceKey ?? 0n;
  if (nonceKey >= U256_LIMIT) fail("INVALID_FORMAT", "nonceKey", nonceKey, "exceeds 32 bytes");
  const nonceSeq = tx.nonce ?? 0n;
  if (nonceSeq >= U64_LIMIT) fail("INVALID_FORMAT", "nonce", nonceSeq, "exceeds u64");
  if (tx.validBefore === undefined) {
    fail("INVALID_FORMAT", "validBefore", "none", "is required for Allegro payments");
  }
  if (tx.feeToken === undefined) {
    fail(
      "INVALID_FORMAT",
      "feeToken",
      "none",
      "is required: the fee token must not follow chain state",
    );
  }
  if (!isTip20Address(String(tx.feeToken))) {
    fail("INVALID_FORMAT", "feeToken", tx.feeToken, "is not a TIP-20 address");
  }

  const call = decodeCall(tx.calls);
  if (call.ok) checkAmount(call.amount);

  // --- 2. Chain ---------------------------------------------------------------------------------
  if (BigInt(tx.chainId) !== expected.chainId) {
    fail("WRONG_CHAIN", "chainId", tx.chainId, `does not match the expected ${expected.chainId}`);
  }

  // --- 3. Payment shape -------------------------------------------------------------------------
  if (!call.ok) fail("NOT_PAYMENT_TX", call.field, call.value, call.reason);
  checkLane(nonceKey);
  if (tx.feePayerSignature !== undefined) {
    fail("NOT_PAYMENT_TX", "feePayerSignature", "(set)", "is refused: sponsorship is unsigned");
  }
  if (tx.keyAuthorization) {
    fail("NOT_PAYMENT_TX", "keyAuthorization", "(set)", "is refused: a side effect");
  }
  if (tx.authorizationList?.length) {
    fail("NOT_PAYMENT_TX", "authorizationList", tx.authorizationList.length, "must be empty");
  }

  return {
    sender: getAddress(sender),
    recipient: call.recipient,
    amount: call.amount,
    asset: call.asset,
    chainId: BigInt(tx.chainId),
    nonceKey: numberToBytes(nonceKey, { size: 32 }),
    nonceSeq,
    validBeforeMillis: BigInt(tx.validBefore) * 1000n,
    ...(tx.validAfter === undefined ? {} : { validAfterSeconds: BigInt(tx.validAfter) }),
    ...(call.memo === undefined ? {} : { memo: call.memo }),
    callKind: call.kind,
    signatureType: signature.type,
    gas: tx.gas ?? 0n,
    maxFeePerGas: tx.maxFeePerGas ?? 0n,
    feeToken: getAddress(String(tx.feeToken)),
    rawTx,
  };
}

/**
 * Enforces the memo ↔ parent binding of SPEC §5: when the submission names a parent QC hash, the
 * payment must be a `transferWithMemo` whose memo equals it (the payer signs which parent funds
 * it); without a parent, any memo (or none) is allowed.
 *
 * Throws `INVALID_FORMAT` if `parentQcHash` is not 32 bytes, and `INVALID_PARENT_QC` on a missing
 * or different memo: the rule concerns the parent, and step 8 of SPEC §5 is where parent problems
 * are reported (a sidecar may check `MISSING_PARENT_QC` first).
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { allegroNonceKey, checkParentBinding, decodePayment, signPaymentTransaction } from "./tempo.ts";
 *
 * const parent = new Uint8Array(32).fill(0x11); // the parent QC hash
 * const account = privateKeyToAccount(
 *   "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
 * );
 * const signed = await signPaymentTransaction(account, {
 *   chainId: 1337n,
 *   token: "0x20c0000000000000000000000000000000000001",
 *   recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   amount: 10n,
 *   memo: parent,
 *   nonceKey: allegroNonceKey(1n),
 *   nonce: 0n,
 *   validBefore: 1_900_000_000n,
 *   gas: 100_000n,
 *   maxFeePerGas: 20n,
 *   maxPriorityFeePerGas: 1n,
 *   feeToken: "0x20c0000000000000000000000000000000000000",
 * });
 * const payment = decodePayment(signed, { chainId: 1337n });
 * checkParentBinding(payment, parent); // ok: the memo is the parent
 * checkParentBinding(payment); // ok: no parent, any memo
 * ```
 */
export function checkParentBinding(payment: Payment, parentQcHash?: Uint8Array): void {
  if (parentQcHash === undefined) return;
  if (parentQcHash.length !== 32) {
    fail("INVALID_FORMAT", "parent_qc_hash", bytesToHex(parentQcHash), "is not 32 bytes");
  }
  if (payment.callKind !== "transferWithMemo" || payment.memo === undefined) {
    fail(
      "INVALID_PARENT_QC",
      "parent_qc_hash",
      bytesToHex(parentQcHash),
      `needs a transferWithMemo call carrying it as memo, got ${payment.callKind}`,
    );
  }
  if (bytesToHex(payment.memo) !== bytesToHex(parentQcHash)) {
    fail(
      "INVALID_PARENT_QC",
      "parent_qc_hash",
      bytesToHex(parentQcHash),
      `does not equal the memo ${bytesToHex(payment.memo)}`,
    );
  }
}

// --- internals ----------------------------------------------------------------------------------

type TempoEnvelope = ReturnType<typeof TxEnvelopeTempo.deserialize>;

/**
 * `TxEnvelopeTempo.deserialize` without its implicit sender recovery (a pure-JS secp256k1
 * recovery whose result {@linkcode decodePayment} would not use): the signature field is taken
 * out of the RLP list, the rest deserialized by ox, and the signature envelope deserialized by ox
 * and put back. Same result as ox (less `from`) or same error: on any failure, and for any list
 * shape other than a signed payment's, ox's own `deserialize` runs on the original bytes.
 * `unsigned` is the envelope without its signature, when there is no fee payer field: once the
 * bytes are known canonical, exactly what ox hashes for the signature payload.
 */
function deserializeEnvelope(hex: `0x76${string}`): { tx: TempoEnvelope; unsigned?: Hex } {
  try {
    const list = Rlp.toHex(OxHex.slice(hex, 1)) as Hex | readonly unknown[];
    // ox reads field 13 as the signature, or as a key authorization followed by the signature.
    const at = !Array.isArray(list)
      ? undefined
      : list.length === 14 && !Array.isArray(list[13])
      ? 13
      : list.length === 15 && Array.isArray(list[13]) && !Array.isArray(list[14])
      ? 14
      : undefined;
    if (at !== undefined) {
      const signature = SignatureEnvelope.deserialize(list[at] as Hex);
      const unsigned = `0x76${Rlp.fromHex(list.slice(0, at) as Hex[]).slice(2)}` as const;
      const tx = { ...TxEnvelopeTempo.deserialize(unsigned), signature } as TempoEnvelope;
      return list[11] === "0x" ? { tx, unsigned } : { tx };
    }
  } catch {
    // ox says what is wrong, below
  }
  return { tx: TxEnvelopeTempo.deserialize(hex) };
}

/**
 * Any Tempo envelope, through ox: deserialized (see {@linkcode deserializeEnvelope}) and required
 * to be the canonical encoding of what it decodes to; with the hash the sender signs.
 */
function generalEnvelope(hex: Hex): { tx: TempoEnvelope; signPayload: () => Hex } {
  let decoded: { tx: TempoEnvelope; unsigned?: Hex };
  try {
    decoded = deserializeEnvelope(hex as `0x76${string}`);
  } catch (err) {
    fail("INVALID_FORMAT", "transaction", abbreviate(hex), `does not decode: ${firstLine(err)}`);
  }
  let canonical: Hex;
  try {
    canonical = TxEnvelopeTempo.serialize(decoded.tx);
  } catch (err) {
    fail("INVALID_FORMAT", "transaction", abbreviate(hex), `does not re-encode: ${firstLine(err)}`);
  }
  if (canonical !== hex) {
    fail("INVALID_FORMAT", "transaction", abbreviate(hex), "is not canonically encoded");
  }
  const { tx, unsigned } = decoded;
  // Canonical, so ox's signing encoding is the signed bytes without the signature (when no fee
  // payer field is set): hash those instead of encoding again.
  return {
    tx,
    signPayload: () =>
      unsigned !== undefined ? keccak256(unsigned) : TxEnvelopeTempo.getSignPayload(tx),
  };
}

const SIGNATURE_BYTES = new Uint8Array(64);

/** The checksummed address whose key made `signature` over `payload`, or `undefined`. */
function recoverSecp256k1(
  payload: Hex,
  signature: { r: bigint; s: bigint; yParity: number },
): Address | undefined {
  const { r, s, yParity } = signature;
  const native = secp256k1Recovery;
  if (
    native !== undefined && r > 0n && r < SECP256K1_N && s > 0n && s < SECP256K1_N &&
    (yParity === 0 || yParity === 1)
  ) {
    const rs = SIGNATURE_BYTES;
    rs.set(numberToBytes(r, { size: 32 }), 0);
    rs.set(numberToBytes(s, { size: 32 }), 32);
    let publicKey: Uint8Array | undefined | null = null;
    try {
      publicKey = native.recover(hexToBytes(payload), rs, yParity);
    } catch {
      // a broken backend: the JS recovery below decides
    }
    if (publicKey === undefined) return undefined;
    if (publicKey !== null && publicKey.length === 65 && publicKey[0] === 4) {
      return getAddress(`0x${keccak256(publicKey.subarray(1)).slice(26)}`);
    }
  }
  return Secp256k1.recoverAddress({ payload, signature });
}

type DecodedCall =
  | {
    ok: true;
    kind: CallKind;
    asset: Address;
    recipient: Address;
    amount: bigint;
    memo?: Uint8Array;
  }
  | { ok: false; field: string; value: unknown; reason: string };

/** Payment-shape checks of the calls; returns the failure instead of throwing (see ordering). */
function decodeCall(
  calls: readonly { to?: Address; value?: bigint; data?: Hex }[],
): DecodedCall {
  if (calls.length !== 1) {
    return { ok: false, field: "calls", value: calls.length, reason: "must be exactly one call" };
  }
  const [{ to, value, data = "0x" }] = calls;
  if (to === undefined || !isTip20Address(to)) {
    return { ok: false, field: "calls[0].to", value: to ?? "none", reason: "is not TIP-20" };
  }
  if (value) return { ok: false, field: "calls[0].value", value, reason: "must be 0" };
  const selector = data.slice(0, 10).toLowerCase();
  if (selector !== TRANSFER_SELECTOR && selector !== TRANSFER_WITH_MEMO_SELECTOR) {
    return {
      ok: false,
      field: "calls[0].data",
      value: selector,
      reason: "is neither transfer (0xa9059cbb) nor transferWithMemo (0x95777d59)",
    };
  }
  // The canonical ABI encoding, checked directly: the arguments in whole 32-byte words, the
  // address word's top 12 bytes zero, nothing after the last word.
  const kind: CallKind = selector === TRANSFER_SELECTOR ? "transfer" : "transferWithMemo";
  const args = data.slice(10).toLowerCase();
  if (
    args.length !== (kind === "transfer" ? 128 : 192) || !args.startsWith(ADDRESS_WORD_PADDING)
  ) {
    return {
      ok: false,
      field: "calls[0].data",
      value: abbreviate(data),
      reason: "is not a canonical ABI encoding of the call",
    };
  }
  return {
    ok: true,
    kind,
    asset: getAddress(to),
    recipient: getAddress(`0x${args.slice(24, 64)}`),
    amount: BigInt(`0x${args.slice(64, 128)}`),
    ...(kind === "transfer" ? {} : { memo: hexToBytes(`0x${args.slice(128)}`) }),
  };
}

const ADDRESS_WORD_PADDING = "0".repeat(24);

/** Calldata of `transfer(recipient, amount)`, or `transferWithMemo(…, memo)` when memo is set. */
function encodeCall(recipient: Address, amount: bigint, memo?: Hex): Hex {
  return memo === undefined
    ? encodeFunctionData({ abi: PAYMENT_ABI, functionName: "transfer", args: [recipient, amount] })
    : encodeFunctionData({
      abi: PAYMENT_ABI,
      functionName: "transferWithMemo",
      args: [recipient, amount, memo],
    });
}

function checkAmount(amount: bigint): void {
  if (amount <= 0n) fail("INVALID_FORMAT", "amount", amount, "must be at least 1");
  if (amount >= U64_LIMIT) fail("INVALID_FORMAT", "amount", amount, "exceeds u64");
}

function checkLane(nonceKey: bigint): void {
  if (nonceKey >> 248n !== BigInt(ALLEGRO_NONCE_LANE)) {
    fail(
      "NOT_PAYMENT_TX",
      "nonceKey",
      `0x${nonceKey.toString(16)}`,
      "is outside the Allegro lane (top byte 0x5b)",
    );
  }
}

function safeNumber(field: string, value: bigint, min = 0n): number {
  if (value < min || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail("INVALID_FORMAT", field, value, `must be within ${min} … 2^53 − 1`);
  }
  return Number(value);
}

function fail(code: RejectCode, field: string, value: unknown, reason: string): never {
  throw new AllegroError(code, `${field} ${String(value)} ${reason}`, { field, value });
}

function hexByte(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}

function abbreviate(hex: string): string {
  return hex.length > 42 ? `${hex.slice(0, 42)}…(${(hex.length - 2) / 2} bytes)` : hex;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

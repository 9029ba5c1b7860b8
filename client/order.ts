/**
 * Payment orders (SPEC §4): what a payer signs as EIP-712 typed data in the domain
 * `{ name: "Allegro", version: "1", chainId, verifyingContract: vault }`, and the three hashes
 * every component and the vault compute from it. Everything that decides a payment is in the
 * signed order — no wrapper field a third party can change alters its `tx_hash`.
 *
 * The rules that need no state live here, once, for the sidecar, the backend, the wallet and
 * the UI: {@linkcode checkOrder} (sizes and ranges), {@linkcode verifySignedOrder} (the payer's
 * canonical signature), {@linkcode parentProblem} (what a parent must be to fund a child).
 *
 * @module
 */
import {
  bytesToHex,
  encodeAbiParameters,
  getAddress,
  hashTypedData,
  hexToBytes,
  isAddress,
  isHex,
  zeroAddress,
  zeroHash,
} from "viem";
import type { Address, Hex, TypedDataDefinition } from "./deps.ts";
import { AllegroError } from "./errors.ts";
import { certDigest, effectsHash, txHash } from "./hashes.ts";
import { recoverCanonical, signatureProblem } from "./signature.ts";

/** `parent` of an order that no payment funds. */
export const NO_PARENT: Hex = zeroHash;

/**
 * A payment order with the domain it is signed in. Addresses are checksummed, `parent` and
 * `memo` 32-byte hex, integers u64.
 */
export interface PaymentOrder {
  /** The chain id of the EIP-712 domain, u64. */
  readonly chainId: bigint;
  /** The vault: the EIP-712 domain's `verifyingContract`. */
  readonly vault: Address;
  /** Who pays and signs; never address 0. */
  readonly payer: Address;
  /** Who is paid: its vault balance, or its wallet when `exit` is set. */
  readonly recipient: Address;
  /** A TIP-20 token; the lane is `(payer, token)`. */
  readonly token: Address;
  /** TIP-20 base units (6 decimals for Tempo stablecoins), 1 … 2^64 − 1. */
  readonly amount: bigint;
  /** Paid to whoever settles the order (may be 0). */
  readonly fee: bigint;
  /** Numbers the payer's orders in `token` from 0: the contention key is `(payer, token, seq)`. */
  readonly seq: bigint;
  /** Unix milliseconds: the vault settles the order only while chain time is before it. */
  readonly validBefore: bigint;
  /** The `tx_hash` of the payment that funds this one, or {@linkcode NO_PARENT}. */
  readonly parent: Hex;
  /** Pay the recipient's wallet (a TIP-20 transfer out of the vault) instead of its vault balance. */
  readonly exit: boolean;
  /** Free 32 bytes (an invoice id). */
  readonly memo: Hex;
}

/** An order with its payer's signature (65 bytes `r || s || v`, canonical). */
export interface SignedOrder {
  /** The order. */
  readonly order: PaymentOrder;
  /** The payer's signature over the order's EIP-712 digest, as hex. */
  readonly signature: Hex;
}

/** The EIP-712 type of an order. */
export const PAYMENT_TYPES = {
  Payment: [
    { name: "payer", type: "address" },
    { name: "recipient", type: "address" },
    { name: "token", type: "address" },
    { name: "amount", type: "uint64" },
    { name: "fee", type: "uint64" },
    { name: "seq", type: "uint64" },
    { name: "validBefore", type: "uint64" },
    { name: "parent", type: "bytes32" },
    { name: "exit", type: "bool" },
    { name: "memo", type: "bytes32" },
  ],
} as const;

const U64_LIMIT = 1n << 64n;

const invalid = (field: string, value: unknown, why: string): never => {
  throw new AllegroError(
    "INVALID_FORMAT",
    `order.${field} ${why}, got ${typeof value === "bigint" ? value : JSON.stringify(value)}`,
    { field: `order.${field}` },
  );
};

function address(field: string, value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    return invalid(field, value, "must be a 20-byte address");
  }
  return getAddress(value);
}

function u64(field: string, value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value >= U64_LIMIT) {
    return invalid(field, value, "must be a u64");
  }
  return value;
}

function word(field: string, value: unknown): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || value.length !== 66) {
    return invalid(field, value, "must be 32 bytes of hex");
  }
  return value.toLowerCase() as Hex;
}

/**
 * Validates every field (addresses, u64 ranges, 32-byte words, `amount > 0`, `payer ≠ 0`) and
 * returns the order normalized (checksummed addresses, lowercase hex). Throws an
 * `INVALID_FORMAT` {@linkcode AllegroError} naming the field and the value.
 *
 * @example
 * ```ts
 * import { checkOrder, NO_PARENT } from "@allegro/client";
 *
 * const order = checkOrder({
 *   chainId: 1337n,
 *   vault: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
 *   payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *   token: "0x20c0000000000000000000000000000000000000",
 *   amount: 10_000_000n,
 *   fee: 0n,
 *   seq: 0n,
 *   validBefore: 1_900_000_000_000n,
 *   parent: NO_PARENT,
 *   exit: false,
 *   memo: NO_PARENT,
 * });
 * console.log(order.vault); // 0x5FbDB2315678afecb367f032d93F642f64180aa3
 * ```
 */
export function checkOrder(order: PaymentOrder): PaymentOrder {
  const checked: PaymentOrder = {
    chainId: u64("chainId", order.chainId),
    vault: address("vault", order.vault),
    payer: address("payer", order.payer),
    recipient: address("recipient", order.recipient),
    token: address("token", order.token),
    amount: u64("amount", order.amount),
    fee: u64("fee", order.fee),
    seq: u64("seq", order.seq),
    validBefore: u64("validBefore", order.validBefore),
    parent: word("parent", order.parent),
    exit: typeof order.exit === "boolean"
      ? order.exit
      : invalid("exit", order.exit, "must be a boolean"),
    memo: word("memo", order.memo),
  };
  if (checked.payer === zeroAddress) invalid("payer", order.payer, "must not be address 0");
  if (checked.amount === 0n) invalid("amount", order.amount, "must be at least 1");
  return checked;
}

/**
 * The EIP-712 definition of an order, for any signer (`account.signTypedData(…)`).
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, orderTypedData, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * const typed = orderTypedData(order);
 * console.log(typed.primaryType, typed.domain?.verifyingContract === TEST_VAULT); // Payment true
 * // What signOrder does (it also checks the signer and the signature):
 * const signature = await privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d").signTypedData(typed);
 * ```
 */
export function orderTypedData(
  order: PaymentOrder,
): TypedDataDefinition<typeof PAYMENT_TYPES, "Payment"> {
  return {
    domain: {
      name: "Allegro",
      version: "1",
      chainId: order.chainId,
      verifyingContract: order.vault,
    },
    types: PAYMENT_TYPES,
    primaryType: "Payment",
    message: paymentStruct(order),
  };
}

/** An order without its domain (`chainId`, `vault`): the vault's and EIP-712's `Payment` struct. */
export type PaymentStruct = Omit<PaymentOrder, "chainId" | "vault">;

/**
 * The `Payment` struct of an order, as the vault's ABI and the EIP-712 message take it: every
 * field but the domain's `chainId` and `vault`.
 *
 * @example
 * ```ts
 * import { NO_PARENT, PATH_USD, paymentStruct } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const struct = paymentStruct({
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * console.log("vault" in struct, struct.amount); // false 1000000n
 * ```
 */
export function paymentStruct(order: PaymentOrder): PaymentStruct {
  return {
    payer: order.payer,
    recipient: order.recipient,
    token: order.token,
    amount: order.amount,
    fee: order.fee,
    seq: order.seq,
    validBefore: order.validBefore,
    parent: order.parent,
    exit: order.exit,
    memo: order.memo,
  };
}

/**
 * The EIP-712 digest the payer signs (the vault's `orderDigest`).
 *
 * @example
 * ```ts
 * import { NO_PARENT, orderDigest, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * console.log(orderDigest(order).length); // 66: 32 bytes of hex, the vault's orderDigest(order)
 * ```
 */
export function orderDigest(order: PaymentOrder): Hex {
  return hashTypedData(orderTypedData(order));
}

/** What can sign an order: a viem account, or anything else with EIP-712 `signTypedData`. */
export interface OrderSigner {
  /** The payer's address. */
  readonly address: Address;
  /** Signs the EIP-712 typed data of an order; returns a 65-byte `r || s || v` signature. */
  signTypedData(definition: ReturnType<typeof orderTypedData>): Promise<Hex>;
}

/**
 * Signs `order` with `signer`, which must be its payer; the signature is checked canonical.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, signOrder } from "@allegro/client";
 *
 * const payer = privateKeyToAccount(
 *   "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 * );
 * const signed = await signOrder(payer, {
 *   chainId: 1337n,
 *   vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *   payer: payer.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *   token: "0x20c0000000000000000000000000000000000000",
 *   amount: 1n,
 *   fee: 0n,
 *   seq: 0n,
 *   validBefore: 1_900_000_000_000n,
 *   parent: NO_PARENT,
 *   exit: false,
 *   memo: NO_PARENT,
 * });
 * console.log(signed.signature.length); // 132
 * ```
 */
export async function signOrder(signer: OrderSigner, order: PaymentOrder): Promise<SignedOrder> {
  const checked = checkOrder(order);
  if (getAddress(signer.address) !== checked.payer) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `signer ${signer.address} is not the order's payer ${checked.payer}`,
      { field: "order.payer" },
    );
  }
  const signature = await signer.signTypedData(orderTypedData(checked));
  const problem = signatureProblem(signature);
  if (problem !== undefined) {
    throw new AllegroError("INVALID_FORMAT", `the signer's payer_signature ${problem}`);
  }
  return { order: checked, signature: signature.toLowerCase() as Hex };
}

/**
 * Checks a signed order without chain state: every field ({@linkcode checkOrder}) and a
 * canonical payer signature that recovers to `payer`. Returns it normalized; throws an
 * `INVALID_FORMAT` {@linkcode AllegroError} otherwise.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, PATH_USD, signOrder, verifySignedOrder } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * await verifySignedOrder(signed); // the signature recovers to the payer
 * const changed = { ...signed, order: { ...signed.order, amount: 2_000_000n } };
 * await verifySignedOrder(changed).catch((e) => console.log(e.code)); // INVALID_FORMAT
 * ```
 */
export async function verifySignedOrder(signed: SignedOrder): Promise<SignedOrder> {
  const order = checkOrder(signed.order);
  const signer = await recoverCanonical(orderDigest(order), signed.signature, "payer_signature");
  if (signer !== order.payer) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `payer_signature recovers to ${signer}, not the payer ${order.payer}`,
      { field: "payer_signature" },
    );
  }
  return { order, signature: signed.signature.toLowerCase() as Hex };
}

/**
 * `order_bytes`: the ABI encoding of `(vault, payer, recipient, token, amount, fee, seq,
 * validBefore, parent, exit, memo)`, 11 words.
 *
 * @example
 * ```ts
 * import { NO_PARENT, orderBytes, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * console.log(orderBytes(order).length); // 352: 11 ABI words
 * ```
 */
export function orderBytes(order: PaymentOrder): Uint8Array {
  return hexToBytes(encodeAbiParameters(
    [
      { type: "address" },
      { type: "address" },
      { type: "address" },
      { type: "address" },
      { type: "uint64" },
      { type: "uint64" },
      { type: "uint64" },
      { type: "uint64" },
      { type: "bytes32" },
      { type: "bool" },
      { type: "bytes32" },
    ],
    [
      order.vault,
      order.payer,
      order.recipient,
      order.token,
      order.amount,
      order.fee,
      order.seq,
      order.validBefore,
      order.parent,
      order.exit,
      order.memo,
    ],
  ));
}

/** The nonce key of an order's lane: its token address left-padded to 32 bytes. */
function nonceKey(order: PaymentOrder): Uint8Array {
  const key = new Uint8Array(32);
  key.set(hexToBytes(order.token), 12);
  return key;
}

/**
 * The order's `tx_hash` (SPEC §4): chain id, `order_bytes`, lane, seq, `validBefore` and parent.
 *
 * @example
 * ```ts
 * import { bytesEqual, NO_PARENT, orderTxHash, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * const hash = orderTxHash(order); // 32 bytes, the vault's txHash(order)
 * console.log(bytesEqual(hash, orderTxHash({ ...order, memo: `0x${"01".repeat(32)}` }))); // false
 * ```
 */
export function orderTxHash(order: PaymentOrder): Uint8Array {
  return txHash({
    chainId: order.chainId,
    tempoTx: orderBytes(order),
    nonceKey: nonceKey(order),
    nonceSeq: order.seq,
    expiry: { unixMillis: order.validBefore },
    ...(order.parent === NO_PARENT ? {} : { parentQcHash: hexToBytes(order.parent) }),
  });
}

/**
 * The order's `effects_hash`: payer, recipient, amount, token, lane and seq.
 *
 * @example
 * ```ts
 * import { bytesEqual, NO_PARENT, orderEffectsHash, orderTxHash, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * // The balance change only: a later validBefore is another order with the same effects.
 * const later = { ...order, validBefore: order.validBefore + 1n };
 * console.log(bytesEqual(orderEffectsHash(order), orderEffectsHash(later))); // true
 * console.log(bytesEqual(orderTxHash(order), orderTxHash(later))); // false
 * ```
 */
export function orderEffectsHash(order: PaymentOrder): Uint8Array {
  return effectsHash({
    sender: hexToBytes(order.payer),
    recipient: hexToBytes(order.recipient),
    amount: order.amount,
    asset: hexToBytes(order.token),
    nonceKey: nonceKey(order),
    nonceSeq: order.seq,
  });
}

/**
 * What validators of `epoch` sign (Ed25519) and attest (secp256k1) for `order`.
 *
 * @example
 * ```ts
 * import {
 *   bytesEqual,
 *   certDigest,
 *   NO_PARENT,
 *   orderCertDigest,
 *   orderEffectsHash,
 *   orderTxHash,
 *   PATH_USD,
 * } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const order = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * const digest = orderCertDigest(order, 42n); // the vault's certDigest(42, txHash, effectsHash)
 * const same = certDigest({
 *   chainId: order.chainId,
 *   epoch: 42n,
 *   txHash: orderTxHash(order),
 *   effectsHash: orderEffectsHash(order),
 * });
 * console.log(bytesEqual(digest, same)); // true
 * ```
 */
export function orderCertDigest(order: PaymentOrder, epoch: bigint): Uint8Array {
  return certDigest({
    chainId: order.chainId,
    epoch,
    txHash: orderTxHash(order),
    effectsHash: orderEffectsHash(order),
  });
}

/**
 * Why `parent` cannot fund `child`, or `undefined` when it can: `child.parent` must be the
 * parent's `tx_hash`, the parent must pay the child's payer in the child's token into the vault
 * (not an exit), on the same chain and vault. (A child valid longer than its parent is a matter
 * of expiry: SPEC §6 rule 7.)
 *
 * @example
 * ```ts
 * import { bytesToHex } from "viem";
 * import { NO_PARENT, orderTxHash, parentProblem, PATH_USD } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * // Bob pays Alice; Alice spends it at once, citing Bob's payment.
 * const parent = {
 *   chainId: 1337n, vault: TEST_VAULT, payer: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *   recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * } as const;
 * const child = {
 *   ...parent,
 *   payer: parent.recipient,
 *   recipient: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
 *   parent: bytesToHex(orderTxHash(parent)),
 * } as const;
 * console.log(parentProblem(child, parent)); // undefined: the parent funds the child
 * const otherToken = { ...child, token: "0x20c0000000000000000000000000000000000001" } as const;
 * console.log(parentProblem(otherToken, parent)); // parent pays in 0x20c0…0000, this order spends 0x20c0…0001
 * ```
 */
export function parentProblem(child: PaymentOrder, parent: PaymentOrder): string | undefined {
  const parentHash = bytesToHex(orderTxHash(parent));
  if (child.parent !== parentHash) {
    return `order.parent ${child.parent} is not the supplied parent's tx_hash ${parentHash}`;
  }
  if (parent.chainId !== child.chainId || parent.vault !== child.vault) {
    return `parent is for chain ${parent.chainId} vault ${parent.vault}, the order for chain ${child.chainId} vault ${child.vault}`;
  }
  if (parent.recipient !== child.payer) {
    return `parent pays ${parent.recipient}, not this order's payer ${child.payer}`;
  }
  if (parent.token !== child.token) {
    return `parent pays in ${parent.token}, this order spends ${child.token}`;
  }
  if (parent.exit) return "parent is an exit: it pays a wallet, not the vault balance";
  return undefined;
}

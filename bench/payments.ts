/**
 * Pre-built signed payments for the load generator: many deterministic accounts, each payment
 * on its own contention key, signed with libsecp256k1 (FFI or WebAssembly) so that building tens
 * of thousands of them takes seconds, and chained payments whose parents carry a 3-of-4 QC.
 *
 * @module
 */
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, keccak256 } from "viem";
import { Secp256k1, Transaction } from "viem/tempo";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  allegroNonceKey,
  buildPaymentTransaction,
  type CertificateSigner,
  type Committee,
  decodePayment,
  paymentEffectsHash,
  type PaymentParams,
  paymentTxHash,
  qcHash,
  type QuorumCertificate,
} from "@allegro/client";
import { ffiSecp256k1, type NativeSecp256k1, wasmSecp256k1 } from "@allegro/sidecar/secp256k1";
import type { SubmissionRequest } from "@allegro/sidecar/submission";

const TxEnvelopeTempo = Transaction.z_TxEnvelopeTempo;

/** pathUSD on anvil in Tempo mode: the token paid and the fee token. */
export const PATH_USD: Address = "0x20c0000000000000000000000000000000000000";

/** A payer: secret key and address. */
export interface BenchAccount {
  readonly secretKey: Uint8Array;
  readonly address: Address;
}

/** One submission ready to send, with what the driver needs to know about it. */
export interface PreparedPayment {
  readonly request: SubmissionRequest;
  readonly sender: Address;
}

/** Signs 32-byte payloads fast: libsecp256k1 via FFI, else WebAssembly, else noble. */
export interface PayloadSigner {
  readonly name: string;
  sign(
    payload: Uint8Array,
    secretKey: Uint8Array,
  ): { r: bigint; s: bigint; yParity: number };
}

/** The fastest signer available (`prefer` to pin one). */
export async function payloadSigner(
  prefer: "auto" | "js" = "auto",
): Promise<PayloadSigner> {
  const native: NativeSecp256k1 | undefined = prefer === "js"
    ? undefined
    : ffiSecp256k1() ?? await wasmSecp256k1();
  if (native === undefined) {
    return {
      name: "js",
      sign: (payload, secretKey) => Secp256k1.sign({ payload, privateKey: secretKey }),
    };
  }
  return {
    name: native.name,
    sign(payload, secretKey) {
      const { signature, recoveryId } = native.sign(payload, secretKey);
      return {
        r: BigInt(bytesToHex(signature.subarray(0, 32))),
        s: BigInt(bytesToHex(signature.subarray(32))),
        yParity: recoveryId,
      };
    },
  };
}

/** `count` deterministic accounts derived from `seed` (same seed, same accounts). */
export function benchAccounts(seed: string, count: number): BenchAccount[] {
  const out: BenchAccount[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < count; i++) {
    const secretKey = sha256(encoder.encode(`allegro-bench:${seed}:${i}`));
    const publicKey = Secp256k1.noble.getPublicKey(secretKey, false);
    out.push({
      secretKey,
      address: getAddress(`0x${keccak256(publicKey.subarray(1)).slice(26)}`),
    });
  }
  return out;
}

/** Signs one payment with `signer`; the bytes are what `signPaymentTransaction` would give. */
export function signPayment(
  signer: PayloadSigner,
  account: BenchAccount,
  params: PaymentParams,
): Uint8Array {
  const envelope = TxEnvelopeTempo.from(
    buildPaymentTransaction(params) as never,
  );
  const payload = hexToBytes(TxEnvelopeTempo.getSignPayload(envelope));
  const signature = signer.sign(payload, account.secretKey);
  return hexToBytes(
    TxEnvelopeTempo.serialize(envelope, {
      signature: { type: "secp256k1", signature },
    }),
  );
}

/** What every payment of a run shares. */
export interface PaymentPlan {
  readonly chainId: bigint;
  /** Unix seconds. */
  readonly validBefore: bigint;
  readonly recipient: Address;
  readonly amount: bigint;
}

const GAS = 100_000n;
const MAX_FEE_PER_GAS = 20_000_000_000n;

function params(
  plan: PaymentPlan,
  overrides: Partial<PaymentParams>,
): PaymentParams {
  return {
    chainId: plan.chainId,
    token: PATH_USD,
    recipient: plan.recipient,
    amount: plan.amount,
    nonceKey: allegroNonceKey(1n),
    nonce: 0n,
    validBefore: plan.validBefore,
    gas: GAS,
    maxFeePerGas: MAX_FEE_PER_GAS,
    maxPriorityFeePerGas: 0n,
    feeToken: PATH_USD,
    ...overrides,
  };
}

/**
 * Which contention key each payment uses. Warm (the default): one lane per account and
 * sequential nonces, like a wallet — after its first payment an account's lane is in the
 * sidecar's memory. Cold: a fresh lane for every payment (nonce 0), so the sidecar must look
 * every one up in its store first.
 */
export class Lanes {
  readonly #nonces = new Map<Address, bigint>();
  #nextLane = 1n;
  constructor(readonly cold = false) {}

  /** The lane and nonce of `account`'s next payment. */
  take(account: Address): { lane: bigint; nonce: bigint } {
    if (this.cold) return { lane: this.#nextLane++, nonce: 0n };
    const nonce = this.#nonces.get(account) ?? 0n;
    this.#nonces.set(account, nonce + 1n);
    return { lane: 1n, nonce };
  }
}

/**
 * `count` single payments, payer `accounts[(start + i) % n]` for payment `i`. With warm
 * {@linkcode Lanes}, payment `i + n` is the same account's next nonce: send in order, with fewer
 * than `n` in flight.
 */
export function singlePayments(
  signer: PayloadSigner,
  accounts: readonly BenchAccount[],
  plan: PaymentPlan,
  count: number,
  lanes: Lanes,
  start = 0,
): PreparedPayment[] {
  const out: PreparedPayment[] = [];
  for (let i = 0; i < count; i++) {
    const account = accounts[(start + i) % accounts.length];
    const { lane, nonce } = lanes.take(account.address);
    const signedTx = signPayment(
      signer,
      account,
      params(plan, { nonceKey: allegroNonceKey(lane), nonce }),
    );
    out.push({
      sender: account.address,
      request: { signedTx, parentQcHash: new Uint8Array(), parents: [], clientRequestId: "" },
    });
  }
  return out;
}

/** Parent payments and the children that spend them. */
export interface ChainedPayments {
  /** `A_i → B_i`; certify these first (the sidecar normally has seen a parent). */
  readonly parents: PreparedPayment[];
  /** `B_i → recipient` with the parent's 3-of-4 QC; `B_i` has no balance of its own. */
  readonly children: PreparedPayment[];
}

/**
 * `count` parent/child pairs. Parent `i` pays payee `(start + i) % m` from payer
 * `(start + i) % n`; its QC is signed by the first `threshold` of `qcSigners`; child `i` spends
 * it with `transferWithMemo(memo = qc_hash)`.
 */
export async function chainedPayments(
  signer: PayloadSigner,
  payers: readonly BenchAccount[],
  payees: readonly BenchAccount[],
  plan: PaymentPlan,
  committee: Committee,
  qcSigners: readonly CertificateSigner[],
  count: number,
  lanes: Lanes,
  start = 0,
): Promise<ChainedPayments> {
  const parents: PreparedPayment[] = [];
  const children: PreparedPayment[] = [];
  const created = BigInt(Date.now());
  for (let i = 0; i < count; i++) {
    const payer = payers[(start + i) % payers.length];
    const payee = payees[(start + i) % payees.length];
    const p = lanes.take(payer.address);
    const parentTx = signPayment(
      signer,
      payer,
      params(plan, { recipient: payee.address, nonceKey: allegroNonceKey(p.lane), nonce: p.nonce }),
    );
    const payment = decodePayment(parentTx, { chainId: plan.chainId });
    const txHash = paymentTxHash(payment);
    const effectsHash = paymentEffectsHash(payment);
    const certificates = await Promise.all(
      qcSigners.slice(0, committee.threshold).map((s) => s.sign(txHash, effectsHash, created)),
    );
    const body = { txHash, effectsHash, threshold: committee.threshold, certificates };
    const qc: QuorumCertificate = { ...body, qcHash: qcHash(body) };
    // The child spends the parent's amount less the most it may pay in fees.
    const c = lanes.take(payee.address);
    const childTx = signPayment(
      signer,
      payee,
      params(plan, {
        amount: plan.amount - (GAS * MAX_FEE_PER_GAS + 10n ** 12n - 1n) / 10n ** 12n,
        memo: qc.qcHash,
        nonceKey: allegroNonceKey(c.lane),
        nonce: c.nonce,
      }),
    );
    parents.push({
      sender: payer.address,
      request: {
        signedTx: parentTx,
        parentQcHash: new Uint8Array(),
        parents: [],
        clientRequestId: "",
      },
    });
    children.push({
      sender: payee.address,
      request: {
        signedTx: childTx,
        parentQcHash: qc.qcHash,
        parents: [{ qc, signedTx: parentTx, parentQcHash: new Uint8Array() }],
        clientRequestId: "",
      },
    });
  }
  return { parents, children };
}

/** Hex of a payment's signed bytes (for logs). */
export const hexOf = (p: PreparedPayment): Hex => bytesToHex(p.request.signedTx);

/**
 * Test fixtures for the sidecar: an in-memory certifier over a fake chain view, and signed
 * payments. Not part of the sidecar's runtime.
 *
 * @module
 */
import { type Hex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  allegroNonceKey,
  type Certificate,
  CertificateSigner,
  type Committee,
  ed25519,
  type PaymentParams,
  qcHash,
  type QuorumCertificate,
  signPaymentTransaction,
} from "@allegro/client";
import { testCommittee } from "@allegro/client/testing";
import { PATH_USD } from "@allegro/server/anvil";
import { cachingEd25519, PaymentCache } from "./caches.ts";
import { type AccountTracker, Certifier } from "./certifier.ts";
import { balanceId, laneId, Ledger } from "./ledger.ts";
import { Store } from "./store.ts";
import type { SubmissionRequest } from "./submission.ts";

export { ALPHA_USD, PATH_USD } from "@allegro/server/anvil";
export const CHAIN_ID = 1337n;
export const HEAD_MILLIS = 1_800_000_000_000n;

export const alice = privateKeyToAccount(
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
);
export const bob = privateKeyToAccount(
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
);
export const carol = privateKeyToAccount(
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
);

/** Chain balances and nonces a fake tracker serves; unset balances are 0. */
export class FakeChain implements AccountTracker {
  readonly balances = new Map<string, bigint>();
  readonly nonces = new Map<string, bigint>();
  constructor(readonly ledger: Ledger) {}

  setBalance(account: Hex, token: Hex, amount: bigint) {
    const id = balanceId(account.toLowerCase() as Hex, token);
    this.balances.set(id, amount);
    if (this.ledger.chainBalances.has(id)) this.ledger.chainBalances.set(id, amount);
  }

  setNonce(account: Hex, nonceKey: Uint8Array, nonce: bigint) {
    const id = laneId(account.toLowerCase() as Hex, nonceKey);
    this.nonces.set(id, nonce);
    if (this.ledger.chainNonces.has(id)) this.ledger.chainNonces.set(id, nonce);
  }

  track(account: Hex, tokens: readonly Hex[], nonceKey: Uint8Array): Promise<void> {
    for (const token of tokens) {
      const id = balanceId(account, token);
      if (!this.ledger.chainBalances.has(id)) {
        this.ledger.chainBalances.set(id, this.balances.get(id) ?? 0n);
      }
    }
    const lane = laneId(account, nonceKey);
    if (!this.ledger.chainNonces.has(lane)) {
      this.ledger.chainNonces.set(lane, this.nonces.get(lane) ?? 0n);
    }
    return Promise.resolve();
  }
}

/** An in-memory certifier for validator 0 of a 4-validator committee, chain head set. */
export async function testCertifier(
  options: {
    maxBatch?: number;
    kvPath?: string;
    maxGossipPerSigner?: number;
    maxCachedEntries?: number;
  } = {},
) {
  const { committee, signers } = await testCommittee(4, { chainId: CHAIN_ID, epoch: 42n });
  const ledger = new Ledger();
  ledger.head = { height: 100n, hash: `0x${"ab".repeat(32)}`, timestampMillis: HEAD_MILLIS };
  const store = await Store.open(options.kvPath ?? ":memory:", options);
  const chain = new FakeChain(ledger);
  // As the sidecar runs: validator 0's key (seed [1; 32]) through the caching Ed25519 backend,
  // and decoded payments cached.
  const ed = cachingEd25519(await ed25519());
  const certifier = new Certifier({
    ledger,
    store,
    signer: await CertificateSigner.create(new Uint8Array(32).fill(1), committee, ed),
    tracker: chain,
    prepare: {
      committee,
      minGas: 100_000n,
      maxClientRequestIdLength: 128,
      maxParents: 4,
      payments: new PaymentCache(1000),
      ed25519: ed,
    },
    policy: { expiryWindowMillis: 3_600_000n, minValidityMillis: 10_000n },
    now: () => 1_000n,
    maxCachedEntries: options.maxCachedEntries,
  });
  return { committee, signers, ledger, store, chain, certifier };
}

/** Payment parameters valid against {@linkcode testCertifier}'s head. */
export function paymentParams(overrides: Partial<PaymentParams> = {}): PaymentParams {
  return {
    chainId: CHAIN_ID,
    token: PATH_USD,
    recipient: bob.address,
    amount: 10_000_000n,
    nonceKey: allegroNonceKey(1n),
    nonce: 0n,
    validBefore: HEAD_MILLIS / 1000n + 60n,
    gas: 100_000n,
    maxFeePerGas: 20_000_000_000n,
    maxPriorityFeePerGas: 0n,
    feeToken: PATH_USD,
    ...overrides,
  };
}

/** Max fee of {@linkcode paymentParams}' defaults: ceil(100000 * 20 gwei / 10^12). */
export const DEFAULT_MAX_FEE = 2000n;

/** A submission of a payment signed by `account`. */
export async function submission(
  account = alice,
  overrides: Partial<PaymentParams> = {},
  extra: Partial<SubmissionRequest> = {},
): Promise<SubmissionRequest> {
  return {
    signedTx: hexToBytes(await signPaymentTransaction(account, paymentParams(overrides))),
    parentQcHash: new Uint8Array(),
    parents: [],
    clientRequestId: "",
    ...extra,
  };
}

/** A QC over a certified payment, signed by the first `count` (default: threshold) signers. */
export async function qcFor(
  committee: Committee,
  signers: readonly CertificateSigner[],
  certificate: Certificate,
  count = committee.threshold,
): Promise<QuorumCertificate> {
  const certs = await Promise.all(
    signers.slice(0, count).map((s) =>
      s.sign(certificate.txHash, certificate.effectsHash, certificate.createdUnixMillis)
    ),
  );
  const body = {
    txHash: certificate.txHash,
    effectsHash: certificate.effectsHash,
    threshold: committee.threshold,
    certificates: certs,
  };
  return { ...body, qcHash: qcHash(body) };
}

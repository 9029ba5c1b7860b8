/**
 * One sidecar in isolation: the real certifier, ledger, store (Deno KV on disk, fsync'd, group
 * commit) and signer, with an in-process chain view in place of the chain follower — every
 * account holds plenty of pathUSD and every nonce lane starts at 0. What is left to measure is the
 * sidecar itself.
 *
 * @module
 */
import type { Hex } from "viem";
import { CertificateSigner, type Committee, ed25519 } from "@allegro/client";
import { testCommittee } from "@allegro/client/testing";
import { cachingEd25519, PaymentCache } from "@allegro/sidecar/caches";
import { type AccountTracker, Certifier } from "@allegro/sidecar/certifier";
import { balanceId, laneId, Ledger } from "@allegro/sidecar/ledger";
import { enableNativeSecp256k1 } from "@allegro/sidecar/secp256k1";
import { Store } from "@allegro/sidecar/store";

/** The chain id of every benchmark payment. */
export const CHAIN_ID = 1337n;
/** The benchmark committee's epoch. */
export const EPOCH = 1n;

/** An in-process chain view: every balance `balance`, every lane nonce 0. */
export class OpenChain implements AccountTracker {
  constructor(readonly ledger: Ledger, readonly balance = 10n ** 15n) {}

  track(
    account: Hex,
    tokens: readonly Hex[],
    nonceKey: Uint8Array,
  ): Promise<void> {
    for (const token of tokens) {
      const id = balanceId(account, token);
      if (!this.ledger.chainBalances.has(id)) {
        this.ledger.chainBalances.set(id, this.balance);
      }
    }
    const lane = laneId(account, nonceKey);
    if (!this.ledger.chainNonces.has(lane)) {
      this.ledger.chainNonces.set(lane, 0n);
    }
    return Promise.resolve();
  }
}

/** How to build the isolated sidecar. */
export interface IsolatedOptions {
  /** Deno KV path (a file: durable commits), or `":memory:"`. */
  readonly kvPath: string;
  /** Most certifications per KV commit. */
  readonly maxBatch?: number;
  /** Which secp256k1 recovery to use. */
  readonly secp256k1?: "auto" | "ffi" | "wasm" | "js";
  /** Accounts that hold nothing on chain (chained payees: they spend parent credits only). */
  readonly emptyAccounts?: ReadonlySet<string>;
}

/** A running isolated sidecar. */
export interface IsolatedSidecar {
  readonly committee: Committee;
  /** The four validators' signers; `signers[0]` is this sidecar. */
  readonly signers: readonly CertificateSigner[];
  readonly ledger: Ledger;
  readonly store: Store;
  readonly certifier: Certifier;
  /** The secp256k1 recovery in use. */
  readonly secp256k1: string;
  close(): void;
}

/**
 * Builds the isolated sidecar: validator 0 of a deterministic 4-validator committee.
 *
 * @example
 * ```ts ignore
 * const sidecar = await startIsolated({ kvPath: "/tmp/bench.kv" });
 * const answer = await sidecar.certifier.submit(request);
 * sidecar.close();
 * ```
 */
export async function startIsolated(
  options: IsolatedOptions,
): Promise<IsolatedSidecar> {
  const secp256k1 = await enableNativeSecp256k1(options.secp256k1 ?? "auto");
  const { committee, signers } = await testCommittee(4, {
    chainId: CHAIN_ID,
    epoch: EPOCH,
  });
  const ledger = new Ledger();
  ledger.head = {
    height: 1n,
    hash: `0x${"ab".repeat(32)}`,
    timestampMillis: BigInt(Date.now()),
  };
  const store = await Store.open(options.kvPath, {
    maxBatch: options.maxBatch,
  });
  const empty = options.emptyAccounts ?? new Set<string>();
  const chain = new OpenChain(ledger);
  const tracker: AccountTracker = {
    track(account, tokens, nonceKey) {
      if (empty.has(account)) {
        for (const token of tokens) {
          const id = balanceId(account, token);
          if (!ledger.chainBalances.has(id)) ledger.chainBalances.set(id, 0n);
        }
      }
      return chain.track(account, tokens, nonceKey);
    },
  };
  // As `sidecar/app.ts` does: validator 0's key (seed [1; 32]) through the caching backend.
  const ed = cachingEd25519(await ed25519());
  const signer = await CertificateSigner.create(new Uint8Array(32).fill(1), committee, ed);
  const certifier = new Certifier({
    ledger,
    store,
    signer,
    tracker,
    prepare: {
      committee,
      minGas: 100_000n,
      maxClientRequestIdLength: 128,
      maxParents: 4,
      payments: new PaymentCache(),
      ed25519: ed,
    },
    policy: { expiryWindowMillis: 3_600_000n, minValidityMillis: 10_000n },
  });
  return {
    committee,
    signers,
    ledger,
    store,
    certifier,
    secp256k1,
    close: () => store.close(),
  };
}

/**
 * One sidecar in isolation: its real authority, certifier (driver), store (Deno KV on disk,
 * durable group commits) and certificate signer, as validator 0 of a 4-validator test committee,
 * with a synthetic chain view in place of the vault follower — blocks applied through the
 * certifier as the follower applies them: the committee's registration, `Deposited` events for
 * the lanes a run will spend, and an empty block every second so that the view stays fresh. What
 * is left to measure is the sidecar itself.
 *
 * @module
 */
import { bytesToHex, zeroHash } from "viem";
import type { CertificateSigner, Committee, VaultEvent } from "@allegro/client";
import { testCommittee } from "@allegro/client/testing";
import type { VaultBlock } from "@allegro/server/vault-follower";
import { Authority, Certifier, Store } from "@allegro/sidecar/bench";
import type { LaneRef } from "./orders.ts";

/** The chain id and epoch of the benchmark committee. */
const CHAIN_ID = 1337n;
const EPOCH = 1n;
/** W: the vault's `maxValidity` the isolated sidecar judges by (ms). */
export const MAX_VALIDITY = 3_600_000n;
/** What each funded lane holds. */
export const DEPOSIT = 10n ** 15n;
/** Most `Deposited` events in one synthetic block. */
const EVENTS_PER_BLOCK = 500;

/**
 * The benchmark committee: four validators with the test keys of `@allegro/client/testing`;
 * the isolated sidecar is `signers[0]`, the others sign the parents' QCs.
 *
 * @example
 * ```ts
 * import { benchCommittee } from "./isolated.ts";
 *
 * const { committee, signers } = benchCommittee();
 * console.log(committee.threshold, signers.length); // 3 4
 * ```
 */
export function benchCommittee(): { committee: Committee; signers: CertificateSigner[] } {
  return testCommittee(4, { chainId: CHAIN_ID, epoch: EPOCH });
}

/**
 * A chain made up in process: blocks of vault events applied through the certifier, one height
 * after another, with the local clock as header time.
 */
export class SyntheticChain {
  #height = 0n;
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(readonly certifier: Certifier, readonly committee: Committee) {}

  /** Registers the committee's epoch (block 1), then applies an empty block every second. */
  async start(): Promise<void> {
    const c = this.committee;
    await this.#block([{
      kind: "CommitteeSet",
      epoch: c.epoch,
      members: c.validators.map((v) => v.settlementAddress),
      threshold: c.threshold,
      graceEnd: 0n,
    }]);
    // A failed block shows as TEMPORARY_UNAVAILABLE answers, which the runs count.
    this.#ticker = setInterval(() => this.#block([]).catch(() => {}), 1000);
  }

  /** Credits {@linkcode DEPOSIT} to each lane, in blocks of at most 500 events. */
  async deposit(lanes: readonly LaneRef[]): Promise<void> {
    for (let i = 0; i < lanes.length; i += EVENTS_PER_BLOCK) {
      await this.#block(
        lanes.slice(i, i + EVENTS_PER_BLOCK).map((l) => ({
          kind: "Deposited",
          account: l.payer,
          token: l.token,
          from: l.payer,
          amount: DEPOSIT,
        })),
      );
    }
  }

  /** Stops the empty blocks. */
  stop(): void {
    clearInterval(this.#ticker);
  }

  #block(events: DistributiveOmit<VaultEvent, keyof Place>[]): Promise<void> {
    const height = ++this.#height;
    const now = Date.now();
    const block: VaultBlock = {
      height,
      hash: bytesToHex(new Uint8Array(32).fill(Number(height % 256n))),
      time: BigInt(Math.floor(now / 1000) * 1000),
      headerMillis: BigInt(now),
      events: events.map((e, logIndex) =>
        ({ ...e, blockNumber: height, logIndex, transactionHash: zeroHash }) as VaultEvent
      ),
    };
    return this.certifier.applyBlocks([block]);
  }
}

type Place = Pick<VaultEvent, "blockNumber" | "logIndex" | "transactionHash">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A running isolated sidecar. */
export interface IsolatedSidecar {
  readonly committee: Committee;
  /** The four validators' signers; `signers[0]` is this sidecar. */
  readonly signers: readonly CertificateSigner[];
  readonly authority: Authority;
  readonly store: Store;
  readonly certifier: Certifier;
  readonly chain: SyntheticChain;
  /** Stops the chain and closes the store. */
  close(): void;
}

/**
 * Starts the isolated sidecar on the Deno KV database at `kvPath` (a file: durable commits).
 *
 * @example
 * ```ts ignore
 * const sidecar = await startIsolated("/tmp/bench.kv");
 * await sidecar.chain.deposit(lanes);
 * const answer = await sidecar.certifier.submit(request);
 * sidecar.close();
 * ```
 */
export async function startIsolated(kvPath: string): Promise<IsolatedSidecar> {
  const { committee, signers } = benchCommittee();
  const signer = signers[0];
  const store = await Store.open(kvPath);
  const authority = new Authority({
    chainId: committee.chainId,
    vault: committee.vault,
    epoch: committee.epoch,
    self: bytesToHex(signer.publicKey),
    maxValidity: MAX_VALIDITY,
    // The sidecar's defaults for 1-s blocks: S = 3 blocks + 1 s, M = S + D + 2 blocks.
    margin: 8_000n,
    staleAfter: 4_000n,
    maxUnsettledPerLane: 64,
    gossipWindow: 16n,
    // The gate starts open: this sidecar reads no peer's board.
    boardsToCheck: 0,
    boardsToRecover: 0,
    sign: (txHash, effectsHash, created) => signer.sign(txHash, effectsHash, created),
  }, { gate: { kind: "open" } });
  const certifier = new Certifier(authority, store, committee);
  const chain = new SyntheticChain(certifier, committee);
  try {
    await chain.start();
  } catch (e) {
    store.close();
    throw e;
  }
  return {
    committee,
    signers,
    authority,
    store,
    certifier,
    chain,
    close: () => {
      chain.stop();
      store.close();
    },
  };
}

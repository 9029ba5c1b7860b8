/**
 * Follows the vault for the backend (fed by `@allegro/server/vault-follower`, one block at a
 * time): a `Settled` event of a record's `tx_hash` in block N makes it `INCLUDED` (N), and head
 * ≥ N + confirmations `FINALIZED` (a `SettleSkipped` changes nothing: anyone can cause one, and
 * the settler fails a record on its own skips); a record whose `validBefore` the chain time reaches unsettled
 * is `EXPIRED` — for a certified one only after the vault itself says the key is not settled
 * with this order, since that alert must never be false. It keeps the head the backend has
 * processed, and the records it watches in memory (they are bounded by the store's expiry).
 *
 * @module
 */
import type { Hex } from "viem";
import { LRUCache } from "lru-cache";
import type { Logger } from "@allegro/server/log";
import type { VaultBlock } from "@allegro/server/vault-follower";
import type { SettledAt } from "./chain.ts";
import type { EventHub } from "./events.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { BackendMetrics } from "./metrics.ts";
import { canMove, isOpen, type StageName, type TxRecord, withStage } from "./record.ts";
import type { Store } from "./store.ts";

/** A processed block as the backend reports its head. */
export interface Head {
  readonly height: bigint;
  readonly hash: Hex;
  /** Chain time (ms). */
  readonly time: bigint;
  /** The header's time in ms (with its millisecond part where present). */
  readonly headerMillis: bigint;
  /** When the backend processed it (local clock): the block boundary as observed. */
  readonly receivedMillis: bigint;
}

/** What the tracker remembers of a watched record. */
interface Watched {
  readonly stage: StageName;
  readonly validBefore: bigint;
  readonly blockHeight?: bigint;
  readonly certified: boolean;
}

/** What the tracker needs. */
export interface TrackerDeps {
  readonly lifecycle: Lifecycle;
  readonly store: Store;
  readonly events: EventHub;
  readonly metrics: BackendMetrics;
  readonly log: Logger;
  readonly confirmations: number;
  /** Where the vault says this order settled, if it did, by block `latest` (`Chain.settledAt`). */
  readonly settledAt: (record: TxRecord, latest: bigint) => Promise<SettledAt | undefined>;
}

const now = () => BigInt(Date.now());

/**
 * The backend's vault tracker.
 *
 * @example
 * ```ts ignore
 * const tracker = new Tracker({ lifecycle, store, events, metrics, log, confirmations: 2, settledAt });
 * for (const record of await store.openRecords()) tracker.track(record);
 * new VaultFollower({ rpcUrl, vault, fromBlock, onBlocks: (b) => tracker.apply(b) }).start();
 * ```
 */
export class Tracker {
  readonly #deps: TrackerDeps;
  readonly #watched = new Map<Hex, Watched>();
  /** Orders seen settling, for records the backend meets only after their `Settled` event. */
  readonly #settled = new LRUCache<Hex, SettledAt>({ max: 100_000 });
  #head: Head | undefined;

  /** Watches every record `deps.lifecycle` stores from now on. */
  constructor(deps: TrackerDeps) {
    this.#deps = deps;
    deps.lifecycle.listen((_, after) => this.track(after));
  }

  /** The last block processed. */
  get head(): Head | undefined {
    return this.#head;
  }

  /** Lifecycle listener: watches open records, forgets the others. */
  track(record: TxRecord): void {
    if (!isOpen(record)) {
      this.#watched.delete(record.txHash);
      return;
    }
    const fresh = !this.#watched.has(record.txHash);
    this.#watched.set(record.txHash, {
      stage: record.stage,
      validBefore: record.signed.order.validBefore,
      ...(record.blockHeight !== undefined ? { blockHeight: record.blockHeight } : {}),
      certified: record.qc !== undefined,
    });
    const settled = this.#settled.get(record.txHash);
    if (fresh && settled && record.stage !== "INCLUDED") {
      this.#included(record.txHash, settled).catch((e) =>
        this.#deps.log.error("recording a settlement failed", {
          tx_hash: record.txHash,
          error: (e as Error).message,
        })
      );
    }
  }

  /** Applies blocks in order; resolves once their changes and the new position are stored. */
  async apply(blocks: readonly VaultBlock[]): Promise<void> {
    const { lifecycle, store, confirmations } = this.#deps;
    for (const block of blocks) {
      for (const e of block.events) {
        if (e.kind === "Settled") {
          const at = { blockHeight: block.height, transaction: e.transactionHash };
          this.#settled.set(e.txHash, at);
          if (this.#watched.has(e.txHash)) await this.#included(e.txHash, at);
        }
        // A SettleSkipped fails nothing here: anyone may send the vault a flawed QC for a public
        // order. The settler fails a record on a skip in its own settlement only.
      }
      for (const [txHash, w] of [...this.#watched]) {
        if (w.stage === "INCLUDED") {
          if (
            w.blockHeight !== undefined && block.height >= w.blockHeight + BigInt(confirmations)
          ) {
            await lifecycle.move(txHash, "FINALIZED", { blockHeight: w.blockHeight });
          }
        } else if (w.validBefore <= block.time) {
          await this.#expire(txHash, w, block.height);
        }
      }
    }
    const last = blocks.at(-1);
    if (last === undefined) return;
    await store.setFollowFrom(last.height + 1n);
    this.#announce(last);
  }

  /** Marks `txHash` settled at `at`, keeping the gas of a settlement this backend sent. */
  async #included(txHash: Hex, at: SettledAt): Promise<void> {
    await this.#deps.lifecycle.update(txHash, (r) => {
      if (r === undefined || !canMove(r.stage, "INCLUDED")) return undefined;
      const settlement = at.transaction === undefined || r.settlement?.txHash === at.transaction
        ? r.settlement
        : { txHash: at.transaction };
      return withStage({ ...r, settlement }, "INCLUDED", now(), { blockHeight: at.blockHeight });
    });
  }

  /** `validBefore` has passed at block `height`: `EXPIRED`, unless the vault says it settled. */
  async #expire(txHash: Hex, w: Watched, height: bigint): Promise<void> {
    if (w.certified) {
      const record = await this.#deps.lifecycle.get(txHash);
      if (record === undefined) return;
      const settled = await this.#deps.settledAt(record, height);
      if (settled) return await this.#included(txHash, settled);
    }
    await this.#deps.lifecycle.move(txHash, "EXPIRED");
  }

  #announce(block: VaultBlock): void {
    const head: Head = {
      height: block.height,
      hash: block.hash,
      time: block.time,
      headerMillis: block.headerMillis,
      receivedMillis: now(),
    };
    this.#head = head;
    this.#deps.metrics.head(
      head.height,
      Math.max(0, (Date.now() - Number(head.headerMillis)) / 1000),
    );
    this.#deps.events.emit({
      type: "head",
      height: head.height.toString(),
      hash: head.hash,
      timestamp_unix_millis: head.time.toString(),
      received_unix_millis: head.receivedMillis.toString(),
    });
  }
}

/**
 * Pulls every sidecar's bulletin board with a cursor per sidecar (kept in KV), checks each entry
 * with the client's `verifyBoardEntry` (the payer's signature, the committee's chain and vault,
 * the order's hashes, and the certificate or QC against the committee) and merges the valid ones
 * into the payment records — which puts them on the backend's merged board. Payments submitted
 * straight to the sidecars thus get a record, a QC and a lifecycle here too (their settlement is
 * left to the sidecars). An entry the backend already holds is not verified again.
 *
 * @module
 */
import { bytesToHex } from "viem";
import { LRUCache } from "lru-cache";
import type { BulletinEntry } from "@allegro/proto";
import {
  bytesEqual,
  type Committee,
  orderEffectsHash,
  type SidecarConnection,
  verifyBoardEntry,
} from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import { type Lifecycle, mergeAnswers, type TxSeed, withQc } from "./lifecycle.ts";
import { repeat } from "./repeat.ts";
import type { Store } from "./store.ts";

/** How to pull. */
export interface BoardPullerOptions {
  readonly committee: Committee;
  readonly sidecars: readonly SidecarConnection[];
  readonly store: Store;
  readonly lifecycle: Lifecycle;
  readonly log: Logger;
  readonly intervalMillis: number;
  readonly timeoutMillis: number;
  /** Entries per page; default 256. */
  readonly pageLimit?: number;
  /** Pages per sidecar per round; default 8. */
  readonly maxPagesPerRound?: number;
}

/**
 * Background puller of the sidecars' boards.
 *
 * @example
 * ```ts ignore
 * const puller = new BoardPuller({ committee, sidecars, store, lifecycle, log,
 *   intervalMillis: 1000, timeoutMillis: 2000 });
 * puller.start();
 * await puller.stop();
 * ```
 */
export class BoardPuller {
  readonly #o: BoardPullerOptions;
  /** `tx_hash:signer` (or `tx_hash:qc`) of entries already merged. */
  readonly #merged = new LRUCache<string, true>({ max: 100_000 });
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: BoardPullerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop = repeat(
      this.#stop.signal,
      this.#o.intervalMillis,
      () => this.pull(),
      (e) => this.#o.log.warn("board pull failed", { error: (e as Error).message }),
    );
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** One round over every sidecar. */
  async pull(): Promise<void> {
    await Promise.all(this.#o.sidecars.map((s) => this.#pullOne(s)));
  }

  async #pullOne({ validator, client }: SidecarConnection): Promise<void> {
    const { store, log } = this.#o;
    let cursor = await store.cursor(validator.publicKey);
    for (let page = 0; page < (this.#o.maxPagesPerRound ?? 8); page++) {
      if (this.#stop.signal.aborted) return;
      let answer;
      try {
        answer = await client.getBulletinBoard({
          afterSequence: cursor,
          limit: this.#o.pageLimit ?? 256,
        }, { timeoutMs: this.#o.timeoutMillis, signal: this.#stop.signal });
      } catch {
        return; // unreachable: the health monitor reports it
      }
      let dropped = 0;
      for (const entry of answer.entries) {
        if (entry.sequence > cursor && !await this.#accept(validator.name, entry)) dropped++;
      }
      if (dropped > 0) {
        log.warn("board entries that do not verify were dropped", {
          validator: validator.name,
          count: dropped,
        });
      }
      const next = answer.entries.reduce((m, e) => (e.sequence > m ? e.sequence : m), cursor);
      if (next === cursor) return;
      cursor = next;
      await store.setCursor(validator.publicKey, cursor);
      if (!answer.hasMore) return;
    }
  }

  /** Verifies one entry and merges it; false when it does not verify. */
  async #accept(from: string, entry: BulletinEntry): Promise<boolean> {
    const { committee, lifecycle } = this.#o;
    const signer = entry.certificate ? bytesToHex(entry.certificate.signer) : "qc";
    const key = `${
      bytesToHex(entry.certificate?.txHash ?? entry.qc?.txHash ?? new Uint8Array())
    }:${signer}`;
    if (this.#merged.has(key)) return true;
    let verified;
    try {
      verified = await verifyBoardEntry(committee, entry);
    } catch (e) {
      this.#o.log.warn("board entry rejected", {
        from,
        sequence: entry.sequence,
        error: (e as Error).message.slice(0, 300),
      });
      return false;
    }
    const seed: TxSeed = {
      signed: verified.signed,
      txHash: verified.txHash,
      effectsHash: bytesToHex(orderEffectsHash(verified.signed.order)),
      source: "board",
    };
    if (verified.qc) {
      await lifecycle.update(verified.txHash, (r) => withQc(r, seed, verified.qc));
    } else {
      const certificate = verified.certificate;
      const member = committee.member(certificate.signer)!;
      await lifecycle.update(
        verified.txHash,
        (r) =>
          r?.certificates.some((c) => bytesEqual(c.certificate.signer, certificate.signer))
            ? undefined
            : mergeAnswers(r, seed, [{
              validator: member.name,
              certificate,
              receivedMillis: BigInt(Date.now()),
            }], []),
      );
    }
    this.#merged.set(key, true);
    return true;
  }
}

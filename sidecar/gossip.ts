/**
 * Gossip: pulls every peer's bulletin board with its sequence cursor, verifies each entry
 * against the committee (transaction, hashes, signature) and stores the valid ones. A peer
 * cannot push anything: it can only serve pages, and the store bounds what it keeps per
 * foreign signer.
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Hex } from "viem";
import { FastPaySidecar } from "@allegro/proto";
import { bytesEqual, type Committee, verifyBoardEntry } from "@allegro/client";
import type { Logger } from "./log.ts";
import type { SidecarMetrics } from "./metrics.ts";
import type { GossipWrite, Store } from "./store.ts";

/** Gossip settings. */
export interface GossipOptions {
  readonly peers: readonly string[];
  readonly committee: Committee;
  /** This sidecar's validator id: its own entries are never taken from peers. */
  readonly self: Uint8Array;
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: SidecarMetrics;
  readonly intervalMillis: number;
  /** Entries asked for per page. */
  readonly pageLimit: number;
  /** Pages read from one peer per round, so one round is bounded. */
  readonly maxPagesPerRound: number;
  /** Per-request timeout. */
  readonly timeoutMillis: number;
}

/**
 * Periodic pulls from every peer.
 *
 * @example
 * ```ts ignore
 * const gossip = new Gossip({ peers, committee, self, store, log, metrics, intervalMillis: 500,
 *   pageLimit: 256, maxPagesPerRound: 8, timeoutMillis: 2000 });
 * gossip.start();
 * ```
 */
export class Gossip {
  readonly #o: GossipOptions;
  readonly #cursors = new Map<string, bigint>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(options: GossipOptions) {
    this.#o = options;
  }

  /** Starts pulling every `intervalMillis`. */
  start(): void {
    const tick = async () => {
      this.#running = this.round();
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.intervalMillis);
    };
    this.#timer = setTimeout(tick, this.#o.intervalMillis);
  }

  /** Stops pulling and waits for a round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pull from every peer; returns how many entries were stored. */
  async round(): Promise<number> {
    const added = await Promise.all(this.#o.peers.map((peer) => this.#pull(peer)));
    return added.reduce((a, b) => a + b, 0);
  }

  async #pull(peer: string): Promise<number> {
    const { committee, store, log } = this.#o;
    const client = createClient(
      FastPaySidecar,
      createConnectTransport({ baseUrl: peer, defaultTimeoutMs: this.#o.timeoutMillis }),
    );
    let added = 0;
    try {
      for (let page = 0; page < this.#o.maxPagesPerRound; page++) {
        const after = this.#cursors.get(peer) ?? 0n;
        const response = await client.getBulletinBoard({
          afterSequence: after,
          limit: this.#o.pageLimit,
        });
        const writes: GossipWrite[] = [];
        let rejected = 0;
        for (const entry of response.entries) {
          if (entry.sequence <= after) continue; // a cursor never goes back
          if (entry.certificate && bytesEqual(entry.certificate.signer, this.#o.self)) continue;
          try {
            const v = await verifyBoardEntry(committee, entry);
            writes.push({
              kind: "gossip",
              entry: {
                certificate: v.certificate,
                signedTx: v.payment.rawTx,
                parentQcHash: v.parentQcHash,
                sender: v.payment.sender.toLowerCase() as Hex,
                recipient: v.payment.recipient.toLowerCase() as Hex,
                amount: v.payment.amount,
                asset: v.payment.asset.toLowerCase() as Hex,
                nonceKey: v.payment.nonceKey,
                nonceSeq: v.payment.nonceSeq,
                validBeforeMillis: v.payment.validBeforeMillis,
              },
            });
          } catch (e) {
            rejected++;
            if (rejected === 1) {
              log.warn("peer served an invalid entry", { peer, error: String(e) });
            }
          }
        }
        added += await store.addGossip(writes);
        const last = response.entries.at(-1)?.sequence;
        if (last !== undefined && last > after) this.#cursors.set(peer, last);
        if (!response.hasMore || last === undefined) break;
      }
    } catch (e) {
      log.warn("gossip pull failed", { peer, error: String(e) });
    }
    this.#o.metrics.gossip(added);
    return added;
  }
}

/**
 * Gossip: pulls every peer's bulletin board with its sequence cursor, verifies each entry
 * against the committee (transaction, hashes, signature) and stores the valid ones. A peer
 * cannot push anything: it can only serve pages, and the store bounds what it keeps per
 * foreign signer.
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { bytesToHex, type Hex } from "viem";
import { FastPaySidecar } from "@allegro/proto";
import { bytesEqual, type Committee, verifyBoardEntry } from "@allegro/client";
import { Bounded } from "./caches.ts";
import type { Logger } from "@allegro/server/log";
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
  /** How many stored entries are remembered so as not to verify them again (default 65,536). */
  readonly rememberedEntries?: number;
  /** Checks one entry (default {@linkcode verifyBoardEntry}). */
  readonly verify?: typeof verifyBoardEntry;
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
  readonly #clients = new Map<string, Client<typeof FastPaySidecar>>();
  /**
   * Entries (tx hash and signer) verified and stored, from any peer: every peer's board carries
   * the certificates it gossiped too, so the same one comes from several peers.
   */
  readonly #stored: Bounded<true>;
  /** Entries being verified and stored from one peer: another peer's pull skips them. */
  readonly #inFlight = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(options: GossipOptions) {
    this.#o = options;
    this.#stored = new Bounded(options.rememberedEntries ?? 65_536);
    for (const peer of options.peers) {
      this.#clients.set(
        peer,
        createClient(
          FastPaySidecar,
          createConnectTransport({
            baseUrl: peer,
            useBinaryFormat: true,
            defaultTimeoutMs: options.timeoutMillis,
          }),
        ),
      );
    }
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
    const verify = this.#o.verify ?? verifyBoardEntry;
    const client = this.#clients.get(peer)!;
    let added = 0;
    try {
      for (let page = 0; page < this.#o.maxPagesPerRound; page++) {
        const after = this.#cursors.get(peer) ?? 0n;
        const response = await client.getBulletinBoard({
          afterSequence: after,
          limit: this.#o.pageLimit,
        });
        const writes: GossipWrite[] = [];
        const ids: string[] = [];
        let rejected = 0;
        for (const entry of response.entries) {
          if (entry.sequence <= after) continue; // a cursor never goes back
          if (entry.certificate && bytesEqual(entry.certificate.signer, this.#o.self)) continue;
          const id = entry.certificate &&
            bytesToHex(entry.certificate.txHash) + bytesToHex(entry.certificate.signer);
          if (id !== undefined && (this.#stored.get(id) || this.#inFlight.has(id))) continue;
          if (id !== undefined) this.#inFlight.add(id);
          try {
            const v = await verify(committee, entry);
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
            ids.push(id!);
          } catch (e) {
            if (id !== undefined) this.#inFlight.delete(id);
            rejected++;
            if (rejected === 1) {
              log.warn("peer served an invalid entry", { peer, error: String(e) });
            }
          }
        }
        // Should storing fail, this peer's cursor stays: the entries come again next round.
        const stored = await store.addGossip(writes).finally(() => {
          for (const id of ids) this.#inFlight.delete(id);
        });
        for (const id of ids) this.#stored.set(id, true);
        added += stored;
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

/**
 * Gossip (SPEC §6 bulletin board): pulls every peer's board with its sequence cursor (binary
 * Connect), verifies each entry against the committee, and hands it to the certifier — another
 * validator's certificate becomes a lock, a QC applies its order's seq. A peer cannot push
 * anything, and what it can make this sidecar keep is bounded: a rate per foreign signer, the
 * authority's window past each lane's prefix, and at most two orders per key.
 *
 * Gossip also watches for this validator's own certificates on peers' boards that its store
 * lacks (store loss), and reports each committee member's board read to its end (the restart
 * check waits for `min(2f, n − 1)` of them, a store-loss recovery for `min(2f + 1, n − 1)`). It
 * pulls only while the chain view is current: a certificate becomes a lock only against a known
 * chain time, and an entry skipped then would be skipped for good.
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { bytesToHex } from "viem";
import { LRUCache } from "lru-cache";
import { FastPaySidecar } from "@allegro/proto";
import { bytesEqual, type Committee, type VerifiedEntry, verifyBoardEntry } from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import type { Certifier } from "./certifier.ts";
import type { SidecarMetrics } from "./metrics.ts";

/** Gossip settings. */
export interface GossipOptions {
  readonly peers: readonly string[];
  readonly committee: Committee;
  /** This sidecar's validator id. */
  readonly self: Uint8Array;
  readonly certifier: Certifier;
  readonly log: Logger;
  readonly metrics: SidecarMetrics;
  readonly intervalMillis: number;
  /** Entries asked for per page. */
  readonly pageLimit: number;
  /** Pages read from one peer per round, so one round is bounded. */
  readonly maxPagesPerRound: number;
  /** Per-request timeout. */
  readonly timeoutMillis: number;
  /** New entries taken per foreign signer per second (a token bucket twice as deep). */
  readonly perSignerPerSecond: number;
  /** Whether the chain view is current (no pulls otherwise). */
  readonly viewCurrent: () => boolean;
  /** Called with each verified entry taken (the settler's candidates). */
  readonly onEntry?: (entry: VerifiedEntry) => void;
  /** Called when this validator's own certificate is on a peer's board but not in its store. */
  readonly onStoreLoss?: (reason: string) => void;
}

/**
 * Periodic pulls from every peer.
 *
 * @example
 * ```ts ignore
 * const gossip = new Gossip({ peers, committee, self, certifier, log, metrics,
 *   intervalMillis: 500, pageLimit: 256, maxPagesPerRound: 8, timeoutMillis: 2000,
 *   perSignerPerSecond: 200, viewCurrent: () => true });
 * gossip.start();
 * ```
 */
export class Gossip {
  readonly #o: GossipOptions;
  readonly #cursors = new Map<string, bigint>();
  readonly #clients = new Map<string, Client<typeof FastPaySidecar>>();
  /** Entries (tx hash and signer, or tx hash of a QC) already taken, from any peer. */
  readonly #seen = new LRUCache<string, true>({ max: 65_536 });
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  /** The validator id each peer named: another member's, or `null` (its board does not count). */
  readonly #members = new Map<string, string | null>();
  readonly #read = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(options: GossipOptions) {
    this.#o = options;
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

  /** Starts pulling every `intervalMillis` (the first round at once). */
  start(): void {
    const tick = async () => {
      this.#running = this.round();
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.intervalMillis);
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Stops pulling and waits for a round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pull from every peer; returns how many entries were taken. */
  async round(): Promise<number> {
    if (!this.#o.viewCurrent()) return 0;
    const added = await Promise.all(this.#o.peers.map((peer) => this.#pull(peer)));
    return added.reduce((a, b) => a + b, 0);
  }

  async #pull(peer: string): Promise<number> {
    const { log } = this.#o;
    const client = this.#clients.get(peer)!;
    let added = 0;
    try {
      for (let page = 0; page < this.#o.maxPagesPerRound && !this.#stopped; page++) {
        const after = this.#cursors.get(peer) ?? 0n;
        const response = await client.getBulletinBoard({
          afterSequence: after,
          limit: this.#o.pageLimit,
        });
        let rejected = 0;
        for (const raw of response.entries) {
          if (raw.sequence <= after) continue; // a cursor never goes back
          const id = raw.certificate
            ? bytesToHex(raw.certificate.txHash) + bytesToHex(raw.certificate.signer)
            : raw.qc
            ? bytesToHex(raw.qc.txHash)
            : undefined;
          if (id === undefined || this.#seen.has(id)) continue;
          const cert = raw.certificate;
          if (cert && this.#o.committee.member(cert.signer) === undefined) continue;
          const own = cert !== undefined && bytesEqual(cert.signer, this.#o.self);
          if (cert && !own && !this.#allowed(bytesToHex(cert.signer))) continue;
          let entry: VerifiedEntry;
          try {
            entry = await verifyBoardEntry(this.#o.committee, raw);
          } catch (e) {
            if (++rejected === 1) {
              log.warn("peer served an invalid entry", { peer, error: String(e) });
            }
            continue;
          }
          if (await this.#take(entry, own)) added++;
          this.#seen.set(id, true);
        }
        // Should taking an entry fail, this peer's cursor stays: the page comes again.
        const last = response.entries.at(-1)?.sequence;
        if (last !== undefined && last > after) this.#cursors.set(peer, last);
        if (!response.hasMore || last === undefined) {
          const member = await this.#member(peer, client);
          if (member !== undefined && !this.#read.has(member)) {
            this.#read.add(member);
            await this.#o.certifier.boardPulled(member);
          }
          break;
        }
      }
    } catch (e) {
      log.warn("gossip pull failed", { peer, error: String(e) });
    }
    this.#o.metrics.gossip(added);
    return added;
  }

  /**
   * The validator id `peer` names, when it is another member of the committee: boards count per
   * member, so a peer listed twice, this sidecar itself or a stranger never counts.
   */
  async #member(peer: string, client: Client<typeof FastPaySidecar>): Promise<string | undefined> {
    if (!this.#members.has(peer)) {
      const { pubkey } = await client.getValidatorInfo({});
      const member = this.#o.committee.member(pubkey) !== undefined &&
        !bytesEqual(pubkey, this.#o.self);
      if (!member) {
        this.#o.log.warn("peer is not another member of the committee: its board does not count", {
          peer,
          pubkey: bytesToHex(pubkey),
        });
      }
      this.#members.set(peer, member ? bytesToHex(pubkey) : null);
    }
    return this.#members.get(peer) ?? undefined;
  }

  async #take(entry: VerifiedEntry, own: boolean): Promise<boolean> {
    const { certifier } = this.#o;
    if (entry.qc) {
      await certifier.confirm({ signed: entry.signed, txHash: entry.txHash, qc: entry.qc });
      this.#o.onEntry?.(entry);
      return true;
    }
    if (own) {
      if (await certifier.lacksOwn(entry.signed, entry.txHash)) {
        this.#o.onStoreLoss?.(
          `a peer's board holds this validator's certificate of order ${entry.txHash} (seq ${entry.signed.order.seq} of ${entry.signed.order.payer}), which its store lacks`,
        );
      }
      return false;
    }
    const kept = await certifier.observe(entry.signed, entry.certificate);
    if (kept) this.#o.onEntry?.(entry);
    return kept;
  }

  /** A token bucket per foreign signer: `perSignerPerSecond`, bursts of twice that. */
  #allowed(signer: string): boolean {
    const rate = this.#o.perSignerPerSecond;
    const now = performance.now();
    const bucket = this.#buckets.get(signer) ?? { tokens: 2 * rate, at: now };
    bucket.tokens = Math.min(2 * rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.#buckets.set(signer, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

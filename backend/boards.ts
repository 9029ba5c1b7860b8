/**
 * Pulls every sidecar's bulletin board with its cursor (kept in KV), verifies each entry against
 * the committee — the certificate's signature, the signed transaction recomputing its `tx_hash`
 * and `effects_hash`, and the parent binding (a `parent_qc_hash` must be the memo the payer
 * signed) — and merges the valid ones into the tx records, which puts them on the backend's own
 * board. So the backend's board holds every certificate of every sidecar, verified, with its own
 * cursor; payments submitted straight to the sidecars get a record (and a QC) too.
 *
 * @module
 */
import { bytesToHex } from "viem";
import type { BulletinEntry } from "@allegro/proto";
import {
  checkParentBinding,
  type Committee,
  type SidecarConnection,
  verifyBoardEntry,
} from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import { type Lifecycle, mergeAnswers, recordPayment } from "./lifecycle.ts";
import { Lru } from "./lru.ts";
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
  /** Verified certificates remembered, so a certificate gossiped to n boards is checked once. */
  readonly cacheSize: number;
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
 * const puller = new BoardPuller({ committee, sidecars, store, lifecycle, log, intervalMillis: 1000,
 *   timeoutMillis: 2000, cacheSize: 100_000 });
 * puller.start();
 * await puller.stop();
 * ```
 */
export class BoardPuller {
  readonly #o: BoardPullerOptions;
  readonly #verified: Lru<string, true>;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: BoardPullerOptions) {
    this.#o = options;
    this.#verified = new Lru(options.cacheSize);
  }

  start(): void {
    this.#loop = this.#run();
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
      let rejected = 0;
      for (const entry of answer.entries) {
        if (entry.sequence <= cursor) continue;
        if (!await this.#accept(validator.name, entry)) rejected++;
      }
      if (rejected > 0) {
        log.warn("board entries that do not verify were dropped", {
          validator: validator.name,
          count: rejected,
        });
      }
      const next = answer.entries.reduce(
        (m, e) => (e.sequence > m ? e.sequence : m),
        cursor,
      );
      if (next === cursor) return;
      cursor = next;
      await store.setCursor(validator.publicKey, cursor);
      if (!answer.hasMore) return;
    }
  }

  /** Verifies one entry and merges it; false when it does not verify. */
  async #accept(from: string, entry: BulletinEntry): Promise<boolean> {
    const { committee, lifecycle } = this.#o;
    let verified;
    try {
      verified = await verifyBoardEntry(committee, entry);
      if (verified.parentQcHash.length > 0) {
        checkParentBinding(verified.payment, verified.parentQcHash);
      }
    } catch (e) {
      this.#o.log.warn("board entry rejected", {
        from,
        sequence: entry.sequence.toString(),
        error: (e as Error).message.slice(0, 300),
      });
      return false;
    }
    const cert = verified.certificate;
    const key = `${bytesToHex(cert.txHash)}:${bytesToHex(cert.signer)}`;
    if (this.#verified.has(key)) return true;
    const signer = committee.member(cert.signer)!;
    const seed = {
      txHash: cert.txHash,
      effectsHash: cert.effectsHash,
      signedTx: verified.payment.rawTx,
      parentQcHash: verified.parentQcHash,
      payment: recordPayment(verified.payment),
      source: "board" as const,
    };
    await lifecycle.update(cert.txHash, (record) => {
      if (
        record?.certificates.some((c) =>
          bytesToHex(c.certificate.signer) === bytesToHex(cert.signer)
        )
      ) {
        return undefined;
      }
      return mergeAnswers(record, seed, [{
        validator: signer.name,
        certificate: cert,
        receivedMillis: BigInt(Date.now()),
      }], []);
    });
    this.#verified.set(key, true);
    return true;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.pull();
      } catch (e) {
        this.#o.log.warn("board pull failed", { error: (e as Error).message });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.intervalMillis);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }
}

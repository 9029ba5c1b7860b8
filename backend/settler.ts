/**
 * The backend's settler (SPEC §6 settlement, §8): every QC the backend forms from a submission is
 * settled at once — one `settleBatch` (simulated first, by `settleOrders`), the order's
 * unsettled ancestors that the backend holds QCs of placed before it. Only orders with a
 * settleable QC are sent, and never once chain time is within `minRemainingMillis` of their
 * `validBefore`. Orders that arrive while settlements are in flight go into the next batch. A
 * settlement that could not be sent or mined is retried a few times, then its orders are `FAILED`;
 * an order the vault skipped is `FAILED` with the vault's reason; both are alerts (the lifecycle
 * raises them).
 *
 * @module
 */
import type { Address, Hex } from "viem";
import {
  type CertifiedOrder,
  type Committee,
  decodeVaultEvents,
  NO_PARENT,
  settleOrders,
  type TempoSigner,
} from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import type { Chain } from "./chain.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { BackendMetrics } from "./metrics.ts";
import { isPending, type TxRecord } from "./record.ts";

/** What the settler needs. */
export interface SettlerDeps {
  readonly chain: Pick<Chain, "client" | "time">;
  readonly committee: Committee;
  /** The account that sends settlements and earns their fees. */
  readonly account: TempoSigner;
  readonly feeToken: Address;
  readonly lifecycle: Lifecycle;
  readonly log: Logger;
  readonly metrics: BackendMetrics;
  /** Least time left before `validBefore` (chain time) for an order to be sent. */
  readonly minRemainingMillis: number;
  /** Pause before a failed settlement is tried again. */
  readonly retryMillis: number;
  /** Attempts per order before it is `FAILED`; default 3. */
  readonly attempts?: number;
  /** Most orders in one settlement; default 50. */
  readonly maxBatch?: number;
  /** Most settlements in flight at once; default 4. */
  readonly maxInFlight?: number;
}

/** How far up a chain of unsettled parents a settlement reaches. */
const MAX_ANCESTORS = 8;

const certifiedOf = (r: TxRecord): CertifiedOrder => ({
  signed: r.signed,
  txHash: r.txHash,
  qc: r.qc!,
});

/**
 * The settler.
 *
 * @example
 * ```ts ignore
 * const settler = new Settler({ chain, committee, account, feeToken, lifecycle, log, metrics,
 *   minRemainingMillis: 2000, retryMillis: 1000 });
 * settler.enqueue(record.txHash);
 * await settler.stop();
 * ```
 */
export class Settler {
  readonly #deps: SettlerDeps;
  readonly #queue = new Set<Hex>();
  readonly #failures = new Map<Hex, number>();
  readonly #running = new Set<Promise<void>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopped = false;

  constructor(deps: SettlerDeps) {
    this.#deps = deps;
  }

  /** Settles `txHash` (a record with a settleable QC) as soon as a settlement can be sent. */
  enqueue(txHash: Hex): void {
    if (this.#stopped) return;
    this.#queue.add(txHash);
    this.#pump();
  }

  /** Sends nothing more and waits for the settlements in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    await Promise.allSettled([...this.#running]);
  }

  #pump(): void {
    const { maxBatch = 50, maxInFlight = 4 } = this.#deps;
    while (!this.#stopped && this.#queue.size > 0 && this.#running.size < maxInFlight) {
      const batch = [...this.#queue].slice(0, maxBatch);
      for (const h of batch) this.#queue.delete(h);
      const run: Promise<void> = this.#send(batch)
        .catch((e) => this.#deps.log.error("settlement round failed", { error: String(e) }))
        .finally(() => {
          this.#running.delete(run);
          this.#pump();
        });
      this.#running.add(run);
    }
  }

  /** The records to settle now, each after its unsettled ancestors, none twice. */
  async #due(hashes: readonly Hex[]): Promise<TxRecord[]> {
    const { lifecycle, log, minRemainingMillis } = this.#deps;
    const chainTime = await this.#deps.chain.time();
    if (chainTime === undefined) {
      this.#retry(hashes);
      return [];
    }
    const due = new Map<Hex, TxRecord>();
    const sendable = (r: TxRecord | undefined): boolean =>
      r?.qc !== undefined && isPending(r) &&
      r.signed.order.validBefore > chainTime + BigInt(minRemainingMillis);
    for (const hash of hashes) {
      const record = await lifecycle.get(hash);
      if (record === undefined || !sendable(record)) {
        this.#failures.delete(hash);
        if (record && isPending(record)) {
          log.warn("not settling: too close to validBefore", {
            tx_hash: hash,
            valid_before: record.signed.order.validBefore,
            chain_time: chainTime,
          });
        }
        continue;
      }
      const line = [record];
      let parent = record.signed.order.parent;
      while (parent !== NO_PARENT && line.length <= MAX_ANCESTORS && !due.has(parent)) {
        const p = await lifecycle.get(parent);
        if (p === undefined || !sendable(p)) break;
        line.unshift(p);
        parent = p.signed.order.parent;
      }
      for (const r of line) due.set(r.txHash, r);
    }
    return [...due.values()];
  }

  async #send(hashes: readonly Hex[]): Promise<void> {
    const { lifecycle, metrics, log } = this.#deps;
    const due = await this.#due(hashes);
    if (due.length === 0) return;
    for (const r of due) await lifecycle.move(r.txHash, "QUEUED_ONCHAIN");
    metrics.settlement("sent", due.length);
    let result;
    try {
      result = await settleOrders(
        this.#deps.chain.client,
        this.#deps.account,
        this.#deps.committee,
        due.map(certifiedOf),
        { feeToken: this.#deps.feeToken },
      );
    } catch (e) {
      // Nothing of this batch settled through it: refused in simulation, reverted or not mined.
      log.warn("settlement failed", { orders: due.length, error: (e as Error).message });
      metrics.settlement("failed", due.length);
      const again: Hex[] = [];
      for (const r of due) {
        const failures = (this.#failures.get(r.txHash) ?? 0) + 1;
        if (failures < (this.#deps.attempts ?? 3)) {
          this.#failures.set(r.txHash, failures);
          again.push(r.txHash);
        } else {
          this.#failures.delete(r.txHash);
          await lifecycle.move(r.txHash, "FAILED", { failure: (e as Error).message });
        }
      }
      this.#retry(again);
      return;
    }
    const { hash, receipt, outcomes } = result;
    const settledHere = new Set(
      decodeVaultEvents(receipt.logs).flatMap((e) => e.kind === "Settled" ? [e.txHash] : []),
    );
    const settlement = { txHash: hash, gasUsed: receipt.gasUsed };
    for (const o of outcomes) {
      this.#failures.delete(o.txHash);
      if (o.status === "skipped") {
        metrics.settlement("failed");
        await lifecycle.move(o.txHash, "FAILED", { failure: o.reason, settlement });
      } else if (settledHere.has(o.txHash)) {
        metrics.settlement("settled");
        await lifecycle.update(o.txHash, (r) => r && { ...r, settlement });
      }
    }
    log.info("settlement mined", {
      transaction: hash,
      block: receipt.blockNumber,
      gas_used: receipt.gasUsed,
      orders: outcomes.map((o) => ({ tx_hash: o.txHash, status: o.status })),
    });
  }

  #retry(hashes: readonly Hex[]): void {
    if (hashes.length === 0 || this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      for (const h of hashes) this.enqueue(h);
    }, this.#deps.retryMillis);
    this.#timers.add(timer);
  }
}

/**
 * Lifecycle events of certified transactions (queued on chain, included, expired, failed),
 * fanned out to the streams that watch them. Bounded: a watcher that stops reading loses
 * nothing else's events, and watchers end when their transaction settles.
 *
 * @module
 */
import { bytesToHex } from "viem";

/** One on-chain lifecycle event of a certified transaction. */
export interface TxEvent {
  readonly kind: "queued" | "included" | "expired" | "failed";
  readonly txHash: Uint8Array;
  readonly blockHeight?: bigint;
}

/**
 * Subscriptions per tx hash.
 *
 * @example
 * ```ts
 * import { TxEvents } from "./events.ts";
 *
 * const events = new TxEvents();
 * const seen: string[] = [];
 * const stop = events.watch(new Uint8Array(32), (e) => seen.push(e.kind));
 * events.emit({ kind: "queued", txHash: new Uint8Array(32) });
 * stop();
 * console.log(seen); // ["queued"]
 * ```
 */
export class TxEvents {
  readonly #watchers = new Map<string, Set<(e: TxEvent) => void>>();

  /** Calls `listener` for every event of `txHash` until the returned function is called. */
  watch(txHash: Uint8Array, listener: (e: TxEvent) => void): () => void {
    const key = bytesToHex(txHash);
    const set = this.#watchers.get(key) ?? new Set();
    set.add(listener);
    this.#watchers.set(key, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#watchers.delete(key);
    };
  }

  /** Delivers `event` to the watchers of its transaction. */
  emit(event: TxEvent): void {
    for (const listener of this.#watchers.get(bytesToHex(event.txHash)) ?? []) listener(event);
  }
}

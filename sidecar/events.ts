/**
 * Lifecycle events of certified orders (settlement sent, settled, expired, failed), fanned out
 * to the streams that watch them. Bounded: a watcher that stops reading loses nothing else's
 * events, and watchers end when their order settles.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";

/** One on-chain lifecycle event of a certified order. */
export interface TxEvent {
  readonly kind: "queued" | "included" | "expired" | "failed";
  readonly txHash: Hex;
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
 * events.emit({ kind: "queued", txHash: `0x${"00".repeat(32)}` });
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
    for (const listener of this.#watchers.get(event.txHash.toLowerCase()) ?? []) listener(event);
  }
}

/**
 * The sidecar's in-memory view of what it has promised and what the chain holds: contention
 * locks, next local nonces, pending debits and credits, consumed parents, idempotency answers,
 * and the chain's balances and 2D nonces at the last processed block. Plain data and synchronous
 * methods, no I/O: {@linkcode decide} reads it, the certifier fills it from the store and the
 * chain follower, and every change for one sender happens under that sender's lock.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import type { Certificate, RejectCode } from "@allegro/client";

/** A debit or credit of `amount` base units of `token` for `account` (lowercase hex). */
export interface Posting {
  readonly account: Hex;
  readonly token: Hex;
  readonly amount: bigint;
}

/** What was answered for a contention key: the certificate (settled once durable). */
export interface Lock {
  readonly txHash: Uint8Array;
  readonly certificate: Promise<Certificate>;
}

/** A stored idempotent answer for `(sender, client_request_id)`. */
export type RequestAnswer =
  | { readonly txHash: Uint8Array; readonly certificate: Promise<Certificate> }
  | { readonly txHash: Uint8Array; readonly reject: { code: RejectCode; message: string } };

/** A certified transaction not yet included or expired: what it holds back. */
export interface PendingTx {
  readonly txHash: Uint8Array;
  readonly chainTxHash: Hex;
  readonly rawTx: Uint8Array;
  readonly sender: Hex;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
  readonly validBeforeMillis: bigint;
  readonly debits: readonly Posting[];
  /** The parent payment this one spends, until the parent is included. */
  readonly credit?: Posting & {
    readonly parentTxHash: Uint8Array;
    readonly parentChainTxHash: Hex;
  };
  /** The parent's raw transaction, forwarded before this one. */
  readonly parentRawTx?: Uint8Array;
}

/** The chain head a view was taken at. */
export interface Head {
  readonly height: bigint;
  readonly hash: Hex;
  readonly timestampMillis: bigint;
}

const key = (...parts: (string | bigint | Uint8Array)[]) =>
  parts.map((p) => (p instanceof Uint8Array ? bytesToHex(p) : String(p))).join("|");

/** Identifies a contention key `(sender, nonce_key, nonce_seq)` in maps. */
export const contentionId = (sender: Hex, nonceKey: Uint8Array, nonceSeq: bigint): string =>
  key(sender, nonceKey, nonceSeq);

/** Identifies a 2D nonce lane `(account, nonce_key)` in maps. */
export const laneId = (account: Hex, nonceKey: Uint8Array): string => key(account, nonceKey);

/** Identifies a balance `(account, token)` in maps. */
export const balanceId = (account: Hex, token: Hex): string => key(account, token);

/** Identifies `(sender, client_request_id)` in maps. */
export const requestId = (sender: Hex, clientRequestId: string): string =>
  key(sender, clientRequestId);

/**
 * A cache of store entries with a size bound. Entries whose value is not yet durable are pinned
 * and never evicted; every other entry can be dropped, since the store has its value (or, for a
 * `null` entry, had none, and a fresh read tells the truth).
 *
 * @example
 * ```ts
 * import { CacheMap } from "./ledger.ts";
 *
 * const cache = new CacheMap<string, number>();
 * cache.set("a", 1).set("b", 2);
 * cache.pin("a");
 * cache.trim(1);
 * console.log([...cache.keys()]); // ["a"]
 * ```
 */
export class CacheMap<K, V> extends Map<K, V> {
  readonly #pins = new Map<K, number>();

  /** Keeps `key` until as many {@linkcode CacheMap.unpin} calls. */
  pin(key: K): void {
    this.#pins.set(key, (this.#pins.get(key) ?? 0) + 1);
  }

  /** Releases one pin of `key`. */
  unpin(key: K): void {
    const n = (this.#pins.get(key) ?? 1) - 1;
    if (n > 0) this.#pins.set(key, n);
    else this.#pins.delete(key);
  }

  /** Drops the oldest unpinned entries until at most `limit` remain (or only pinned ones). */
  trim(limit: number): void {
    if (this.size <= limit) return;
    for (const key of this.keys()) {
      if (this.size <= limit) return;
      if (!this.#pins.has(key)) this.delete(key);
    }
  }
}

/**
 * The ledger. Maps marked "cache" hold what was loaded from the store (absent means "not
 * loaded"); the others are authoritative in memory.
 *
 * @example
 * ```ts
 * import { Ledger } from "./ledger.ts";
 *
 * const ledger = new Ledger();
 * ledger.chainBalances.set("0xabc|0x20c0", 100n);
 * ```
 */
export class Ledger {
  /** Cache: contention id → lock (`null`: known free). */
  readonly locks: CacheMap<string, Lock | null> = new CacheMap();
  /** Cache: lane id → next local nonce (`null`: none issued). */
  readonly localNonces: CacheMap<string, bigint | null> = new CacheMap();
  /** Cache: parent tx hash hex → child tx hash (`null`: not consumed). */
  readonly consumed: CacheMap<Hex, Uint8Array | null> = new CacheMap();
  /** Cache: request id → answer (`null`: unseen). */
  readonly requests: CacheMap<string, RequestAnswer | null> = new CacheMap();
  /** Chain: lane id → nonce at the head. */
  readonly chainNonces: Map<string, bigint> = new Map();
  /** Chain: balance id → balance at the head. */
  readonly chainBalances: Map<string, bigint> = new Map();
  /** Pending certified transactions by tx hash hex. */
  readonly pending: Map<Hex, PendingTx> = new Map();
  /** Sum of pending debits per balance id. */
  readonly #debits = new Map<string, bigint>();
  /** Sum of pending credits per balance id. */
  readonly #credits = new Map<string, bigint>();
  /** The head the chain maps describe; `undefined` until the first block is processed. */
  head: Head | undefined;

  #adjust(map: Map<string, bigint>, posting: Posting, sign: 1n | -1n) {
    const id = balanceId(posting.account, posting.token);
    const next = (map.get(id) ?? 0n) + sign * posting.amount;
    if (next === 0n) map.delete(id);
    else map.set(id, next);
  }

  /** Chain balance minus pending debits plus pending credits; `undefined` if not tracked. */
  available(account: Hex, token: Hex): bigint | undefined {
    const id = balanceId(account, token);
    const chain = this.chainBalances.get(id);
    if (chain === undefined) return undefined;
    return chain - (this.#debits.get(id) ?? 0n) + (this.#credits.get(id) ?? 0n);
  }

  /** Pending debits and credits of one balance. */
  pendingOf(account: Hex, token: Hex): { debits: bigint; credits: bigint } {
    const id = balanceId(account, token);
    return { debits: this.#debits.get(id) ?? 0n, credits: this.#credits.get(id) ?? 0n };
  }

  /** `max(chain nonce, next local nonce)`, or `undefined` if the chain nonce is not tracked. */
  expectedNonce(account: Hex, nonceKey: Uint8Array): bigint | undefined {
    const id = laneId(account, nonceKey);
    const chain = this.chainNonces.get(id);
    if (chain === undefined) return undefined;
    const local = this.localNonces.get(id) ?? 0n;
    return chain > local ? chain : local;
  }

  /** Counts a pending transaction's debits and credit. */
  addPending(tx: PendingTx): void {
    this.pending.set(bytesToHex(tx.txHash), tx);
    for (const d of tx.debits) this.#adjust(this.#debits, d, 1n);
    if (tx.credit) this.#adjust(this.#credits, tx.credit, 1n);
  }

  /** Stops counting a pending transaction (included, expired, or never made durable). */
  removePending(txHash: Hex): PendingTx | undefined {
    const tx = this.pending.get(txHash);
    if (tx === undefined) return undefined;
    this.pending.delete(txHash);
    for (const d of tx.debits) this.#adjust(this.#debits, d, -1n);
    if (tx.credit) this.#adjust(this.#credits, tx.credit, -1n);
    return tx;
  }

  /** Bounds every cache to `limit` entries (pinned ones stay). */
  trimCaches(limit: number): void {
    this.locks.trim(limit);
    this.localNonces.trim(limit);
    this.consumed.trim(limit);
    this.requests.trim(limit);
  }

  /** Drops the credit of a pending child once its parent is included (the chain now has it). */
  settleCredit(txHash: Hex): void {
    const tx = this.pending.get(txHash);
    if (tx?.credit === undefined) return;
    this.#adjust(this.#credits, tx.credit, -1n);
    const { credit: _, ...rest } = tx;
    this.pending.set(txHash, rest);
  }
}

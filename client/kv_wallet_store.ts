/**
 * A {@linkcode WalletStore} on Deno KV, so a wallet's lanes (next seq, unsettled orders and
 * their QCs) survive restarts. Deno only: import it from `@allegro/client/deno`, never from code
 * a browser loads.
 *
 * @module
 */
import type { Address } from "./deps.ts";
import type { LaneRecord, WalletStore } from "./wallet.ts";

/**
 * The default key prefix of {@linkcode KvWalletStore} entries.
 *
 * @example
 * ```ts
 * import { KV_WALLET_PREFIX } from "@allegro/client/deno";
 *
 * console.log(KV_WALLET_PREFIX.join("/")); // allegro/wallet/lane/v2
 * ```
 */
export const KV_WALLET_PREFIX: readonly string[] = ["allegro", "wallet", "lane", "v2"];

/**
 * Lane records in a Deno KV database, one entry per `(account, token)` under `prefix`:
 * `[...prefix, lowercase address, lowercase token] → LaneRecord`. Each `put` is one committed KV
 * write, so it is durable when it resolves.
 *
 * @example
 * ```ts
 * import { KvWalletStore } from "@allegro/client/deno";
 *
 * const path = await Deno.makeTempFile({ suffix: ".kv" });
 * const account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
 * const token = "0x20c0000000000000000000000000000000000000";
 * {
 *   using store = await KvWalletStore.open(path);
 *   await store.put(account, token, { next: 1n, orders: [] });
 * }
 * {
 *   using store = await KvWalletStore.open(path);
 *   console.log((await store.get(account, token))?.next); // 1n
 * }
 * await Deno.remove(path);
 * ```
 */
export class KvWalletStore implements WalletStore, Disposable {
  readonly #kv: Deno.Kv;
  readonly #prefix: readonly string[];
  #owned = false;

  /**
   * A store over an open `kv`, which the caller keeps owning (and closes); entries go under
   * `options.prefix` (default {@linkcode KV_WALLET_PREFIX}).
   */
  constructor(kv: Deno.Kv, options: { prefix?: readonly string[] } = {}) {
    this.#kv = kv;
    this.#prefix = options.prefix ?? KV_WALLET_PREFIX;
  }

  /**
   * Opens (or creates) the KV database at `path` (Deno's default database when omitted) and
   * returns a store that closes it on {@linkcode KvWalletStore.close} (or `using`).
   *
   * @example
   * ```ts
   * import { KvWalletStore } from "@allegro/client/deno";
   *
   * const path = await Deno.makeTempFile({ suffix: ".kv" });
   * {
   *   using store = await KvWalletStore.open(path); // closed at the end of the block
   * }
   * await Deno.remove(path);
   * ```
   */
  static async open(
    path?: string,
    options: { prefix?: readonly string[] } = {},
  ): Promise<KvWalletStore> {
    const store = new KvWalletStore(await Deno.openKv(path), options);
    store.#owned = true;
    return store;
  }

  /** The stored record, if any. */
  async get(account: Address, token: Address): Promise<LaneRecord | undefined> {
    const entry = await this.#kv.get<LaneRecord>(this.#key(account, token));
    return entry.value ?? undefined;
  }

  /** Writes `record`; resolves once the write is committed. */
  async put(account: Address, token: Address, record: LaneRecord): Promise<void> {
    await this.#kv.set(this.#key(account, token), record);
  }

  /** Closes the database if this store opened it. */
  close(): void {
    if (this.#owned) this.#kv.close();
  }

  /** Same as {@linkcode KvWalletStore.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #key(account: Address, token: Address): Deno.KvKey {
    return [...this.#prefix, account.toLowerCase(), token.toLowerCase()];
  }
}

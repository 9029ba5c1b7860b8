/**
 * A {@linkcode NonceStore} on Deno KV, so a wallet's nonce reservations survive restarts. Deno
 * only: import it from `@allegro/client/deno`, never from code a browser loads.
 *
 * @module
 */
import type { Address } from "viem";
import type { NonceRecord, NonceStore } from "./wallet.ts";

/**
 * The default key prefix of {@linkcode KvNonceStore} entries.
 *
 * @example
 * ```ts
 * import { KV_NONCE_PREFIX } from "@allegro/client/deno";
 *
 * console.log(KV_NONCE_PREFIX.join("/")); // allegro/wallet/nonce/v1
 * ```
 */
export const KV_NONCE_PREFIX: readonly string[] = ["allegro", "wallet", "nonce", "v1"];

/**
 * Nonce records in a Deno KV database, one entry per `(account, nonceKey)` under `prefix`:
 * `[...prefix, lowercase address, nonceKey] → { next, released }` (bigints). Each `put` is one
 * committed KV write, so it is durable when it resolves.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { Wallet } from "@allegro/client";
 * import { KvNonceStore } from "@allegro/client/deno";
 *
 * const path = await Deno.makeTempFile({ suffix: ".kv" });
 * const account = privateKeyToAccount(
 *   "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 * );
 * {
 *   using store = await KvNonceStore.open(path);
 *   await new Wallet(account, { store }).reserve(); // nonce 0n, persisted
 * }
 * {
 *   using store = await KvNonceStore.open(path);
 *   console.log((await new Wallet(account, { store }).reserve()).nonce); // 1n
 * }
 * await Deno.remove(path);
 * ```
 */
export class KvNonceStore implements NonceStore, Disposable {
  readonly #kv: Deno.Kv;
  readonly #prefix: readonly string[];
  #owned = false;

  /**
   * A store over an open `kv`, which the caller keeps owning (and closes); entries go under
   * `options.prefix` (default {@linkcode KV_NONCE_PREFIX}).
   */
  constructor(kv: Deno.Kv, options: { prefix?: readonly string[] } = {}) {
    this.#kv = kv;
    this.#prefix = options.prefix ?? KV_NONCE_PREFIX;
  }

  /**
   * Opens (or creates) the KV database at `path` (Deno's default database when omitted) and
   * returns a store that closes it on {@linkcode KvNonceStore.close} (or `using`).
   *
   * @example
   * ```ts ignore
   * using store = await KvNonceStore.open("wallet.kv");
   * ```
   */
  static async open(
    path?: string,
    options: { prefix?: readonly string[] } = {},
  ): Promise<KvNonceStore> {
    const store = new KvNonceStore(await Deno.openKv(path), options);
    store.#owned = true;
    return store;
  }

  /** The stored record, if any. */
  async get(account: Address, nonceKey: bigint): Promise<NonceRecord | undefined> {
    const entry = await this.#kv.get<NonceRecord>(this.#key(account, nonceKey));
    return entry.value ?? undefined;
  }

  /** Writes `record`; resolves once the write is committed. */
  async put(account: Address, nonceKey: bigint, record: NonceRecord): Promise<void> {
    await this.#kv.set(this.#key(account, nonceKey), {
      next: record.next,
      released: [...record.released],
    });
  }

  /** Closes the database if this store opened it. */
  close(): void {
    if (this.#owned) this.#kv.close();
  }

  /** Same as {@linkcode KvNonceStore.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #key(account: Address, nonceKey: bigint): Deno.KvKey {
    return [...this.#prefix, account.toLowerCase(), nonceKey];
  }
}

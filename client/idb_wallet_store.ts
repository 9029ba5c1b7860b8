/**
 * A {@linkcode WalletStore} on IndexedDB, so that a wallet in a browser keeps its lanes (next
 * seq, unsettled orders and their QCs) across reloads and restarts. Nothing is opened until the
 * first `get` or `put`, so importing it is harmless where IndexedDB is absent (Deno has none:
 * use `KvWalletStore` from `@allegro/client/deno` there).
 *
 * @module
 */
import type { Address } from "./deps.ts";
import type { LaneRecord, WalletStore } from "./wallet.ts";

/**
 * The IndexedDB database {@linkcode IdbWalletStore} uses unless told otherwise.
 *
 * @example
 * ```ts
 * import { IDB_WALLET_DATABASE } from "@allegro/client";
 *
 * console.log(IDB_WALLET_DATABASE); // allegro-wallet
 * ```
 */
export const IDB_WALLET_DATABASE = "allegro-wallet";

/** The object store of lane records, keyed `lowercase account/lowercase token`. */
const LANES = "lanes";

// The part of the IndexedDB API used here: Deno's type library has none of it.
interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbDatabase {
  createObjectStore(name: string): unknown;
  transaction(
    store: string,
    mode: "readonly" | "readwrite",
    options?: { durability: "strict" },
  ): IdbTransaction;
  close(): void;
}
interface IdbTransaction {
  readonly error: unknown;
  objectStore(name: string): {
    get(key: string): IdbRequest<unknown>;
    put(value: unknown, key: string): unknown;
  };
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/**
 * Lane records in an IndexedDB database, one entry per `(account, token)`; the browser's
 * structured clone keeps their bigints and byte arrays as they are. Each `put` is one
 * `readwrite` transaction with strict durability, so it is on disk when it resolves. Without
 * IndexedDB (`globalThis.indexedDB`), `get` and `put` reject with an error that says so.
 *
 * @example
 * ```ts ignore
 * // In a browser: the wallet finds its lanes again after a reload.
 * import { privateKeyToAccount } from "viem/accounts";
 * import { IdbWalletStore, Wallet } from "@allegro/client";
 *
 * const wallet = new Wallet(privateKeyToAccount(key), { store: new IdbWalletStore() });
 * console.log(await wallet.lane("0x20c0000000000000000000000000000000000000"));
 * ```
 */
export class IdbWalletStore implements WalletStore {
  readonly #database: string;
  #db: Promise<IdbDatabase> | undefined;

  /** A store in the database `options.database` (default {@linkcode IDB_WALLET_DATABASE}). */
  constructor(options: { database?: string } = {}) {
    this.#database = options.database ?? IDB_WALLET_DATABASE;
  }

  /** The stored record, if any. */
  async get(account: Address, token: Address): Promise<LaneRecord | undefined> {
    const tx = (await this.#open()).transaction(LANES, "readonly");
    const request = tx.objectStore(LANES).get(laneKey(account, token));
    return await new Promise<LaneRecord | undefined>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result as LaneRecord | undefined);
      request.onerror = () => reject(request.error);
    });
  }

  /** Writes `record`; resolves once its transaction has committed to disk. */
  async put(account: Address, token: Address, record: LaneRecord): Promise<void> {
    const tx = (await this.#open()).transaction(LANES, "readwrite", { durability: "strict" });
    tx.objectStore(LANES).put(record, laneKey(account, token));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }

  /** Closes the database connection, if open; a later call opens it again. */
  close(): void {
    this.#db?.then((db) => db.close(), () => {});
    this.#db = undefined;
  }

  #open(): Promise<IdbDatabase> {
    if (this.#db !== undefined) return this.#db;
    const db = new Promise<IdbDatabase>((resolve, reject) => {
      const factory =
        (globalThis as { indexedDB?: { open(name: string, version: number): IdbOpenRequest } })
          .indexedDB;
      if (factory === undefined) {
        throw new Error(
          "IdbWalletStore needs IndexedDB (globalThis.indexedDB), which this runtime lacks: " +
            "use KvWalletStore from @allegro/client/deno in Deno, or MemoryWalletStore",
        );
      }
      const request = factory.open(this.#database, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(LANES);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    this.#db = db;
    // A failed open is tried again by the next call.
    db.catch(() => {
      if (this.#db === db) this.#db = undefined;
    });
    return db;
  }
}

function laneKey(account: Address, token: Address): string {
  return `${account.toLowerCase()}/${token.toLowerCase()}`;
}

/**
 * The payer's wallet: a viem local account and nonce reservation in Allegro nonce lanes.
 *
 * Tempo nonces are sequential per `(account, nonceKey)`: a skipped nonce blocks every later
 * payment of that lane, and a nonce signed twice can equivocate. So the wallet hands out each
 * nonce once ({@linkcode Wallet.reserve}), persists the reservation in a {@linkcode NonceStore}
 * **before** returning it (a crash never hands the same nonce out again), and takes a nonce back
 * ({@linkcode Wallet.release}) only when its payment certainly got no certificate anywhere; a
 * released nonce is the next one reserved, so the lane has no gap.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { MemoryNonceStore, Wallet } from "@allegro/client";
 *
 * const wallet = new Wallet(
 *   privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
 *   { store: new MemoryNonceStore() },
 * );
 * const first = await wallet.reserve(); // { nonceKey: 0x5b00…01n, nonce: 0n }
 * await wallet.release(first); // every sidecar refused it
 * const again = await wallet.reserve(); // nonce 0n again
 * ```
 *
 * @module
 */
import { type Address, getAddress, type LocalAccount } from "viem";
import { AllegroError } from "./errors.ts";
import { ALLEGRO_NONCE_LANE, allegroNonceKey } from "./tempo.ts";

/**
 * What a {@linkcode NonceStore} keeps per `(account, nonceKey)`: the next never-reserved nonce
 * and the released nonces below it, to be handed out again first.
 */
export interface NonceRecord {
  /** The lowest nonce never reserved. */
  readonly next: bigint;
  /** Nonces below `next` that were released, ascending, without duplicates. */
  readonly released: readonly bigint[];
}

/**
 * Durable storage of {@linkcode NonceRecord}s. `put` must be durable when its promise resolves.
 * One {@linkcode Wallet} at a time should use a store for a given account (the wallet serializes
 * its own calls; two wallets over one store could hand out the same nonce).
 *
 * @example
 * ```ts
 * import type { NonceRecord, NonceStore } from "@allegro/client";
 *
 * class MapStore implements NonceStore {
 *   #map = new Map<string, NonceRecord>();
 *   get(account: string, nonceKey: bigint) {
 *     return Promise.resolve(this.#map.get(`${account}/${nonceKey}`));
 *   }
 *   put(account: string, nonceKey: bigint, record: NonceRecord) {
 *     this.#map.set(`${account}/${nonceKey}`, record);
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export interface NonceStore {
  /** The record of `account` (checksummed address) and `nonceKey`, if any. */
  get(account: Address, nonceKey: bigint): Promise<NonceRecord | undefined>;
  /** Replaces the record; durable once the promise resolves. */
  put(account: Address, nonceKey: bigint, record: NonceRecord): Promise<void>;
}

/**
 * A {@linkcode NonceStore} in memory: nonces survive nothing, so use it for tests, throw-away
 * accounts, or in front of a wallet whose lane is re-synchronised with
 * {@linkcode Wallet.resync} at start.
 *
 * @example
 * ```ts
 * import { MemoryNonceStore } from "@allegro/client";
 *
 * const store = new MemoryNonceStore();
 * await store.put("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 1n, { next: 3n, released: [] });
 * ```
 */
export class MemoryNonceStore implements NonceStore {
  readonly #records = new Map<string, NonceRecord>();

  /** The stored record, if any. */
  get(account: Address, nonceKey: bigint): Promise<NonceRecord | undefined> {
    return Promise.resolve(this.#records.get(`${account.toLowerCase()}/${nonceKey}`));
  }

  /** Stores a copy of `record`. */
  put(account: Address, nonceKey: bigint, record: NonceRecord): Promise<void> {
    this.#records.set(`${account.toLowerCase()}/${nonceKey}`, {
      next: record.next,
      released: [...record.released],
    });
    return Promise.resolve();
  }
}

/** A nonce handed out by {@linkcode Wallet.reserve}. */
export interface NonceReservation {
  /** The Allegro nonce key (top byte `0x5b`). */
  readonly nonceKey: bigint;
  /** The reserved nonce in that lane. */
  readonly nonce: bigint;
}

/** How a {@linkcode Wallet} is set up. */
export interface WalletOptions {
  /** Where reservations are kept; default a {@linkcode MemoryNonceStore}. */
  readonly store?: NonceStore;
  /** The lane used when none is named; default `allegroNonceKey(1n)`. */
  readonly nonceKey?: bigint;
}

/** The account a wallet signs with: a viem local account (secp256k1, P256 or WebAuthn). */
export type WalletAccount = Pick<LocalAccount, "address" | "signTransaction">;

const U64_LIMIT = 1n << 64n;

/**
 * Keys plus nonce reservation. Calls for one nonce key run one at a time, in call order.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { Wallet } from "@allegro/client";
 *
 * const wallet = new Wallet(
 *   privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
 * );
 * const { nonceKey, nonce } = await wallet.reserve();
 * console.log(wallet.address, nonceKey.toString(16).slice(0, 2), nonce); // 0x7099… 5b 0n
 * ```
 */
export class Wallet {
  /** The signing account. */
  readonly account: WalletAccount;
  /** Its checksummed address: the payer of every payment. */
  readonly address: Address;
  /** The default nonce lane. */
  readonly nonceKey: bigint;
  readonly #store: NonceStore;
  readonly #queues = new Map<bigint, Promise<unknown>>();

  /**
   * A wallet for `account`; nonces are kept in `options.store` (default: in memory, lost on
   * restart) in lane `options.nonceKey` (default `allegroNonceKey(1n)`). Throws
   * `NOT_PAYMENT_TX` for a nonce key outside the Allegro lane.
   */
  constructor(account: WalletAccount, options: WalletOptions = {}) {
    this.account = account;
    this.address = getAddress(account.address);
    this.nonceKey = checkLane(options.nonceKey ?? allegroNonceKey(1n));
    this.#store = options.store ?? new MemoryNonceStore();
  }

  /**
   * Hands out the lowest released nonce of the lane, else the next new one, and persists that
   * before returning: a crash after this call never reserves the same nonce again.
   *
   * @example
   * ```ts
   * import { privateKeyToAccount } from "viem/accounts";
   * import { allegroNonceKey, Wallet } from "@allegro/client";
   *
   * const wallet = new Wallet(
   *   privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
   * );
   * const a = await wallet.reserve(); // lane allegroNonceKey(1n), nonce 0n
   * const b = await wallet.reserve(allegroNonceKey(2n)); // another lane, nonce 0n
   * ```
   */
  async reserve(nonceKey: bigint = this.nonceKey): Promise<NonceReservation> {
    checkLane(nonceKey);
    return await this.#serial(nonceKey, async () => {
      const record = await this.#read(nonceKey);
      if (record.released.length > 0) {
        const [nonce, ...rest] = record.released;
        await this.#store.put(this.address, nonceKey, { next: record.next, released: rest });
        return { nonceKey, nonce };
      }
      if (record.next >= U64_LIMIT - 1n) {
        throw new AllegroError("INVALID_FORMAT", `nonce lane ${hexKey(nonceKey)} is exhausted`);
      }
      await this.#store.put(this.address, nonceKey, {
        next: record.next + 1n,
        released: record.released,
      });
      return { nonceKey, nonce: record.next };
    });
  }

  /**
   * Gives a reserved nonce back, to be reserved again next. Call it only when the payment signed
   * with it certainly has no certificate anywhere — it failed before it was sent, or every
   * sidecar answered with a reject — else the lane could carry two payments with one nonce.
   * Releasing a nonce that is not reserved throws; releasing one twice does nothing.
   *
   * @example
   * ```ts
   * import { privateKeyToAccount } from "viem/accounts";
   * import { Wallet } from "@allegro/client";
   *
   * const wallet = new Wallet(
   *   privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
   * );
   * const reservation = await wallet.reserve();
   * await wallet.release(reservation);
   * console.log((await wallet.reserve()).nonce); // 0n again
   * ```
   */
  async release(reservation: NonceReservation): Promise<void> {
    const { nonceKey, nonce } = reservation;
    checkLane(nonceKey);
    return await this.#serial(nonceKey, async () => {
      const record = await this.#read(nonceKey);
      if (nonce < 0n || nonce >= record.next) {
        throw new AllegroError(
          "INVALID_FORMAT",
          `nonce ${nonce} of lane ${hexKey(nonceKey)} was never reserved (next is ${record.next})`,
        );
      }
      if (record.released.includes(nonce)) return;
      const released = [...record.released, nonce].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      // Released nonces at the top of the lane just lower `next`: the record stays small.
      let next = record.next;
      while (released.length > 0 && released.at(-1) === next - 1n) {
        released.pop();
        next -= 1n;
      }
      await this.#store.put(this.address, nonceKey, { next, released });
    });
  }

  /**
   * The lane's record as stored: the next new nonce and the released ones.
   *
   * @example
   * ```ts
   * import { privateKeyToAccount } from "viem/accounts";
   * import { Wallet } from "@allegro/client";
   *
   * const wallet = new Wallet(
   *   privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
   * );
   * await wallet.reserve();
   * console.log(await wallet.peek()); // { next: 1n, released: [] }
   * ```
   */
  async peek(nonceKey: bigint = this.nonceKey): Promise<NonceRecord> {
    checkLane(nonceKey);
    return await this.#serial(nonceKey, () => this.#read(nonceKey));
  }

  /**
   * Sets the lane's next nonce to `next` (e.g. the chain's `nonceManager.getNonce` when the
   * store was lost) and forgets the released nonces: the recovery when every sidecar answers
   * `NONCE_SEQ_TOO_LOW` or `NONCE_SEQ_TOO_HIGH`. Only the payer can know that no payment with a
   * nonce at or above `next` may still be certified.
   *
   * @example
   * ```ts
   * import { privateKeyToAccount } from "viem/accounts";
   * import { Wallet } from "@allegro/client";
   *
   * const wallet = new Wallet(
   *   privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
   * );
   * await wallet.resync(7n);
   * console.log((await wallet.reserve()).nonce); // 7n
   * ```
   */
  async resync(next: bigint, nonceKey: bigint = this.nonceKey): Promise<void> {
    checkLane(nonceKey);
    if (next < 0n || next >= U64_LIMIT) {
      throw new AllegroError("INVALID_FORMAT", `nonce ${next} is not a u64`);
    }
    await this.#serial(
      nonceKey,
      () => this.#store.put(this.address, nonceKey, { next, released: [] }),
    );
  }

  async #read(nonceKey: bigint): Promise<NonceRecord> {
    return (await this.#store.get(this.address, nonceKey)) ?? { next: 0n, released: [] };
  }

  /** Runs `task` after every earlier task of the lane; the queue entry goes when idle. */
  #serial<T>(nonceKey: bigint, task: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(nonceKey) ?? Promise.resolve();
    const run = before.then(task, task);
    const tail = run.catch(() => {});
    this.#queues.set(nonceKey, tail);
    tail.then(() => {
      if (this.#queues.get(nonceKey) === tail) this.#queues.delete(nonceKey);
    });
    return run;
  }
}

function checkLane(nonceKey: bigint): bigint {
  if (nonceKey < 0n || nonceKey >> 248n !== BigInt(ALLEGRO_NONCE_LANE)) {
    throw new AllegroError(
      "NOT_PAYMENT_TX",
      `nonceKey ${hexKey(nonceKey)} is outside the Allegro lane (top byte 0x5b)`,
    );
  }
  return nonceKey;
}

function hexKey(nonceKey: bigint): string {
  return `0x${nonceKey.toString(16)}`;
}

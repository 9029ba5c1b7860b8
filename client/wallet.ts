/**
 * The payer's wallet (SPEC §9): keys, and per lane `(payer, token)` what must survive a
 * restart — the next seq, and every order sent that is not yet known settled, with its QC once
 * it has one (attached to the next order, so each sidecar applies the seqs below it).
 *
 * The wallet never signs a second order for a seq: it writes each order to its
 * {@linkcode WalletStore} before returning it for sending, and refuses a new order while the
 * lane's last one has no QC (that order must be resubmitted, after its `validBefore` if need be,
 * until it has one).
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { MemoryWalletStore, NO_PARENT, Wallet } from "@allegro/client";
 *
 * const wallet = new Wallet(
 *   privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
 *   { store: new MemoryWalletStore() },
 * );
 * const next = await wallet.sign({
 *   chainId: 1337n,
 *   vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *   token: "0x20c0000000000000000000000000000000000000",
 *   amount: 1n,
 *   fee: 0n,
 *   validBefore: 1_900_000_000_000n,
 *   parent: NO_PARENT,
 *   exit: false,
 *   memo: NO_PARENT,
 * });
 * if (next.kind === "signed") console.log(next.signed.order.seq); // 0n
 * ```
 *
 * @module
 */
import { bytesToHex, getAddress } from "viem";
import type { Address, Hex } from "./deps.ts";
import { AllegroError } from "./errors.ts";
import {
  type OrderSigner,
  orderTxHash,
  type PaymentOrder,
  type SignedOrder,
  signOrder,
} from "./order.ts";
import type { QuorumCertificate } from "./quorum.ts";

/** An order the wallet sent, with its QC once it has one. */
export interface LaneOrder {
  /** The order, as signed. */
  readonly signed: SignedOrder;
  /** Its `tx_hash`. */
  readonly txHash: Hex;
  /** Its QC, once it has one. */
  readonly qc?: QuorumCertificate;
  /** The certified parent it cites, sent with it again when it is resubmitted. */
  readonly parent?: { readonly signed: SignedOrder; readonly qc: QuorumCertificate };
}

/** What a wallet keeps per lane. */
export interface LaneRecord {
  /** The lowest seq never used. */
  readonly next: bigint;
  /** Orders sent and not yet known applied everywhere, in seq order. */
  readonly orders: readonly LaneOrder[];
}

/**
 * Durable storage of {@linkcode LaneRecord}s: `put` must be durable when its promise resolves.
 * One wallet at a time should use a store for a given account.
 *
 * @example
 * ```ts
 * import type { LaneRecord, WalletStore } from "@allegro/client";
 *
 * class MapStore implements WalletStore {
 *   #map = new Map<string, LaneRecord>();
 *   get(account: string, token: string) {
 *     return Promise.resolve(this.#map.get(`${account}/${token}`));
 *   }
 *   put(account: string, token: string, record: LaneRecord) {
 *     this.#map.set(`${account}/${token}`, record);
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export interface WalletStore {
  /** The record of `account`'s lane in `token` (checksummed addresses), if any. */
  get(account: Address, token: Address): Promise<LaneRecord | undefined>;
  /** Replaces the record; durable once the promise resolves. */
  put(account: Address, token: Address, record: LaneRecord): Promise<void>;
}

/**
 * A {@linkcode WalletStore} in memory: it survives nothing, so a wallet on it resynchronises
 * each lane from the sidecars the first time it is used (`AllegroClient` does).
 *
 * @example
 * ```ts
 * import { MemoryWalletStore } from "@allegro/client";
 *
 * const store = new MemoryWalletStore();
 * await store.put(
 *   "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   "0x20c0000000000000000000000000000000000000",
 *   { next: 3n, orders: [] },
 * );
 * ```
 */
export class MemoryWalletStore implements WalletStore {
  readonly #records = new Map<string, LaneRecord>();

  /** A copy of the stored record, if any. */
  get(account: Address, token: Address): Promise<LaneRecord | undefined> {
    const record = this.#records.get(laneKey(account, token));
    return Promise.resolve(record && structuredClone(record));
  }

  /** Stores a copy of `record`. */
  put(account: Address, token: Address, record: LaneRecord): Promise<void> {
    this.#records.set(laneKey(account, token), structuredClone(record));
    return Promise.resolve();
  }
}

/** The account a wallet signs with: a viem local account, or any EIP-712 signer. */
export type WalletAccount = OrderSigner;

/** The fields of an order the wallet fills in itself (`payer`, `seq`) left out. */
export type OrderFields = Omit<PaymentOrder, "payer" | "seq">;

/** What {@linkcode Wallet.sign} returns. */
export type SignOutcome =
  | { readonly kind: "signed"; readonly signed: SignedOrder; readonly txHash: Hex }
  /** The lane's last order has no QC yet: resubmit it first. */
  | { readonly kind: "pending"; readonly order: LaneOrder };

const U64_MAX = (1n << 64n) - 1n;

/**
 * Keys plus each lane's seqs and QCs. Calls for one lane run one at a time, in call order.
 */
export class Wallet {
  /** The signing account. */
  readonly account: WalletAccount;
  /** Its checksummed address: the payer of every order. */
  readonly address: Address;
  readonly #store: WalletStore;
  readonly #queues = new Map<string, Promise<unknown>>();

  /** A wallet for `account`; lanes are kept in `options.store` (default: in memory). */
  constructor(account: WalletAccount, options: { store?: WalletStore } = {}) {
    this.account = account;
    this.address = getAddress(account.address);
    this.#store = options.store ?? new MemoryWalletStore();
  }

  /** The lane's record, or `undefined` when this store knows nothing of it. */
  lane(token: Address): Promise<LaneRecord | undefined> {
    return this.#serial(token, () => this.#store.get(this.address, getAddress(token)));
  }

  /**
   * Signs the lane's next order from `fields` and writes it to the store before returning it
   * (a crash after this call never signs another order for that seq). Returns the lane's last
   * order instead when it has no QC yet.
   */
  sign(
    fields: OrderFields,
    parent?: { readonly signed: SignedOrder; readonly qc: QuorumCertificate },
  ): Promise<SignOutcome> {
    const token = getAddress(fields.token);
    return this.#serial(token, async () => {
      const record = (await this.#store.get(this.address, token)) ?? { next: 0n, orders: [] };
      const last = record.orders.at(-1);
      if (last !== undefined && last.qc === undefined) return { kind: "pending", order: last };
      if (record.next > U64_MAX) {
        throw new AllegroError("INVALID_FORMAT", `lane ${this.address}/${token} is exhausted`);
      }
      const signed = await signOrder(this.account, {
        ...fields,
        token,
        payer: this.address,
        seq: record.next,
      });
      const txHash = bytesToHex(orderTxHash(signed.order));
      await this.#store.put(this.address, token, {
        next: record.next + 1n,
        orders: [...record.orders, { signed, txHash, ...(parent ? { parent } : {}) }],
      });
      return { kind: "signed", signed, txHash };
    });
  }

  /** Records the QC of an order of the lane. */
  certify(token: Address, txHash: Hex, qc: QuorumCertificate): Promise<void> {
    return this.#update(token, (record) => ({
      next: record.next,
      orders: record.orders.map((o) => (o.txHash === txHash ? { ...o, qc } : o)),
    }));
  }

  /**
   * Forgets the lane's orders below `seq`: a quorum of sidecars has applied them (their
   * `GetLane` prefix is past them), so they need not travel with the next order anymore.
   */
  forgetBelow(token: Address, seq: bigint): Promise<void> {
    return this.#update(token, (record) => ({
      next: record.next,
      orders: record.orders.filter((o) => o.signed.order.seq >= seq),
    }));
  }

  /**
   * Forgets one order of the lane: one whose seq the sidecars applied without this wallet
   * seeing its QC (it settled, or was confirmed), so there is nothing to resubmit.
   */
  forgetOrder(token: Address, txHash: Hex): Promise<void> {
    return this.#update(token, (record) => ({
      next: record.next,
      orders: record.orders.filter((o) => o.txHash !== txHash),
    }));
  }

  /**
   * Writes a rebuilt record of a lane the store knew nothing of (a resynchronisation after the
   * store was lost), unless the store has one by now — a concurrent call restored it first, and
   * may have signed in it since. Returns the record the store holds.
   */
  restore(token: Address, record: LaneRecord): Promise<LaneRecord> {
    const lane = getAddress(token);
    return this.#serial(lane, async () => {
      const held = await this.#store.get(this.address, lane);
      if (held !== undefined) return held;
      await this.#store.put(this.address, lane, record);
      return record;
    });
  }

  #update(token: Address, change: (record: LaneRecord) => LaneRecord): Promise<void> {
    const lane = getAddress(token);
    return this.#serial(lane, async () => {
      const record = (await this.#store.get(this.address, lane)) ?? { next: 0n, orders: [] };
      await this.#store.put(this.address, lane, change(record));
    });
  }

  /** Runs `task` after every earlier task of the lane; the queue entry goes when idle. */
  #serial<T>(token: Address, task: () => Promise<T>): Promise<T> {
    const key = token.toLowerCase();
    const before = this.#queues.get(key) ?? Promise.resolve();
    const run = before.then(task, task);
    const tail = run.catch(() => {});
    this.#queues.set(key, tail);
    tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }
}

function laneKey(account: Address, token: Address): string {
  return `${account.toLowerCase()}/${token.toLowerCase()}`;
}

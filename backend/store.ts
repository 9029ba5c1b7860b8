/**
 * All of the backend's Deno KV access: payment records and their indexes, the merged bulletin
 * board, the cursors of the sidecars' boards it pulls and where its vault follower stands.
 * Writes go through one queue, so board sequences are assigned in commit order (a reader paging
 * with `after_sequence` never skips or repeats an entry). One process owns a KV path at a time (an
 * exclusive lock on `PATH.lock`). Everything expires: a record `--record-ttl-ms` after nothing
 * more can happen to it (open ones once their `validBefore` has passed too), a record without a
 * single certificate within an hour, board entries with their records and beyond
 * `--max-board-entries`. The key layout is in `backend/README.md`.
 *
 * @module
 */
import { type Address, bytesToHex as hex, type Hex } from "viem";
import type { Certificate, QuorumCertificate, SignedOrder } from "@allegro/client";
import { type ExclusiveKv, openExclusiveKv } from "@allegro/server/exclusive-kv";
import { isOpen, isPending, type TxRecord } from "./record.ts";

const V = "v2";

const K = {
  tx: (txHash: Hex) => [V, "tx", txHash],
  open: (txHash: Hex) => [V, "open", txHash],
  openPrefix: [V, "open"],
  pending: (address: Hex, txHash: Hex) => [V, "pending", address, txHash],
  pendingPrefix: (address: Hex) => [V, "pending", address],
  recent: (address: Hex, at: bigint, txHash: Hex) => [V, "recent", address, at, txHash],
  recentPrefix: (address: Hex) => [V, "recent", address],
  board: (seq: bigint) => [V, "board", seq],
  boardPrefix: [V, "board"],
  boardKey: (txHash: Hex, key: string) => [V, "board_key", txHash, key],
  boardKeyPrefix: (txHash: Hex) => [V, "board_key", txHash],
  boardAddr: (address: Hex, seq: bigint) => [V, "board_addr", address, seq],
  boardAddrPrefix: (address: Hex) => [V, "board_addr", address],
  boardSeq: [V, "meta", "board_seq"],
  boardFirst: [V, "meta", "board_first"],
  cursor: (signer: Hex) => [V, "cursor", signer],
  follow: [V, "meta", "follow_from"],
} as const;

/** One entry of the backend's merged bulletin board: a certificate or a QC, with its order. */
export type BoardEntry =
  & { readonly sequence: bigint; readonly signed: SignedOrder; readonly txHash: Hex }
  & (
    | { readonly certificate: Certificate; readonly qc?: undefined }
    | { readonly qc: QuorumCertificate; readonly certificate?: undefined }
  );

/** Filters and cursor of a board read. */
export interface BoardQuery {
  readonly afterSequence: bigint;
  readonly limit: number;
  readonly txHash?: Hex;
  /** Entries whose payer or recipient it is. */
  readonly address?: Address;
}

/** Store settings. */
export interface StoreOptions {
  /** How long a record stays once nothing more can happen to it. */
  readonly recordTtlMillis: number;
  /** Most board entries kept; the oldest are deleted beyond it. */
  readonly maxBoardEntries: number;
}

/** How long a record that no validator certified is kept (a refusal, for lookups). */
const UNCERTIFIED_TTL_MILLIS = 3_600_000;

const lower = (a: string) => a.toLowerCase() as Hex;

/**
 * The backend's database.
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 *
 * const store = await Store.open(":memory:", { recordTtlMillis: 60_000, maxBoardEntries: 100 });
 * console.log(await store.followFrom()); // undefined: a new store
 * store.close();
 * ```
 */
export class Store {
  readonly #db: ExclusiveKv;
  readonly #kv: Deno.Kv;
  readonly #options: StoreOptions;
  #queue: Promise<unknown> = Promise.resolve();
  #sequence = 0n;
  #first = 1n;

  private constructor(db: ExclusiveKv, options: StoreOptions) {
    this.#db = db;
    this.#kv = db.kv;
    this.#options = options;
  }

  /**
   * Opens (or creates) the store at `path` (`":memory:"` for tests), taking an exclusive lock on
   * `path + ".lock"` so that two processes never write one database.
   */
  static async open(path: string, options: StoreOptions): Promise<Store> {
    const db = await openExclusiveKv(path, "backend");
    const store = new Store(db, options);
    store.#sequence = (await db.kv.get<bigint>(K.boardSeq)).value ?? 0n;
    store.#first = (await db.kv.get<bigint>(K.boardFirst)).value ?? 1n;
    return store;
  }

  /** Closes the database and releases the process lock. */
  close(): void {
    this.#db.close();
  }

  /** Runs `fn` after every earlier write. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The record of `txHash`. */
  async tx(txHash: Hex): Promise<TxRecord | undefined> {
    return (await this.#kv.get<TxRecord>(K.tx(lower(txHash)))).value ?? undefined;
  }

  /** Every record the vault follower watches (read at start). */
  async openRecords(): Promise<TxRecord[]> {
    const hashes: Hex[] = [];
    for await (const e of this.#kv.list({ prefix: K.openPrefix })) hashes.push(e.key[2] as Hex);
    return await this.#many(hashes);
  }

  /** Certified, not yet settled payments from or to `address`. */
  async pendingOf(address: Address, limit: number): Promise<TxRecord[]> {
    const hashes: Hex[] = [];
    const iter = this.#kv.list({ prefix: K.pendingPrefix(lower(address)) }, { limit });
    for await (const e of iter) hashes.push(e.key[3] as Hex);
    return await this.#many(hashes);
  }

  /** The most recent payments from or to `address`, newest first. */
  async recentOf(address: Address, limit: number): Promise<TxRecord[]> {
    const hashes: Hex[] = [];
    const iter = this.#kv.list({ prefix: K.recentPrefix(lower(address)) }, {
      limit,
      reverse: true,
    });
    for await (const e of iter) hashes.push(e.key[4] as Hex);
    return await this.#many(hashes);
  }

  async #many(hashes: readonly Hex[]): Promise<TxRecord[]> {
    const out: TxRecord[] = [];
    for (let i = 0; i < hashes.length; i += 10) {
      const got = await this.#kv.getMany<TxRecord[]>(hashes.slice(i, i + 10).map(K.tx));
      for (const g of got) if (g.value) out.push(g.value);
    }
    return out;
  }

  /** How long `record` and its indexes are kept from now. */
  #ttl(record: TxRecord): number {
    const ttl = this.#options.recordTtlMillis;
    if (record.certificates.length === 0 && record.qc === undefined) {
      return Math.min(ttl, UNCERTIFIED_TTL_MILLIS);
    }
    if (!isOpen(record)) return ttl;
    const left = Number(record.signed.order.validBefore) - Date.now();
    return ttl + Math.max(0, Math.min(left, ttl));
  }

  /**
   * Writes `after` (replacing `before`) with its indexes, and appends the certificates it gained
   * and its QC, once it has one, to the board. Resolves once durable.
   */
  write(before: TxRecord | undefined, after: TxRecord): Promise<void> {
    return this.#serial(async () => {
      const op = this.#kv.atomic();
      const expireIn = this.#ttl(after);
      const txHash = lower(after.txHash);
      const o = after.signed.order;
      const parties = [...new Set([lower(o.payer), lower(o.recipient)])];
      op.set(K.tx(txHash), after, { expireIn });
      if (isOpen(after)) op.set(K.open(txHash), null, { expireIn });
      else if (before === undefined || isOpen(before)) op.delete(K.open(txHash));
      for (const p of parties) {
        if (before === undefined) {
          op.set(K.recent(p, after.firstSeenMillis, txHash), null, { expireIn });
        }
        if (isPending(after)) op.set(K.pending(p, txHash), null, { expireIn });
        else if (before && isPending(before)) op.delete(K.pending(p, txHash));
      }
      const known = new Set((before?.certificates ?? []).map((c) => hex(c.certificate.signer)));
      const added: Omit<BoardEntry, "sequence" | "signed" | "txHash">[] = after.certificates
        .filter((c) => !known.has(hex(c.certificate.signer)))
        .map((c) => ({ certificate: c.certificate }));
      if (after.qc && !before?.qc) added.push({ qc: after.qc });
      let seq = this.#sequence;
      for (const a of added) {
        seq++;
        const entry = { sequence: seq, signed: after.signed, txHash, ...a } as BoardEntry;
        op.set(K.board(seq), entry, { expireIn });
        op.set(K.boardKey(txHash, a.qc ? "qc" : hex(a.certificate!.signer)), seq, { expireIn });
        for (const p of parties) op.set(K.boardAddr(p, seq), null, { expireIn });
      }
      if (seq !== this.#sequence) op.set(K.boardSeq, seq);
      const result = await op.commit();
      if (!result.ok) throw new Error(`KV commit of ${txHash} failed`);
      this.#sequence = seq;
      await this.#prune();
    });
  }

  /** Deletes the oldest board entries beyond the limit (a bounded batch per call). */
  async #prune(): Promise<void> {
    const excess = this.#sequence - this.#first + 1n - BigInt(this.#options.maxBoardEntries);
    if (excess <= 0n) return;
    const upto = this.#first + (excess < 64n ? excess : 64n);
    const op = this.#kv.atomic();
    for (let seq = this.#first; seq < upto; seq++) {
      const entry = (await this.#kv.get<BoardEntry>(K.board(seq))).value;
      op.delete(K.board(seq));
      if (entry === null) continue; // already expired
      const key = entry.qc ? "qc" : hex(entry.certificate.signer);
      op.delete(K.boardKey(entry.txHash, key));
      const o = entry.signed.order;
      for (const p of new Set([lower(o.payer), lower(o.recipient)])) {
        op.delete(K.boardAddr(p, seq));
      }
    }
    op.set(K.boardFirst, upto);
    if ((await op.commit()).ok) this.#first = upto;
  }

  /** The highest board sequence committed. */
  get lastSequence(): bigint {
    return this.#sequence;
  }

  /** Board entries after `afterSequence`, in sequence order, at most `limit`. */
  async board(query: BoardQuery): Promise<BoardEntry[]> {
    const after = query.afterSequence;
    const address = query.address && lower(query.address);
    if (query.txHash) {
      const seqs: bigint[] = [];
      for await (
        const e of this.#kv.list<bigint>({ prefix: K.boardKeyPrefix(lower(query.txHash)) })
      ) {
        if (e.value > after) seqs.push(e.value);
      }
      seqs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const entries = await this.#entries(seqs);
      return entries.filter((e) =>
        address === undefined || lower(e.signed.order.payer) === address ||
        lower(e.signed.order.recipient) === address
      ).slice(0, query.limit);
    }
    const end = 1n << 64n;
    if (address) {
      const seqs: bigint[] = [];
      const prefix = K.boardAddrPrefix(address);
      const iter = this.#kv.list({ start: [...prefix, after + 1n], end: [...prefix, end] }, {
        limit: query.limit,
      });
      for await (const e of iter) seqs.push(e.key[3] as bigint);
      return await this.#entries(seqs);
    }
    const out: BoardEntry[] = [];
    const iter = this.#kv.list<BoardEntry>({
      start: [...K.boardPrefix, after + 1n],
      end: [...K.boardPrefix, end],
    }, { limit: query.limit });
    for await (const e of iter) out.push(e.value);
    return out;
  }

  async #entries(seqs: readonly bigint[]): Promise<BoardEntry[]> {
    const out: BoardEntry[] = [];
    for (let i = 0; i < seqs.length; i += 10) {
      const got = await this.#kv.getMany<BoardEntry[]>(seqs.slice(i, i + 10).map(K.board));
      for (const g of got) if (g.value) out.push(g.value);
    }
    return out;
  }

  /** Where the pull of the board of the sidecar with validator id `signer` stands. */
  async cursor(signer: Uint8Array): Promise<bigint> {
    return (await this.#kv.get<bigint>(K.cursor(hex(signer)))).value ?? 0n;
  }

  /** Records how far that sidecar's board was read. */
  async setCursor(signer: Uint8Array, sequence: bigint): Promise<void> {
    await this.#serial(() => this.#kv.set(K.cursor(hex(signer)), sequence));
  }

  /** The first vault block not yet processed, if any block was. */
  async followFrom(): Promise<bigint | undefined> {
    return (await this.#kv.get<bigint>(K.follow)).value ?? undefined;
  }

  /** Records that every block below `height` was processed (after its changes are durable). */
  async setFollowFrom(height: bigint): Promise<void> {
    await this.#serial(() => this.#kv.set(K.follow, height));
  }
}

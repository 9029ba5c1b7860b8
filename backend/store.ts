/**
 * All of the backend's Deno KV access: tx lifecycle records and their indexes, client request
 * ids, the backend's own bulletin board and the cursors of the boards it pulls. Writes go through
 * one commit queue, so board sequences are assigned in commit order (a reader paging with
 * `after_sequence` never skips or repeats an entry). One process owns a KV path at a time (an
 * exclusive lock on `PATH.lock`). The key layout is documented in `backend/README.md`.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import type { Certificate } from "@allegro/client";
import { type ExclusiveKv, openExclusiveKv } from "@allegro/server/exclusive-kv";
import { FINAL_STAGES, type RecordPayment, type TxRecord } from "./record.ts";

const V = "v1";

const K = {
  tx: (txHash: Uint8Array) => [V, "tx", txHash],
  qc: (qcHash: Uint8Array) => [V, "qc", qcHash],
  open: (txHash: Uint8Array) => [V, "open", txHash],
  openPrefix: [V, "open"],
  addr: (address: Hex, at: bigint, txHash: Uint8Array) => [V, "addr", address, at, txHash],
  addrPrefix: (address: Hex) => [V, "addr", address],
  pending: (address: Hex, txHash: Uint8Array) => [V, "pending", address, txHash],
  pendingPrefix: (address: Hex) => [V, "pending", address],
  request: (sender: Hex, id: string) => [V, "request", sender, id],
  board: (seq: bigint) => [V, "board", seq],
  boardPrefix: [V, "board"],
  boardCert: (txHash: Uint8Array, signer: Uint8Array) => [V, "board_cert", txHash, signer],
  boardCertPrefix: (txHash: Uint8Array) => [V, "board_cert", txHash],
  boardAddr: (address: Hex, seq: bigint) => [V, "board_addr", address, seq],
  boardAddrPrefix: (address: Hex) => [V, "board_addr", address],
  boardSeq: [V, "meta", "board_seq"],
  boardFirst: [V, "meta", "board_first"],
  cursor: (signer: Uint8Array) => [V, "cursor", signer],
} as const;

/** One certificate on the backend's bulletin board. */
export interface BoardEntry {
  readonly sequence: bigint;
  readonly certificate: Certificate;
  readonly signedTx: Uint8Array;
  /** Empty when the payment has no parent. */
  readonly parentQcHash: Uint8Array;
  readonly payment: RecordPayment;
}

/** Filters and cursor of a board read. */
export interface BoardQuery {
  readonly afterSequence: bigint;
  readonly limit: number;
  readonly txHash?: Uint8Array;
  /** Lowercase 0x address: entries whose sender or recipient it is. */
  readonly address?: Hex;
}

/** Store settings. */
export interface StoreOptions {
  /** Most board entries kept; the oldest are deleted beyond it. */
  readonly maxBoardEntries: number;
  /** How long settled records and their indexes are kept. */
  readonly txTtlMillis: number;
}

/** Whether a record's certified payment is still waiting for the chain. */
export function isPending(record: TxRecord): boolean {
  return record.qc !== undefined &&
    (record.stage === "CERTIFIED" || record.stage === "QUEUED_ONCHAIN");
}

/** Whether the chain follower still watches a record. */
export function isOpen(record: TxRecord): boolean {
  if (FINAL_STAGES.has(record.stage)) return false;
  return record.stage !== "REJECTED" || record.certificates.length > 0;
}

const lower = (a: Hex) => a.toLowerCase() as Hex;

/**
 * The backend's database.
 *
 * @example
 * ```ts ignore
 * const store = await Store.open("backend.kv", { maxBoardEntries: 1_000_000, txTtlMillis: 7 * 86_400_000 });
 * const record = await store.tx(txHash);
 * store.close();
 * ```
 */
export class Store {
  readonly #kv: Deno.Kv;
  readonly #db: ExclusiveKv;
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
  async tx(txHash: Uint8Array): Promise<TxRecord | undefined> {
    return (await this.#kv.get<TxRecord>(K.tx(txHash))).value ?? undefined;
  }

  /** The tx hash whose QC has this `qc_hash` (only QCs this backend assembled). */
  async txByQc(qcHash: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.#kv.get<Uint8Array>(K.qc(qcHash))).value ?? undefined;
  }

  /** Tx hashes the chain follower watches. */
  async openTxs(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for await (const e of this.#kv.list({ prefix: K.openPrefix })) {
      out.push(e.key[2] as Uint8Array);
    }
    return out;
  }

  /** Certified, not yet included payments from or to `address`. */
  async pendingOf(address: Hex, limit: number): Promise<TxRecord[]> {
    const hashes: Uint8Array[] = [];
    for await (const e of this.#kv.list({ prefix: K.pendingPrefix(lower(address)) }, { limit })) {
      hashes.push(e.key[3] as Uint8Array);
    }
    return await this.#many(hashes);
  }

  /** The most recent payments from or to `address`, newest first. */
  async recentOf(address: Hex, limit: number): Promise<TxRecord[]> {
    const hashes: Uint8Array[] = [];
    const iter = this.#kv.list({ prefix: K.addrPrefix(lower(address)) }, {
      limit,
      reverse: true,
    });
    for await (const e of iter) hashes.push(e.key[4] as Uint8Array);
    return await this.#many(hashes);
  }

  async #many(hashes: Uint8Array[]): Promise<TxRecord[]> {
    const out: TxRecord[] = [];
    for (let i = 0; i < hashes.length; i += 10) {
      const got = await this.#kv.getMany<TxRecord[]>(hashes.slice(i, i + 10).map(K.tx));
      for (const g of got) if (g.value) out.push(g.value);
    }
    return out;
  }

  /**
   * Binds `(sender, client_request_id)` to `txHash` the first time; returns the tx hash it is
   * bound to (which differs from `txHash` for a conflicting reuse).
   */
  claimRequest(sender: Hex, id: string, txHash: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      const key = K.request(lower(sender), id);
      const existing = await this.#kv.get<Uint8Array>(key);
      if (existing.value) return existing.value;
      const ok = await this.#kv.atomic().check(existing).set(key, txHash, {
        expireIn: this.#options.txTtlMillis,
      }).commit();
      if (!ok.ok) throw new Error(`client_request_id ${id} is being claimed concurrently`);
      return txHash;
    });
  }

  /**
   * Writes `after` (replacing `before`) with its indexes, and appends `newCertificates` to the
   * board. Resolves once durable.
   */
  write(
    before: TxRecord | undefined,
    after: TxRecord,
    newCertificates: readonly Certificate[],
  ): Promise<void> {
    return this.#serial(async () => {
      const op = this.#kv.atomic();
      const settled = !isOpen(after) && after.stage !== "ACCEPTED";
      const ttl = settled ? { expireIn: this.#options.txTtlMillis } : {};
      op.set(K.tx(after.txHash), after, ttl);
      const parties = [...new Set([lower(after.payment.sender), lower(after.payment.recipient)])];
      if (before === undefined || settled) {
        for (const p of parties) op.set(K.addr(p, after.firstSeenMillis, after.txHash), null, ttl);
      }
      if (after.qc && (!before?.qc || settled)) op.set(K.qc(after.qc.qcHash), after.txHash, ttl);
      if (isOpen(after)) op.set(K.open(after.txHash), null);
      else if (before === undefined || isOpen(before)) op.delete(K.open(after.txHash));
      for (const p of parties) {
        if (isPending(after)) op.set(K.pending(p, after.txHash), null);
        else if (before && isPending(before)) op.delete(K.pending(p, after.txHash));
      }
      let seq = this.#sequence;
      for (const certificate of newCertificates) {
        seq++;
        const entry: BoardEntry = {
          sequence: seq,
          certificate,
          signedTx: after.signedTx,
          parentQcHash: after.parentQcHash,
          payment: after.payment,
        };
        op.set(K.board(seq), entry);
        op.set(K.boardCert(after.txHash, certificate.signer), seq);
        for (const p of parties) op.set(K.boardAddr(p, seq), null);
      }
      if (seq !== this.#sequence) op.set(K.boardSeq, seq);
      const result = await op.commit();
      if (!result.ok) throw new Error(`KV commit of ${bytesToHex(after.txHash)} failed`);
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
      if (entry) {
        op.delete(K.boardCert(entry.certificate.txHash, entry.certificate.signer));
        for (const p of new Set([lower(entry.payment.sender), lower(entry.payment.recipient)])) {
          op.delete(K.boardAddr(p, seq));
        }
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
    let seqs: bigint[];
    if (query.txHash) {
      seqs = [];
      for await (const e of this.#kv.list<bigint>({ prefix: K.boardCertPrefix(query.txHash) })) {
        if (e.value > after) seqs.push(e.value);
      }
      seqs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (query.address) {
        const address = lower(query.address);
        const entries = await this.#entries(seqs);
        return entries.filter((e) =>
          lower(e.payment.sender) === address || lower(e.payment.recipient) === address
        ).slice(0, query.limit);
      }
      return await this.#entries(seqs.slice(0, query.limit));
    }
    if (query.address) {
      seqs = [];
      const prefix = K.boardAddrPrefix(lower(query.address));
      const iter = this.#kv.list({ start: [...prefix, after + 1n], end: [...prefix, 1n << 64n] }, {
        limit: query.limit,
      });
      for await (const e of iter) seqs.push(e.key[3] as bigint);
      return await this.#entries(seqs);
    }
    const out: BoardEntry[] = [];
    const iter = this.#kv.list<BoardEntry>({
      start: [...K.boardPrefix, after + 1n],
      end: [...K.boardPrefix, 1n << 64n],
    }, { limit: query.limit });
    for await (const e of iter) out.push(e.value);
    return out;
  }

  async #entries(seqs: bigint[]): Promise<BoardEntry[]> {
    const out: BoardEntry[] = [];
    for (let i = 0; i < seqs.length; i += 10) {
      const got = await this.#kv.getMany<BoardEntry[]>(seqs.slice(i, i + 10).map(K.board));
      for (const g of got) if (g.value) out.push(g.value);
    }
    return out;
  }

  /** Where the pull of `signer`'s sidecar board stands. */
  async cursor(signer: Uint8Array): Promise<bigint> {
    return (await this.#kv.get<bigint>(K.cursor(signer))).value ?? 0n;
  }

  /** Records how far `signer`'s sidecar board was read. */
  async setCursor(signer: Uint8Array, sequence: bigint): Promise<void> {
    await this.#serial(() => this.#kv.set(K.cursor(signer), sequence));
  }
}

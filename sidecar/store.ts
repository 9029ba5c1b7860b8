/**
 * All of the sidecar's Deno KV access. Certifications are group-committed: every write waiting
 * when a commit starts goes into one atomic operation, guarded by version checks, and each
 * caller's promise settles only once that commit is durable. One process owns a KV path at a
 * time (an exclusive lock on `PATH.lock`). The key layout is documented in `sidecar/README.md`.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import { bytesEqual, type Certificate, type RejectCode } from "@allegro/client";
import { type ExclusiveKv, openExclusiveKv } from "@allegro/server/exclusive-kv";
import type { PendingTx } from "./ledger.ts";

/** A certificate with what a reader needs to verify it, as kept on the bulletin board. */
export interface BoardEntry {
  readonly sequence: bigint;
  readonly certificate: Certificate;
  readonly signedTx: Uint8Array;
  /** Empty when the payment has no parent. */
  readonly parentQcHash: Uint8Array;
  /** The payment, as derived from `signedTx` (lowercase hex addresses). */
  readonly sender: Hex;
  readonly recipient: Hex;
  readonly amount: bigint;
  readonly asset: Hex;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
  readonly validBeforeMillis: bigint;
}

/** What one certification writes, all in one atomic commit. */
export interface CertifyWrite {
  readonly kind: "certify";
  readonly certificate: Certificate;
  readonly sender: Hex;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
  readonly pending: PendingTx;
  readonly clientRequestId?: string;
  /** The board entry (its sequence is assigned at commit). */
  readonly entry: Omit<BoardEntry, "sequence">;
}

/** A verified certificate from a peer's board. `added` tells, after commit, if it was new. */
export interface GossipWrite {
  readonly kind: "gossip";
  readonly entry: Omit<BoardEntry, "sequence">;
  added?: boolean;
}

/** A permanent reject remembered for `(sender, client_request_id)`. */
export interface RejectWrite {
  readonly kind: "reject";
  readonly sender: Hex;
  readonly clientRequestId: string;
  readonly txHash: Uint8Array;
  readonly code: RejectCode;
  readonly message: string;
}

/** A stored `(sender, client_request_id)` answer. */
export interface StoredRequest {
  readonly txHash: Uint8Array;
  readonly reject?: { code: RejectCode; message: string };
}

/** Filters of a board page. */
export interface BoardQuery {
  readonly afterSequence: bigint;
  readonly limit: number;
  readonly txHash?: Uint8Array;
  readonly address?: Hex;
}

/** Store settings. */
export interface StoreOptions {
  /** Most certifications in one atomic commit (Deno KV caps checks and mutations per commit). */
  readonly maxBatch?: number;
  /** How long `(sender, client_request_id)` answers are kept. */
  readonly requestTtlMillis?: number;
  /** Most gossiped entries kept per foreign signer. */
  readonly maxGossipPerSigner?: number;
}

const V = "v1";
const K = {
  boardSeq: [V, "meta", "board_seq"],
  lock: (sender: Hex, nonceKey: Uint8Array, seq: bigint) => [V, "lock", sender, nonceKey, seq],
  locks: (sender: Hex, nonceKey: Uint8Array) => [V, "lock", sender, nonceKey],
  /** Pending transactions are keyed by their board sequence (appended, not scattered). */
  pending: (sequence: bigint) => [V, "pending", sequence],
  /** Before: by tx hash (still read, settled and rewritten where found). */
  pendingByHash: (txHash: Uint8Array) => [V, "pending", txHash],
  consumed: (parentTxHash: Uint8Array) => [V, "consumed", parentTxHash],
  request: (sender: Hex, id: string) => [V, "request", sender, id],
  board: (seq: bigint) => [V, "board", seq],
  boardTx: (txHash: Uint8Array, signer: Uint8Array) => [V, "board_tx", txHash, signer],
  boardAddr: (address: Hex, seq: bigint) => [V, "board_addr", address, seq],
  gossipCount: (signer: Uint8Array) => [V, "gossip_count", signer],
};

type Write = CertifyWrite | RejectWrite | GossipWrite;

interface Queued {
  readonly write: Write;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

// Deno KV's limits for one atomic operation.
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;

/** Checks and mutations a write adds to a commit (at most). */
function cost(w: Write): { checks: number; mutations: number } {
  if (w.kind === "reject") return { checks: 0, mutations: 1 };
  if (w.kind === "gossip") return { checks: 0, mutations: 5 };
  const credit = w.pending.credit === undefined ? 0 : 1;
  const request = w.clientRequestId === undefined ? 0 : 1;
  return { checks: 1 + credit, mutations: 6 + credit + request };
}

/** Raised when a commit fails; the certifier answers `TEMPORARY_UNAVAILABLE`. */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreUnavailableError";
  }
}

/**
 * The sidecar's store over one Deno KV database.
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 *
 * const store = await Store.open(":memory:");
 * console.log(await store.lastSequence()); // 0n
 * store.close();
 * ```
 */
export class Store {
  readonly #kv: Deno.Kv;
  readonly #db: ExclusiveKv;
  readonly #maxBatch: number;
  readonly #requestTtl: number;
  readonly #maxGossipPerSigner: number;
  readonly #own: Queued[] = [];
  readonly #gossip: Queued[] = [];
  #committing: Promise<void> | undefined;
  #sequence = 0n;
  /**
   * The versionstamp of the board sequence key as this process last wrote (or read) it: the
   * next commit checks it without reading it again (one process owns the path). `undefined`
   * after a failed commit: read again.
   */
  #sequenceVersion: string | null | undefined;
  /** Where each pending transaction is stored, by tx hash hex. */
  readonly #pendingKeys = new Map<Hex, Deno.KvKey>();
  #commitMillis: number[] = [];

  private constructor(db: ExclusiveKv, options: StoreOptions) {
    this.#db = db;
    this.#kv = db.kv;
    // Deno KV allows 100 checks and 1000 mutations per commit; a certification uses at most
    // 2 checks and 8 mutations, and batches are cut to fit (see `cost`).
    this.#maxBatch = Math.min(options.maxBatch ?? 96, 96);
    this.#requestTtl = options.requestTtlMillis ?? 24 * 3600_000;
    this.#maxGossipPerSigner = options.maxGossipPerSigner ?? 10_000;
  }

  /**
   * Opens (or creates) the store at `path` (`":memory:"` for tests), taking an exclusive lock on
   * `path + ".lock"` so that two processes never write one database.
   */
  static async open(path: string, options: StoreOptions = {}): Promise<Store> {
    const db = await openExclusiveKv(path, "sidecar");
    const store = new Store(db, options);
    const entry = await db.kv.get<bigint>(K.boardSeq);
    store.#sequence = entry.value ?? 0n;
    store.#sequenceVersion = entry.versionstamp;
    return store;
  }

  /** Closes the database and releases the process lock. */
  close(): void {
    this.#db.close();
  }

  /** The highest board sequence committed. */
  lastSequence(): Promise<bigint> {
    return Promise.resolve(this.#sequence);
  }

  /** Durations of recent commits in milliseconds, drained by the metrics endpoint. */
  drainCommitMillis(): number[] {
    const out = this.#commitMillis;
    this.#commitMillis = [];
    return out;
  }

  /** The lock of a contention key: the tx hash and certificate it was signed for. */
  async getLock(
    sender: Hex,
    nonceKey: Uint8Array,
    nonceSeq: bigint,
  ): Promise<{ txHash: Uint8Array; certificate: Certificate } | null> {
    return (await this.#kv.get<{ txHash: Uint8Array; certificate: Certificate }>(
      K.lock(sender, nonceKey, nonceSeq),
    )).value;
  }

  /**
   * The next local nonce of a lane (one past its highest contention lock), if any certificate
   * was issued in it.
   */
  async getNonce(sender: Hex, nonceKey: Uint8Array): Promise<bigint | null> {
    const iter = this.#kv.list({ prefix: K.locks(sender, nonceKey) }, { reverse: true, limit: 1 });
    for await (const e of iter) return (e.key[4] as bigint) + 1n;
    return null;
  }

  /** The child that consumed a parent, if any. */
  async getConsumed(parentTxHash: Uint8Array): Promise<Uint8Array | null> {
    return (await this.#kv.get<Uint8Array>(K.consumed(parentTxHash))).value;
  }

  /** The stored answer for `(sender, client_request_id)`. */
  async getRequest(sender: Hex, clientRequestId: string): Promise<StoredRequest | null> {
    return (await this.#kv.get<StoredRequest>(K.request(sender, clientRequestId))).value;
  }

  /** Every pending transaction, for the ledger at start-up. */
  async *pending(): AsyncIterable<PendingTx> {
    for await (const e of this.#kv.list<PendingTx>({ prefix: [V, "pending"] })) {
      this.#pendingKeys.set(bytesToHex(e.value.txHash), e.key);
      yield e.value;
    }
  }

  /** Makes a certification durable; resolves once its batch committed. */
  certify(write: CertifyWrite): Promise<void> {
    return this.#enqueue(this.#own, write);
  }

  /** Remembers a permanent reject for a `client_request_id`; resolves once durable. */
  rememberReject(write: RejectWrite): Promise<void> {
    return this.#enqueue(this.#own, write);
  }

  /**
   * Stores certificates gossiped by peers (already verified against the committee) that are not
   * on the board yet, at most `maxGossipPerSigner` per foreign signer. Own writes always go
   * first into a commit, so a flooding peer can neither evict nor delay this sidecar's own
   * certificates. Resolves with how many entries were added.
   */
  async addGossip(entries: readonly GossipWrite[]): Promise<number> {
    const results = await Promise.all(
      entries.map((e) => this.#enqueue(this.#gossip, e).then(() => e.added === true)),
    );
    return results.filter(Boolean).length;
  }

  #enqueue(queue: Queued[], write: Write): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ write, resolve, reject });
      this.#committing ??= this.#drain();
    });
  }

  /** Takes the next batch: own writes first, then gossip, within Deno KV's limits. */
  #nextBatch(): Queued[] {
    const batch: Queued[] = [];
    let checks = 1; // the board sequence
    let mutations = 1;
    for (const queue of [this.#own, this.#gossip]) {
      while (queue.length > 0 && batch.length < this.#maxBatch) {
        const c = cost(queue[0].write);
        if (checks + c.checks > MAX_CHECKS || mutations + c.mutations > MAX_MUTATIONS) break;
        checks += c.checks;
        mutations += c.mutations;
        batch.push(queue.shift()!);
      }
    }
    return batch;
  }

  async #drain(): Promise<void> {
    while (this.#own.length + this.#gossip.length > 0) {
      const batch = this.#nextBatch();
      const started = performance.now();
      try {
        await this.#commit(batch.map((q) => q.write));
        this.#commitMillis.push(performance.now() - started);
        for (const q of batch) q.resolve();
      } catch (e) {
        for (const q of batch) q.reject(e);
      }
    }
    this.#committing = undefined;
  }

  async #commit(writes: Write[]): Promise<void> {
    if (this.#sequenceVersion === undefined) {
      const entry = await this.#kv.get<bigint>(K.boardSeq);
      this.#sequence = entry.value ?? 0n;
      this.#sequenceVersion = entry.versionstamp;
    }
    const op = this.#kv.atomic().check({ key: K.boardSeq, versionstamp: this.#sequenceVersion });
    let seq = this.#sequence;
    const pendingKeys: [Hex, Deno.KvKey][] = [];
    const gossipCounts = new Map<Hex, bigint>();
    // What gossip needs to know, read at once (not one entry after another) before the commit.
    const gossip = writes.filter((w): w is GossipWrite => w.kind === "gossip");
    const known = new Set<GossipWrite>();
    if (gossip.length > 0) {
      const signers = [...new Map(gossip.map((w) => [bytesToHex(w.entry.certificate.signer), w]))];
      const [counts, seen] = await Promise.all([
        Promise.all(
          signers.map(([, w]) =>
            this.#kv.get<Deno.KvU64>(K.gossipCount(w.entry.certificate.signer))
          ),
        ),
        Promise.all(
          gossip.map((w) =>
            this.#kv.get(K.boardTx(w.entry.certificate.txHash, w.entry.certificate.signer))
          ),
        ),
      ]);
      signers.forEach(([signer], i) =>
        gossipCounts.set(signer as Hex, counts[i].value?.value ?? 0n)
      );
      gossip.forEach((w, i) => seen[i].versionstamp !== null && known.add(w));
    }
    for (const w of writes) {
      if (w.kind === "reject") {
        op.set(K.request(w.sender, w.clientRequestId), {
          txHash: w.txHash,
          reject: { code: w.code, message: w.message },
        }, { expireIn: this.#requestTtl });
      } else if (w.kind === "certify") {
        const c = w.certificate;
        const lockKey = K.lock(w.sender, w.nonceKey, w.nonceSeq);
        seq += 1n;
        pendingKeys.push([bytesToHex(c.txHash), K.pending(seq)]);
        op.check({ key: lockKey, versionstamp: null })
          .set(lockKey, { txHash: c.txHash, certificate: c })
          .set(K.pending(seq), w.pending);
        if (w.pending.credit) {
          const consumedKey = K.consumed(w.pending.credit.parentTxHash);
          op.check({ key: consumedKey, versionstamp: null }).set(consumedKey, c.txHash);
        }
        if (w.clientRequestId !== undefined) {
          op.set(K.request(w.sender, w.clientRequestId), { txHash: c.txHash }, {
            expireIn: this.#requestTtl,
          });
        }
        this.#boardMutations(op, { ...w.entry, sequence: seq });
      } else {
        const c = w.entry.certificate;
        const signer = bytesToHex(c.signer);
        const count = gossipCounts.get(signer) ?? 0n;
        if (known.has(w) || count >= BigInt(this.#maxGossipPerSigner) || this.#inBatch(writes, w)) {
          continue;
        }
        gossipCounts.set(signer, count + 1n);
        op.sum(K.gossipCount(c.signer), 1n);
        seq += 1n;
        this.#boardMutations(op, { ...w.entry, sequence: seq });
        w.added = true;
      }
    }
    op.set(K.boardSeq, seq);
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await op.commit();
    } catch (e) {
      this.#sequenceVersion = undefined;
      throw e;
    }
    if (!result.ok) {
      this.#sequenceVersion = undefined;
      for (const w of writes) if (w.kind === "gossip") w.added = false;
      throw new StoreUnavailableError(
        `KV commit of ${writes.length} writes failed a version check (another writer?)`,
      );
    }
    this.#sequence = seq;
    this.#sequenceVersion = result.versionstamp;
    for (const [txHash, key] of pendingKeys) this.#pendingKeys.set(txHash, key);
  }

  /** Whether an earlier write of this batch already puts the same (tx, signer) on the board. */
  #inBatch(writes: Write[], w: GossipWrite): boolean {
    const c = w.entry.certificate;
    for (const other of writes) {
      if (other === w) return false;
      if (other.kind === "reject" || other.kind === "gossip" && !other.added) continue;
      const o = other.entry.certificate;
      if (bytesEqual(o.txHash, c.txHash) && bytesEqual(o.signer, c.signer)) return true;
    }
    return false;
  }

  #boardMutations(op: Deno.AtomicOperation, entry: BoardEntry): void {
    op.set(K.board(entry.sequence), entry)
      .set(K.boardTx(entry.certificate.txHash, entry.certificate.signer), entry.sequence)
      .set(K.boardAddr(entry.sender, entry.sequence), null);
    if (entry.recipient !== entry.sender) {
      op.set(K.boardAddr(entry.recipient, entry.sequence), null);
    }
  }

  /** One page of the board, in sequence order. */
  async board(query: BoardQuery): Promise<BoardEntry[]> {
    const start = query.afterSequence + 1n;
    if (query.txHash !== undefined) {
      const out: BoardEntry[] = [];
      for await (const e of this.#kv.list<bigint>({ prefix: [V, "board_tx", query.txHash] })) {
        if (e.value < start) continue;
        const entry = (await this.#kv.get<BoardEntry>(K.board(e.value))).value;
        if (entry) out.push(entry);
      }
      return out.sort((a, b) => (a.sequence < b.sequence ? -1 : 1)).slice(0, query.limit);
    }
    if (query.address !== undefined) {
      const out: BoardEntry[] = [];
      const iter = this.#kv.list({
        start: K.boardAddr(query.address, start),
        end: [V, "board_addr", query.address, 1n << 64n],
      }, { limit: query.limit });
      for await (const e of iter) {
        const entry = (await this.#kv.get<BoardEntry>(K.board(e.key[3] as bigint))).value;
        if (entry) out.push(entry);
      }
      return out;
    }
    const out: BoardEntry[] = [];
    const iter = this.#kv.list<BoardEntry>(
      { start: K.board(start), end: [V, "board", 1n << 64n] },
      {
        limit: query.limit,
      },
    );
    for await (const e of iter) out.push(e.value);
    return out;
  }

  #pendingKey(txHash: Uint8Array): Deno.KvKey {
    return this.#pendingKeys.get(bytesToHex(txHash)) ?? K.pendingByHash(txHash);
  }

  /** Removes pending transactions that were included or expired, in one atomic commit. */
  async settle(txHashes: readonly Uint8Array[]): Promise<void> {
    if (txHashes.length === 0) return;
    for (let i = 0; i < txHashes.length; i += 500) {
      const op = this.#kv.atomic();
      const slice = txHashes.slice(i, i + 500);
      for (const h of slice) op.delete(this.#pendingKey(h));
      const result = await op.commit();
      if (!result.ok) throw new StoreUnavailableError("KV commit of settled transactions failed");
      for (const h of slice) this.#pendingKeys.delete(bytesToHex(h));
    }
  }

  /** Rewrites a pending transaction (its parent's credit settled). */
  async updatePending(tx: PendingTx): Promise<void> {
    await this.#kv.set(this.#pendingKey(tx.txHash), tx);
  }
}

/**
 * The sidecar's Deno KV store: it persists what the authority returns ({@linkcode Writes}) in
 * atomic commits, reads lanes and parents back when the authority asks for them, and serves the
 * bulletin board. One process owns a KV path (an exclusive lock on `PATH.lock`).
 *
 * Commits are grouped: every write queued while a commit runs goes into the next one, in queue
 * order, and each caller's promise resolves only once its commit is durable. If a commit fails,
 * it and every write queued after it fail (those were decided on top of it): the driver then
 * reloads the authority from the store. The key layout is documented in `sidecar/README.md`.
 *
 * @module
 */
import type { Address, Hex } from "viem";
import type { SignedOrder } from "@allegro/client";
import { type ExclusiveKv, openExclusiveKv } from "@allegro/server/exclusive-kv";
import type { Certificate, QuorumCertificate } from "@allegro/client";
import {
  type BoardItem,
  type ChainView,
  type Key,
  type ParentInfo,
  type VaultEpoch,
  Writes,
} from "./authority.ts";
import { type Lane, type LaneHeader, laneId, type Slot } from "./lane.ts";

/** One bulletin-board entry as stored. */
export interface BoardEntry {
  readonly sequence: bigint;
  readonly signed: SignedOrder;
  readonly certificate?: Certificate;
  readonly qc?: QuorumCertificate;
}

/** Filters of a board page. */
export interface BoardQuery {
  readonly afterSequence: bigint;
  readonly limit: number;
  readonly txHash?: Hex;
  readonly address?: Address;
}

/** What a store holds about this sidecar itself. */
export interface StoreStart {
  readonly chain?: ChainView;
  readonly vault?: VaultEpoch;
  /** The store-loss marker: the key and epoch this store has held everything for. */
  readonly marker?: { readonly pubkey: Hex; readonly epoch: bigint };
}

const V = "v2";
const K = {
  marker: [V, "marker"],
  chain: [V, "chain"],
  vault: [V, "vault"],
  lane: (payer: string, token: string) => [V, "lane", payer, token],
  slots: (payer: string, token: string) => [V, "slot", payer, token],
  slot: (payer: string, token: string, seq: bigint) => [V, "slot", payer, token, seq],
  parent: (txHash: Hex) => [V, "parent", txHash],
  boardSeq: [V, "board_seq"],
  board: (seq: bigint) => [V, "board", seq],
  boardTx: (txHash: string, seq: bigint) => [V, "board_tx", txHash, seq],
  boardAddr: (address: string, seq: bigint) => [V, "board_addr", address, seq],
};

/** Deno KV allows 1000 mutations per atomic operation; a commit stays under this. */
const MAX_MUTATIONS = 900;
/** How long past a parent's `validBefore` its record is kept (local clock; generous). */
const PARENT_GRACE_MILLIS = 3_600_000;

/** Raised when a commit fails; every write queued with or after it failed too. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

interface Queued {
  readonly writes: Writes;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The store over one Deno KV database.
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 *
 * const store = await Store.open(":memory:");
 * console.log((await store.start()).chain); // undefined
 * store.close();
 * ```
 */
export class Store {
  readonly #db: ExclusiveKv;
  readonly #kv: Deno.Kv;
  readonly #queue: Queued[] = [];
  #committing: Promise<void> | undefined;
  #sequence = 0n;
  #commitMillis: number[] = [];
  #marker: { pubkey: Hex; epoch: bigint } | undefined;
  /** Lanes with writes queued or being committed: never read back from the store meanwhile. */
  readonly #pending = new Map<string, number>();
  /** The chain view and vault epoch as last committed. */
  #durable: { chain?: ChainView; vault?: VaultEpoch } = {};
  /**
   * Called synchronously when a commit fails, before any caller learns of it, with the chain
   * view and vault epoch the store holds: the authority must forget what it holds in memory
   * before anything else is decided.
   */
  onFailure: ((durable: { chain?: ChainView; vault?: VaultEpoch }) => void) | undefined;

  private constructor(db: ExclusiveKv, sequence: bigint) {
    this.#db = db;
    this.#kv = db.kv;
    this.#sequence = sequence;
  }

  /** Opens (or creates) the store at `path` (`":memory:"` for tests), taking its lock. */
  static async open(path: string): Promise<Store> {
    const db = await openExclusiveKv(path, "sidecar");
    const sequence = (await db.kv.get<bigint>(K.boardSeq)).value ?? 0n;
    const store = new Store(db, sequence);
    const { chain, vault } = await store.start();
    store.#durable = { ...(chain ? { chain } : {}), ...(vault ? { vault } : {}) };
    return store;
  }

  /** Closes the database and releases the lock. */
  close(): void {
    this.#db.close();
  }

  /** The chain view, vault epoch and marker the store holds. */
  async start(): Promise<StoreStart> {
    const [chain, vault, marker] = await this.#kv.getMany<
      [ChainView, VaultEpoch, StoreStart["marker"]]
    >([
      K.chain,
      K.vault,
      K.marker,
    ]);
    return {
      ...(chain.value ? { chain: chain.value } : {}),
      ...(vault.value ? { vault: vault.value } : {}),
      ...(marker.value ? { marker: marker.value } : {}),
    };
  }

  /** Writes the store-loss marker for `pubkey` in `epoch` (a first start declared so). */
  async writeMarker(pubkey: Hex, epoch: bigint): Promise<void> {
    this.#marker = { pubkey, epoch };
    await this.#kv.set(K.marker, this.#marker);
  }

  /** The marker a commit with `writes.marker` writes (recovery ended): this key and epoch. */
  set marker(marker: { pubkey: Hex; epoch: bigint }) {
    this.#marker = marker;
  }

  /**
   * Whether a key has writes queued or in flight: such a key must not be evicted, since reading it
   * back before they are durable would give what they replace (a parent without its `consumedBy`).
   */
  pending(key: Key): boolean {
    return this.#pending.has(
      key.kind === "lane" ? laneId(key.payer, key.token) : parentKey(key.txHash),
    );
  }

  /** What the store holds for `key`. */
  async read(key: Key): Promise<Lane | ParentInfo | undefined> {
    if (key.kind === "parent") {
      return (await this.#kv.get<ParentInfo>(K.parent(key.txHash))).value ?? undefined;
    }
    const payer = key.payer.toLowerCase();
    const token = key.token.toLowerCase();
    const [header, slots] = await Promise.all([
      this.#kv.get<LaneHeader>(K.lane(payer, token)),
      Array.fromAsync(this.#kv.list<Slot>({ prefix: K.slots(payer, token) })),
    ]);
    if (header.value === null && slots.length === 0) return undefined;
    return {
      payer: key.payer,
      token: key.token,
      header: header.value ?? { balance: 0n, prefix: 0n, height: 0n },
      slots: new Map(slots.map((e) => [e.value.seq, e.value])),
    };
  }

  /** Makes `writes` durable; resolves once their commit succeeded. */
  commit(writes: Writes): Promise<void> {
    for (const id of pinnedBy(writes)) this.#pin(id, 1);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ writes, resolve, reject });
      this.#committing ??= this.#drain();
    });
  }

  /** Durations of recent commits in milliseconds, drained by the metrics endpoint. */
  drainCommitMillis(): number[] {
    const out = this.#commitMillis;
    this.#commitMillis = [];
    return out;
  }

  #pin(id: string, delta: number): void {
    const n = (this.#pending.get(id) ?? 0) + delta;
    if (n > 0) this.#pending.set(id, n);
    else this.#pending.delete(id);
  }

  #unpin(writes: Writes): void {
    for (const id of pinnedBy(writes)) this.#pin(id, -1);
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch: Queued[] = [];
      let mutations = 0;
      while (this.#queue.length > 0) {
        const cost = mutationCount(this.#queue[0].writes);
        if (batch.length > 0 && mutations + cost > MAX_MUTATIONS) break;
        mutations += cost;
        batch.push(this.#queue.shift()!);
      }
      const started = performance.now();
      try {
        // One write set too large for one atomic operation (a block with hundreds of vault
        // events) goes in parts, the chain view last: a lane never takes a block twice, so
        // re-applying the block after a crash between parts changes nothing already written.
        const parts = mutations > MAX_MUTATIONS
          ? split(batch[0].writes)
          : [batch.map((q) => q.writes)];
        for (const part of parts) await this.#commitBatch(part);
        this.#commitMillis.push(performance.now() - started);
        for (const q of batch) {
          this.#unpin(q.writes);
          q.resolve();
        }
      } catch (e) {
        this.onFailure?.(this.#durable);
        const failed = [...batch, ...this.#queue.splice(0)];
        const error = new StoreUnavailableError(`KV commit failed: ${(e as Error).message}`, {
          cause: e,
        });
        for (const q of failed) {
          this.#unpin(q.writes);
          q.reject(error);
        }
      }
    }
    this.#committing = undefined;
  }

  async #commitBatch(batch: Writes[]): Promise<void> {
    const op = this.#kv.atomic();
    let seq = this.#sequence;
    const drops: Hex[] = [];
    for (const w of batch) {
      for (const lane of w.lanes.values()) {
        op.set(K.lane(lane.payer.toLowerCase(), lane.token.toLowerCase()), lane.header);
      }
      for (const { lane, seq: s, slot } of w.slots.values()) {
        const key = K.slot(lane.payer.toLowerCase(), lane.token.toLowerCase(), s);
        if (slot === undefined) op.delete(key);
        else op.set(key, slot);
      }
      for (const [txHash, info] of w.parents) {
        const expireIn = Number(info.validBefore) - Date.now() + PARENT_GRACE_MILLIS;
        op.set(K.parent(txHash), info, { expireIn: Math.max(expireIn, PARENT_GRACE_MILLIS) });
      }
      for (const item of w.board) {
        seq += 1n;
        boardMutations(op, seq, item);
      }
      if (w.chain) op.set(K.chain, w.chain);
      if (w.vault) op.set(K.vault, w.vault);
      if (w.marker && this.#marker) op.set(K.marker, this.#marker);
      drops.push(...w.boardDrops);
    }
    if (seq !== this.#sequence) op.set(K.boardSeq, seq);
    const result = await op.commit();
    if (!result.ok) throw new Error("atomic commit was not applied");
    this.#sequence = seq;
    for (const w of batch) {
      if (w.chain) this.#durable = { ...this.#durable, chain: w.chain };
      if (w.vault) this.#durable = { ...this.#durable, vault: w.vault };
    }
    if (drops.length > 0) await this.#dropBoardEntries(drops);
  }

  /** Removes the board entries of orders whose key settled (not safety-relevant: readers only). */
  async #dropBoardEntries(txHashes: readonly Hex[]): Promise<void> {
    let op = this.#kv.atomic();
    let n = 0;
    for (const txHash of txHashes) {
      for await (const e of this.#kv.list<null>({ prefix: [V, "board_tx", txHash] })) {
        const sequence = e.key[3] as bigint;
        const entry = (await this.#kv.get<BoardEntry>(K.board(sequence))).value;
        op.delete(e.key).delete(K.board(sequence));
        if (entry) {
          const o = entry.signed.order;
          op.delete(K.boardAddr(o.payer.toLowerCase(), sequence))
            .delete(K.boardAddr(o.recipient.toLowerCase(), sequence));
        }
        n += 4;
        if (n >= MAX_MUTATIONS) {
          await op.commit();
          op = this.#kv.atomic();
          n = 0;
        }
      }
    }
    if (n > 0) await op.commit();
  }

  /**
   * Deletes the oldest board entries (at most `limit` examined) whose order expired more than
   * `retentionMillis` of chain time ago: they can never settle, and their locks stay in the lanes.
   * Keeps the board bounded by what is certified within W plus the retention. Returns how many
   * went.
   */
  async sweepBoard(chainTime: bigint, retentionMillis: bigint, limit = 1000): Promise<number> {
    const old = await Array.fromAsync(
      this.#kv.list<BoardEntry>({ prefix: [V, "board"] }, { limit }),
    );
    const expired = old.filter((e) =>
      e.value.signed.order.validBefore + retentionMillis < chainTime
    );
    let op = this.#kv.atomic();
    let n = 0;
    for (const { value: entry } of expired) {
      const o = entry.signed.order;
      const txHash = hexOf((entry.certificate ?? entry.qc!).txHash);
      op.delete(K.board(entry.sequence))
        .delete(K.boardTx(txHash, entry.sequence))
        .delete(K.boardAddr(o.payer.toLowerCase(), entry.sequence))
        .delete(K.boardAddr(o.recipient.toLowerCase(), entry.sequence));
      n += 4;
      if (n >= MAX_MUTATIONS) {
        await op.commit();
        op = this.#kv.atomic();
        n = 0;
      }
    }
    if (n > 0) await op.commit();
    return expired.length;
  }

  /** One page of the board, in sequence order. */
  async board(query: BoardQuery): Promise<BoardEntry[]> {
    const start = query.afterSequence + 1n;
    const end = 1n << 64n;
    const index = query.txHash !== undefined
      ? [V, "board_tx", query.txHash.toLowerCase()]
      : query.address !== undefined
      ? [V, "board_addr", query.address.toLowerCase()]
      : undefined;
    if (index === undefined) {
      const entries = this.#kv.list<BoardEntry>(
        { start: K.board(start), end: K.board(end) },
        { limit: query.limit },
      );
      return (await Array.fromAsync(entries)).map((e) => e.value);
    }
    const refs = await Array.fromAsync(
      this.#kv.list<null>({ start: [...index, start], end: [...index, end] }, {
        limit: query.limit,
      }),
    );
    const entries = await Promise.all(
      refs.map((r) => this.#kv.get<BoardEntry>(K.board(r.key[3] as bigint))),
    );
    return entries.flatMap((e) => (e.value ? [e.value] : []));
  }
}

function parentKey(txHash: Hex): string {
  return `parent|${txHash.toLowerCase()}`;
}

/** The keys `writes` change, each once per lane or parent it writes. */
function pinnedBy(writes: Writes): string[] {
  return [
    ...writes.lanes.keys(),
    ...[...writes.slots.values()].map(({ lane }) => laneId(lane.payer, lane.token)),
    ...[...writes.parents.keys()].map(parentKey),
  ];
}

function boardMutations(op: Deno.AtomicOperation, sequence: bigint, item: BoardItem): void {
  const o = item.signed.order;
  const entry: BoardEntry = item.kind === "certificate"
    ? { sequence, signed: item.signed, certificate: item.certificate }
    : { sequence, signed: item.signed, qc: item.qc };
  const txHash = item.kind === "certificate" ? item.certificate.txHash : item.qc.txHash;
  op.set(K.board(sequence), entry)
    .set(K.boardTx(hexOf(txHash), sequence), null)
    .set(K.boardAddr(o.payer.toLowerCase(), sequence), null);
  if (o.recipient !== o.payer) op.set(K.boardAddr(o.recipient.toLowerCase(), sequence), null);
}

function hexOf(bytes: Uint8Array): string {
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A write set in parts that each fit one atomic operation; chain view and marker in the last. */
function split(w: Writes): Writes[][] {
  const parts: Writes[] = [];
  let part = new Writes();
  const next = () => {
    if (mutationCount(part) >= MAX_MUTATIONS - 10) {
      parts.push(part);
      part = new Writes();
    }
  };
  for (const [id, lane] of w.lanes) {
    part.lanes.set(id, lane);
    next();
  }
  for (const [id, slot] of w.slots) {
    part.slots.set(id, slot);
    next();
  }
  for (const [txHash, info] of w.parents) {
    part.parents.set(txHash, info);
    next();
  }
  for (const item of w.board) {
    part.board.push(item);
    next();
  }
  part.boardDrops.push(...w.boardDrops);
  if (w.chain) part.chain = w.chain;
  if (w.vault) part.vault = w.vault;
  part.marker = w.marker;
  parts.push(part);
  return parts.map((p) => [p]);
}

/** An upper bound of the mutations a write set makes. */
function mutationCount(w: Writes): number {
  return w.lanes.size + w.slots.size + w.parents.size + 4 * w.board.length + 3;
}

/**
 * The chain follower (SPEC §5 "Chain"): follows a Tempo JSON-RPC node with viem — WebSocket
 * `newHeads` for `ws://` URLs, polling for `http://` — and keeps the {@linkcode Ledger}'s chain
 * view current, block by block:
 *
 * 1. read, at block N, the TIP-20 balances and 2D nonces of tracked accounts and of everything
 *    pending;
 * 2. judge each pending transaction: its lane nonce moved past it → its receipt says included
 *    (or failed/replaced: an alert); still unconsumed after its `validBefore` → expired; and each
 *    pending credit: its parent included → the chain now holds it;
 * 3. apply all of it to the ledger in one synchronous step, so nothing is counted twice or lost;
 * 4. persist (`store.settle`, `store.updatePending`; retried next block on failure);
 * 5. forward every pending transaction whose lane is at its nonce (a child only once its parent
 *    is included, the parent first when this sidecar holds its bytes), again each block until it
 *    is included or expires.
 *
 * Without a recent head (no block for `staleAfterMillis`, or the connection dropped) the ledger's
 * head is cleared, so decisions answer `TEMPORARY_UNAVAILABLE`; the follower reconnects with
 * capped exponential backoff. Start-up reconciliation is the first processed block.
 *
 * @module
 */
import {
  bytesToBigInt,
  bytesToHex,
  createPublicClient,
  type Hex,
  http,
  numberToBytes,
  type PublicClient,
  webSocket,
} from "viem";
import { Abis, Addresses, Transaction } from "viem/tempo";
import { AllegroError, bytesEqual } from "@allegro/client";
import {
  balanceId,
  contentionId,
  type Head,
  laneId,
  type Ledger,
  type PendingTx,
} from "./ledger.ts";
import type { Store } from "./store.ts";

const TxEnvelopeTempo = Transaction.z_TxEnvelopeTempo;
const SignatureEnvelope = Transaction.z_SignatureEnvelope;

/** Where the follower writes what it did; `fields` hold no bigints (they are strings). */
export interface ChainLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What happened to a certified transaction. */
export type ChainEventKind = "queued" | "included" | "expired" | "failed";

/**
 * A lifecycle event of a certified transaction: first accepted by the node (`queued`), included
 * successfully, expired without inclusion, or failed/replaced on chain (must never happen).
 */
export interface ChainEvent {
  readonly kind: ChainEventKind;
  readonly txHash: Uint8Array;
  /** The block that included it (`included`, and `failed` when a receipt exists). */
  readonly blockHeight?: bigint;
}

/** The part of the {@linkcode Store} the follower writes. */
export type ChainStore = Pick<Store, "settle" | "updatePending">;

/** How to follow the chain. */
export interface ChainFollowerOptions {
  /** `ws://…` (subscribes to `newHeads`) or `http://…` (polls `eth_blockNumber`). */
  readonly rpcUrl: string;
  readonly ledger: Ledger;
  readonly store: ChainStore;
  readonly log: ChainLog;
  /** Without a new processed head for this long, the chain view is unavailable. */
  readonly staleAfterMillis: number;
  /** How often to poll over HTTP. */
  readonly pollIntervalMillis: number;
  /** Most accounts {@linkcode ChainFollower.track} keeps. */
  readonly maxTrackedAccounts: number;
  /** Reconnection delays: `initialMillis`, doubling up to `maxMillis`. */
  readonly backoff: { readonly initialMillis: number; readonly maxMillis: number };
  /** Receives lifecycle events (called synchronously; exceptions are logged). */
  readonly onEvent?: (event: ChainEvent) => void;
  /** Most tokens and most nonce lanes tracked per account; default 16 each. */
  readonly maxTrackedPerAccount?: number;
  /** Longest gap processed block by block; a longer one jumps to the newest block. Default 32. */
  readonly maxCatchUpBlocks?: number;
  /** Timeout of one JSON-RPC request; default 5000 ms. */
  readonly requestTimeoutMillis?: number;
  /** Most JSON-RPC requests in flight at once; default 16. */
  readonly maxConcurrentRequests?: number;
}

/** A live connection; `closed` once torn down (late callbacks check it). */
interface Connection {
  readonly client: PublicClient;
  /** Opens the WebSocket (absent for HTTP). */
  readonly openSocket?: () => Promise<SocketClient>;
  /** Subscribes to `newHeads` over the WebSocket; returns the unsubscribe function. */
  readonly watchHeads?: (
    onHead: (height: bigint) => void,
    onError: (e: Error) => void,
  ) => () => void;
  socket?: SocketClient;
  closed: boolean;
  unwatch?: () => void;
  pollTimer?: ReturnType<typeof setTimeout>;
}

/** viem's socket RPC client, as far as it is used here. */
interface SocketClient {
  close(): void;
  readonly socket: WebSocket;
}

/** A transaction's 2D nonce lane, decoded from its signed bytes. */
interface TxLane {
  readonly account: Hex;
  readonly nonceKey: Uint8Array;
  readonly nonceSeq: bigint;
  readonly id: string;
  readonly validBeforeMillis?: bigint;
}

interface BalanceRef {
  readonly account: Hex;
  readonly token: Hex;
}

interface LaneRef {
  readonly account: Hex;
  readonly nonceKey: Uint8Array;
}

/** What to read at a block. */
interface ReadPlan {
  readonly balances: Map<string, BalanceRef>;
  readonly lanes: Map<string, LaneRef>;
}

/** What was read at a block, by balance id and lane id. */
interface ChainView {
  readonly balances: Map<string, bigint>;
  readonly nonces: Map<string, bigint>;
}

/** Why a pending transaction stops counting. */
type Outcome =
  | { readonly kind: "included"; readonly blockHeight: bigint }
  | {
    readonly kind: "failed";
    readonly reason: "reverted" | "replaced";
    readonly blockHeight?: bigint;
  }
  | { readonly kind: "expired" };

/** The judgement of one block: removals, and credits whose parent landed or was lost. */
interface Verdicts {
  readonly removed: Map<Hex, Outcome>;
  readonly credits: Map<Hex, "landed" | "lost">;
}

interface Receipt {
  readonly blockNumber: bigint;
  readonly success: boolean;
}

/** One tracked account: tokens and lanes in least-recently-used order. */
interface Tracked {
  readonly tokens: Map<Hex, true>;
  readonly lanes: Map<string, Uint8Array>;
}

const unavailable = (message: string) => new AllegroError("TEMPORARY_UNAVAILABLE", message);

const errorText = (e: unknown): string => {
  if (e instanceof Error) return e.message;
  const message = (e as { message?: unknown })?.message; // WebSocket ErrorEvent
  return typeof message === "string" && message !== "" ? message : String(e);
};

/**
 * Follows the chain and keeps a {@linkcode Ledger} current; see the module documentation.
 *
 * @example
 * ```ts ignore
 * import { ChainFollower } from "./chain.ts";
 * import { Ledger } from "./ledger.ts";
 *
 * const ledger = new Ledger();
 * const follower = new ChainFollower({
 *   rpcUrl: "ws://127.0.0.1:8545",
 *   ledger,
 *   store, // a Store, or anything with settle() and updatePending()
 *   log: { info: console.log, warn: console.warn, error: console.error },
 *   staleAfterMillis: 5_000,
 *   pollIntervalMillis: 500,
 *   maxTrackedAccounts: 10_000,
 *   backoff: { initialMillis: 200, maxMillis: 10_000 },
 *   onEvent: (e) => console.log(e.kind, e.blockHeight),
 * });
 * follower.start();
 * // … later, before deciding for a sender:
 * await follower.track(sender, [asset], nonceKey);
 * await follower.stop();
 * ```
 */
export class ChainFollower {
  readonly #o: ChainFollowerOptions;
  readonly #ledger: Ledger;
  readonly #log: ChainLog;
  readonly #perAccount: number;
  readonly #maxCatchUp: number;
  readonly #timeout: number;
  readonly #concurrency: number;

  #running = false;
  #ready = false;
  #conn: Connection | undefined;
  /** Newest head number announced by the node. */
  #latest: bigint | undefined;
  /** Last block applied to the ledger. */
  #processed: bigint | undefined;
  #draining = false;
  #failures = 0;
  #staleTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Serializes block processing and {@linkcode track} reads. */
  #tail: Promise<void> = Promise.resolve();
  readonly #inflight = new Set<Promise<void>>();

  readonly #tracked = new Map<Hex, Tracked>();
  /** Ledger ids this follower wrote at the current head. */
  readonly #publishedBalances = new Set<string>();
  readonly #publishedNonces = new Set<string>();
  readonly #lanes = new WeakMap<Uint8Array, TxLane | null>();
  /** Persistence not done yet (retried each block). */
  readonly #toSettle = new Map<Hex, Uint8Array>();
  readonly #toUpdate = new Set<Hex>();
  /** Pending txs already announced as queued, and the last forwarding error of each. */
  readonly #queued = new Set<Hex>();
  readonly #sendErrors = new Map<Hex, string>();

  constructor(options: ChainFollowerOptions) {
    this.#o = options;
    this.#ledger = options.ledger;
    this.#log = options.log;
    this.#perAccount = options.maxTrackedPerAccount ?? 16;
    this.#maxCatchUp = Math.max(1, options.maxCatchUpBlocks ?? 32);
    this.#timeout = options.requestTimeoutMillis ?? 5_000;
    this.#concurrency = Math.max(1, options.maxConcurrentRequests ?? 16);
  }

  /** Whether a fresh head has been processed and the connection is up. */
  ready(): boolean {
    return this.#ready;
  }

  /** Connects and starts following. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  /**
   * Stops following: cancels timers, closes the connection, waits for work in flight, and
   * clears the ledger's head. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      clearTimeout(this.#staleTimer);
      clearTimeout(this.#reconnectTimer);
      this.#staleTimer = this.#reconnectTimer = undefined;
      if (this.#conn) this.#teardown(this.#conn);
      this.#ready = false;
      this.#ledger.head = undefined;
      this.#log.info("chain follower stopped", { rpcUrl: this.#o.rpcUrl });
    }
    for (let i = 0; i < 100 && this.#inflight.size > 0; i++) {
      await Promise.allSettled([...this.#inflight]);
    }
    await this.#tail;
  }

  /**
   * Makes the ledger hold the chain balances of `account` in `tokens` and its nonce in the lane
   * `nonceKey`, read at the current head, and keeps them refreshed every block. Cheap when
   * already tracked. Throws `TEMPORARY_UNAVAILABLE` when the chain view is not ready or every
   * tracked account has pending transactions (none can be evicted).
   */
  async track(account: Hex, tokens: readonly Hex[], nonceKey: Uint8Array): Promise<void> {
    if (!this.#ready) throw unavailable("chain view is not ready (no recent block processed)");
    const who = account.toLowerCase() as Hex;
    const wanted = [...new Set(tokens.map((t) => t.toLowerCase() as Hex))];
    this.#admit(who, wanted, nonceKey);
    const plan = this.#missing(who, wanted, nonceKey);
    if (plan.balances.size === 0 && plan.lanes.size === 0) return;
    await this.#exclusive(() => this.#readNow(plan));
  }

  // --- connection ------------------------------------------------------------------------------

  #connect(): void {
    const conn = this.#createConnection();
    this.#conn = conn;
    this.#armStale();
    this.#spawn(this.#open(conn).catch((e) => this.#lost(conn, e)));
  }

  #createConnection(): Connection {
    const url = this.#o.rpcUrl;
    const common = { retryCount: 0, timeout: this.#timeout };
    if (/^wss?:/i.test(url)) {
      // viem reconnects by itself unless told not to; here backoff and staleness are ours.
      const client = createPublicClient({
        transport: webSocket(url, { ...common, reconnect: false, keepAlive: false }),
        cacheTime: 0,
      });
      return {
        client,
        openSocket: () => client.transport.getRpcClient(),
        // A WebSocket client watches with `eth_subscribe` `newHeads`, not by polling.
        watchHeads: (onBlockNumber, onError) => client.watchBlockNumber({ onBlockNumber, onError }),
        closed: false,
      };
    }
    const client = createPublicClient({
      transport: http(url, common),
      cacheTime: 0,
      pollingInterval: this.#o.pollIntervalMillis,
    });
    return { client, closed: false };
  }

  async #open(conn: Connection): Promise<void> {
    if (conn.openSocket && conn.watchHeads) {
      const socket = await conn.openSocket();
      if (conn.closed) return void this.#spawn(closeSocket(socket));
      conn.socket = socket;
      conn.unwatch = conn.watchHeads(
        (height) => this.#onHead(conn, height),
        (e) => this.#lost(conn, e),
      );
    }
    const height = await conn.client.getBlockNumber({ cacheTime: 0 });
    if (conn.closed) return;
    if (this.#processed !== undefined && height < this.#processed) {
      this.#log.warn("chain is behind the last processed block (node restarted?)", {
        height: String(height),
        processed: String(this.#processed),
      });
      this.#processed = undefined;
    }
    this.#latest = height;
    this.#log.info("chain connected", { rpcUrl: this.#o.rpcUrl, height: String(height) });
    this.#onHead(conn, height);
    if (!conn.openSocket) this.#schedulePoll(conn);
  }

  #schedulePoll(conn: Connection): void {
    conn.pollTimer = setTimeout(() => this.#spawn(this.#poll(conn)), this.#o.pollIntervalMillis);
  }

  async #poll(conn: Connection): Promise<void> {
    if (conn.closed) return;
    try {
      const height = await conn.client.getBlockNumber({ cacheTime: 0 });
      if (conn.closed) return;
      this.#onHead(conn, height);
      this.#schedulePoll(conn);
    } catch (e) {
      this.#lost(conn, e);
    }
  }

  /** The connection failed or went quiet: unready, tear down, reconnect later. */
  #lost(conn: Connection, error: unknown): void {
    if (conn.closed || conn !== this.#conn) return;
    this.#log.warn("chain connection lost", { rpcUrl: this.#o.rpcUrl, error: errorText(error) });
    this.#teardown(conn);
    this.#unready("chain connection lost");
    this.#scheduleReconnect();
  }

  #teardown(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    if (this.#conn === conn) this.#conn = undefined;
    clearTimeout(conn.pollTimer);
    try {
      conn.unwatch?.();
    } catch {
      // The socket is already gone.
    }
    if (conn.socket) this.#spawn(closeSocket(conn.socket));
  }

  #scheduleReconnect(): void {
    if (!this.#running || this.#reconnectTimer !== undefined) return;
    const { initialMillis, maxMillis } = this.#o.backoff;
    const delay = Math.min(maxMillis, initialMillis * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#running && this.#conn === undefined) this.#connect();
    }, delay);
  }

  #armStale(): void {
    clearTimeout(this.#staleTimer);
    this.#staleTimer = setTimeout(() => {
      this.#staleTimer = undefined;
      const reason = `no new head for ${this.#o.staleAfterMillis} ms`;
      this.#unready(reason);
      if (this.#conn) this.#lost(this.#conn, new Error(reason));
    }, this.#o.staleAfterMillis);
  }

  #unready(reason: string): void {
    if (!this.#ready && this.#ledger.head === undefined) return;
    this.#ready = false;
    this.#ledger.head = undefined;
    this.#log.warn("chain view unavailable", { reason });
  }

  // --- scheduling ------------------------------------------------------------------------------

  #onHead(conn: Connection, height: bigint): void {
    if (conn.closed || conn !== this.#conn) return;
    if (this.#latest === undefined || height > this.#latest) this.#latest = height;
    this.#kick();
  }

  #behind(): boolean {
    return this.#latest !== undefined &&
      (this.#processed === undefined || this.#processed < this.#latest);
  }

  #kick(): void {
    if (this.#draining || !this.#running) return;
    this.#draining = true;
    this.#spawn(
      this.#exclusive(() => this.#drain()).then((status) => {
        this.#draining = false;
        if (status !== "failed" && this.#behind()) this.#kick();
      }, (e) => {
        this.#draining = false;
        throw e;
      }),
    );
  }

  /** Processes blocks up to the newest head, in order, at most `maxCatchUp + 1` per call. */
  async #drain(): Promise<"done" | "failed" | "more"> {
    for (let i = 0; i <= this.#maxCatchUp; i++) {
      const conn = this.#conn;
      const target = this.#latest;
      if (conn === undefined || conn.closed || target === undefined) return "done";
      let height = this.#processed === undefined ? target : this.#processed + 1n;
      if (height > target) return "done";
      if (target - height >= BigInt(this.#maxCatchUp)) {
        this.#log.info("skipping blocks to catch up", {
          from: String(height),
          to: String(target),
        });
        height = target;
      }
      try {
        await this.#processBlock(conn, height);
      } catch (e) {
        if (!conn.closed) {
          this.#log.warn("block processing failed; retrying on the next head", {
            height: String(height),
            error: errorText(e),
          });
        }
        return "failed";
      }
    }
    return "more";
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.then(() => {}, () => {});
    return run;
  }

  /** Runs a background task whose end {@linkcode stop} waits for; failures are logged. */
  #spawn(task: Promise<unknown>): void {
    const tracked: Promise<void> = task.then(
      () => {},
      (e) => this.#log.error("chain follower task failed", { error: errorText(e) }),
    ).finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
  }

  #assertCurrent(conn: Connection): void {
    if (conn.closed || conn !== this.#conn || !this.#running) {
      throw new Error("chain connection closed");
    }
  }

  // --- one block -------------------------------------------------------------------------------

  async #processBlock(conn: Connection, height: bigint): Promise<void> {
    const head = headOf(await conn.client.getBlock({ blockNumber: height }));
    const pending = [...this.#ledger.pending.values()];
    const view = await this.#read(conn, this.#plan(pending), height);
    const verdicts = await this.#judge(conn, pending, view, head);
    this.#assertCurrent(conn);
    const removed = this.#apply(head, view, verdicts);
    this.#announce(removed, verdicts.credits);
    await this.#persist();
    await this.#forward(conn, view);
  }

  /** Balances and lanes of tracked accounts and of everything pending (parents included). */
  #plan(pending: readonly PendingTx[]): ReadPlan {
    const plan: ReadPlan = { balances: new Map(), lanes: new Map() };
    const balance = (account: Hex, token: Hex) =>
      plan.balances.set(balanceId(account, token), { account, token });
    for (const [account, t] of this.#tracked) {
      for (const token of t.tokens.keys()) balance(account, token);
      for (const [id, nonceKey] of t.lanes) plan.lanes.set(id, { account, nonceKey });
    }
    for (const tx of pending) {
      for (const d of tx.debits) balance(d.account, d.token);
      if (tx.credit) balance(tx.credit.account, tx.credit.token);
      const lane = laneOfPending(tx);
      plan.lanes.set(lane.id, lane);
      const parent = tx.parentRawTx && this.#laneOf(tx.parentRawTx);
      if (parent) plan.lanes.set(parent.id, parent);
    }
    return plan;
  }

  async #read(conn: Connection, plan: ReadPlan, blockNumber: bigint): Promise<ChainView> {
    const view: ChainView = { balances: new Map(), nonces: new Map() };
    const client = conn.client;
    await this.#limited(conn, [
      ...[...plan.balances].map(([id, b]) => async () => {
        view.balances.set(id, await readBalance(client, b, blockNumber));
      }),
      ...[...plan.lanes].map(([id, l]) => async () => {
        view.nonces.set(id, await readNonce(client, l, blockNumber));
      }),
    ]);
    return view;
  }

  async #judge(
    conn: Connection,
    pending: readonly PendingTx[],
    view: ChainView,
    head: Head,
  ): Promise<Verdicts> {
    const removed = new Map<Hex, Outcome>();
    await this.#limited(
      conn,
      pending.map((tx) => async () => {
        const outcome = await this.#judgeTx(conn, tx, view, head);
        if (outcome) removed.set(bytesToHex(tx.txHash), outcome);
      }),
    );
    const known = new Set(pending.map((tx) => bytesToHex(tx.txHash)));
    const credits = new Map<Hex, "landed" | "lost">();
    const children = pending.filter((tx) => tx.credit && !removed.has(bytesToHex(tx.txHash)));
    await this.#limited(
      conn,
      children.map((tx) => async () => {
        const status = await this.#parentStatus(conn, tx, removed, known, head);
        if (status !== "waiting") credits.set(bytesToHex(tx.txHash), status);
      }),
    );
    return { removed, credits };
  }

  /** Included or failed (its lane moved past it), expired, or still pending (`undefined`). */
  async #judgeTx(
    conn: Connection,
    tx: PendingTx,
    view: ChainView,
    head: Head,
  ): Promise<Outcome | undefined> {
    const lane = laneOfPending(tx);
    const chainNonce = view.nonces.get(lane.id);
    if (chainNonce !== undefined && chainNonce > lane.nonceSeq) {
      const receipt = await fetchReceipt(conn.client, tx.chainTxHash);
      if (receipt?.success) return { kind: "included", blockHeight: receipt.blockNumber };
      return receipt
        ? { kind: "failed", reason: "reverted", blockHeight: receipt.blockNumber }
        : { kind: "failed", reason: "replaced" };
    }
    if (tx.validBeforeMillis < head.timestampMillis) return { kind: "expired" };
    return undefined;
  }

  /** Whether a child's parent is now on chain (`landed`), never will be (`lost`), or not yet. */
  async #parentStatus(
    conn: Connection,
    child: PendingTx,
    removed: ReadonlyMap<Hex, Outcome>,
    known: ReadonlySet<Hex>,
    head: Head,
  ): Promise<"landed" | "lost" | "waiting"> {
    const credit = child.credit!;
    const parent = bytesToHex(credit.parentTxHash);
    const outcome = removed.get(parent);
    if (outcome) return outcome.kind === "included" ? "landed" : "lost";
    if (known.has(parent) || this.#ledger.pending.has(parent)) return "waiting";
    const receipt = await fetchReceipt(conn.client, credit.parentChainTxHash);
    if (receipt && receipt.blockNumber <= head.height) return receipt.success ? "landed" : "lost";
    const expiry = child.parentRawTx && this.#laneOf(child.parentRawTx)?.validBeforeMillis;
    if (receipt === null && expiry !== undefined && expiry < head.timestampMillis) return "lost";
    return "waiting";
  }

  /**
   * The one synchronous step: head, balances, nonces, removals and settled credits. Returns the
   * removed transactions with their outcomes.
   */
  #apply(
    head: Head,
    view: ChainView,
    verdicts: Verdicts,
  ): { tx: PendingTx; outcome: Outcome }[] {
    const ledger = this.#ledger;
    ledger.head = head;
    this.#publish(view, true);
    const removed: { tx: PendingTx; outcome: Outcome }[] = [];
    for (const [hash, outcome] of verdicts.removed) {
      const tx = ledger.removePending(hash);
      if (tx === undefined) continue;
      removed.push({ tx, outcome });
      this.#toSettle.set(hash, tx.txHash);
      this.#toUpdate.delete(hash);
      this.#queued.delete(hash);
      this.#sendErrors.delete(hash);
    }
    for (const hash of verdicts.credits.keys()) {
      if (!ledger.pending.get(hash)?.credit) continue;
      ledger.settleCredit(hash);
      this.#toUpdate.add(hash);
    }
    this.#processed = head.height;
    this.#ready = true;
    this.#failures = 0;
    this.#armStale();
    return removed;
  }

  /** Writes a view into the ledger; `replace` also drops ids this view no longer covers. */
  #publish(view: ChainView, replace: boolean): void {
    const { chainBalances, chainNonces } = this.#ledger;
    if (replace) {
      for (const id of this.#publishedBalances) {
        if (!view.balances.has(id)) chainBalances.delete(id), this.#publishedBalances.delete(id);
      }
      for (const id of this.#publishedNonces) {
        if (!view.nonces.has(id)) chainNonces.delete(id), this.#publishedNonces.delete(id);
      }
    }
    for (const [id, v] of view.balances) chainBalances.set(id, v), this.#publishedBalances.add(id);
    for (const [id, v] of view.nonces) chainNonces.set(id, v), this.#publishedNonces.add(id);
  }

  #announce(
    removed: readonly { tx: PendingTx; outcome: Outcome }[],
    credits: ReadonlyMap<Hex, "landed" | "lost">,
  ): void {
    for (const { tx, outcome } of removed) {
      const fields = txFields(tx, "blockHeight" in outcome ? outcome.blockHeight : undefined);
      if (outcome.kind === "failed") {
        this.#log.error("certified payment failed/replaced", { ...fields, reason: outcome.reason });
      } else if (outcome.kind === "expired") {
        this.#log.warn("certified payment expired before inclusion", fields);
      } else {
        this.#log.info("certified payment included", fields);
      }
      const blockHeight = "blockHeight" in outcome ? outcome.blockHeight : undefined;
      this.#emit({
        kind: outcome.kind,
        txHash: tx.txHash,
        ...(blockHeight === undefined ? {} : { blockHeight }),
      });
    }
    for (const [hash, status] of credits) {
      if (status !== "lost") continue;
      this.#log.error("parent of a certified payment failed or expired; its credit is dropped", {
        txHash: hash,
      });
    }
  }

  #emit(event: ChainEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch (e) {
      this.#log.warn("onEvent callback threw", { kind: event.kind, error: errorText(e) });
    }
  }

  /** Settles removed transactions and rewrites credit-settled ones; failures retry next block. */
  async #persist(): Promise<void> {
    if (this.#toSettle.size > 0) {
      const batch = [...this.#toSettle];
      try {
        await this.#o.store.settle(batch.map(([, txHash]) => txHash));
        for (const [hash] of batch) this.#toSettle.delete(hash);
      } catch (e) {
        this.#log.error("store.settle failed; retrying next block", { error: errorText(e) });
      }
    }
    for (const hash of [...this.#toUpdate]) {
      const tx = this.#ledger.pending.get(hash);
      if (tx === undefined || !(await this.#durable(tx))) {
        this.#toUpdate.delete(hash);
        continue;
      }
      try {
        await this.#o.store.updatePending(tx);
        this.#toUpdate.delete(hash);
      } catch (e) {
        this.#log.error("store.updatePending failed; retrying next block", {
          txHash: hash,
          error: errorText(e),
        });
        return;
      }
    }
  }

  /**
   * Whether a pending transaction's certificate is durable: the certifier reserves it in the
   * ledger before its commit, so wait for that; one loaded from the store has no lock here.
   */
  async #durable(tx: PendingTx): Promise<boolean> {
    const lock = this.#ledger.locks.get(contentionId(tx.sender, tx.nonceKey, tx.nonceSeq));
    if (!lock || !bytesEqual(lock.txHash, tx.txHash)) return true;
    try {
      await lock.certificate;
      return true;
    } catch {
      return false;
    }
  }

  // --- forwarding ------------------------------------------------------------------------------

  /** Sends, lane by lane in nonce order, every pending transaction the chain can take now. */
  async #forward(conn: Connection, view: ChainView): Promise<void> {
    const lanes = new Map<string, { lane: TxLane; tx: PendingTx }[]>();
    for (const tx of this.#ledger.pending.values()) {
      const lane = laneOfPending(tx);
      const list = lanes.get(lane.id) ?? [];
      list.push({ lane, tx });
      lanes.set(lane.id, list);
    }
    await this.#limited(
      conn,
      [...lanes.values()].map((list) => () => this.#forwardLane(conn, list, view)),
    );
  }

  /** Sends from the lane's chain nonce on, in order, stopping at a gap or a waiting child. */
  async #forwardLane(
    conn: Connection,
    list: { lane: TxLane; tx: PendingTx }[],
    view: ChainView,
  ): Promise<void> {
    list.sort((a, b) => (a.lane.nonceSeq < b.lane.nonceSeq ? -1 : 1));
    let next = view.nonces.get(list[0].lane.id);
    if (next === undefined) return;
    for (const { lane, tx } of list) {
      if (lane.nonceSeq < next) continue;
      if (lane.nonceSeq > next) return;
      if (tx.credit) return await this.#forwardParent(conn, tx, view);
      if (!(await this.#durable(tx)) || !(await this.#send(conn, tx.rawTx, tx))) return;
      next++;
    }
  }

  /** Sends a waiting child's parent when this sidecar holds its bytes and its lane is ready. */
  async #forwardParent(conn: Connection, child: PendingTx, view: ChainView): Promise<void> {
    const raw = child.parentRawTx;
    if (raw === undefined || this.#ledger.pending.has(bytesToHex(child.credit!.parentTxHash))) {
      return; // Unknown bytes, or pending here and forwarded in its own lane.
    }
    const lane = this.#laneOf(raw);
    if (lane === undefined || view.nonces.get(lane.id) !== lane.nonceSeq) return;
    await this.#send(conn, raw, child, "parent ");
  }

  /** `eth_sendRawTransaction`; "already known" counts as sent. Errors are logged once each. */
  async #send(conn: Connection, raw: Uint8Array, owner: PendingTx, what = ""): Promise<boolean> {
    this.#assertCurrent(conn);
    const hash = bytesToHex(owner.txHash);
    try {
      await conn.client.request({ method: "eth_sendRawTransaction", params: [bytesToHex(raw)] });
    } catch (e) {
      const text = errorText(e);
      if (!/already (imported|known)/i.test(text)) {
        if (!conn.closed && this.#sendErrors.get(hash) !== what + text) {
          this.#sendErrors.set(hash, what + text);
          this.#log.warn(`forwarding ${what}transaction failed; retrying next block`, {
            ...txFields(owner),
            error: text,
          });
        }
        return false;
      }
    }
    if (what === "" && !this.#queued.has(hash) && this.#ledger.pending.has(hash)) {
      this.#queued.add(hash);
      this.#emit({ kind: "queued", txHash: owner.txHash });
    }
    return true;
  }

  // --- tracking --------------------------------------------------------------------------------

  /** Adds (or refreshes) an account, its tokens and its lane, evicting within the bounds. */
  #admit(account: Hex, tokens: readonly Hex[], nonceKey: Uint8Array): void {
    let pinned: Pinned | undefined;
    const pins = () => (pinned ??= pinnedBy(this.#ledger));
    let entry = this.#tracked.get(account);
    if (entry === undefined) {
      if (this.#tracked.size >= this.#o.maxTrackedAccounts) this.#evictAccount(pins());
      entry = { tokens: new Map(), lanes: new Map() };
    }
    this.#tracked.delete(account);
    this.#tracked.set(account, entry);
    for (const token of tokens) {
      this.#admitKey(entry.tokens, token, true, (t) => pins().balances.has(balanceId(account, t)));
    }
    this.#admitKey(entry.lanes, laneId(account, nonceKey), nonceKey, (id) => pins().lanes.has(id));
  }

  /** LRU insert into one account's tokens or lanes, bounded by `maxTrackedPerAccount`. */
  #admitKey<K, V>(map: Map<K, V>, key: K, value: V, isPinned: (key: K) => boolean): void {
    if (!map.delete(key) && map.size >= this.#perAccount) {
      const victim = [...map.keys()].find((k) => !isPinned(k));
      if (victim === undefined) {
        throw unavailable(
          `more than ${this.#perAccount} tokens or nonce keys in use by one account`,
        );
      }
      map.delete(victim);
    }
    map.set(key, value);
  }

  /** Drops the least recently used account without pending transactions. */
  #evictAccount(pinned: Pinned): void {
    for (const account of this.#tracked.keys()) {
      if (pinned.accounts.has(account)) continue;
      this.#tracked.delete(account);
      return;
    }
    throw unavailable(
      `all ${this.#o.maxTrackedAccounts} tracked accounts have pending transactions; retry later`,
    );
  }

  /** What of an account is not in the ledger at the current head yet. */
  #missing(account: Hex, tokens: readonly Hex[], nonceKey: Uint8Array): ReadPlan {
    const plan: ReadPlan = { balances: new Map(), lanes: new Map() };
    for (const token of tokens) {
      const id = balanceId(account, token);
      if (!this.#publishedBalances.has(id)) plan.balances.set(id, { account, token });
    }
    const lane = laneId(account, nonceKey);
    if (!this.#publishedNonces.has(lane)) plan.lanes.set(lane, { account, nonceKey });
    return plan;
  }

  /** Reads a plan at the current head and publishes it, unless the head changed meanwhile. */
  async #readNow(plan: ReadPlan): Promise<void> {
    const conn = this.#conn;
    const head = this.#ledger.head;
    if (!this.#ready || conn === undefined || head === undefined) {
      throw unavailable("chain view is not ready (no recent block processed)");
    }
    let view: ChainView;
    try {
      view = await this.#read(conn, plan, head.height);
    } catch (e) {
      throw unavailable(`chain read failed: ${errorText(e)}`);
    }
    if (this.#ledger.head !== head) throw unavailable("chain view changed while reading; retry");
    this.#publish(view, false);
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** Runs jobs with bounded concurrency; stops starting new ones after a failure or close. */
  async #limited(conn: Connection, jobs: readonly (() => Promise<unknown>)[]): Promise<void> {
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (next < jobs.length && failure === undefined) {
        const job = jobs[next++];
        try {
          this.#assertCurrent(conn);
          await job();
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    const workers = Math.min(this.#concurrency, jobs.length);
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure) throw failure.error;
  }

  /** The lane of a parent's signed bytes (cached; `undefined` if they do not decode). */
  #laneOf(raw: Uint8Array): TxLane | undefined {
    let lane = this.#lanes.get(raw);
    if (lane === undefined) {
      try {
        lane = decodeLane(raw);
      } catch (e) {
        lane = null;
        this.#log.error("a parent transaction does not decode", { error: errorText(e) });
      }
      this.#lanes.set(raw, lane);
    }
    return lane ?? undefined;
  }
}

/** Accounts, balances and lanes that pending transactions need. */
interface Pinned {
  readonly accounts: Set<Hex>;
  readonly balances: Set<string>;
  readonly lanes: Set<string>;
}

function pinnedBy(ledger: Ledger): Pinned {
  const pinned: Pinned = { accounts: new Set(), balances: new Set(), lanes: new Set() };
  for (const tx of ledger.pending.values()) {
    pinned.accounts.add(tx.sender);
    for (const p of [...tx.debits, ...(tx.credit ? [tx.credit] : [])]) {
      pinned.accounts.add(p.account);
      pinned.balances.add(balanceId(p.account, p.token));
    }
    pinned.lanes.add(laneOfPending(tx).id);
  }
  return pinned;
}

/** The lane a pending transaction uses (its sender is the lane's account). */
function laneOfPending(tx: PendingTx): TxLane {
  return {
    account: tx.sender,
    nonceKey: tx.nonceKey,
    nonceSeq: tx.nonceSeq,
    id: laneId(tx.sender, tx.nonceKey),
  };
}

/** The lane of signed bytes this sidecar did not certify itself (a parent's). */
function decodeLane(raw: Uint8Array): TxLane {
  const tx = TxEnvelopeTempo.deserialize(bytesToHex(raw) as `0x76${string}`);
  if (!tx.signature) throw new Error("unsigned transaction");
  const payload = TxEnvelopeTempo.getSignPayload(tx);
  const signer = SignatureEnvelope.extractAddress({ payload, signature: tx.signature });
  const account = signer.toLowerCase() as Hex;
  const nonceKey = numberToBytes(tx.nonceKey ?? 0n, { size: 32 });
  return {
    account,
    nonceKey,
    nonceSeq: tx.nonce ?? 0n,
    id: laneId(account, nonceKey),
    ...(tx.validBefore === undefined ? {} : { validBeforeMillis: BigInt(tx.validBefore) * 1000n }),
  };
}

function headOf(block: { number: bigint | null; hash: Hex | null; timestamp: bigint }): Head {
  if (block.number === null || block.hash === null) throw new Error("block is still pending");
  const millis = (block as { timestampMillis?: unknown }).timestampMillis;
  return {
    height: block.number,
    hash: block.hash,
    timestampMillis: typeof millis === "string" && millis.startsWith("0x")
      ? BigInt(millis)
      : block.timestamp * 1000n,
  };
}

function readBalance(client: PublicClient, b: BalanceRef, blockNumber: bigint): Promise<bigint> {
  return client.readContract({
    address: b.token,
    abi: Abis.tip20,
    functionName: "balanceOf",
    args: [b.account],
    blockNumber,
  });
}

function readNonce(client: PublicClient, l: LaneRef, blockNumber: bigint): Promise<bigint> {
  return client.readContract({
    address: Addresses.nonceManager,
    abi: Abis.nonce,
    functionName: "getNonce",
    args: [l.account, bytesToBigInt(l.nonceKey)],
    blockNumber,
  });
}

async function fetchReceipt(client: PublicClient, hash: Hex): Promise<Receipt | null> {
  const r = await client.request({ method: "eth_getTransactionReceipt", params: [hash] });
  return r ? { blockNumber: BigInt(r.blockNumber), success: r.status === "0x1" } : null;
}

/** Closes a viem socket client and waits (bounded) for the WebSocket to be closed. */
async function closeSocket(client: SocketClient): Promise<void> {
  const socket = client.socket;
  const closed = socket.readyState === WebSocket.CLOSED
    ? Promise.resolve()
    : new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
  try {
    client.close();
  } catch {
    // Already closed.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, 2_000)))]);
  clearTimeout(timer);
}

function txFields(tx: PendingTx, blockHeight?: bigint): Record<string, unknown> {
  return {
    txHash: bytesToHex(tx.txHash),
    chainTxHash: tx.chainTxHash,
    sender: tx.sender,
    ...(blockHeight === undefined ? {} : { blockHeight: String(blockHeight) }),
  };
}

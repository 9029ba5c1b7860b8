/**
 * The backend's own chain follower, simpler than the sidecar's: it polls the head with viem
 * (HTTP or WebSocket transport), announces each new head, and per head judges the records it
 * watches — receipt found → `INCLUDED` (or `FAILED` when reverted: an alert for a certified
 * payment), head time past `validBefore` without a receipt → `EXPIRED`, `INCLUDED` in block N
 * and head ≥ N + confirmations with the receipt still in the same block → `FINALIZED`. It also
 * forwards certified transactions itself (`eth_sendRawTransaction`; duplicates of the sidecars'
 * forwarding are harmless), a child only once its parent is included.
 *
 * @module
 */
import {
  bytesToHex,
  createPublicClient,
  type Hex,
  http,
  type PublicClient,
  type TransactionReceipt,
  webSocket,
} from "viem";
import { Abis } from "viem/tempo";
import type { Logger } from "@allegro/server/log";
import type { EventHub } from "./events.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { BackendMetrics } from "./metrics.ts";
import { type StageName, type TxRecord, withStage } from "./record.ts";
import { isOpen, type Store } from "./store.ts";

/** A chain head. */
export interface Head {
  readonly height: bigint;
  readonly hash: Hex;
  readonly timestampMillis: bigint;
  readonly receivedMillis: bigint;
}

/** How to follow the chain. */
export interface ChainWatcherOptions {
  readonly rpcUrl: string;
  readonly pollIntervalMillis: number;
  readonly confirmations: number;
  readonly forward: boolean;
  readonly lifecycle: Lifecycle;
  readonly store: Store;
  readonly events: EventHub;
  readonly log: Logger;
  readonly metrics: BackendMetrics;
  /** Timeout of one JSON-RPC request; default 5000 ms. */
  readonly requestTimeoutMillis?: number;
  /** Most records judged per head (the rest wait for the next heads, in turn); default 512. */
  readonly maxPerHead?: number;
  /** Without a successful poll for this long the head is unknown; default 10 s. */
  readonly staleAfterMillis?: number;
}

const now = () => BigInt(Date.now());

/** Runs `fn` over `items`, at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

const DUPLICATE = /already known|known transaction|already imported|nonce too low|already exists/i;

/**
 * Follows the head and the inclusion of watched payments.
 *
 * @example
 * ```ts ignore
 * const chain = new ChainWatcher({ rpcUrl, pollIntervalMillis: 250, confirmations: 2, forward: true,
 *   lifecycle, store, events, log, metrics });
 * await chain.start();
 * console.log(chain.head?.height);
 * await chain.stop();
 * ```
 */
export class ChainWatcher {
  readonly #o: ChainWatcherOptions;
  readonly #client: PublicClient;
  /** Watched records, oldest judged first. */
  readonly #open = new Map<Hex, Uint8Array>();
  readonly #stop = new AbortController();
  #head: Head | undefined;
  #lastOk = 0;
  #loop: Promise<void> | undefined;
  #failures = 0;

  constructor(options: ChainWatcherOptions) {
    this.#o = options;
    const timeout = options.requestTimeoutMillis ?? 5000;
    const transport = /^wss?:/.test(options.rpcUrl)
      ? webSocket(options.rpcUrl, { timeout, retryCount: 0 })
      : http(options.rpcUrl, { timeout, retryCount: 0 });
    this.#client = createPublicClient({ transport }) as PublicClient;
  }

  /** The latest head, unless the chain has not answered for a while. */
  get head(): Head | undefined {
    if (Date.now() - this.#lastOk > (this.#o.staleAfterMillis ?? 10_000)) return undefined;
    return this.#head;
  }

  /** Loads the watched records and starts polling. */
  async start(): Promise<void> {
    for (const txHash of await this.#o.store.openTxs()) this.#open.set(bytesToHex(txHash), txHash);
    this.#loop = this.#run();
  }

  /** Stops polling and waits for the current round. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** Lifecycle listener: tracks open records and forwards newly certified ones. */
  onChange(before: TxRecord | undefined, after: TxRecord): void {
    const key = bytesToHex(after.txHash);
    if (isOpen(after)) {
      if (!this.#open.has(key)) this.#open.set(key, after.txHash);
    } else this.#open.delete(key);
    if (after.stage === "CERTIFIED" && before?.stage !== "CERTIFIED") {
      this.#forward(after).catch((e) =>
        this.#o.log.warn("forwarding failed", { tx_hash: key, error: (e as Error).message })
      );
    }
  }

  /** TIP-20 balances of `address` at the latest block. */
  async balances(address: Hex, tokens: readonly Hex[]): Promise<bigint[]> {
    return await Promise.all(tokens.map((token) =>
      this.#client.readContract({
        address: token,
        abi: Abis.tip20,
        functionName: "balanceOf",
        args: [address],
      }) as Promise<bigint>
    ));
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const block = await this.#client.getBlock({ blockTag: "latest" });
        this.#lastOk = Date.now();
        if (this.#failures > 0) this.#o.log.info("chain reachable again", { rpc: this.#o.rpcUrl });
        this.#failures = 0;
        if (block.number !== null && (!this.#head || block.number > this.#head.height)) {
          const head: Head = {
            height: block.number,
            hash: block.hash!,
            timestampMillis: block.timestamp * 1000n,
            receivedMillis: now(),
          };
          this.#head = head;
          this.#o.metrics.head(head.height);
          this.#o.events.emit({
            type: "head",
            height: head.height.toString(),
            hash: head.hash,
            timestamp_unix_millis: head.timestampMillis.toString(),
            received_unix_millis: head.receivedMillis.toString(),
          });
          await this.#process(head);
        }
      } catch (e) {
        if (this.#failures++ % 20 === 0) {
          this.#o.log.warn("chain poll failed", {
            rpc: this.#o.rpcUrl,
            error: (e as Error).message.split("\n")[0],
          });
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.pollIntervalMillis);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }

  /** Judges the watched records at `head`, then forwards what is certified and not on chain. */
  async #process(head: Head): Promise<void> {
    const batch = [...this.#open].slice(0, this.#o.maxPerHead ?? 512);
    for (const [key, hash] of batch) {
      // Rotate: records judged now go to the back of the queue.
      this.#open.delete(key);
      this.#open.set(key, hash);
    }
    const forward: Uint8Array[] = [];
    await pool(batch, 8, async ([, txHash]) => {
      try {
        const record = await this.#o.store.tx(txHash);
        if (record === undefined || !isOpen(record)) {
          this.#open.delete(bytesToHex(txHash));
          return;
        }
        if (await this.#judge(record, head)) forward.push(txHash);
      } catch (e) {
        this.#o.log.warn("judging a transaction failed", {
          tx_hash: bytesToHex(txHash),
          error: (e as Error).message.split("\n")[0],
        });
      }
    });
    if (!this.#o.forward) return;
    for (const txHash of forward) {
      if (this.#stop.signal.aborted) return;
      const record = await this.#o.store.tx(txHash);
      if (record?.stage === "CERTIFIED") {
        await this.#forward(record).catch((e) =>
          this.#o.log.warn("forwarding failed", {
            tx_hash: bytesToHex(txHash),
            error: (e as Error).message.split("\n")[0],
          })
        );
      }
    }
  }

  async #receipt(hash: Hex): Promise<TransactionReceipt | undefined> {
    try {
      return await this.#client.getTransactionReceipt({ hash });
    } catch (e) {
      if ((e as Error).name === "TransactionReceiptNotFoundError") return undefined;
      throw e;
    }
  }

  /** Moves `record` along at `head`; true when it is certified and still to be forwarded. */
  async #judge(record: TxRecord, head: Head): Promise<boolean> {
    const { lifecycle, log, confirmations } = this.#o;
    const move = (stage: StageName, extra: Parameters<typeof withStage>[3] = {}) =>
      lifecycle.update(
        record.txHash,
        (r) => r && r.stage === record.stage ? withStage(r, stage, now(), extra) : undefined,
      );
    const txHex = bytesToHex(record.txHash);
    if (record.stage === "INCLUDED" && record.block) {
      if (head.height < record.block.height + BigInt(confirmations)) return false;
      const receipt = await this.#receipt(record.chainTxHash);
      if (receipt && receipt.blockHash === record.block.hash) {
        await move("FINALIZED", { blockHeight: record.block.height });
        return false;
      }
      log.warn("included transaction moved (reorganisation)", {
        tx_hash: txHex,
        block: record.block.height.toString(),
        now_in: receipt?.blockNumber?.toString() ?? null,
      });
      await lifecycle.update(record.txHash, (r) => {
        if (r?.stage !== "INCLUDED") return undefined;
        if (receipt) {
          return { ...r, block: { height: receipt.blockNumber, hash: receipt.blockHash } };
        }
        // Back to waiting for inclusion (a rare exception to forward-only stages).
        const { block: _, ...rest } = r;
        return {
          ...rest,
          stage: r.qc ? "CERTIFIED" : "ACCEPTED",
          history: [...r.history, { stage: r.qc ? "CERTIFIED" : "ACCEPTED", atMillis: now() }],
        } as TxRecord;
      });
      return false;
    }
    const receipt = await this.#receipt(record.chainTxHash);
    if (receipt) {
      const block = { height: receipt.blockNumber, hash: receipt.blockHash };
      if (receipt.status === "success") {
        await move("INCLUDED", { block, blockHeight: block.height });
        return false;
      }
      if (record.qc) {
        log.error("ALERT: certified payment FAILED on chain (reverted)", {
          tx_hash: txHex,
          chain_tx_hash: record.chainTxHash,
          block: block.height.toString(),
          qc_hash: bytesToHex(record.qc.qcHash),
        });
      } else {
        log.warn("payment reverted on chain", { tx_hash: txHex, block: block.height.toString() });
      }
      await move("FAILED", { block, blockHeight: block.height });
      return false;
    }
    if (head.timestampMillis >= record.payment.validBeforeMillis) {
      (record.qc ? log.error : log.info)(
        record.qc ? "ALERT: certified payment expired without inclusion" : "payment expired",
        { tx_hash: txHex, valid_before_unix_millis: record.payment.validBeforeMillis.toString() },
      );
      await move("EXPIRED");
      return false;
    }
    return record.qc !== undefined && record.stage === "CERTIFIED";
  }

  /** Sends a certified transaction to the node (a child only once its parent is included). */
  async #forward(record: TxRecord): Promise<void> {
    if (!this.#o.forward || this.#stop.signal.aborted) return;
    if (record.parentQcHash.length > 0) {
      const parentTx = await this.#o.store.txByQc(record.parentQcHash);
      const parent = parentTx && await this.#o.store.tx(parentTx);
      if (!parent || (parent.stage !== "INCLUDED" && parent.stage !== "FINALIZED")) return;
    }
    let queued = true;
    try {
      await this.#client.request({
        method: "eth_sendRawTransaction",
        params: [bytesToHex(record.signedTx)],
      });
    } catch (e) {
      const message = (e as Error).message;
      queued = DUPLICATE.test(message);
      if (!queued) {
        this.#o.log.warn("node refused a certified transaction (will retry)", {
          tx_hash: bytesToHex(record.txHash),
          error: message.split("\n")[0],
        });
      }
    }
    if (queued) {
      await this.#o.lifecycle.update(
        record.txHash,
        (r) => r?.stage === "CERTIFIED" ? withStage(r, "QUEUED_ONCHAIN", now()) : undefined,
      );
    }
  }
}

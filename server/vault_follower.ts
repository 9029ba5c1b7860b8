/**
 * Follows one vault over JSON-RPC (SPEC §6 chain view): per poll the head (`eth_getBlockByNumber`)
 * and one `eth_getLogs` on the vault address over the blocks not yet processed; the events are
 * decoded and handed over one block at a time, in order, with the block's chain time
 * (`timestamp · 1000`) and its header time with milliseconds where the header carries them
 * (Tempo's `timestampMillis`). Every call has a timeout; a failed call marks the connection down
 * and is retried with backoff. The sidecar and the backend both follow the vault with it.
 *
 * @module
 */
import {
  type Address,
  createPublicClient,
  type Hex,
  http,
  type Log,
  type PublicClient,
} from "viem";
import { decodeVaultEvents, type VaultEvent } from "@allegro/client";

/** One processed block: its place, times and the vault's events in it. */
export interface VaultBlock {
  readonly height: bigint;
  readonly hash: Hex;
  /** Chain time: `block.timestamp · 1000` (ms). Expiry is judged by it. */
  readonly time: bigint;
  /** The header's time in ms, with its millisecond part where present. Staleness is judged by it. */
  readonly headerMillis: bigint;
  readonly events: readonly VaultEvent[];
}

/** How a {@linkcode VaultFollower} runs. */
export interface VaultFollowerOptions {
  /** An `http:` or `https:` JSON-RPC URL. */
  readonly rpcUrl: string;
  readonly vault: Address;
  /** The first block to process (the vault's deploy block, or one past the last processed). */
  readonly fromBlock: bigint;
  /** Applies blocks in order; must have persisted them when its promise resolves. */
  readonly onBlocks: (blocks: readonly VaultBlock[]) => Promise<void>;
  /** Called when the connection goes up or down. */
  readonly onConnection?: (up: boolean, error?: string) => void;
  /** Between polls when caught up; default 250 ms. */
  readonly pollMillis?: number;
  /** Per RPC call; default 2000 ms. */
  readonly timeoutMillis?: number;
  /** Most blocks per `eth_getLogs` while catching up; default 2000. */
  readonly maxRange?: bigint;
  /** Longest wait between retries after failures; default 5000 ms. */
  readonly maxBackoffMillis?: number;
}

interface RawHeader {
  number: Hex;
  hash: Hex;
  timestamp: Hex;
  timestampMillis?: Hex;
}

/**
 * A running follower.
 *
 * @example
 * ```ts ignore
 * const follower = new VaultFollower({
 *   rpcUrl: "http://127.0.0.1:8545",
 *   vault,
 *   fromBlock: 1n,
 *   onBlocks: async (blocks) => { for (const b of blocks) console.log(b.height, b.events.length); },
 * });
 * follower.start();
 * await follower.stop();
 * ```
 */
export class VaultFollower {
  readonly #o: VaultFollowerOptions;
  readonly #client: PublicClient;
  #next: bigint;
  #up: boolean | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: VaultFollowerOptions) {
    const url = new URL(options.rpcUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`rpc URL ${options.rpcUrl} must be http: or https:, got ${url.protocol}`);
    }
    this.#o = options;
    this.#next = options.fromBlock;
    this.#client = createPublicClient({
      transport: http(options.rpcUrl, { timeout: options.timeoutMillis ?? 2000, retryCount: 0 }),
    });
  }

  /** The next block to process. */
  get next(): bigint {
    return this.#next;
  }

  /** Starts polling in the background. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops polling and waits for the block being applied, if any. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  /** Processes what the chain has now; returns whether it is caught up. Throws on RPC failure. */
  async poll(): Promise<boolean> {
    const head = await this.#header("latest");
    const headHeight = BigInt(head.number);
    if (headHeight < this.#next) return true;
    const to = headHeight - this.#next + 1n > this.#range
      ? this.#next + this.#range - 1n
      : headHeight;
    const logs = await this.#client.getLogs({
      address: this.#o.vault,
      fromBlock: this.#next,
      toBlock: to,
    }) as Log[];
    const byBlock = new Map<bigint, Log[]>();
    for (const log of logs) {
      if (log.blockNumber === null || log.removed) continue;
      byBlock.set(log.blockNumber, [...(byBlock.get(log.blockNumber) ?? []), log]);
    }
    const heights = [...byBlock.keys()].filter((h) => h !== to).sort((a, b) => (a < b ? -1 : 1));
    const blocks: VaultBlock[] = [];
    for (const height of heights) {
      blocks.push(block(await this.#header(height), byBlock.get(height)!));
    }
    const last = to === headHeight ? head : await this.#header(to);
    blocks.push(block(last, byBlock.get(to) ?? []));
    await this.#o.onBlocks(blocks);
    this.#next = to + 1n;
    return to === headHeight;
  }

  get #range(): bigint {
    return this.#o.maxRange ?? 2000n;
  }

  async #header(tag: bigint | "latest"): Promise<RawHeader> {
    const header = await this.#client.request({
      method: "eth_getBlockByNumber",
      params: [typeof tag === "bigint" ? `0x${tag.toString(16)}` : tag, false],
    }) as RawHeader | null;
    if (header === null) throw new Error(`block ${tag} is not available`);
    return header;
  }

  #connection(up: boolean, error?: string): void {
    if (this.#up === up) return;
    this.#up = up;
    this.#o.onConnection?.(up, error);
  }

  async #run(): Promise<void> {
    let backoff = 100;
    while (!this.#stopped) {
      let wait = this.#o.pollMillis ?? 250;
      try {
        const caughtUp = await this.poll();
        this.#connection(true);
        backoff = 100;
        if (!caughtUp) wait = 0;
      } catch (e) {
        this.#connection(false, (e as Error).message);
        wait = backoff;
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMillis ?? 5000);
      }
      if (wait > 0 && !this.#stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }
}

function block(header: RawHeader, logs: Log[]): VaultBlock {
  const time = BigInt(header.timestamp) * 1000n;
  return {
    height: BigInt(header.number),
    hash: header.hash,
    time,
    headerMillis: header.timestampMillis === undefined ? time : BigInt(header.timestampMillis),
    events: decodeVaultEvents(logs),
  };
}

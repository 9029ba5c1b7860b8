/**
 * What the backend reads from the chain over JSON-RPC (viem, every call with a timeout): the
 * checks it starts with (chain id, the vault and its committee for the committee file's epoch),
 * a fresh chain time to tell a confirmation QC from a settleable one, whether and where an order
 * settled (asked before an expiry is alerted), and the balances `GET /accounts` reports.
 *
 * @module
 */
import {
  type Address,
  createPublicClient,
  erc20Abi,
  getAbiItem,
  type Hex,
  http,
  type PublicClient,
} from "viem";
import {
  type Committee,
  committeeMismatch,
  readAccount,
  readCommittee,
  readSettledTxHash,
  readVaultInfo,
  type SignedOrder,
  vaultAbi,
  type VaultAccount,
  type VaultInfo,
} from "@allegro/client";
import { LRUCache } from "lru-cache";

/**
 * Why the backend refuses to start; the message names the option and says what to fix.
 *
 * @example
 * ```ts
 * import { StartError } from "./chain.ts";
 *
 * console.log(new StartError("--kv backend.kv: in use").name); // StartError
 * ```
 */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

/** Where an order settled. */
export interface SettledAt {
  readonly blockHeight: bigint;
  /** The settlement transaction, when its log could be read. */
  readonly transaction?: Hex;
}

/** One token of an account: its wallet, its vault balance and pending forced exit. */
export interface TokenBalances {
  readonly token: Address;
  /** The token's `symbol()`, or `null` when it has none. */
  readonly symbol: string | null;
  readonly wallet: bigint;
  readonly vault: VaultAccount;
}

const SETTLED_EVENT = getAbiItem({ abi: vaultAbi, name: "Settled" });

/**
 * The chain as the backend reads it.
 *
 * @example
 * ```ts ignore
 * const chain = await Chain.connect("http://127.0.0.1:8545", committee);
 * console.log(chain.vault.deployBlock, await chain.time());
 * ```
 */
export class Chain {
  /** The viem client (also used to send settlements). */
  readonly client: PublicClient;
  readonly committee: Committee;
  /** The vault's immutables and epochs at start. */
  readonly vault: VaultInfo;
  readonly #symbols = new LRUCache<Address, { symbol: string | null }>({ max: 1024 });
  #time: { at: number; value: Promise<bigint | undefined> } | undefined;

  private constructor(client: PublicClient, committee: Committee, vault: VaultInfo) {
    this.client = client;
    this.committee = committee;
    this.vault = vault;
  }

  /**
   * Connects and checks: the node's chain id is the committee's, the committee's vault answers,
   * and the vault registers this very committee for its epoch (settlement addresses in order,
   * threshold). Throws {@linkcode StartError} naming what differs.
   */
  static async connect(rpcUrl: string, committee: Committee): Promise<Chain> {
    const client = createPublicClient({
      transport: http(rpcUrl, { timeout: 5000, retryCount: 1 }),
    }) as PublicClient;
    const chainId = await client.getChainId().catch((e) => {
      throw new StartError(`--rpc-url ${rpcUrl} does not answer: ${(e as Error).message}`);
    });
    if (BigInt(chainId) !== committee.chainId) {
      throw new StartError(
        `--rpc-url ${rpcUrl} is chain ${chainId}, the committee's is ${committee.chainId}`,
      );
    }
    const vault = await readVaultInfo(client, committee.vault).catch((e) => {
      throw new StartError(
        `the committee's vault ${committee.vault} cannot be read: ${(e as Error).message}`,
      );
    });
    const mismatch = committeeMismatch(
      committee,
      await readCommittee(client, committee.vault, committee.epoch),
    );
    if (mismatch !== undefined) throw new StartError(`--committee: ${mismatch}`);
    return new Chain(client, committee, vault);
  }

  /**
   * The chain time of the latest block (ms), read at most every 50 ms; `undefined` when the node
   * does not answer.
   */
  time(): Promise<bigint | undefined> {
    if (this.#time === undefined || Date.now() - this.#time.at > 50) {
      const value = this.client.getBlock({ blockTag: "latest" })
        .then((b) => b.timestamp * 1000n)
        .catch(() => undefined);
      this.#time = { at: Date.now(), value };
    }
    return this.#time.value;
  }

  /**
   * Where `signed` (of `txHash`) settled, or `undefined` while its key is unsettled or another
   * order's. When the `Settled` log cannot be read (a node may refuse so long a range), the
   * order settled by block `latest` at the latest, and that is where it is said to be.
   */
  async settledAt(
    signed: SignedOrder,
    txHash: Hex,
    latest: bigint,
  ): Promise<SettledAt | undefined> {
    const o = signed.order;
    const settled = await readSettledTxHash(this.client, o.vault, o.payer, o.token, o.seq);
    if (settled?.toLowerCase() !== txHash.toLowerCase()) return undefined;
    const [log] = await this.client.getLogs({
      address: o.vault,
      event: SETTLED_EVENT,
      args: { txHash },
      fromBlock: this.vault.deployBlock,
      toBlock: "latest",
    }).catch(() => []);
    if (log?.blockNumber == null || log.transactionHash == null) return { blockHeight: latest };
    return { blockHeight: log.blockNumber, transaction: log.transactionHash };
  }

  /** `account`'s wallet and vault balances and pending exit in each of `tokens`, at `blockNumber`. */
  balances(
    account: Address,
    tokens: readonly Address[],
    blockNumber?: bigint,
  ): Promise<TokenBalances[]> {
    return Promise.all(tokens.map(async (token) => {
      const [wallet, vault, symbol] = await Promise.all([
        this.client.readContract({
          address: token,
          abi: erc20Abi,
          functionName: "balanceOf",
          args: [account],
          blockNumber,
        }),
        readAccount(this.client, this.committee.vault, account, token, blockNumber),
        this.#symbol(token),
      ]);
      return { token, symbol, wallet, vault };
    }));
  }

  async #symbol(token: Address): Promise<string | null> {
    const cached = this.#symbols.get(token);
    if (cached) return cached.symbol;
    const symbol = await this.client.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "symbol",
    }).catch(() => null);
    if (symbol !== null) this.#symbols.set(token, { symbol }); // a failed read is tried again
    return symbol;
  }
}

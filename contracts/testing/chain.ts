/**
 * The chain side of the vault's test fixture: anvil in Tempo mode (automine) or a chain someone
 * else runs, chain time set per block, Tempo transactions whose `validBefore` follows chain time,
 * reverts decoded into named custom errors from the transaction's trace, and deadlines.
 *
 * @module
 */
import {
  type Address,
  createPublicClient,
  decodeErrorResult,
  getAddress,
  type Hex,
  http,
  type LocalAccount,
  type PublicClient,
  toHex,
  type TransactionReceipt,
  WaitForTransactionReceiptTimeoutError,
} from "viem";
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Abis } from "viem/tempo";
import { sendTempoTransaction, type TempoCall, vaultAbi } from "@allegro/client";
import { type Anvil, PATH_USD, startAnvil } from "@allegro/server/anvil";

/** The chain id every vault test runs on. */
export const CHAIN_ID = 1337n;
/** What every test transaction pays its fee in: never a token whose balances a test checks. */
export const FEE_TOKEN: Address = getAddress(PATH_USD);
/** Gas of a test transaction unless it says otherwise (anvil underestimates 0x76 calls). */
export const DEFAULT_GAS = 3_000_000n;
/**
 * Gas of a vault deployment, a whole 30 M block: 2.5 M at anvil's default pricing, 12.9 M from
 * Tempo's T1 (TIP-1000: 1,000 gas per code byte + 500,000) and 28.9–29.9 M for 1–5 members from
 * T4 (2,500 gas per byte).
 */
export const DEPLOY_GAS = 30_000_000n;

/** A chain the tests drive: its client, and how to let go of it (stops the anvil it started). */
export interface TestChain {
  readonly client: PublicClient;
  readonly chainId: bigint;
  /** The anvil this process started, if it started one. */
  readonly anvil?: Anvil;
  [Symbol.asyncDispose](): Promise<void>;
}

function clientOf(rpcUrl: string): PublicClient {
  return createPublicClient({ transport: http(rpcUrl, { retryCount: 0, timeout: 10_000 }) });
}

/**
 * Starts anvil (Tempo mode, automine: every transaction is mined at once in its own block).
 *
 * @example
 * ```ts ignore
 * await using chain = await startChain();
 * ```
 */
export async function startChain(): Promise<TestChain> {
  const anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 0 });
  return {
    anvil,
    client: clientOf(anvil.rpcUrl),
    chainId: CHAIN_ID,
    [Symbol.asyncDispose]: () => anvil.stop(),
  };
}

/**
 * A chain someone else runs (an anvil in Tempo mode with its dev accounts, automine), e.g. one
 * started with another hardfork. Disposing it leaves it running.
 */
export async function connectChain(rpcUrl: string): Promise<TestChain> {
  const client = clientOf(rpcUrl);
  const chainId = BigInt(await client.getChainId());
  return { client, chainId, [Symbol.asyncDispose]: () => Promise.resolve() };
}

/** Runs `body`, failing with `what` if it does not finish within `millis`. */
export async function withDeadline<T>(what: string, millis: number, body: () => Promise<T>) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${millis} ms`)), millis);
  });
  try {
    return await Promise.race([body(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A test step with a deadline (default 30 s).
 *
 * @example
 * ```ts ignore
 * await step(t, "settles", async () => { … });
 * ```
 */
export function step(
  t: Deno.TestContext,
  name: string,
  body: () => Promise<void>,
  millis = 30_000,
): Promise<boolean> {
  return t.step(name, () => withDeadline(name, millis, body));
}

// ---- chain time ------------------------------------------------------------------------------

/** The latest block's timestamp (seconds). */
export async function latestTimestamp(chain: TestChain): Promise<bigint> {
  return (await chain.client.getBlock({ blockTag: "latest" })).timestamp;
}

/** Chain time (ms) as the vault sees it in the latest block: `block.timestamp·1000`. */
export async function chainTimeMillis(chain: TestChain): Promise<bigint> {
  return 1000n * await latestTimestamp(chain);
}

/** The next block gets exactly this timestamp (seconds; not below the latest). */
export async function setNextTimestamp(chain: TestChain, seconds: bigint): Promise<void> {
  await chain.client.request({
    method: "evm_setNextBlockTimestamp",
    params: [toHex(seconds)],
  } as never);
}

/** Mines an empty block, at `seconds` if given. */
export async function mine(chain: TestChain, seconds?: bigint): Promise<void> {
  if (seconds !== undefined) await setNextTimestamp(chain, seconds);
  await chain.client.request({ method: "evm_mine", params: [] } as never);
}

// ---- transactions ----------------------------------------------------------------------------

/** Options of {@linkcode send}. */
export interface SendOptions {
  readonly gas?: bigint;
  /** The block that includes the transaction gets this timestamp (seconds). */
  readonly timestamp?: bigint;
}

/**
 * Sends one Tempo transaction with `calls` from `account` (fee in {@linkcode FEE_TOKEN}) and
 * returns its receipt, reverted or not. Its own `validBefore` follows chain time, which the
 * tests move past the wall clock.
 */
export async function send(
  chain: TestChain,
  account: LocalAccount,
  calls: readonly TempoCall[],
  options: SendOptions = {},
): Promise<TransactionReceipt> {
  if (options.timestamp !== undefined) await setNextTimestamp(chain, options.timestamp);
  const ahead = Number(await latestTimestamp(chain)) - Math.floor(Date.now() / 1000);
  const hash = await sendTempoTransaction(chain.client, account, {
    chainId: chain.chainId,
    calls,
    feeToken: FEE_TOKEN,
    gas: options.gas ?? DEFAULT_GAS,
    maxFeePerGas: 20_000_000_000n,
    validForSeconds: Math.max(0, ahead) + 3_600,
  });
  // Not viem's replacement check: it takes any earlier transaction of the sender with the same
  // nonce (every 2D-nonce transaction has nonce 0) for a replacement and returns its receipt.
  const receipt = (timeout: number) =>
    chain.client.waitForTransactionReceipt({
      hash,
      timeout,
      pollingInterval: 20,
      checkReplacement: false,
    });
  try {
    return await receipt(5_000);
  } catch (e) {
    if (!(e instanceof WaitForTransactionReceiptTimeoutError)) throw e;
    // anvil's automine can leave a ready transaction in the pool when several arrive at once
    // (foundry-rs/foundry#10122; seen once in about ten suite runs): a block mined by hand takes it.
    await mine(chain);
    return await receipt(10_000);
  }
}

/** A custom error decoded from revert data: its name, arguments and whose ABI declares it. */
export interface DecodedRevert {
  readonly name: string;
  readonly args: readonly unknown[];
  readonly data: Hex;
  /** `vault`, `tip20` or `tip403`; undefined when no ABI knows it (or the data is empty). */
  readonly source?: "vault" | "tip20" | "tip403";
}

const errorSources = [
  ["vault", vaultAbi],
  ["tip20", Abis.tip20],
  ["tip403", Abis.tip403Registry],
] as const;

/** Decodes revert data against the vault's, then TIP-20's and TIP-403's errors (`?` if none). */
export function decodeRevert(data: Hex): DecodedRevert {
  if (data === "0x") return { name: "(empty)", args: [], data };
  for (const [source, abi] of errorSources) {
    try {
      const decoded = decodeErrorResult({ abi, data });
      return { name: decoded.errorName, args: decoded.args ?? [], data, source };
    } catch {
      // Not this ABI's.
    }
  }
  return { name: "?", args: [], data };
}

interface TraceFrame {
  readonly error?: string;
  readonly output?: Hex;
  readonly calls?: readonly TraceFrame[];
}

/**
 * Why the mined transaction `hash` reverted: the error of its first failing call, from anvil's
 * `debug_traceTransaction` (a 0x76 transaction's calls are the top frame's children).
 */
export async function revertOf(chain: TestChain, hash: Hex): Promise<DecodedRevert> {
  const trace = await chain.client.request({
    method: "debug_traceTransaction",
    params: [hash, { tracer: "callTracer" }],
  } as never) as TraceFrame;
  const failing = (trace.calls ?? []).find((c) => c.error !== undefined) ?? trace;
  return decodeRevert(failing.output ?? "0x");
}

/**
 * Sends `calls` and returns the receipt; throws with the decoded error if the transaction
 * reverted.
 */
export async function sendOk(
  chain: TestChain,
  account: LocalAccount,
  calls: readonly TempoCall[],
  options: SendOptions = {},
): Promise<TransactionReceipt> {
  const receipt = await send(chain, account, calls, options);
  if (receipt.status !== "success") {
    const why = await revertOf(chain, receipt.transactionHash);
    throw new Error(`transaction reverted: ${why.name}(${why.args.join(", ")}) ${why.data}`);
  }
  return receipt;
}

/**
 * Sends `calls`, requires the transaction to revert, and returns the decoded error (the test
 * asserts its name and arguments).
 */
export async function sendReverting(
  chain: TestChain,
  account: LocalAccount,
  calls: readonly TempoCall[],
  options: SendOptions = {},
): Promise<DecodedRevert> {
  const receipt = await send(chain, account, calls, options);
  if (receipt.status === "success") throw new Error("expected a revert, the transaction succeeded");
  return await revertOf(chain, receipt.transactionHash);
}

/**
 * `eth_call` of one call from `from` on the latest state, optionally with the block's timestamp
 * overridden: the decoded error, or `undefined` if it would succeed.
 */
export async function callRevert(
  chain: TestChain,
  from: Address,
  call: TempoCall,
  options: { readonly timestamp?: bigint } = {},
): Promise<DecodedRevert | undefined> {
  const overrides = options.timestamp === undefined ? [] : [{}, { time: toHex(options.timestamp) }];
  try {
    await chain.client.request({
      method: "eth_call",
      params: [
        { from, to: call.to, data: call.data, gas: toHex(DEFAULT_GAS) },
        "latest",
        ...overrides,
      ],
    } as never);
    return undefined;
  } catch (e) {
    let cause: unknown = e;
    while (cause !== undefined && cause !== null) {
      const data = (cause as { data?: unknown }).data;
      if (typeof data === "string" && data.startsWith("0x")) return decodeRevert(data as Hex);
      cause = (cause as { cause?: unknown }).cause;
    }
    throw e;
  }
}

/**
 * Asserts that `actual` is the vault error `name` (with `args`, when given).
 *
 * @example
 * ```ts ignore
 * assertError(await sendReverting(chain, payer, [call]), "ZeroAmount", []);
 * ```
 */
export function assertError(
  actual: DecodedRevert | undefined,
  name: string,
  args?: readonly unknown[],
  context = "",
): void {
  const where = context === "" ? "" : `${context}: `;
  if (actual === undefined) throw new Error(`${where}expected ${name}, the call succeeds`);
  if (actual.name !== name) {
    throw new Error(
      `${where}expected ${name}, got ${actual.name}(${actual.args.join(", ")}) ${actual.data}`,
    );
  }
  if (args !== undefined) assertEquals(actual.args, args, `${where}arguments of ${name}`);
}

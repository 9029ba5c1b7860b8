/**
 * Fixtures for the vault's tests and gas measurements: a local Tempo chain (anvil, automine) whose
 * time the test sets, a vault with an n-member committee of settlement keys, funded accounts,
 * orders signed by their payer with attestation QCs, transactions whose revert is decoded into
 * the vault's named custom error, and deadlines so that nothing hangs.
 *
 * Not exported from `mod.ts`.
 *
 * @module
 */
import {
  type Address,
  bytesToBigInt,
  bytesToHex,
  concatHex,
  createPublicClient,
  decodeErrorResult,
  decodeFunctionData,
  encodeFunctionData,
  getAddress,
  type Hex,
  hexToBytes,
  http,
  keccak256,
  type LocalAccount,
  numberToHex,
  parseEventLogs,
  type PublicClient,
  stringToHex,
  toHex,
  type TransactionReceipt,
} from "viem";
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { privateKeyToAccount } from "viem/accounts";
import { Abis } from "viem/tempo";
import {
  deployVaultCall,
  depositCalls,
  NO_PARENT,
  orderCertDigest,
  orderTxHash,
  type PaymentOrder,
  sendTempoTransaction,
  settleCall,
  type SettleItem,
  signAttestation,
  signOrder,
  type TempoCall,
  vaultAbi,
  type VaultAttestation,
} from "@allegro/client";
import * as devChain from "@allegro/server/anvil";
import { type Anvil, FUNDER_KEYS, startAnvil } from "@allegro/server/anvil";

/** pathUSD (checksummed, as orders and events carry addresses): the tests' fee token. */
export const PATH_USD: Address = getAddress(devChain.PATH_USD);
/** AlphaUSD: the tests' default order token. */
export const ALPHA_USD: Address = getAddress(devChain.ALPHA_USD);
/** BetaUSD: a second token. */
export const BETA_USD: Address = getAddress(devChain.BETA_USD);

/** The chain id every vault test runs on. */
export const CHAIN_ID = 1337n;
/** What every test transaction pays its fee in: never a token whose balances a test checks. */
export const FEE_TOKEN: Address = PATH_USD;
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
  return await chain.client.waitForTransactionReceipt({
    hash,
    timeout: 15_000,
    pollingInterval: 20,
    checkReplacement: false,
  });
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

// ---- accounts and tokens ---------------------------------------------------------------------

/** A deterministic private key for `label` (keccak256 of it; valid for any label in practice). */
export function testKey(label: string): Hex {
  return keccak256(stringToHex(`allegro test key ${label}`));
}

/** A deterministic account for `label`. */
export function testAccount(label: string): LocalAccount {
  return privateKeyToAccount(testKey(label));
}

let funderTurn = 0;

/**
 * Gives `to` `amount` of each token in `tokens`, plus pathUSD for its fees, in one transaction
 * from one of anvil's funded dev accounts (round robin). Unlike the launcher's `fund`, this
 * works after a test moved chain time past the wall clock.
 */
export async function fundAccount(
  chain: TestChain,
  to: Address,
  tokens: readonly { readonly token: Address; readonly amount: bigint }[],
): Promise<void> {
  const funder = privateKeyToAccount(FUNDER_KEYS[funderTurn++ % FUNDER_KEYS.length]);
  const transfers = [{ token: FEE_TOKEN, amount: 1_000_000_000n }, ...tokens];
  await sendOk(chain, funder, transfers.map((t) => tip20Call(t.token, "transfer", [to, t.amount])));
}

/** A TIP-20 balance held by a wallet (not the vault's accounting). */
export async function walletBalance(
  chain: TestChain,
  token: Address,
  account: Address,
): Promise<bigint> {
  return await chain.client.readContract({
    address: token,
    abi: Abis.tip20,
    functionName: "balanceOf",
    args: [account],
  });
}

/** A TIP-20 call as a Tempo call. */
export function tip20Call<
  const N extends
    | "approve"
    | "transfer"
    | "pause"
    | "unpause"
    | "mint"
    | "grantRole"
    | "changeTransferPolicyId",
>(token: Address, functionName: N, args: readonly unknown[]): TempoCall {
  return {
    to: token,
    data: encodeFunctionData({ abi: Abis.tip20, functionName, args } as never),
  };
}

// ---- vaults ----------------------------------------------------------------------------------

/** A vault under test, with the settlement keys of every epoch registered so far. */
export interface TestVault {
  readonly chain: TestChain;
  readonly address: Address;
  readonly admin: LocalAccount;
  readonly maxValidity: bigint;
  readonly exitDelay: bigint;
  /** Settlement keys per epoch, in committee order. */
  readonly keys: Map<bigint, readonly Hex[]>;
}

/** Options of {@linkcode deployTestVault}. */
export interface VaultOptions {
  /** Committee size of the first epoch; default 4 (threshold 3). */
  readonly n?: number;
  readonly epoch?: bigint;
  /** W (ms); default 60 s. */
  readonly maxValidity?: bigint;
  /** Seconds; default 120. */
  readonly exitDelay?: bigint;
  /** Default: a fresh funded account. */
  readonly admin?: LocalAccount;
  /** Distinguishes the settlement keys of different vaults; default random. */
  readonly label?: string;
}

/** `n` deterministic settlement keys for `label`. */
export function settlementKeys(label: string, n: number): Hex[] {
  return Array.from({ length: n }, (_, i) => testKey(`${label} settlement ${i}`));
}

/** The addresses of settlement keys. */
export function addressesOf(keys: readonly Hex[]): Address[] {
  return keys.map((k) => privateKeyToAccount(k).address);
}

/** A fresh account with pathUSD for fees (and `tokens`), for one test. */
export async function newAccount(
  chain: TestChain,
  tokens: readonly { readonly token: Address; readonly amount: bigint }[] = [],
): Promise<LocalAccount> {
  const account = testAccount(crypto.randomUUID());
  await fundAccount(chain, account.address, tokens);
  return account;
}

/**
 * Deploys a vault whose first epoch's committee is `n` fresh settlement keys.
 *
 * @example
 * ```ts ignore
 * const vault = await deployTestVault(chain, { n: 4 });
 * ```
 */
export async function deployTestVault(
  chain: TestChain,
  options: VaultOptions = {},
): Promise<TestVault> {
  const admin = options.admin ?? await newAccount(chain);
  const epoch = options.epoch ?? 1n;
  const keys = settlementKeys(options.label ?? crypto.randomUUID(), options.n ?? 4);
  const maxValidity = options.maxValidity ?? 60_000n;
  const exitDelay = options.exitDelay ?? 120n;
  const receipt = await sendOk(chain, admin, [deployVaultCall({
    admin: admin.address,
    maxValidity,
    exitDelay,
    epoch,
    members: addressesOf(keys),
  })], { gas: DEPLOY_GAS });
  if (!receipt.contractAddress) throw new Error("the deployment created no contract");
  return {
    chain,
    address: getAddress(receipt.contractAddress),
    admin,
    maxValidity,
    exitDelay,
    keys: new Map([[epoch, keys]]),
  };
}

// ---- orders and QCs --------------------------------------------------------------------------

/** An order of `payer` in `vault` with these fields; the rest default (see below). */
export type OrderFields = Partial<Omit<PaymentOrder, "chainId" | "vault" | "payer">>;

/**
 * An unsigned order: defaults are a random recipient, AlphaUSD, amount 1,000, fee 0, seq 0,
 * valid for 30 s of chain time, no parent, no exit, zero memo.
 */
export async function makeOrder(
  vault: TestVault,
  payer: Address,
  fields: OrderFields = {},
): Promise<PaymentOrder> {
  return {
    chainId: vault.chain.chainId,
    vault: vault.address,
    payer,
    recipient: fields.recipient ?? testAccount(crypto.randomUUID()).address,
    token: fields.token ?? ALPHA_USD,
    amount: fields.amount ?? 1_000n,
    fee: fields.fee ?? 0n,
    seq: fields.seq ?? 0n,
    validBefore: fields.validBefore ?? await chainTimeMillis(vault.chain) + 30_000n,
    parent: fields.parent ?? NO_PARENT,
    exit: fields.exit ?? false,
    memo: fields.memo ?? NO_PARENT,
  };
}

/** Options of {@linkcode certify}: which epoch, which members attest (default the first threshold). */
export interface QcOptions {
  readonly epoch?: bigint;
  /** Committee indices that attest, in the order given; default `0 … threshold−1`. */
  readonly signers?: readonly number[];
}

/** The QC threshold of an n-member committee: `n − floor((n−1)/3)`. */
export function thresholdOf(n: number): number {
  return n - Math.floor((n - 1) / 3);
}

/** Attestations of the chosen members of `epoch` over `order`'s cert_digest. */
export async function attest(
  vault: TestVault,
  order: PaymentOrder,
  options: QcOptions = {},
): Promise<VaultAttestation[]> {
  const epoch = options.epoch ?? [...vault.keys.keys()].at(-1)!;
  const keys = vault.keys.get(epoch);
  if (keys === undefined) throw new Error(`no settlement keys for epoch ${epoch}`);
  const signers = options.signers ?? Array.from({ length: thresholdOf(keys.length) }, (_, i) => i);
  const digest = orderCertDigest(order, epoch);
  return await Promise.all(
    signers.map(async (index) => ({
      index,
      signature: await signAttestation(keys[index], digest),
    })),
  );
}

/**
 * A settle item: `order` signed by `payer` and certified by a QC (latest epoch by default).
 *
 * @example
 * ```ts ignore
 * const item = await certify(vault, alice, await makeOrder(vault, alice.address, { amount: 5n }));
 * ```
 */
export async function certify(
  vault: TestVault,
  payer: LocalAccount,
  order: PaymentOrder,
  options: QcOptions = {},
): Promise<SettleItem> {
  const signed = await signOrder(payer, order);
  const epoch = options.epoch ?? [...vault.keys.keys()].at(-1)!;
  return { signed, epoch, attestations: await attest(vault, order, { ...options, epoch }) };
}

/** An order's tx_hash as hex. */
export function txHashOf(order: PaymentOrder): Hex {
  return bytesToHex(orderTxHash(order));
}

/** The ABI struct of an order for the vault's views (`txHash`, `orderDigest`, …). */
export function orderStruct(order: PaymentOrder) {
  return {
    payer: order.payer,
    recipient: order.recipient,
    token: order.token,
    amount: order.amount,
    fee: order.fee,
    seq: order.seq,
    validBefore: order.validBefore,
    parent: order.parent,
    exit: order.exit,
    memo: order.memo,
  };
}

/** The vault's balance of `account` in `token`. */
export async function vaultBalance(
  vault: TestVault,
  account: Address,
  token: Address = ALPHA_USD,
): Promise<bigint> {
  return await vault.chain.client.readContract({
    address: vault.address,
    abi: vaultAbi,
    functionName: "balanceOf",
    args: [account, token],
  });
}

/** Approve + deposit in one transaction from `account`. */
export async function deposit(
  vault: TestVault,
  account: LocalAccount,
  amount: bigint,
  token: Address = ALPHA_USD,
): Promise<TransactionReceipt> {
  return await sendOk(vault.chain, account, depositCalls(vault.address, token, amount));
}

/** A fresh account holding `wallet` of `token` in its wallet, `deposited` of it in the vault. */
export async function newPayer(
  vault: TestVault,
  deposited: bigint,
  options: { readonly token?: Address; readonly wallet?: bigint } = {},
): Promise<LocalAccount> {
  const token = options.token ?? ALPHA_USD;
  const account = await newAccount(vault.chain, [{
    token,
    amount: options.wallet ?? deposited,
  }]);
  if (deposited > 0n) await deposit(vault, account, deposited, token);
  return account;
}

// ---- signatures made non-canonical -----------------------------------------------------------

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The malleable twin of a canonical signature: `s' = n − s`, `v` flipped; same signer. */
export function highS(signature: Hex | Uint8Array): Hex {
  const bytes = typeof signature === "string" ? hexToBytes(signature) : signature;
  const s = SECP256K1_N - bytesToBigInt(bytes.subarray(32, 64));
  const v = bytes[64] === 27 ? 28 : 27;
  return concatHex([bytesToHex(bytes.subarray(0, 32)), numberToHex(s, { size: 32 }), toHex(v)]);
}

/** `signature` with its last byte (`v`) replaced. */
export function withV(signature: Hex | Uint8Array, v: number): Hex {
  const bytes = typeof signature === "string" ? hexToBytes(signature) : signature.slice();
  return concatHex([bytesToHex(bytes.subarray(0, 64)), toHex(v, { size: 1 })]);
}

/** A well-formed signature (`r = 0`, low `s`, `v = 27`) for which ecrecover gives address 0. */
export const ZERO_SIGNER_SIGNATURE: Hex = concatHex([
  numberToHex(0n, { size: 32 }),
  numberToHex(1n, { size: 32 }),
  "0x1b",
]);

/** `item` with another payer signature. */
export function withPayerSignature(item: SettleItem, signature: Hex): SettleItem {
  return { ...item, signed: { ...item.signed, signature } };
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

// ---- a TIP-20 of the test's own ---------------------------------------------------------------

const TIP20_FACTORY: Address = "0x20Fc000000000000000000000000000000000000";
const TIP403_REGISTRY: Address = "0x403c000000000000000000000000000000000000";
const role = (name: string) => keccak256(stringToHex(name));

/**
 * Creates a TIP-20 (USD, quoted in pathUSD) through the TIP-20 factory with `admin` as its admin,
 * grants `admin` the issuer, pause and unpause roles, and mints `mint` to each given account.
 */
export async function createToken(
  chain: TestChain,
  admin: LocalAccount,
  mint: readonly { readonly to: Address; readonly amount: bigint }[] = [],
): Promise<Address> {
  const receipt = await sendOk(chain, admin, [{
    to: TIP20_FACTORY,
    data: encodeFunctionData({
      abi: Abis.tip20Factory,
      functionName: "createToken",
      args: ["Allegro Test", "ATST", "USD", PATH_USD, admin.address, testKey(crypto.randomUUID())],
    }),
  }]);
  const [created] = parseEventLogs({
    abi: Abis.tip20Factory,
    logs: receipt.logs,
    eventName: "TokenCreated",
  });
  const token = getAddress(created.args.token);
  await sendOk(chain, admin, [
    ...["ISSUER_ROLE", "PAUSE_ROLE", "UNPAUSE_ROLE"].map((r) =>
      tip20Call(token, "grantRole", [role(r), admin.address])
    ),
    ...mint.map((m) => tip20Call(token, "mint", [m.to, m.amount])),
  ]);
  return token;
}

/** Puts `token` under a new TIP-403 blacklist policy that bars `barred` (sender or recipient). */
export async function barAccounts(
  chain: TestChain,
  admin: LocalAccount,
  token: Address,
  barred: readonly Address[],
): Promise<void> {
  const receipt = await sendOk(chain, admin, [{
    to: TIP403_REGISTRY,
    data: encodeFunctionData({
      abi: Abis.tip403Registry,
      functionName: "createPolicyWithAccounts",
      args: [admin.address, 1, [...barred]],
    }),
  }]);
  const [created] = parseEventLogs({
    abi: Abis.tip403Registry,
    logs: receipt.logs,
    eventName: "PolicyCreated",
  });
  await sendOk(chain, admin, [tip20Call(token, "changeTransferPolicyId", [created.args.policyId])]);
}

/** `settleFor(item, settler)`: what only settleBatch may call (the vault itself). */
export function settleForCall(vault: TestVault, item: SettleItem, settler: Address): TempoCall {
  const { args } = decodeFunctionData({
    abi: vaultAbi,
    data: settleCall(vault.address, item).data,
  });
  return {
    to: vault.address,
    data: encodeFunctionData({
      abi: vaultAbi,
      functionName: "settleFor",
      args: [args[0] as never, settler],
    }),
  };
}

/**
 * Vaults, orders and QCs of the vault's test fixture: a vault with an n-member committee of
 * settlement keys (more epochs can be added), orders signed by their payer and certified by any
 * subset of the committee, and signatures made non-canonical on purpose.
 *
 * @module
 */
import {
  type Address,
  bytesToBigInt,
  bytesToHex,
  concatHex,
  decodeFunctionData,
  encodeFunctionData,
  getAddress,
  type Hex,
  hexToBytes,
  type LocalAccount,
  numberToHex,
  toHex,
  type TransactionReceipt,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  deployVaultCall,
  depositCalls,
  NO_PARENT,
  orderCertDigest,
  orderTxHash,
  type PaymentOrder,
  settleCall,
  type SettleItem,
  signAttestation,
  signOrder,
  type TempoCall,
  vaultAbi,
  type VaultAttestation,
} from "@allegro/client";
import { chainTimeMillis, DEPLOY_GAS, sendOk, type TestChain } from "./chain.ts";
import { ALPHA_USD, newAccount, testAccount, testKey } from "./accounts.ts";

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

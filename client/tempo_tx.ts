/**
 * Tempo transactions (type `0x76`) with several calls and a fee token, signed by a local viem
 * account and sent over JSON-RPC: how a wallet deposits (approve + deposit in one transaction),
 * how settlers settle and how the admin deploys and registers committees.
 *
 * Each transaction uses a fresh random 2D nonce key with nonce 0, so concurrent senders from one
 * account never collide and nothing has to track nonces.
 *
 * @module
 */
import { bytesToBigInt } from "viem";
import type { Address, Hex, LocalAccount, PublicClient, TransactionReceipt } from "./deps.ts";
import { Transaction } from "viem/tempo";
import { AllegroError } from "./errors.ts";

/** One call of a Tempo transaction; without `to` it creates a contract from `data`. */
export interface TempoCall {
  /** The contract called; absent to create one. */
  readonly to?: Address;
  /** The calldata, or the creation code when `to` is absent. */
  readonly data: Hex;
}

/** What {@linkcode sendTempoTransaction} sends. */
export interface TempoTransactionParams {
  /** The chain id the transaction is signed for. */
  readonly chainId: bigint;
  /** The calls, executed in order in this one transaction. */
  readonly calls: readonly TempoCall[];
  /** The TIP-20 token the fee is charged in. */
  readonly feeToken: Address;
  /** Gas limit of the whole transaction (Tempo charges what is used). */
  readonly gas: bigint;
  /** Maximum fee per gas; default twice the latest base fee. */
  readonly maxFeePerGas?: bigint;
  /** Seconds the transaction stays valid; default 60. */
  readonly validForSeconds?: number;
}

/** The account that signs: a viem local account (secp256k1, or `viem/tempo` P256 / WebAuthn). */
export type TempoSigner = Pick<LocalAccount, "address" | "signTransaction">;

/**
 * Signs and sends one Tempo transaction; returns its hash once the node accepted it.
 *
 * @example
 * ```ts ignore
 * const hash = await sendTempoTransaction(client, account, {
 *   chainId: 1337n,
 *   calls: depositCalls(vault, PATH_USD, 5_000_000n),
 *   feeToken: PATH_USD,
 *   gas: 600_000n,
 * });
 * const receipt = await waitForSuccess(client, hash);
 * ```
 */
export async function sendTempoTransaction(
  client: PublicClient,
  account: TempoSigner,
  params: TempoTransactionParams,
): Promise<Hex> {
  const maxFeePerGas = params.maxFeePerGas ??
    2n * ((await client.getBlock({ blockTag: "latest" })).baseFeePerGas ?? 10_000_000_000n);
  const tx: Transaction.TransactionSerializableTempo = {
    type: "tempo",
    chainId: Number(params.chainId),
    calls: params.calls.map((
      c,
    ) => (c.to === undefined ? { data: c.data } : { to: c.to, data: c.data })),
    nonceKey: bytesToBigInt(crypto.getRandomValues(new Uint8Array(20))) + 1n,
    nonce: 0,
    gas: params.gas,
    maxFeePerGas,
    maxPriorityFeePerGas: 0n,
    validBefore: Math.floor(Date.now() / 1000) + (params.validForSeconds ?? 60),
    feeToken: params.feeToken,
  };
  const raw = await account.signTransaction(tx, { serializer: Transaction.serialize });
  return await client.sendRawTransaction({ serializedTransaction: raw });
}

/**
 * Waits (bounded) for the receipt of `hash` and returns it if the transaction succeeded; throws
 * a `TEMPORARY_UNAVAILABLE` `AllegroError` if it reverted or was not mined in time.
 *
 * @example
 * ```ts ignore
 * const receipt = await waitForSuccess(client, hash, { timeoutMillis: 10_000 });
 * console.log(receipt.blockNumber, receipt.gasUsed);
 * ```
 */
export async function waitForSuccess(
  client: PublicClient,
  hash: Hex,
  options: { timeoutMillis?: number } = {},
): Promise<TransactionReceipt> {
  const receipt = await client.waitForTransactionReceipt({
    hash,
    timeout: options.timeoutMillis ?? 30_000,
    pollingInterval: 100,
    // Every transaction here has nonce 0 in a lane of its own: viem's replacement detection
    // (same sender and nonce) would mistake an earlier one for this one's replacement.
    checkReplacement: false,
  }).catch((e) => {
    throw new AllegroError("TEMPORARY_UNAVAILABLE", `transaction ${hash}: ${(e as Error).message}`);
  });
  if (receipt.status !== "success") {
    throw new AllegroError(
      "TEMPORARY_UNAVAILABLE",
      `transaction ${hash} reverted in block ${receipt.blockNumber}`,
      { hash, blockNumber: receipt.blockNumber },
    );
  }
  return receipt;
}

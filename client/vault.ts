/**
 * The vault (SPEC §5) from TypeScript: the calls a wallet, a settler and the admin make (as
 * {@linkcode TempoCall}s for one Tempo transaction), the reads every component needs, and its
 * events decoded into one typed union. The ABI is the compiled artifact of `@allegro/contracts`.
 *
 * @module
 */
import {
  bytesToHex,
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  isAddress,
  parseEventLogs,
  zeroHash,
} from "viem";
import type { Address, Hex, Log, PublicClient } from "./deps.ts";
import { vaultAbi, vaultBytecode } from "@allegro/contracts";
import { AllegroError } from "./errors.ts";
import { type PaymentStruct, paymentStruct, type SignedOrder } from "./order.ts";
import {
  sendTempoTransaction,
  type TempoCall,
  type TempoSigner,
  waitForSuccess,
} from "./tempo_tx.ts";

export { vaultAbi, vaultBytecode };

/** TIP-20 tokens live at addresses starting with these 12 bytes: `0x20c0` and ten zero bytes. */
export const TIP20_PREFIX: Hex = "0x20c000000000000000000000";

/**
 * Whether `address` is a 20-byte hex address with the TIP-20 prefix.
 *
 * @example
 * ```ts
 * import { isTip20Address } from "@allegro/client";
 *
 * isTip20Address("0x20C0000000000000000000000000000000000001"); // true
 * isTip20Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"); // false
 * ```
 */
export function isTip20Address(address: string): boolean {
  return isAddress(address, { strict: false }) && address.toLowerCase().startsWith(TIP20_PREFIX);
}

/** One validator's attestation as the vault takes it: its committee index and signature. */
export interface VaultAttestation {
  /** The attester's position in the epoch's committee. */
  readonly index: number;
  /** 65 bytes `r || s || v`. */
  readonly signature: Uint8Array;
}

/** An order with what the vault needs to settle it: an attestation-only QC (SPEC §4). */
export interface SettleItem {
  /** The payer-signed order. */
  readonly signed: SignedOrder;
  /** The committee epoch the attestations were made in. */
  readonly epoch: bigint;
  /** At least the epoch's threshold, indices strictly increasing. */
  readonly attestations: readonly VaultAttestation[];
}

/**
 * The vault's `SettleItem` struct as viem encodes it: the order's fields without `chainId` and
 * `vault` (the EIP-712 domain supplies them), the payer's signature, and the attestations.
 */
export interface SettleItemArgs {
  /** The vault's `Payment` struct. */
  readonly order: PaymentStruct;
  /** 65 bytes `r || s || v`. */
  readonly payerSignature: Hex;
  /** The committee epoch the attestations were made in. */
  readonly epoch: bigint;
  /** Committee indices strictly increasing, each with its 65-byte signature. */
  readonly attestations: readonly { readonly index: bigint; readonly signature: Hex }[];
}

/**
 * A {@linkcode SettleItem} as the vault's `SettleItem` struct argument (for `simulateContract`
 * and friends; {@linkcode settleCall} and {@linkcode settleBatchCall} use it).
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, PATH_USD, settleItemArgs, signOrder } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * // The attestations would come from a QC (settleItem); their encoding is the same.
 * const args = settleItemArgs({ signed, epoch: 42n, attestations: [{ index: 0, signature: new Uint8Array(65) }] });
 * console.log(args.order.payer === alice.address, args.attestations[0].index); // true 0n
 * ```
 */
export function settleItemArgs(item: SettleItem): SettleItemArgs {
  return {
    order: paymentStruct(item.signed.order),
    payerSignature: item.signed.signature,
    epoch: item.epoch,
    attestations: item.attestations.map((a) => ({
      index: BigInt(a.index),
      signature: bytesToHex(a.signature),
    })),
  };
}

/**
 * A deposit as one Tempo transaction's two calls: approve the vault, then deposit.
 *
 * @example
 * ```ts
 * import { depositCalls } from "@allegro/client";
 *
 * const calls = depositCalls(
 *   "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *   "0x20c0000000000000000000000000000000000000",
 *   5_000_000n,
 * );
 * console.log(calls.length); // 2
 * ```
 */
export function depositCalls(vault: Address, token: Address, amount: bigint): TempoCall[] {
  return [
    { to: token, data: encodeFunctionData({ abi: tip20Approve, args: [vault, amount] }) },
    {
      to: vault,
      data: encodeFunctionData({ abi: vaultAbi, functionName: "deposit", args: [token, amount] }),
    },
  ];
}

const tip20Approve = [{
  type: "function",
  name: "approve",
  stateMutability: "nonpayable",
  inputs: [{ name: "spender", type: "address" }, { name: "amount", type: "uint256" }],
  outputs: [{ type: "bool" }],
}] as const;

/**
 * Like {@linkcode depositCalls}, crediting `account` instead of the sender.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { depositForCalls, PATH_USD, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const bob = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
 * const [approve, deposit] = depositForCalls(TEST_VAULT, bob, PATH_USD, 5_000_000n);
 * console.log(approve.to === PATH_USD, decodeFunctionData({ abi: vaultAbi, data: deposit.data }).args);
 * // true [ "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x20C0000000000000000000000000000000000000", 5000000n ]
 * ```
 */
export function depositForCalls(
  vault: Address,
  account: Address,
  token: Address,
  amount: bigint,
): TempoCall[] {
  return [
    { to: token, data: encodeFunctionData({ abi: tip20Approve, args: [vault, amount] }) },
    {
      to: vault,
      data: encodeFunctionData({
        abi: vaultAbi,
        functionName: "depositFor",
        args: [account, token, amount],
      }),
    },
  ];
}

/**
 * `settle(item)`: one certified order.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, PATH_USD, settleCall, signOrder, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * // The attestations come from the order's QC: settleItem(committee, certified).
 * const call = settleCall(TEST_VAULT, { signed, epoch: 42n, attestations: [] });
 * console.log(decodeFunctionData({ abi: vaultAbi, data: call.data }).functionName); // settle
 * ```
 */
export function settleCall(vault: Address, item: SettleItem): TempoCall {
  return {
    to: vault,
    data: encodeFunctionData({
      abi: vaultAbi,
      functionName: "settle",
      args: [settleItemArgs(item)],
    }),
  };
}

/**
 * `settleBatch(items)`: several orders in this order (parents before children), each isolated.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, PATH_USD, settleBatchCall, signOrder, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * // Items as settleItem makes them from certified orders, parents first (parentsFirst).
 * const call = settleBatchCall(TEST_VAULT, [{ signed, epoch: 42n, attestations: [] }]);
 * console.log(decodeFunctionData({ abi: vaultAbi, data: call.data }).functionName); // settleBatch
 * ```
 */
export function settleBatchCall(vault: Address, items: readonly SettleItem[]): TempoCall {
  return {
    to: vault,
    data: encodeFunctionData({
      abi: vaultAbi,
      functionName: "settleBatch",
      args: [items.map(settleItemArgs)],
    }),
  };
}

/**
 * `requestExit(token, amount)`: the forced exit, payable after `exitDelay`.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { PATH_USD, requestExitCall, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const call = requestExitCall(TEST_VAULT, PATH_USD, 5_000_000n);
 * const { functionName, args } = decodeFunctionData({ abi: vaultAbi, data: call.data });
 * console.log(functionName, args); // requestExit [ "0x20C0000000000000000000000000000000000000", 5000000n ]
 * ```
 */
export function requestExitCall(vault: Address, token: Address, amount: bigint): TempoCall {
  return {
    to: vault,
    data: encodeFunctionData({ abi: vaultAbi, functionName: "requestExit", args: [token, amount] }),
  };
}

/**
 * `cancelExit(token)`.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { cancelExitCall, PATH_USD, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const call = cancelExitCall(TEST_VAULT, PATH_USD);
 * console.log(decodeFunctionData({ abi: vaultAbi, data: call.data }).functionName); // cancelExit
 * ```
 */
export function cancelExitCall(vault: Address, token: Address): TempoCall {
  return {
    to: vault,
    data: encodeFunctionData({ abi: vaultAbi, functionName: "cancelExit", args: [token] }),
  };
}

/**
 * `exit(token)`: pays a matured forced exit to the caller's wallet.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { exitCall, PATH_USD, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * const call = exitCall(TEST_VAULT, PATH_USD);
 * console.log(decodeFunctionData({ abi: vaultAbi, data: call.data }).functionName); // exit
 * ```
 */
export function exitCall(vault: Address, token: Address): TempoCall {
  return {
    to: vault,
    data: encodeFunctionData({ abi: vaultAbi, functionName: "exit", args: [token] }),
  };
}

/**
 * `setCommittee(epoch, settlementAddresses)`, the admin's call.
 *
 * @example
 * ```ts
 * import { decodeFunctionData } from "viem";
 * import { setCommitteeCall, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
 *
 * const { committee } = testCommittee(4, { chainId: 1337n, epoch: 43n });
 * const call = setCommitteeCall(TEST_VAULT, 43n, committee.validators.map((v) => v.settlementAddress));
 * const { functionName, args } = decodeFunctionData({ abi: vaultAbi, data: call.data });
 * console.log(functionName, args); // setCommittee [ 43n, [ "0x…", "0x…", "0x…", "0x…" ] ]
 * ```
 */
export function setCommitteeCall(
  vault: Address,
  epoch: bigint,
  members: readonly Address[],
): TempoCall {
  return {
    to: vault,
    data: encodeFunctionData({
      abi: vaultAbi,
      functionName: "setCommittee",
      args: [epoch, members],
    }),
  };
}

/** The vault's constructor arguments. */
export interface VaultDeployment {
  /** Who may register committees. */
  readonly admin: Address;
  /** W, in milliseconds. */
  readonly maxValidity: bigint;
  /** In seconds; `exitDelay·1000 ≥ maxValidity + 1000`. */
  readonly exitDelay: bigint;
  /** The first committee's epoch. */
  readonly epoch: bigint;
  /** The first committee's settlement addresses, in committee order. */
  readonly members: readonly Address[];
}

/**
 * The call that creates a vault (a Tempo call without `to`).
 *
 * @example
 * ```ts
 * import { deployVaultCall } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee } = testCommittee(4);
 * const call = deployVaultCall({
 *   admin: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   maxValidity: 60_000n,
 *   exitDelay: 120n,
 *   epoch: committee.epoch,
 *   members: committee.validators.map((v) => v.settlementAddress),
 * });
 * console.log(call.to); // undefined: a creation
 * ```
 */
export function deployVaultCall(params: VaultDeployment): TempoCall {
  return {
    data: encodeDeployData({
      abi: vaultAbi,
      bytecode: vaultBytecode,
      args: [params.admin, params.maxValidity, params.exitDelay, params.epoch, [...params.members]],
    }),
  };
}

/**
 * Deploys a vault with `account` (which pays the fee in `feeToken`) and returns its address and
 * the deployment block once the transaction succeeded.
 *
 * @example
 * ```ts ignore
 * const { vault } = await deployVault(client, admin, {
 *   chainId: 1337n,
 *   feeToken: PATH_USD,
 *   admin: admin.address,
 *   maxValidity: 60_000n,
 *   exitDelay: 120n,
 *   epoch: 1n,
 *   members,
 * });
 * ```
 */
export async function deployVault(
  client: PublicClient,
  account: TempoSigner,
  params: VaultDeployment & { readonly chainId: bigint; readonly feeToken: Address },
): Promise<{ vault: Address; blockNumber: bigint }> {
  const call = deployVaultCall(params);
  const estimate = await client.estimateGas({ account: account.address, data: call.data });
  const hash = await sendTempoTransaction(client, account, {
    chainId: params.chainId,
    calls: [call],
    feeToken: params.feeToken,
    gas: estimate + estimate / 4n,
  });
  const receipt = await waitForSuccess(client, hash);
  if (!receipt.contractAddress) {
    throw new AllegroError("TEMPORARY_UNAVAILABLE", `deployment ${hash} created no contract`);
  }
  return { vault: getAddress(receipt.contractAddress), blockNumber: receipt.blockNumber };
}

/** What a vault is set up with and where its committees stand. */
export interface VaultInfo {
  /** Who may register committees. */
  readonly admin: Address;
  /** W, in milliseconds: the longest an order may stay valid. */
  readonly maxValidity: bigint;
  /** The forced exit's delay, in seconds. */
  readonly exitDelay: bigint;
  /** The block the vault was created in: where followers start reading events. */
  readonly deployBlock: bigint;
  /** The epoch of the committee registered last. */
  readonly currentEpoch: bigint;
  /** Meaningful only while `graceEnd` ≠ 0. */
  readonly previousEpoch: bigint;
  /** Chain time (ms) until which QCs of `previousEpoch` settle; 0 before the first change. */
  readonly graceEnd: bigint;
}

/**
 * Reads a vault's immutables and epochs (at `blockNumber`, default latest).
 *
 * @example
 * ```ts ignore
 * const info = await readVaultInfo(client, vault);
 * console.log(info.maxValidity, info.exitDelay, info.currentEpoch);
 * ```
 */
export async function readVaultInfo(
  client: PublicClient,
  vault: Address,
  blockNumber?: bigint,
): Promise<VaultInfo> {
  const read = <N extends VaultInfoField>(functionName: N) =>
    client.readContract({ address: vault, abi: vaultAbi, functionName, blockNumber });
  const [admin, maxValidity, exitDelay, deployBlock, currentEpoch, previousEpoch, graceEnd] =
    await Promise.all([
      read("admin"),
      read("maxValidity"),
      read("exitDelay"),
      read("deployBlock"),
      read("currentEpoch"),
      read("previousEpoch"),
      read("graceEnd"),
    ]);
  return {
    admin: admin as Address,
    maxValidity: maxValidity as bigint,
    exitDelay: exitDelay as bigint,
    deployBlock: deployBlock as bigint,
    currentEpoch: currentEpoch as bigint,
    previousEpoch: previousEpoch as bigint,
    graceEnd: graceEnd as bigint,
  };
}

type VaultInfoField =
  | "admin"
  | "maxValidity"
  | "exitDelay"
  | "deployBlock"
  | "currentEpoch"
  | "previousEpoch"
  | "graceEnd";

/**
 * An epoch's settlement addresses (in committee order) and threshold, as the vault holds them;
 * no members for an epoch never registered.
 *
 * @example
 * ```ts ignore
 * const { members, threshold } = await readCommittee(client, vault, 1n);
 * ```
 */
export async function readCommittee(
  client: PublicClient,
  vault: Address,
  epoch: bigint,
): Promise<{ members: Address[]; threshold: number }> {
  const [members, threshold] = await client.readContract({
    address: vault,
    abi: vaultAbi,
    functionName: "committee",
    args: [epoch],
  });
  return { members: members.map((m) => getAddress(m)), threshold };
}

/** One account's position in one token. */
export interface VaultAccount {
  /** The account's vault balance, in base units. */
  readonly balance: bigint;
  /** The pending forced exit, if any. */
  readonly exit?: { readonly amount: bigint; readonly readyAt: bigint };
}

/**
 * An account's vault balance and pending forced exit in `token`.
 *
 * @example
 * ```ts ignore
 * const { balance, exit } = await readAccount(client, vault, alice, PATH_USD);
 * ```
 */
export async function readAccount(
  client: PublicClient,
  vault: Address,
  account: Address,
  token: Address,
  blockNumber?: bigint,
): Promise<VaultAccount> {
  const [balance, [amount, readyAt]] = await Promise.all([
    client.readContract({
      address: vault,
      abi: vaultAbi,
      functionName: "balanceOf",
      args: [account, token],
      blockNumber,
    }),
    client.readContract({
      address: vault,
      abi: vaultAbi,
      functionName: "pendingExit",
      args: [account, token],
      blockNumber,
    }),
  ]);
  return { balance, ...(readyAt === 0n ? {} : { exit: { amount, readyAt } }) };
}

/**
 * The `tx_hash` settled at `(payer, token, seq)`, or `undefined` while the key is unsettled.
 *
 * @example
 * ```ts ignore
 * const settled = await readSettledTxHash(client, vault, alice, PATH_USD, 0n);
 * ```
 */
export async function readSettledTxHash(
  client: PublicClient,
  vault: Address,
  payer: Address,
  token: Address,
  seq: bigint,
): Promise<Hex | undefined> {
  const hash = await client.readContract({
    address: vault,
    abi: vaultAbi,
    functionName: "settledTxHash",
    args: [payer, token, seq],
  });
  return hash === zeroHash ? undefined : hash;
}

/** Where an event was emitted: every {@linkcode VaultEvent} carries it. */
export interface EventPlace {
  /** The block that holds the log. */
  readonly blockNumber: bigint;
  /** The log's position in that block. */
  readonly logIndex: number;
  /** The transaction that emitted it. */
  readonly transactionHash: Hex;
}

/** Every vault event, decoded (addresses checksummed, integers bigint). */
export type VaultEvent =
  & EventPlace
  & (
    | { kind: "Deposited"; account: Address; token: Address; from: Address; amount: bigint }
    | {
      kind: "Settled";
      payer: Address;
      recipient: Address;
      txHash: Hex;
      token: Address;
      seq: bigint;
      amount: bigint;
      fee: bigint;
      /** The order's, so followers know how long its credit can fund a child. */
      validBefore: bigint;
      exit: boolean;
      parent: Hex;
      settler: Address;
    }
    | { kind: "SettleSkipped"; txHash: Hex; index: bigint; reason: Hex }
    | { kind: "ExitFallback"; txHash: Hex; recipient: Address; token: Address; amount: bigint }
    | { kind: "ExitRequested"; account: Address; token: Address; amount: bigint; readyAt: bigint }
    | { kind: "ExitCancelled"; account: Address; token: Address }
    | { kind: "Exited"; account: Address; token: Address; amount: bigint }
    | {
      kind: "CommitteeSet";
      epoch: bigint;
      members: Address[];
      threshold: number;
      graceEnd: bigint;
    }
  );

/**
 * Decodes the vault's events among `logs` (others are skipped), in log order.
 *
 * @example
 * ```ts
 * import { encodeAbiParameters, encodeEventTopics, zeroHash } from "viem";
 * import { decodeVaultEvents, PATH_USD, vaultAbi } from "@allegro/client";
 * import { TEST_VAULT } from "@allegro/client/testing";
 *
 * // A Deposited log as eth_getLogs returns it.
 * const alice = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
 * const [event] = decodeVaultEvents([{
 *   address: TEST_VAULT,
 *   topics: encodeEventTopics({
 *     abi: vaultAbi,
 *     eventName: "Deposited",
 *     args: { account: alice, token: PATH_USD },
 *   }) as [`0x${string}`, ...`0x${string}`[]],
 *   data: encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [alice, 5_000_000n]),
 *   blockNumber: 7n,
 *   blockHash: zeroHash,
 *   logIndex: 0,
 *   transactionHash: zeroHash,
 *   transactionIndex: 0,
 *   removed: false,
 * }]);
 * if (event.kind === "Deposited") console.log(event.amount, event.blockNumber); // 5000000n 7n
 * ```
 */
export function decodeVaultEvents(logs: readonly Log[]): VaultEvent[] {
  return parseEventLogs({ abi: vaultAbi, logs: [...logs] }).map((log): VaultEvent => {
    const place = {
      blockNumber: log.blockNumber ?? 0n,
      logIndex: log.logIndex ?? 0,
      transactionHash: log.transactionHash ?? zeroHash,
    };
    switch (log.eventName) {
      case "Deposited":
        return { ...place, kind: log.eventName, ...log.args };
      case "Settled":
        return { ...place, kind: log.eventName, ...log.args };
      case "SettleSkipped":
        return { ...place, kind: log.eventName, ...log.args };
      case "ExitFallback":
        return { ...place, kind: log.eventName, ...log.args };
      case "ExitRequested":
        return { ...place, kind: log.eventName, ...log.args };
      case "ExitCancelled":
        return { ...place, kind: log.eventName, ...log.args };
      case "Exited":
        return { ...place, kind: log.eventName, ...log.args };
      case "CommitteeSet":
        return {
          ...place,
          kind: log.eventName,
          epoch: log.args.epoch,
          members: [...log.args.members],
          threshold: log.args.threshold,
          graceEnd: log.args.graceEndMillis,
        };
    }
  });
}

/**
 * The only chain access of the page, through the public JSON-RPC URL the backend names
 * (`GET /api/v1/config`, `--public-rpc-url`): the account's own vault transactions — deposit
 * (approve + deposit in one Tempo transaction), forced-exit request, exit and cancel — signed here
 * with the account's key, and one read that checks the committee the backend names against the
 * one the vault registers.
 *
 * @module
 */
import { type Address, createPublicClient, http, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  cancelExitCall,
  type Committee,
  committeeMismatch,
  depositCalls,
  exitCall,
  PATH_USD,
  readCommittee,
  requestExitCall,
  revertReason,
  sendTempoTransaction,
  type TempoCall,
  waitForSuccess,
} from "@allegro/client";
import type { Account } from "./accounts.ts";

/** The TIP-20 token the UI pays and pays fees in: pathUSD. */
export const TOKEN: Address = PATH_USD;

/** Whether the committee the backend names is the one the vault registers for its epoch. */
export type CommitteeCheck =
  | { readonly state: "checking" }
  | { readonly state: "verified" }
  | { readonly state: "mismatch" | "unchecked"; readonly message: string };

const clients = new Map<string, PublicClient>();

function chainClient(rpcUrl: string): PublicClient {
  let client = clients.get(rpcUrl);
  if (!client) {
    client = createPublicClient({ transport: http(rpcUrl, { timeout: 10_000, retryCount: 1 }) });
    clients.set(rpcUrl, client);
  }
  return client;
}

/**
 * Checks `committee` against the vault (its settlement addresses, their order and the threshold:
 * what the vault checks attestations against), so that a QC verified here is one the vault takes.
 */
export async function checkCommittee(
  committee: Committee,
  rpcUrl: string | null,
): Promise<CommitteeCheck> {
  if (!rpcUrl) return { state: "unchecked", message: "the backend names no public chain RPC" };
  try {
    const registered = await readCommittee(chainClient(rpcUrl), committee.vault, committee.epoch);
    const mismatch = committeeMismatch(committee, registered);
    return mismatch ? { state: "mismatch", message: mismatch } : { state: "verified" };
  } catch (e) {
    return { state: "unchecked", message: `the chain did not answer: ${revertReason(e)}` };
  }
}

/** A vault transaction of the account's own. */
export type VaultAction =
  | { readonly kind: "deposit" | "requestExit"; readonly amount: bigint }
  | { readonly kind: "exit" | "cancelExit" };

/** What a mined vault transaction gives back. */
export interface Mined {
  readonly hash: string;
  readonly blockNumber: bigint;
}

function calls(vault: Address, action: VaultAction): TempoCall[] {
  switch (action.kind) {
    case "deposit":
      return depositCalls(vault, TOKEN, action.amount);
    case "requestExit":
      return [requestExitCall(vault, TOKEN, action.amount)];
    case "exit":
      return [exitCall(vault, TOKEN)];
    case "cancelExit":
      return [cancelExitCall(vault, TOKEN)];
  }
}

/**
 * Signs `action` with `account`'s key, sends it to `rpcUrl` and waits until it is mined; fees in
 * pathUSD from the account's wallet. A one-call action is simulated first, so that a refusal is
 * named by the vault's error (`ExitNotReady(…)`) before anything is sent.
 */
export async function sendVaultAction(
  rpcUrl: string,
  committee: Committee,
  account: Account,
  action: VaultAction,
): Promise<Mined> {
  const client = chainClient(rpcUrl);
  const list = calls(committee.vault, action);
  if (list.length === 1) {
    await client.call({ account: account.address, to: list[0].to, data: list[0].data })
      .catch((e) => {
        throw new Error(`the vault refuses ${action.kind}: ${revertReason(e)}`);
      });
  }
  const hash = await sendTempoTransaction(client, privateKeyToAccount(account.privateKey), {
    chainId: committee.chainId,
    calls: list,
    feeToken: TOKEN,
    gas: 1_000_000n,
  });
  const receipt = await waitForSuccess(client, hash, { timeoutMillis: 20_000 });
  return { hash, blockNumber: receipt.blockNumber };
}

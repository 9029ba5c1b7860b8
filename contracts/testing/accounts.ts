/**
 * Accounts and tokens of the vault's test fixture: deterministic keys, accounts funded from anvil's
 * dev accounts, wallet balances, and a TIP-20 of the test's own (created through the TIP-20
 * factory, paused, or put under a TIP-403 blacklist by the test).
 *
 * @module
 */
import {
  type Address,
  encodeFunctionData,
  getAddress,
  type Hex,
  keccak256,
  type LocalAccount,
  parseEventLogs,
  stringToHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Abis } from "viem/tempo";
import type { TempoCall } from "@allegro/client";
import * as devChain from "@allegro/server/anvil";
import { FUNDER_KEYS } from "@allegro/server/anvil";
import { FEE_TOKEN, sendOk, type TestChain } from "./chain.ts";

/** pathUSD (checksummed, as orders and events carry addresses): the tests' fee token. */
export const PATH_USD: Address = getAddress(devChain.PATH_USD);
/** AlphaUSD: the tests' default order token. */
export const ALPHA_USD: Address = getAddress(devChain.ALPHA_USD);
/** BetaUSD: a second token. */
export const BETA_USD: Address = getAddress(devChain.BETA_USD);

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

/** A fresh account with pathUSD for fees (and `tokens`), for one test. */
export async function newAccount(
  chain: TestChain,
  tokens: readonly { readonly token: Address; readonly amount: bigint }[] = [],
): Promise<LocalAccount> {
  const account = testAccount(crypto.randomUUID());
  await fundAccount(chain, account.address, tokens);
  return account;
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

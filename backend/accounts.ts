/**
 * One account as `GET /api/v1/accounts/{address}` shows it: per token its wallet balance, its
 * vault balance and pending forced exit (all read at the block the backend last processed, so
 * they agree with its records), and what is pending in and out — the orders this backend holds
 * a settleable QC of that have not settled yet; plus those orders and the account's recent
 * payments.
 *
 * @module
 */
import type { Address } from "viem";
import type { Chain } from "./chain.ts";
import { orderJson } from "./json.ts";
import type { TxRecord } from "./record.ts";
import type { Store } from "./store.ts";
import type { Head } from "./tracker.ts";

/** Most pending orders read per account. */
const MAX_PENDING = 1000;
/** Most recent payments listed per account. */
const MAX_RECENT = 20;

/** What the account view reads. */
export interface AccountDeps {
  readonly chain: Pick<Chain, "balances" | "committee">;
  readonly store: Pick<Store, "pendingOf" | "recentOf">;
  readonly head: () => Head | undefined;
}

function summary(account: Address, r: TxRecord) {
  return {
    tx_hash: r.txHash,
    stage: r.stage,
    direction: r.signed.order.payer === account ? "out" as const : "in" as const,
    order: orderJson(r.signed.order),
  };
}

/**
 * The account's JSON view in `tokens`.
 *
 * @example
 * ```ts ignore
 * const json = await accountJson({ chain, store, head: () => tracker.head }, alice, [PATH_USD]);
 * console.log(json.tokens[0].vault_balance, json.tokens[0].pending_out);
 * ```
 */
export async function accountJson(
  deps: AccountDeps,
  account: Address,
  tokens: readonly Address[],
) {
  const head = deps.head();
  const [balances, pending, recent] = await Promise.all([
    deps.chain.balances(account, tokens, head?.height),
    deps.store.pendingOf(account, MAX_PENDING),
    deps.store.recentOf(account, MAX_RECENT),
  ]);
  return {
    address: account,
    vault: deps.chain.committee.vault,
    block_height: head?.height.toString() ?? null,
    tokens: balances.map((b) => {
      let pendingIn = 0n;
      let pendingOut = 0n;
      for (const r of pending) {
        const o = r.signed.order;
        if (o.token !== b.token) continue;
        if (o.payer === account) pendingOut += o.amount + o.fee;
        if (o.recipient === account) pendingIn += o.amount;
      }
      return {
        token: b.token,
        symbol: b.symbol,
        wallet_balance: b.wallet.toString(),
        vault_balance: b.vault.balance.toString(),
        pending_in: pendingIn.toString(),
        pending_out: pendingOut.toString(),
        exit: b.vault.exit
          ? {
            amount: b.vault.exit.amount.toString(),
            ready_at_unix_seconds: b.vault.exit.readyAt.toString(),
          }
          : null,
      };
    }),
    pending: pending.map((r) => summary(account, r)),
    recent: recent.map((r) => summary(account, r)),
  };
}

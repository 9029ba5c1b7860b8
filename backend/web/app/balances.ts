/**
 * The selected account as the backend reads it (`GET /api/v1/accounts/{address}`, pathUSD):
 * wallet and vault balances, pending in and out, the pending forced exit, pending and recent
 * payments — fetched again on every new block, on every stage change of a payment from or to
 * it, and when asked (after a vault transaction of its own).
 *
 * @module
 */
import { createContext, useContext, useEffect, useMemo, useState } from "react";
import { type AccountJson, type AccountTokenJson, api } from "./api.ts";
import { useLive } from "./live.ts";
import { TOKEN } from "./onchain.ts";

/** The selected account's balances, or why they cannot be read. */
export interface Balances {
  readonly address?: string;
  readonly account?: AccountJson;
  /** The account in pathUSD. */
  readonly token?: AccountTokenJson;
  readonly error?: unknown;
  /** Reads them again now. */
  refresh(): void;
}

/** The balances of `address`, kept fresh. */
export function useBalancesState(address: string | undefined): Balances {
  const { heads, txs } = useLive();
  const [asked, setAsked] = useState(0);
  const [read, setRead] = useState<{ address: string; account?: AccountJson; error?: unknown }>();
  const height = heads.at(-1)?.height;
  const lower = address?.toLowerCase();
  const moves = [...txs.values()]
    .filter((t) => t.payer === lower || t.recipient === lower)
    .reduce((n, t) => n + t.stages.length, 0);

  useEffect(() => {
    if (!address) return;
    let current = true;
    const timer = setTimeout(() => {
      api.account(address, TOKEN).then(
        (account) => current && setRead({ address, account }),
        (error) =>
          current &&
          setRead((r) => (r?.address === address ? { ...r, error } : { address, error })),
      );
    }, 100);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [address, height, moves, asked]);

  return useMemo(() => {
    const mine = read?.address === address ? read : undefined;
    return {
      ...(address ? { address } : {}),
      ...(mine?.account ? { account: mine.account, token: mine.account.tokens[0] } : {}),
      ...(mine?.error !== undefined ? { error: mine.error } : {}),
      refresh: () => setAsked((n) => n + 1),
    };
  }, [address, read]);
}

/** The page's balances of the selected account. */
export const BalancesContext = createContext<Balances | null>(null);

/** The selected account's balances (inside `<BalancesContext>`). */
export function useBalances(): Balances {
  const balances = useContext(BalancesContext);
  if (!balances) throw new Error("useBalances outside <BalancesContext>");
  return balances;
}

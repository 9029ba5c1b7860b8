/**
 * The page: header with the live chain head, the account and validator cards, and the Pay,
 * Vault, Scenario and Look-up panels (kept mounted, so that a running payment or scenario goes
 * on while another panel is open).
 *
 * @module
 */
import { type ReactNode, useEffect, useMemo, useState } from "react";
import { AccountCard } from "./account.tsx";
import { AccountsContext, useAccountsState } from "./accounts.ts";
import { BalancesContext, useBalancesState } from "./balances.ts";
import { ConnectionBanner, HeadPill, ValidatorsCard } from "./chain.tsx";
import { LiveContext, LiveFeed } from "./live.ts";
import { LookupPanel } from "./lookup.tsx";
import { PayPanel, type SpendDraft } from "./pay.tsx";
import { PaymentsContext, usePaymentsState } from "./payments.tsx";
import { ScenarioPanel } from "./scenario_panel.tsx";
import { VaultPanel } from "./vault.tsx";

const TABS = [
  { id: "pay", label: "Pay" },
  { id: "vault", label: "Vault" },
  { id: "scenario", label: "Alice → Bob → Carol" },
  { id: "lookup", label: "Look up" },
] as const;

type Tab = (typeof TABS)[number]["id"];

/** The whole UI. */
export function App() {
  const feed = useMemo(() => new LiveFeed(), []);
  useEffect(() => {
    feed.start();
    return () => feed.stop();
  }, [feed]);
  const accounts = useAccountsState();
  const payments = usePaymentsState(feed);
  const [tab, setTab] = useState<Tab>("pay");
  const [draft, setDraft] = useState<SpendDraft>();
  const [asked, setAsked] = useState<string>();
  const lookup = (txHash: string) => {
    setAsked(txHash);
    setTab("lookup");
  };

  return (
    <LiveContext value={feed}>
      <AccountsContext value={accounts}>
        <PaymentsContext value={payments}>
          <Balances address={accounts.selected?.address}>
            <header className="topbar">
              <div className="brand">
                <span className="logo">♪</span>
                <div>
                  <h1>Allegro</h1>
                  <p>payments certified before the block, settled through the vault</p>
                </div>
              </div>
              <HeadPill />
            </header>
            <ConnectionBanner />
            <div className="layout">
              <AccountCard
                onSpend={(d) => {
                  setDraft(d);
                  setTab("pay");
                }}
                onLookup={lookup}
              />
              <main className="main">
                <nav className="tabs" role="tablist">
                  {TABS.map((t) => (
                    <button
                      key={t.id}
                      type="button"
                      role="tab"
                      aria-selected={tab === t.id}
                      className={tab === t.id ? "active" : ""}
                      onClick={() => setTab(t.id)}
                      data-testid={`tab-${t.id}`}
                    >
                      {t.label}
                    </button>
                  ))}
                </nav>
                <div hidden={tab !== "pay"}>
                  <PayPanel
                    draft={draft}
                    clearDraft={() => setDraft(undefined)}
                    onLookup={lookup}
                  />
                </div>
                <div hidden={tab !== "vault"}>
                  <VaultPanel onLookup={lookup} />
                </div>
                <div hidden={tab !== "scenario"}>
                  <ScenarioPanel />
                </div>
                <div hidden={tab !== "lookup"}>
                  <LookupPanel asked={asked} onLookup={lookup} />
                </div>
              </main>
              <ValidatorsCard />
            </div>
          </Balances>
        </PaymentsContext>
      </AccountsContext>
    </LiveContext>
  );
}

/** Keeps the selected account's balances fresh for everything below it. */
function Balances({ address, children }: { address: string | undefined; children: ReactNode }) {
  const balances = useBalancesState(address);
  return <BalancesContext value={balances}>{children}</BalancesContext>;
}

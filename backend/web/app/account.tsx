/**
 * The account card: pick a demo account or one of this browser's keys (create, import, remove),
 * see its wallet and vault balances, what is pending in and out and a pending forced exit with
 * its countdown, and its payments — with "Pay on" on money just received, to spend it at once
 * citing that payment (and its QC) as parent, for as long as the validators still take it as one.
 *
 * @module
 */
import { type FormEvent, useState } from "react";
import type { Address } from "viem";
import { verifyCertifiedOrder } from "@allegro/client";
import { type Account, useAccounts } from "./accounts.ts";
import { type AccountPaymentJson, api } from "./api.ts";
import { useBalances } from "./balances.ts";
import { ErrorBox } from "./error_box.tsx";
import { clock, short, title, USD, usd } from "./format.ts";
import { useNow } from "./hooks.ts";
import { chainTimeNow, useLive } from "./live.ts";
import type { SpendDraft } from "./pay.tsx";
import { usePayments } from "./payments.tsx";
import { currentStage, hasQc, laterStage, type Stage, StageBadge } from "./stage.tsx";
import { qcFromJson, signedOrderFromJson } from "./wire_json.ts";

/** What the account card can ask of the page. */
export interface AccountCardProps {
  readonly onSpend: (draft: SpendDraft) => void;
  readonly onLookup: (txHash: string) => void;
}

/** The selected account, its balances and its payments. */
export function AccountCard({ onSpend, onLookup }: AccountCardProps) {
  const accounts = useAccounts();
  const live = useLive();
  const payments = usePayments();
  const balances = useBalances();
  const selected = accounts.selected;
  const [problem, setProblem] = useState<unknown>();
  const token = balances.token;
  const account = balances.account;
  const spent = new Set(payments.attempts.map((a) => a.parentTxHash));

  const spend = async (p: AccountPaymentJson, fromName: string) => {
    setProblem(undefined);
    try {
      if (!live.committee) throw new Error("the committee is not loaded yet");
      const json = await api.qc(p.tx_hash);
      const certified = await verifyCertifiedOrder(live.committee, {
        signed: signedOrderFromJson(json.order),
        qc: qcFromJson(json.qc),
      });
      onSpend({ certified, fromName });
    } catch (e) {
      setProblem(e);
    }
  };
  // A sidecar certifies a child only while its parent's validBefore is more than its margin M
  // ahead of chain time (by default S + D + 2 blocks = 7 blocks + 1 s); one block more to spare.
  const chainNow = chainTimeNow(live.heads);
  const block = live.config?.block_interval_ms ?? 1000;
  const citable = (p: AccountPaymentJson) =>
    chainNow !== undefined && Number(p.order.valid_before) - chainNow > 8 * block + 1000;
  const stageOf = (p: AccountPaymentJson): Stage =>
    laterStage(p.stage as Stage, currentStage(live.txs.get(p.tx_hash)?.stages ?? []));
  const rows = [
    ...(account?.pending ?? []),
    ...(account?.recent ?? []).filter((r) =>
      !account?.pending.some((p) => p.tx_hash === r.tx_hash)
    ),
  ];

  return (
    <section className="card account" data-testid="account">
      <h2>Account</h2>
      <select
        value={selected?.address ?? ""}
        onChange={(e) => accounts.select(e.target.value as Address)}
        data-testid="account-select"
        aria-label="account"
      >
        {accounts.all.length === 0 && <option value="">no accounts yet</option>}
        <AccountOptions
          label="Demo accounts (local network)"
          list={accounts.all.filter((a) => a.demo)}
        />
        <AccountOptions label="Keys in this browser" list={accounts.all.filter((a) => !a.demo)} />
      </select>
      {selected && (
        <p className="address">
          <code title={selected.address}>{selected.address}</code>
          <button
            type="button"
            className="link"
            onClick={() => navigator.clipboard?.writeText(selected.address)}
          >
            copy
          </button>
        </p>
      )}
      {token && (
        <div className="balance" data-testid="balance">
          <div className="available">
            <span className="label">In the vault</span>
            <span className="amount" data-testid="vault-balance">{usd(token.vault_balance)}</span>
            <span className="unit">USD</span>
          </div>
          <dl>
            <dt>Wallet</dt>
            <dd data-testid="wallet-balance">{usd(token.wallet_balance)}</dd>
            <dt>Pending out</dt>
            <dd data-testid="pending-out">
              {token.pending_out === "0" ? "—" : `−${usd(token.pending_out)}`}
            </dd>
            <dt>Pending in</dt>
            <dd data-testid="pending-in">
              {token.pending_in === "0" ? "—" : `+${usd(token.pending_in)}`}
            </dd>
            <dt>Forced exit</dt>
            <dd data-testid="pending-exit">
              {token.exit
                ? (
                  <>
                    {usd(token.exit.amount)}{" "}
                    <ExitCountdown readyAt={token.exit.ready_at_unix_seconds} />
                  </>
                )
                : "—"}
            </dd>
          </dl>
          <p className="small muted">
            Read at block #{account?.block_height ?? "?"}. Payments spend the vault balance; the
            wallet pays chain fees and deposits.
          </p>
        </div>
      )}
      {balances.error !== undefined && <ErrorBox error={balances.error} />}
      <KeyActions key={selected?.address} selected={selected} />
      {problem !== undefined && <ErrorBox error={problem} />}
      {rows.length > 0 && (
        <>
          <h3>Payments</h3>
          <ul className="recent">
            {rows.slice(0, 8).map((p) => {
              const incoming = p.direction === "in";
              const other = incoming ? p.order.payer : p.order.recipient;
              const otherName = accounts.nameOf(other);
              const stage = stageOf(p);
              const payable = incoming && !p.order.exit && !spent.has(p.tx_hash) &&
                hasQc(stage) && citable(p);
              return (
                <li
                  key={p.tx_hash}
                  data-testid="payment-row"
                  data-tx={p.tx_hash}
                  data-direction={p.direction}
                >
                  <span className={`dir ${p.direction}`}>{incoming ? "↓" : "↑"}</span>
                  <span className="what">
                    <b>{usd(p.order.amount)}</b> {p.order.exit && !incoming
                      ? "to the wallet (exit)"
                      : `${incoming ? "from" : "to"} ${
                        otherName ? title(otherName) : short(other)
                      }`}
                    <StageBadge stage={stage} />
                  </span>
                  <span className="actions">
                    {payable && (
                      <button
                        type="button"
                        className="small primary"
                        data-testid="pay-on"
                        title="Spend this money at once, citing this payment (and its QC) as parent"
                        onClick={() => spend(p, otherName ?? short(other))}
                      >
                        Pay on
                      </button>
                    )}
                    <button type="button" className="small" onClick={() => onLookup(p.tx_hash)}>
                      Details
                    </button>
                  </span>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </section>
  );
}

/**
 * The time left until a forced exit can be paid out (`exit(token)`), counted on the chain's
 * clock: the vault pays it in a block whose timestamp has reached `readyAt`.
 */
export function ExitCountdown({ readyAt }: { readyAt: string }) {
  const { heads } = useLive();
  const now = useNow(250);
  const chainNow = chainTimeNow(heads, now);
  const readyMillis = Number(readyAt) * 1000;
  const left = chainNow === undefined ? undefined : Math.ceil((readyMillis - chainNow) / 1000);
  const ready = left !== undefined && left <= 0;
  return (
    <span
      className={`countdown ${ready ? "ready" : ""}`}
      data-testid="exit-countdown"
      data-ready={String(ready)}
      data-left={left ?? ""}
      title={`ready at ${clock(readyMillis)} chain time`}
    >
      {ready ? "ready to exit" : left === undefined ? "…" : `ready in ${left} s`}
    </span>
  );
}

function AccountOptions({ label, list }: { label: string; list: readonly Account[] }) {
  if (list.length === 0) return null;
  return (
    <optgroup label={label}>
      {list.map((a) => (
        <option key={a.address} value={a.address}>
          {title(a.name)} · {short(a.address)}
        </option>
      ))}
    </optgroup>
  );
}

function KeyActions({ selected }: { selected: Account | undefined }) {
  const accounts = useAccounts();
  const payments = usePayments();
  const [importing, setImporting] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const donor = accounts.all.find((a) => a.demo && a.address !== selected?.address);

  const submitImport = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setProblem(undefined);
    try {
      accounts.importKey(String(form.get("name") ?? ""), String(form.get("key") ?? ""));
      setImporting(false);
    } catch (error) {
      setProblem(error);
    }
  };
  const askDonor = () => {
    if (!donor || !selected) return;
    setProblem(undefined);
    payments.send({
      from: donor,
      to: selected.address,
      toName: title(selected.name),
      amount: 10n * USD,
    }).catch(setProblem);
  };

  return (
    <div className="key-actions">
      <div className="row">
        <button type="button" className="small" onClick={() => accounts.create()}>New key</button>
        <button type="button" className="small" onClick={() => setImporting(!importing)}>
          Import key
        </button>
        {selected && !selected.demo && (
          <button
            type="button"
            className="small danger"
            onClick={() =>
              confirm(`Forget ${selected.name}? Its key exists only in this browser.`) &&
              accounts.remove(selected.address)}
          >
            Remove
          </button>
        )}
        {selected && !selected.demo && donor && (
          <button type="button" className="small primary" onClick={askDonor}>
            Get 10 USD from {title(donor.name)}
          </button>
        )}
      </div>
      {importing && (
        <form className="import" onSubmit={submitImport}>
          <input name="name" placeholder="name (optional)" aria-label="key name" />
          <input
            name="key"
            placeholder="private key, 0x + 64 hex digits"
            aria-label="private key"
            autoComplete="off"
            spellCheck={false}
          />
          <button type="submit" className="small primary">Import</button>
        </form>
      )}
      {problem !== undefined && <ErrorBox error={problem} />}
      {selected && !selected.demo && (
        <p className="small muted">
          This key is stored only in this browser (localStorage); its lanes in IndexedDB.
        </p>
      )}
    </div>
  );
}

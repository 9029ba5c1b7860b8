/**
 * The account card: pick a demo account or one of this browser's keys (create, import, remove),
 * see its balance on chain and pending, and its recent payments — with "Spend" on money just
 * received, to pay it on at once with the received QC as parent.
 *
 * @module
 */
import { type FormEvent, useEffect, useState } from "react";
import type { Address } from "viem";
import type { CertifiedPayment } from "@allegro/client";
import { type Account, useAccounts } from "./accounts.ts";
import { type AccountJson, api } from "./api.ts";
import { ErrorBox } from "./error_box.tsx";
import { short, stageWords, title, USD, usd } from "./format.ts";
import { useLive } from "./live.ts";
import { fetchCertified, isSpent, MAX_FEE, pay, TOKEN } from "./payments.ts";

/** A received payment to spend: the pay form fills in from it. */
export interface SpendDraft {
  readonly parent: CertifiedPayment;
  readonly fromName: string;
  /** All of it, or less the fee when nothing else can pay the fee. */
  readonly amount: bigint;
}

/** What the account card can ask of the page. */
export interface AccountCardProps {
  readonly onSpend: (draft: SpendDraft) => void;
  readonly onLookup: (txHash: string) => void;
}

/** The selected account, its balance and its recent payments. */
export function AccountCard({ onSpend, onLookup }: AccountCardProps) {
  const accounts = useAccounts();
  const live = useLive();
  const selected = accounts.selected;
  const [data, setData] = useState<AccountJson>();
  const [error, setError] = useState<unknown>();
  const [importing, setImporting] = useState(false);
  const headHeight = live.heads.at(-1)?.height;

  useEffect(() => {
    if (!selected) return;
    let current = true;
    const timer = setTimeout(() => {
      api.account(selected.address, TOKEN).then(
        (a) => current && (setData(a), setError(undefined)),
        (e) => current && setError(e),
      );
    }, 120);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [selected?.address, headHeight, live.txs]);

  const shown = data?.address === selected?.address ? data : undefined;
  const token = shown?.tokens[0];
  const spend = async (txHash: string, fromName: string) => {
    try {
      if (!live.committee) throw new Error("the committee is not loaded yet");
      const parent = await fetchCertified(live.committee, txHash);
      const received = parent.payment.amount;
      // The fee comes from the rest of the balance; without enough, from the money received.
      const rest = BigInt(token?.available ?? "0") - received;
      onSpend({ parent, fromName, amount: rest >= MAX_FEE ? received : received - MAX_FEE });
    } catch (e) {
      setError(e);
    }
  };

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
            <span className="label">Available</span>
            <span className="amount" data-testid="available">{usd(token.available)}</span>
            <span className="unit">USD</span>
          </div>
          <dl>
            <dt>On chain</dt>
            <dd data-testid="on-chain">{usd(token.balance)}</dd>
            <dt>Pending out</dt>
            <dd>{token.pending_debit === "0" ? "—" : `−${usd(token.pending_debit)}`}</dd>
            <dt>Pending in</dt>
            <dd>{token.pending_credit === "0" ? "—" : `+${usd(token.pending_credit)}`}</dd>
          </dl>
        </div>
      )}
      <KeyActions
        key={selected?.address}
        selected={selected}
        importing={importing}
        setImporting={setImporting}
      />
      {error !== undefined && <ErrorBox error={error} />}
      {shown && shown.recent.length > 0 && (
        <>
          <h3>Recent payments</h3>
          <ul className="recent">
            {shown.recent.slice(0, 6).map((p) => {
              const incoming = p.direction === "in";
              const other = incoming ? p.sender : p.recipient;
              const otherName = accounts.nameOf(other);
              return (
                <li
                  key={p.tx_hash}
                  data-testid="payment-row"
                  data-tx={p.tx_hash}
                  data-direction={p.direction}
                >
                  <span className={`dir ${p.direction}`}>{incoming ? "↓" : "↑"}</span>
                  <span className="what">
                    <b>{usd(p.amount)}</b> {incoming ? "from" : "to"}{" "}
                    {otherName ? title(otherName) : short(other)}
                    <span className={`badge ${p.stage}`}>{stageWords(p.stage)}</span>
                  </span>
                  <span className="actions">
                    {incoming && p.qc_hash && !isSpent(p.tx_hash) && (
                      <button
                        type="button"
                        className="small primary"
                        data-testid="spend"
                        title="Pay this money on right away, with its QC as parent"
                        onClick={() => spend(p.tx_hash, otherName ?? short(other))}
                      >
                        Spend
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

function KeyActions(
  { selected, importing, setImporting }: {
    selected: Account | undefined;
    importing: boolean;
    setImporting: (on: boolean) => void;
  },
) {
  const accounts = useAccounts();
  const { committee } = useLive();
  const [problem, setProblem] = useState<unknown>();
  const [gift, setGift] = useState<string>();
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
  const askDonor = async () => {
    if (!donor || !selected || !committee) return;
    setProblem(undefined);
    setGift(`${title(donor.name)} is paying you 10 USD…`);
    try {
      await pay({ committee, from: donor, to: selected.address, amount: 10n * USD });
      setGift(`${title(donor.name)} paid you 10 USD — certified; spend it right away.`);
    } catch (e) {
      setGift(undefined);
      setProblem(e);
    }
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
      {gift && <p className="small muted">{gift}</p>}
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
        <p className="small muted">This key is stored only in this browser (localStorage).</p>
      )}
    </div>
  );
}

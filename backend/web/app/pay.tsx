/**
 * The pay form and the payments made from this page, each watched live: certificates per
 * validator against the block boundary, the QC (verified here), then queued, included, final.
 *
 * @module
 */
import { type FormEvent, useEffect, useState } from "react";
import { type Address, bytesToHex, isAddress } from "viem";
import type { SpendDraft } from "./account.tsx";
import { type Account, useAccounts } from "./accounts.ts";
import { ApiError, type SubmissionJson } from "./api.ts";
import { ErrorBox } from "./error_box.tsx";
import { parseUsd, short, title, usd } from "./format.ts";
import { useLive } from "./live.ts";
import { pay } from "./payments.ts";
import { TxDetails } from "./tx_details.tsx";

interface Attempt {
  readonly id: number;
  readonly from: Account;
  readonly toName: string;
  readonly amount: bigint;
  readonly parentFrom?: string;
  readonly state: "sending" | "certified" | "failed";
  readonly sentAt?: number;
  readonly txHash?: string;
  readonly submission?: SubmissionJson;
  readonly error?: unknown;
}

/** What the pay panel gets from the page. */
export interface PayPanelProps {
  /** A received payment to spend (from the account card's "Spend"). */
  readonly draft: SpendDraft | undefined;
  readonly clearDraft: () => void;
  readonly onLookup: (txHash: string) => void;
}

let nextId = 1;

/** The form and the list of payments sent from here. */
export function PayPanel({ draft, clearDraft, onLookup }: PayPanelProps) {
  const accounts = useAccounts();
  const { committee } = useLive();
  const from = accounts.selected;
  const others = accounts.all.filter((a) => a.address !== from?.address);
  const [to, setTo] = useState("");
  const [custom, setCustom] = useState("");
  const [amountText, setAmountText] = useState("10");
  const [formError, setFormError] = useState<string>();
  const [attempts, setAttempts] = useState<readonly Attempt[]>([]);

  // Default recipient: the account after the payer (Alice → Bob → Carol → Alice).
  const fromIndex = accounts.all.findIndex((a) => a.address === from?.address);
  const suggested = accounts.all[(fromIndex + 1) % Math.max(accounts.all.length, 1)];
  useEffect(() => {
    if (to === "other" || others.some((a) => a.address === to)) return;
    if (suggested && suggested.address !== from?.address) setTo(suggested.address);
  }, [from?.address, suggested?.address, to, others]);
  useEffect(() => {
    if (draft) setAmountText(usd(draft.amount).replace(/,/g, ""));
  }, [draft]);
  const parent = draft && from && draft.parent.payment.recipient === from.address
    ? draft
    : undefined;

  const update = (id: number, patch: Partial<Attempt>) =>
    setAttempts((all) => all.map((a) => (a.id === id ? { ...a, ...patch } : a)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!from || !committee) return;
    const recipient = to === "other" ? custom.trim() : to;
    let amount: bigint;
    try {
      if (!isAddress(recipient)) {
        throw new Error("Choose a recipient, or enter an address (0x + 40 hex digits).");
      }
      amount = parseUsd(amountText);
    } catch (problem) {
      setFormError((problem as Error).message);
      return;
    }
    setFormError(undefined);
    const id = nextId++;
    const toName = accounts.nameOf(recipient);
    const attempt: Attempt = {
      id,
      from,
      toName: toName ? title(toName) : short(recipient),
      amount,
      ...(parent ? { parentFrom: parent.fromName } : {}),
      state: "sending",
    };
    setAttempts((all) => [attempt, ...all].slice(0, 8));
    if (parent) clearDraft();
    try {
      const result = await pay({
        committee,
        from,
        to: recipient as Address,
        amount,
        ...(parent ? { parent: parent.parent } : {}),
        onSigned: (txHash) => update(id, { txHash, sentAt: Date.now() }),
      });
      update(id, { state: "certified", submission: result.submission });
    } catch (error) {
      const details = error instanceof ApiError ? error.details as SubmissionJson : undefined;
      update(id, { state: "failed", error, ...(details?.rejects ? { submission: details } : {}) });
    }
  };

  return (
    <div className="pay">
      <form className="card pay-form" onSubmit={submit} data-testid="pay-form">
        <h2>Pay</h2>
        <div className="fields">
          <label>
            From
            <output data-testid="pay-from">{from ? title(from.name) : "choose an account"}</output>
          </label>
          <label>
            To
            <select value={to} onChange={(e) => setTo(e.target.value)} data-testid="pay-to">
              {others.map((a) => <option key={a.address} value={a.address}>{title(a.name)}
              </option>)}
              <option value="other">Another address…</option>
            </select>
          </label>
          {to === "other" && (
            <label className="wide">
              Address
              <input
                value={custom}
                onChange={(e) => setCustom(e.target.value)}
                placeholder="0x…"
                spellCheck={false}
                data-testid="pay-address"
              />
            </label>
          )}
          <label>
            Amount (USD)
            <input
              value={amountText}
              onChange={(e) => setAmountText(e.target.value)}
              inputMode="decimal"
              data-testid="pay-amount"
            />
          </label>
          <button
            type="submit"
            className="primary"
            disabled={!from || !committee}
            data-testid="pay-submit"
          >
            {parent ? "Pay on" : "Pay"}
          </button>
        </div>
        {parent && (
          <p className="parent-chip" data-testid="pay-parent">
            Spends {usd(parent.parent.payment.amount)} USD just received from{" "}
            {title(parent.fromName)} before it settles — its QC{" "}
            <code>{short(bytesToHex(parent.parent.qc.qcHash), 6)}</code>{" "}
            (verified here) goes along as parent.
            <button type="button" className="link" onClick={clearDraft}>don't</button>
          </p>
        )}
        {formError && <p className="error" role="alert">{formError}</p>}
        <p className="small muted">
          Signed in this browser, certified by the validators through the backend; the QC is
          verified here before it is shown as certified.
        </p>
      </form>
      {attempts.length === 0 && (
        <p className="empty muted">Payments you make appear here, watched live.</p>
      )}
      {attempts.map((a) => <PaymentCard key={a.id} attempt={a} onLookup={onLookup} />)}
    </div>
  );
}

function PaymentCard({ attempt, onLookup }: { attempt: Attempt; onLookup: (h: string) => void }) {
  const a = attempt;
  return (
    <article className={`card payment ${a.state}`} data-testid="payment" data-state={a.state}>
      <header>
        <h3>
          {usd(a.amount)} USD <span className="muted">·</span> {title(a.from.name)} → {a.toName}
        </h3>
        <span className={`badge ${a.state}`}>
          {a.state === "sending" ? "certifying…" : a.state === "certified" ? "certified" : "failed"}
        </span>
      </header>
      {a.parentFrom && (
        <p className="small muted" data-testid="payment-parent">
          Chained: spends the payment from {title(a.parentFrom)}, cited by its QC.
        </p>
      )}
      {a.txHash && (
        <p className="small">
          tx <code title={a.txHash}>{short(a.txHash, 8)}</code>{" "}
          <button type="button" className="link" onClick={() => onLookup(a.txHash!)}>
            look up
          </button>
        </p>
      )}
      {a.error !== undefined && <ErrorBox error={a.error} />}
      {a.txHash && <TxDetails txHash={a.txHash} submission={a.submission} sentAt={a.sentAt} />}
    </article>
  );
}

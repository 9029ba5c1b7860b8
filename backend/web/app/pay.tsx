/**
 * The pay form — pay, or pay on a payment just received, citing it as parent — and the
 * payments made from this page, each watched live.
 *
 * @module
 */
import { type FormEvent, useEffect, useState } from "react";
import { type Address, isAddress } from "viem";
import type { CertifiedOrder } from "@allegro/client";
import { useAccounts } from "./accounts.ts";
import { parseUsd, short, title, usd } from "./format.ts";
import { useLive } from "./live.ts";
import { warmUp } from "./payer.ts";
import { PaymentCard, usePayments } from "./payments.tsx";

/** A received payment to spend at once: the pay form fills in from it. */
export interface SpendDraft {
  /** The payment, its order and QC verified in this browser. */
  readonly certified: CertifiedOrder;
  /** Who paid it, in words. */
  readonly fromName: string;
}

/** What the pay panel gets from the page. */
export interface PayPanelProps {
  /** A received payment to pay on (from the account card). */
  readonly draft: SpendDraft | undefined;
  readonly clearDraft: () => void;
  readonly onLookup: (txHash: string) => void;
}

/** The form and the list of payments sent from here. */
export function PayPanel({ draft, clearDraft, onLookup }: PayPanelProps) {
  const accounts = useAccounts();
  const { committee, config } = useLive();
  const payments = usePayments();
  const from = accounts.selected;
  const others = accounts.all.filter((a) => a.address !== from?.address);
  const [to, setTo] = useState("");
  const [custom, setCustom] = useState("");
  const [amountText, setAmountText] = useState("10");
  const [formError, setFormError] = useState<string>();

  useEffect(() => {
    if (from) warmUp(from);
  }, [from?.address]);
  // Default recipient: the account after the payer (Alice → Bob → Carol → Alice).
  const fromIndex = accounts.all.findIndex((a) => a.address === from?.address);
  const suggested = accounts.all[(fromIndex + 1) % Math.max(accounts.all.length, 1)];
  useEffect(() => {
    if (to === "other" || others.some((a) => a.address === to)) return;
    if (suggested && suggested.address !== from?.address) setTo(suggested.address);
  }, [from?.address, suggested?.address, to, others]);
  const parent = draft && from && draft.certified.signed.order.recipient === from.address
    ? draft
    : undefined;
  useEffect(() => {
    if (parent) setAmountText(usd(parent.certified.signed.order.amount).replace(/,/g, ""));
  }, [parent]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!from) return;
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
    const name = accounts.nameOf(recipient);
    if (parent) clearDraft();
    payments.send({
      from,
      to: recipient as Address,
      toName: name ? title(name) : short(recipient),
      amount,
      ...(parent ? { parent } : {}),
    }).catch(() => {}); // the payment's card says what went wrong
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
            disabled={!from || !committee || !config}
            data-testid="pay-submit"
          >
            {parent ? "Pay on" : "Pay"}
          </button>
        </div>
        {parent && (
          <p className="parent-chip" data-testid="pay-parent">
            Spends the {usd(parent.certified.signed.order.amount)} USD just received from{" "}
            {title(parent.fromName)} before it settles: the order cites it as parent (
            <code>{short(parent.certified.txHash, 6)}</code>), and its QC, verified here, goes
            along.
            <button type="button" className="link" onClick={clearDraft}>don't</button>
          </p>
        )}
        {formError && <p className="error" role="alert">{formError}</p>}
        <p className="small muted">
          Signed in this browser and sent to every validator; each certificate and the QC are
          verified here. The backend settles the QC at once, in the next block.
        </p>
      </form>
      {payments.attempts.length === 0 && (
        <p className="empty muted">Payments you make appear here, watched live.</p>
      )}
      {payments.attempts.map((a) => <PaymentCard key={a.id} attempt={a} onLookup={onLookup} />)}
    </div>
  );
}

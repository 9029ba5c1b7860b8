/**
 * Look any payment up by its `tx_hash`: the order, each validator's certificate with its
 * attestation and the QC (verified in this browser), its stage, and the block and transaction
 * that settled it.
 *
 * @module
 */
import { type FormEvent, useEffect, useState } from "react";
import { NO_PARENT } from "@allegro/client";
import { useAccounts } from "./accounts.ts";
import { clock, short, title, usd } from "./format.ts";
import { StageBadge } from "./stage.tsx";
import { TxDetails } from "./tx_details.tsx";
import { useRecordedCertification, useTxView } from "./tx_view.ts";

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

/** The look-up form and the payment it found; `asked` is a `tx_hash` another panel asks for. */
export function LookupPanel(
  { asked, onLookup }: { asked: string | undefined; onLookup: (txHash: string) => void },
) {
  const [text, setText] = useState(asked ?? "");
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    if (asked) setText(asked);
  }, [asked]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const hash = text.trim();
    if (!TX_HASH.test(hash)) {
      setProblem("A payment's tx_hash is 0x followed by 64 hex digits.");
      return;
    }
    setProblem(undefined);
    onLookup(hash.toLowerCase());
  };

  return (
    <div className="lookup">
      <form className="card lookup-form" onSubmit={submit}>
        <h2>Look up a payment</h2>
        <div className="row">
          <input
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="tx_hash: 0x + 64 hex digits"
            spellCheck={false}
            data-testid="lookup-input"
            aria-label="tx hash"
          />
          <button type="submit" className="primary" data-testid="lookup-submit">Look up</button>
        </div>
        {problem && <p className="error" role="alert">{problem}</p>}
      </form>
      {asked && <Found key={asked} txHash={asked} onLookup={onLookup} />}
    </div>
  );
}

function Found({ txHash, onLookup }: { txHash: string; onLookup: (txHash: string) => void }) {
  const view = useTxView(txHash);
  const certification = useRecordedCertification(txHash, view);
  const { nameOf } = useAccounts();
  const who = (address: string) => {
    const name = nameOf(address);
    return name ? `${title(name)} (${short(address)})` : address;
  };
  if (view.missing) {
    return (
      <p className="card error" data-testid="lookup-missing">
        No payment with this tx_hash is known to the backend.
      </p>
    );
  }
  const o = view.record?.order.order;
  return (
    <article className="card" data-testid="lookup-result">
      <header>
        <h3>
          {o ? `${usd(o.amount)} USD` : "Payment"} <code className="muted">{short(txHash, 8)}</code>
        </h3>
        {view.stage && <StageBadge stage={view.stage} />}
      </header>
      {o && (
        <dl className="facts">
          <dt>From</dt>
          <dd>{who(o.payer)}</dd>
          <dt>To</dt>
          <dd>{o.exit ? `${who(o.recipient)}'s wallet (exit)` : who(o.recipient)}</dd>
          <dt>Seq</dt>
          <dd>{o.seq}</dd>
          <dt>Valid before</dt>
          <dd>{clock(Number(o.valid_before))} (chain time)</dd>
          <dt>Parent</dt>
          <dd>
            {o.parent === NO_PARENT
              ? "none"
              : (
                <button type="button" className="link" onClick={() => onLookup(o.parent)}>
                  <code>{short(o.parent, 8)}</code>
                </button>
              )}
          </dd>
          <dt>Settled in</dt>
          <dd data-testid="lookup-block">
            {view.blockHeight !== undefined ? `block #${view.blockHeight}` : "not on chain yet"}
          </dd>
          <dt>Source</dt>
          <dd>
            {view.record?.source === "board"
              ? "learnt from the validators' boards"
              : "submitted to this backend"}
          </dd>
        </dl>
      )}
      {view.stage && <TxDetails view={view} certification={certification} stage={view.stage} />}
    </article>
  );
}

/**
 * Look any payment up by its Allegro `tx_hash`: stage, what it pays, certificates per validator,
 * the QC (verified in this browser) and the block.
 *
 * @module
 */
import { type FormEvent, useEffect, useState } from "react";
import { useAccounts } from "./accounts.ts";
import { short, stageWords, title, usd } from "./format.ts";
import { TxDetails } from "./tx_details.tsx";
import { useTxView } from "./tx_view.ts";

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

/** The lookup form and the payment it found. */
export function LookupPanel({ asked }: { asked: string | undefined }) {
  const [text, setText] = useState(asked ?? "");
  const [txHash, setTxHash] = useState(asked);
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    if (asked) {
      setText(asked);
      setTxHash(asked.toLowerCase());
    }
  }, [asked]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const hash = text.trim();
    if (!TX_HASH.test(hash)) {
      setProblem("A payment's tx_hash is 0x followed by 64 hex digits.");
      return;
    }
    setProblem(undefined);
    setTxHash(hash.toLowerCase());
  };

  return (
    <div className="lookup">
      <form className="card lookup-form" onSubmit={submit}>
        <h2>Look up a payment</h2>
        <div className="row">
          <input
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="Allegro tx_hash: 0x + 64 hex digits"
            spellCheck={false}
            data-testid="lookup-input"
            aria-label="tx hash"
          />
          <button type="submit" className="primary" data-testid="lookup-submit">Look up</button>
        </div>
        {problem && <p className="error" role="alert">{problem}</p>}
      </form>
      {txHash && <Found key={txHash} txHash={txHash} />}
    </div>
  );
}

function Found({ txHash }: { txHash: string }) {
  const view = useTxView(txHash);
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
  const p = view.record?.payment;
  return (
    <article className="card" data-testid="lookup-result">
      <header>
        <h3>
          {p ? `${usd(p.amount)} USD` : "Payment"} <code className="muted">{short(txHash, 8)}</code>
        </h3>
        {view.stage && <span className={`badge ${view.stage}`}>{stageWords(view.stage)}</span>}
      </header>
      {p && (
        <dl className="facts">
          <dt>From</dt>
          <dd>{who(p.sender)}</dd>
          <dt>To</dt>
          <dd>{who(p.recipient)}</dd>
          <dt>Nonce</dt>
          <dd>{p.nonce_seq}</dd>
          <dt>Valid until</dt>
          <dd>{new Date(Number(p.valid_before_unix_millis)).toLocaleTimeString()}</dd>
          <dt>Parent QC</dt>
          <dd>
            {view.record?.parent_qc_hash
              ? <code>{short(view.record.parent_qc_hash, 8)}</code>
              : "none"}
          </dd>
          <dt>Block</dt>
          <dd data-testid="lookup-block">
            {view.record?.block ? `#${view.record.block.height}` : "not on chain yet"}
          </dd>
        </dl>
      )}
      <TxDetails txHash={txHash} />
    </article>
  );
}

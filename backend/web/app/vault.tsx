/**
 * The vault panel: deposit into the vault (approve + deposit in one Tempo transaction), and the
 * two ways out — the cooperative exit, an order with `exit` to the account's own wallet that gets
 * a QC and pays out in the next block, and the forced exit, which needs no validator: request it,
 * wait the vault's exit delay (a countdown on the chain's clock), then exit, or cancel it.
 *
 * @module
 */
import { useState } from "react";
import { ExitCountdown } from "./account.tsx";
import { useAccounts } from "./accounts.ts";
import { useBalances } from "./balances.ts";
import { ErrorBox } from "./error_box.tsx";
import { parseUsd, short, title, usd } from "./format.ts";
import { useNow } from "./hooks.ts";
import { chainTimeNow, useLive } from "./live.ts";
import { type Mined, sendVaultAction, type VaultAction } from "./onchain.ts";
import { PaymentCard, usePayments } from "./payments.tsx";

/** The last vault transaction sent from here. */
interface Sent {
  readonly words: string;
  readonly state: "sending" | "mined" | "failed";
  readonly mined?: Mined;
  readonly error?: unknown;
}

/** Deposit, cooperative exit and forced exit of the selected account. */
export function VaultPanel({ onLookup }: { onLookup: (txHash: string) => void }) {
  const live = useLive();
  const { committee, config, heads } = live;
  const from = useAccounts().selected;
  const balances = useBalances();
  const payments = usePayments();
  const [sent, setSent] = useState<Sent>();
  const now = useNow(500);
  const rpc = config?.public_rpc_url;
  const token = balances.token;
  const exit = token?.exit;
  const chainNow = chainTimeNow(heads, now);
  const exitReady = exit !== null && exit !== undefined && chainNow !== undefined &&
    chainNow >= Number(exit.ready_at_unix_seconds) * 1000;
  const busy = sent?.state === "sending";
  const lastExit = payments.attempts.find((a) => a.exit && a.from.address === from?.address);

  const send = async (action: VaultAction, what: string) => {
    if (!rpc || !committee || !from) return;
    const words = `${what} (${title(from.name)})`;
    setSent({ words, state: "sending" });
    try {
      const mined = await sendVaultAction(rpc, committee, from, action);
      setSent({ words, state: "mined", mined });
    } catch (error) {
      setSent({ words, state: "failed", error });
    }
    balances.refresh();
  };
  if (!from) return <p className="card muted">Choose an account first.</p>;
  return (
    <div className="vault">
      <section className="card" data-testid="deposit">
        <h2>Deposit into the vault</h2>
        <p className="small">
          Moves USD from {title(from.name)}'s wallet ({token ? usd(token.wallet_balance) : "…"}{" "}
          USD) into the vault, where payments spend it: approve and deposit in one Tempo
          transaction, signed in this browser and sent to the chain ({rpc
            ? <code>{rpc}</code>
            : "none"}). The wallet pays the fee.
        </p>
        <AmountAction
          id="deposit"
          initial="50"
          label="Deposit"
          primary
          disabled={!rpc || !committee || busy}
          onAmount={(units) =>
            send({ kind: "deposit", amount: units }, `Deposit of ${usd(units)} USD`)}
        />
      </section>

      <section className="card" data-testid="cooperative-exit">
        <h2>Exit to the wallet (cooperative)</h2>
        <p className="small">
          An order with <code>exit</code> set, paying{" "}
          {title(from.name)}'s own wallet: the validators certify it like any payment, and its QC
          pays out in the next block.
        </p>
        <AmountAction
          id="coop"
          initial="5"
          label="Exit to wallet"
          primary
          disabled={!committee || !config}
          onAmount={(units) =>
            payments.send({
              from,
              to: from.address,
              toName: "own wallet",
              amount: units,
              exit: true,
            })
              .catch(() => {})} // the payment's card says what went wrong
        />
      </section>

      <section className="card" data-testid="forced-exit">
        <h2>Forced exit</h2>
        <p className="small">
          The way out that needs no validator: request it, wait the vault's exit delay (
          {config?.exit_delay_seconds ?? "…"}{" "}
          s, longer than any order can stay valid), then exit. While it is pending, the validators
          count it as spent. Sent to the chain from here.
        </p>
        {exit
          ? (
            <div className="row">
              <span data-testid="forced-pending">
                {usd(exit.amount)} USD requested —{" "}
                <ExitCountdown readyAt={exit.ready_at_unix_seconds} />
              </span>
              <button
                type="button"
                className="primary"
                disabled={!rpc || !committee || busy || !exitReady}
                data-testid="forced-exit-submit"
                onClick={() => send({ kind: "exit" }, `Forced exit of ${usd(exit.amount)} USD`)}
              >
                Exit now
              </button>
              <button
                type="button"
                disabled={!rpc || !committee || busy}
                data-testid="forced-cancel"
                onClick={() => send({ kind: "cancelExit" }, "Cancelling the forced exit")}
              >
                Cancel
              </button>
            </div>
          )
          : (
            <AmountAction
              id="forced-request"
              initial="5"
              label="Request forced exit"
              disabled={!rpc || !committee || busy}
              onAmount={(units) =>
                send(
                  { kind: "requestExit", amount: units },
                  `Forced exit request of ${usd(units)} USD`,
                )}
            />
          )}
      </section>

      {!rpc && (
        <p className="error" data-testid="no-rpc">
          The backend names no public chain RPC (<code>--public-rpc-url</code>): deposits and forced
          exits cannot be sent from this page.
        </p>
      )}
      {sent && (
        <div
          className={`card vault-action ${sent.state}`}
          data-testid="vault-action"
          data-state={sent.state}
        >
          <b>{sent.words}</b> {sent.state === "sending"
            ? "— signed here, waiting for the chain…"
            : sent.state === "mined"
            ? (
              <>
                — in block #{sent.mined!.blockNumber.toString()}, transaction{" "}
                <code title={sent.mined!.hash}>{short(sent.mined!.hash, 8)}</code>
              </>
            )
            : null}
          {sent.error !== undefined && <ErrorBox error={sent.error} />}
        </div>
      )}
      {lastExit && <PaymentCard attempt={lastExit} onLookup={onLookup} />}
    </div>
  );
}

/** What {@linkcode AmountAction} shows and does. */
interface AmountActionProps {
  /** Names its test ids: `ID-amount`, `ID-submit`. */
  readonly id: string;
  readonly initial: string;
  /** The button's words. */
  readonly label: string;
  readonly primary?: boolean;
  readonly disabled: boolean;
  /** Called with the amount typed, in base units. */
  readonly onAmount: (units: bigint) => void;
}

/** A USD amount field and its button; an amount that is none is said under it. */
function AmountAction({ id, initial, label, primary, disabled, onAmount }: AmountActionProps) {
  const [text, setText] = useState(initial);
  const [problem, setProblem] = useState<string>();
  const submit = () => {
    let units: bigint;
    try {
      units = parseUsd(text);
    } catch (e) {
      setProblem((e as Error).message);
      return;
    }
    setProblem(undefined);
    onAmount(units);
  };
  return (
    <>
      <div className="row">
        <input
          value={text}
          onChange={(e) => setText(e.target.value)}
          inputMode="decimal"
          aria-label={`${label}: amount in USD`}
          data-testid={`${id}-amount`}
        />
        <button
          type="button"
          className={primary ? "primary" : ""}
          disabled={disabled}
          data-testid={`${id}-submit`}
          onClick={submit}
        >
          {label}
        </button>
      </div>
      {problem && <p className="error" role="alert">{problem}</p>}
    </>
  );
}

/**
 * The payments this page makes (payments, payments on, cooperative exits), each watched live:
 * what this browser saw of its certification — each validator's certificate with its attestation,
 * the QC — then its settlement as the backend reports it; and the card that shows one.
 *
 * @module
 */
import { createContext, useCallback, useContext, useMemo, useState } from "react";
import { type Address, bytesToHex } from "viem";
import type { CertifiedOrder, PaymentReceipt } from "@allegro/client";
import type { Account } from "./accounts.ts";
import { ErrorBox } from "./error_box.tsx";
import type { RejectLike } from "./errors.ts";
import { short, title, usd } from "./format.ts";
import { chainTimeNow, type LiveFeed, useLive } from "./live.ts";
import { pay } from "./payer.ts";
import { hasQc, laterStage, type Stage, StageBadge } from "./stage.tsx";
import { TxDetails } from "./tx_details.tsx";
import { type Certification, useTxView } from "./tx_view.ts";

/** A payment made from this page. */
export interface Attempt {
  readonly id: number;
  readonly from: Account;
  readonly to: Address;
  /** The recipient in words. */
  readonly toName: string;
  readonly amount: bigint;
  /** A cooperative exit: paid to the payer's own wallet. */
  readonly exit: boolean;
  /** Whom the received payment it spends came from, and that payment's `tx_hash`. */
  readonly parentFrom?: string;
  readonly parentTxHash?: string;
  readonly phase: "sending" | "certified" | "failed";
  /** When it was sent (this browser's clock). */
  readonly sentAt: number;
  readonly txHash?: string;
  /** What this browser saw of its certification, on its clock. */
  readonly certification: Certification;
  readonly error?: unknown;
  /** A warning from the wallet (a lane rebuilt from the boards). */
  readonly warning?: string;
}

/** What to pay, as the forms and the scenario ask for it. */
export interface PaymentRequest {
  readonly from: Account;
  readonly to: Address;
  readonly toName: string;
  readonly amount: bigint;
  readonly exit?: boolean;
  readonly parent?: { readonly certified: CertifiedOrder; readonly fromName: string };
}

/** The payments of this page and how to make one. */
export interface Payments {
  /** Newest first. */
  readonly attempts: readonly Attempt[];
  /**
   * Pays `request` (its card appears at once) and resolves with the receipt once the QC verified
   * here; rejects as `pay` does. `onId` learns the card's id before anything is sent.
   */
  send(request: PaymentRequest, onId?: (id: number) => void): Promise<PaymentReceipt>;
}

const MAX_ATTEMPTS = 12;
let nextId = 1;

/** The page's payments, paid with what `feed` knows when one is sent (committee, setup, heads). */
export function usePaymentsState(feed: LiveFeed): Payments {
  const [attempts, setAttempts] = useState<readonly Attempt[]>([]);

  const send = useCallback(async (request: PaymentRequest, onId?: (id: number) => void) => {
    const { committee, config, heads } = feed.getState();
    if (!committee || !config) throw new Error("the committee is not loaded yet");
    const now = Date.now();
    const id = nextId++;
    const update = (change: (a: Attempt) => Attempt) =>
      setAttempts((all) => all.map((a) => (a.id === id ? change(a) : a)));
    const attempt: Attempt = {
      id,
      from: request.from,
      to: request.to,
      toName: request.toName,
      amount: request.amount,
      exit: request.exit ?? false,
      ...(request.parent
        ? { parentFrom: request.parent.fromName, parentTxHash: request.parent.certified.txHash }
        : {}),
      phase: "sending",
      sentAt: now,
      certification: {
        clock: "local",
        arrivals: new Map(),
        attestations: new Map(),
        rejects: new Map(),
      },
    };
    setAttempts((all) => [attempt, ...all].slice(0, MAX_ATTEMPTS));
    onId?.(id);
    const certified = (change: (c: Certification) => Partial<Certification>) =>
      update((a) => ({ ...a, certification: { ...a.certification, ...change(a.certification) } }));
    try {
      const receipt = await pay(
        {
          committee,
          config,
          chainSkewMillis: (chainTimeNow(heads, now) ?? now) - now,
          onWarning: (warning) => update((a) => ({ ...a, warning })),
        },
        request.from,
        {
          to: request.to,
          amount: request.amount,
          ...(request.exit ? { exit: true } : {}),
          ...(request.parent ? { parent: request.parent.certified } : {}),
          onCertificate: (validator, certificate) => {
            const at = Date.now();
            update((a) => ({ ...a, txHash: a.txHash ?? bytesToHex(certificate.txHash) }));
            certified((c) => ({
              arrivals: new Map(c.arrivals).set(validator.name, at),
              attestations: new Map(c.attestations).set(validator.name, {
                hex: bytesToHex(certificate.attestation),
                check: { state: "verified" },
              }),
            }));
          },
          onReject: (r) =>
            certified((c) => ({
              rejects: new Map<string, RejectLike>(c.rejects).set(r.validator.name, r),
            })),
        },
      );
      update((a) => {
        // The QC formed when the last certificate it was assembled from arrived.
        const atMillis = Math.max(
          ...receipt.certificates.map((c) => a.certification.arrivals.get(c.validator.name) ?? 0),
        );
        return {
          ...a,
          phase: "certified",
          txHash: receipt.txHash,
          certification: {
            ...a.certification,
            qc: {
              hash: bytesToHex(receipt.qc.qcHash),
              count: receipt.qc.certificates.length,
              atMillis,
              check: { state: "verified" },
            },
          },
        };
      });
      return receipt;
    } catch (error) {
      const txHash = (error as { txHash?: unknown }).txHash;
      update((a) => ({
        ...a,
        phase: "failed",
        error,
        ...(txHash instanceof Uint8Array && !a.txHash ? { txHash: bytesToHex(txHash) } : {}),
      }));
      throw error;
    }
  }, [feed]);

  return useMemo(() => ({ attempts, send }), [attempts, send]);
}

/** The page's payments. */
export const PaymentsContext = createContext<Payments | null>(null);

/** The page's payments (inside `<PaymentsContext>`). */
export function usePayments(): Payments {
  const payments = useContext(PaymentsContext);
  if (!payments) throw new Error("usePayments outside <PaymentsContext>");
  return payments;
}

const LOCAL_STAGE: Record<Attempt["phase"], Stage> = {
  sending: "SENT",
  certified: "CERTIFIED",
  failed: "NOT_CERTIFIED",
};

/** One payment of this page: its badge, certificates, QC, settlement and stages. */
export function PaymentCard(
  { attempt: a, onLookup }: { attempt: Attempt; onLookup: (txHash: string) => void },
) {
  // The backend learns of the payment once its QC is handed over: ask it after its first event.
  const known = useLive().txs.has(a.txHash ?? "");
  const view = useTxView(known ? a.txHash : undefined);
  // One stage for the badge and the stage line: the backend's once it is further on.
  const stage = laterStage(LOCAL_STAGE[a.phase], view.stage);
  return (
    <article
      className={`card payment ${a.phase}`}
      data-testid="payment"
      data-id={a.id}
      data-state={a.phase}
      data-tx={a.txHash}
    >
      <header>
        <h3>
          {usd(a.amount)} USD <span className="muted">·</span> {title(a.from.name)} →{" "}
          {a.exit ? `${title(a.from.name)}'s wallet (exit)` : a.toName}
        </h3>
        <StageBadge stage={stage} />
      </header>
      {a.parentFrom && (
        <p className="small muted" data-testid="payment-parent">
          Paid on: cites the payment from {title(a.parentFrom)}{" "}
          (with its QC, verified here) as parent, so the money received pays for this one even
          before that payment settles.
        </p>
      )}
      {a.txHash && (
        <p className="small">
          tx_hash <code title={a.txHash}>{short(a.txHash, 8)}</code>{" "}
          <button type="button" className="link" onClick={() => onLookup(a.txHash!)}>
            look up
          </button>
        </p>
      )}
      {a.warning && <p className="warn small">{a.warning}</p>}
      {a.error !== undefined && !hasQc(stage) && <ErrorBox error={a.error} />}
      <TxDetails view={view} certification={a.certification} stage={stage} sentAt={a.sentAt} />
    </article>
  );
}

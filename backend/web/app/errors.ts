/**
 * Failures in words a person understands: which validator refused and why, a backend that does
 * not answer, a quorum that cannot be reached.
 *
 * @module
 */
import { AllegroError } from "@allegro/client";
import { ApiError, BackendUnreachable, type RejectJson, type SubmissionJson } from "./api.ts";
import { title } from "./format.ts";

/** A failure as the UI shows it: a headline, what happened in words, the raw messages. */
export interface Explained {
  readonly title: string;
  readonly lines: readonly string[];
  /** What the validators said, verbatim (for the curious). */
  readonly details?: readonly string[];
}

const REFUSALS: Record<string, string> = {
  INSUFFICIENT_FUNDS: "not enough money for the amount plus the fee",
  EQUIVOCATION: "it already signed another payment with this nonce",
  NONCE_SEQ_TOO_LOW: "this nonce was already used",
  NONCE_SEQ_TOO_HIGH: "an earlier payment of this account is missing",
  EXPIRED: "the payment has expired",
  INVALID_PARENT_QC: "the received payment it spends is invalid or already spent",
  MISSING_PARENT_QC: "it does not know the received payment this spends",
  WRONG_CHAIN: "the payment is for another chain",
  NOT_PAYMENT_TX: "this is not a plain token payment",
  INVALID_FORMAT: "the payment is malformed",
  TEMPORARY_UNAVAILABLE: "it is not ready yet (its view of the chain is catching up)",
};

/** What one validator answered, in words, without its name (its own message: `r.message`). */
export function rejectReason(r: RejectJson): string {
  if (r.kind === "unreachable") return "did not answer (down or too slow)";
  if (r.kind === "invalid") return "answered with a certificate that does not verify";
  return `refused: ${REFUSALS[r.code] ?? r.code}`;
}

/** One validator's answer in words: `Dave refused: not enough money…`. */
function rejectWords(r: RejectJson): string {
  return `${title(r.validator)} ${rejectReason(r)}.`;
}

const HEADLINES: Record<string, string> = {
  INSUFFICIENT_FUNDS: "Not enough money",
  EQUIVOCATION: "Nonce conflict: this account now uses a fresh nonce lane, pay again",
  NONCE_SEQ_TOO_LOW: "Nonce conflict: this account now uses a fresh nonce lane, pay again",
  NONCE_SEQ_TOO_HIGH: "Nonce conflict: this account now uses a fresh nonce lane, pay again",
  INVALID_PARENT_QC: "This received payment cannot be spent (already spent, or its QC is invalid)",
  MISSING_PARENT_QC: "The received payment this spends is unknown",
  EXPIRED: "The payment expired before it was certified",
};

/** Explains anything a payment, a lookup or a fetch can throw. */
export function explain(e: unknown): Explained {
  if (e instanceof BackendUnreachable) {
    return {
      title: "The Allegro backend is not answering",
      lines: [
        "Is the local network (deno task net) still running? The page reconnects by itself.",
      ],
    };
  }
  if (e instanceof ApiError) {
    const submission = e.details as SubmissionJson | undefined;
    if (submission?.rejects) {
      const lines = submission.rejects.map(rejectWords);
      const details = submission.rejects.map((r) =>
        `${title(r.validator)}: ${r.code} — ${r.message}`
      );
      if (e.status === 503) {
        const failed = submission.rejects.length;
        return {
          title:
            `Quorum unreachable: ${submission.validators - failed} of ${submission.validators} ` +
            `validators can sign, ${submission.threshold} are needed`,
          lines: [
            ...lines,
            "No QC formed, so the payment cannot settle yet. It can be sent again once enough validators are up.",
          ],
          details,
        };
      }
      return { title: HEADLINES[e.code] ?? "The validators refused the payment", lines, details };
    }
    if (e.status === 404) return { title: "Not found", lines: [e.message] };
    return { title: HEADLINES[e.code] ?? `The backend refused: ${e.code}`, lines: [e.message] };
  }
  if (e instanceof AllegroError && e.code === "INVALID_PARENT_QC") {
    return { title: "The quorum certificate does not verify in your browser", lines: [e.message] };
  }
  if (e instanceof AllegroError) {
    return { title: "The payment could not be built", lines: [e.message] };
  }
  return { title: "Something went wrong", lines: [(e as Error)?.message ?? String(e)] };
}

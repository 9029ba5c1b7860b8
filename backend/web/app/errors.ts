/**
 * Failures in words a person understands: which validator refused and why, a quorum that cannot
 * be reached, a lane held by an earlier order, a backend or a chain that does not answer.
 *
 * @module
 */
import { AllegroError, PaymentError, revertReason } from "@allegro/client";
import { ApiError, BackendUnreachable } from "./api.ts";
import { clock, title } from "./format.ts";
import { LaneBlocked } from "./payer.ts";

/** A failure as the UI shows it: a headline, what happened in words, the raw messages. */
export interface Explained {
  readonly title: string;
  readonly lines: readonly string[];
  /** What the validators said, verbatim (for the curious). */
  readonly details?: readonly string[];
}

const REFUSALS: Record<string, string> = {
  INSUFFICIENT_FUNDS: "the vault balance does not cover it",
  EQUIVOCATION: "it already certified another order of this account at this seq",
  NONCE_SEQ_TOO_LOW: "this seq of the account is already used",
  NONCE_SEQ_TOO_HIGH: "an earlier order of this account is missing",
  EXPIRED: "the order's validity is outside what it accepts",
  INVALID_PARENT_QC: "the received payment it spends is invalid, expired or already spent",
  MISSING_PARENT_QC: "it does not know the received payment this spends",
  WRONG_CHAIN: "the order is for another chain or vault",
  NOT_PAYMENT_TX: "it does not pay that token or that recipient",
  INVALID_FORMAT: "the order is malformed",
  TEMPORARY_UNAVAILABLE: "it is not ready (its view of the chain is catching up)",
};

/** A validator's refusal or failure, from the backend's record or the client's fan-out. */
export interface RejectLike {
  readonly code: string;
  readonly message: string;
  readonly kind: "rejected" | "unreachable" | "invalid";
}

/** What one validator answered, in words, without its name (its own message: `r.message`). */
export function rejectReason(r: RejectLike): string {
  if (r.kind === "unreachable") return "did not answer (down or too slow)";
  if (r.kind === "invalid") return "answered with a certificate that does not verify";
  return `refused: ${REFUSALS[r.code] ?? r.code}`;
}

const HEADLINES: Record<string, string> = {
  INSUFFICIENT_FUNDS: "Not enough money in the vault: deposit first",
  EQUIVOCATION: "Another order holds this seq (was the account used elsewhere?)",
  NONCE_SEQ_TOO_LOW: "Another order holds this seq (was the account used elsewhere?)",
  NONCE_SEQ_TOO_HIGH: "An earlier order of this account is missing",
  INVALID_PARENT_QC: "The received payment cannot be spent (already spent, expired, or invalid)",
  MISSING_PARENT_QC: "The received payment this spends is unknown",
  EXPIRED: "The order's validity was refused",
  WRONG_CHAIN: "The order is for another chain",
};

/** Why no QC formed for `e`'s order: refused for good, or a quorum out of reach. */
function noQc(e: PaymentError, n: number, threshold: number): Explained {
  const lines = e.rejects.map((r) => `${title(r.validator.name)} ${rejectReason(r)}.`);
  const details = e.rejects.map((r) => `${title(r.validator.name)}: ${r.code} — ${r.message}`);
  const final = e.rejects.filter((r) =>
    r.kind === "rejected" && r.code !== "TEMPORARY_UNAVAILABLE"
  );
  if (final.length > n - threshold) {
    return { title: HEADLINES[e.code] ?? "The validators refused the order", lines, details };
  }
  return {
    title: `Quorum unreachable: ${
      n - e.rejects.length
    } of ${n} validators can sign, ${threshold} are needed`,
    lines: [
      ...lines,
      "No QC formed, so nothing can settle. The order stays in the wallet and is sent again first by the next payment, once enough validators are up.",
    ],
    details,
  };
}

/**
 * Explains anything a payment, a vault transaction, a look-up or a fetch can throw; `committee`
 * sizes a payment's quorum.
 */
export function explain(e: unknown, committee?: { n: number; threshold: number }): Explained {
  if (e instanceof BackendUnreachable) {
    return {
      title: "The Allegro backend is not answering",
      lines: [
        "Is the local network (./denow task net) still running? The page reconnects by itself.",
      ],
    };
  }
  if (e instanceof LaneBlocked) {
    const o = e.order.signed.order;
    const why = explain(e.reason, committee);
    return {
      title: `An earlier order of this account (seq ${o.seq}) still has no QC`,
      lines: [
        `It was sent again first and got none: ${why.title}.`,
        ...why.lines,
        "The wallet never signs a second order for a seq. Once that order expires (valid until " +
        `${
          clock(Number(o.validBefore))
        }) it is sent again to confirm its seq, which moves no money; pay again then.`,
      ],
      ...(why.details ? { details: why.details } : {}),
    };
  }
  if (e instanceof PaymentError && committee) return noQc(e, committee.n, committee.threshold);
  if (e instanceof ApiError) {
    if (e.status === 404) return { title: "Not found", lines: [e.message] };
    return { title: `The backend refused: ${e.code}`, lines: [e.message] };
  }
  if (e instanceof AllegroError && e.code === "INVALID_PARENT_QC") {
    return { title: "The certified order does not verify in this browser", lines: [e.message] };
  }
  if (e instanceof AllegroError) {
    return { title: "The payment could not be completed", lines: [e.message] };
  }
  return { title: "Something went wrong", lines: [revertReason(e)] };
}

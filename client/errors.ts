/**
 * The one error type of Allegro: every rejected submission, malformed input or failed
 * verification is an {@linkcode AllegroError} carrying a {@linkcode RejectCode}.
 *
 * @module
 */

/** Reject codes of SPEC §5, in validation order; names match the `allegro.v1.RejectCode` enum. */
export const REJECT_CODES = [
  "INVALID_FORMAT",
  "WRONG_CHAIN",
  "NOT_PAYMENT_TX",
  "EQUIVOCATION",
  "EXPIRED",
  "NONCE_SEQ_TOO_LOW",
  "NONCE_SEQ_TOO_HIGH",
  "MISSING_PARENT_QC",
  "INVALID_PARENT_QC",
  "INSUFFICIENT_FUNDS",
  "TEMPORARY_UNAVAILABLE",
] as const;

/** Why a submission was refused, or why a certificate or QC did not verify. */
export type RejectCode = typeof REJECT_CODES[number];

/**
 * Error with a reject code, a short message naming the field and values involved, and optional
 * structured details.
 *
 * @example
 * ```ts
 * import { AllegroError } from "@allegro/client";
 *
 * const err = new AllegroError("WRONG_CHAIN", "chainId 1 does not match the sidecar's 1337", {
 *   field: "chainId",
 * });
 * console.log(err.code, err.retryable); // WRONG_CHAIN false
 * ```
 */
export class AllegroError extends Error {
  /** The reject code. */
  readonly code: RejectCode;
  /** Structured context (field names, values); never needed to understand the message. */
  readonly details: Readonly<Record<string, unknown>>;

  /** An error with `code`, a `message` naming the field and values, and optional `details`. */
  constructor(code: RejectCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "AllegroError";
    this.code = code;
    this.details = details;
  }

  /** Only `TEMPORARY_UNAVAILABLE` may succeed when retried unchanged. */
  get retryable(): boolean {
    return this.code === "TEMPORARY_UNAVAILABLE";
  }
}

/**
 * Whether `value` is one of the {@linkcode REJECT_CODES}.
 *
 * @example
 * ```ts
 * import { isRejectCode } from "@allegro/client";
 *
 * isRejectCode("EXPIRED"); // true
 * isRejectCode("NOPE"); // false
 * ```
 */
export function isRejectCode(value: unknown): value is RejectCode {
  return (REJECT_CODES as readonly unknown[]).includes(value);
}

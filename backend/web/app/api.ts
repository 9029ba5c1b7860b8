/**
 * The backend's REST API as the web UI uses it (same origin, `/api/v1`): JSON shapes and calls
 * that fail with an {@linkcode ApiError} (the backend answered with an error) or a
 * {@linkcode BackendUnreachable} (it did not answer at all).
 *
 * @module
 */

/** A chain head (`GET /chain/head`, SSE `head`). */
export interface HeadJson {
  readonly height: string;
  readonly hash: string;
  readonly timestamp_unix_millis: string;
  readonly received_unix_millis: string;
}

/** One validator's health. */
export interface ValidatorJson {
  readonly name: string;
  readonly pubkey: string;
  readonly endpoint: string;
  readonly up: boolean;
  readonly status: "up" | "unready" | "down" | "unknown";
  readonly latency_ms: number | null;
  readonly head: { readonly height: string } | null;
  readonly error: string | null;
}

/** `GET /validators`: the committee and its health. */
export interface ValidatorsJson {
  readonly chain_id: string;
  readonly epoch: string;
  readonly threshold: number;
  readonly validators: readonly ValidatorJson[];
}

/** A certificate inside a QC. */
export interface QcCertificateJson {
  readonly signer: string;
  readonly tx_hash: string;
  readonly effects_hash: string;
  readonly signature: string;
  readonly created_unix_millis: string;
}

/** A validator's certificate of a payment, as the backend received it. */
export interface CertificateJson extends QcCertificateJson {
  readonly validator: string;
  readonly received_unix_millis: string;
}

/** A validator's refusal or failure. */
export interface RejectJson {
  readonly validator: string;
  readonly code: string;
  readonly message: string;
  readonly kind: "rejected" | "unreachable" | "invalid";
}

/** A quorum certificate. */
export interface QcJson {
  readonly tx_hash: string;
  readonly effects_hash: string;
  readonly threshold: number;
  readonly certificates: readonly QcCertificateJson[];
  readonly qc_hash: string;
}

/** The answer to `POST /payments` (also `error.details` of its 422 and 503 answers). */
export interface SubmissionJson {
  readonly tx_hash: string;
  readonly stage: string | null;
  readonly outcome: "certified" | "rejected" | "unavailable";
  readonly threshold: number;
  readonly validators: number;
  readonly certificates: readonly CertificateJson[];
  readonly rejects: readonly RejectJson[];
  readonly qc: QcJson | null;
}

/** `GET /tx/{hash}`: everything the backend knows of a payment. */
export interface TxJson {
  readonly tx_hash: string;
  readonly stage: string;
  readonly payment: {
    readonly sender: string;
    readonly recipient: string;
    readonly amount: string;
    readonly asset: string;
    readonly nonce_seq: string;
    readonly valid_before_unix_millis: string;
  };
  readonly signed_tx: string;
  readonly parent_qc_hash: string | null;
  readonly certificates: readonly CertificateJson[];
  readonly rejects: readonly RejectJson[];
  readonly qc: QcJson | null;
  readonly block: { readonly height: string; readonly hash: string } | null;
  readonly history: readonly {
    readonly stage: string;
    readonly at_unix_millis: string;
    readonly block_height?: string;
  }[];
}

/** A payment from or to an account. */
export interface PaymentSummaryJson {
  readonly tx_hash: string;
  readonly stage: string;
  readonly sender: string;
  readonly recipient: string;
  readonly amount: string;
  readonly direction: "in" | "out";
  readonly qc_hash: string | null;
  readonly first_seen_unix_millis: string;
}

/** `GET /accounts/{address}`. */
export interface AccountJson {
  readonly address: string;
  readonly tokens: readonly {
    readonly token: string;
    readonly symbol: string | null;
    readonly balance: string;
    readonly pending_debit: string;
    readonly pending_credit: string;
    readonly available: string;
  }[];
  readonly recent: readonly PaymentSummaryJson[];
}

/** An account of a local dev network, key included (`GET /demo/accounts`). */
export interface DemoAccountJson {
  readonly name: string;
  readonly address: string;
  readonly private_key: string;
}

/** The body of `POST /payments`. */
export interface PaymentRequestJson {
  readonly signed_tx: string;
  readonly parent_qc_hash?: string;
  readonly parent?: {
    readonly qc: QcJson;
    readonly signed_tx: string;
    readonly parent_qc_hash?: string;
  };
}

/** The backend answered with an error. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The error code, e.g. `INSUFFICIENT_FUNDS`. */
  readonly code: string;
  /** `error.details` (the full submission for a payment that got no QC). */
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The backend did not answer (down, restarting, or the network is gone). */
export class BackendUnreachable extends Error {
  constructor(cause: unknown) {
    super(`the backend did not answer: ${(cause as Error)?.message ?? cause}`);
    this.name = "BackendUnreachable";
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new BackendUnreachable(e);
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = body?.error;
    throw new ApiError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? response.statusText,
      error?.details,
    );
  }
  return body as T;
}

/** The REST calls the UI makes. */
export const api = {
  head: () => call<HeadJson>("/chain/head"),
  validators: () => call<ValidatorsJson>("/validators"),
  account: (address: string, token: string) =>
    call<AccountJson>(`/accounts/${address}?token=${token}`),
  tx: (txHash: string) => call<TxJson>(`/tx/${txHash}`),
  demoAccounts: () => call<{ accounts: DemoAccountJson[] }>("/demo/accounts"),
  submit: (body: PaymentRequestJson) =>
    call<SubmissionJson>("/payments", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
};

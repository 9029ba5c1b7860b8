/**
 * The backend's REST API as the web UI reads it (same origin, `/api/v1`, see `backend/README.md`):
 * its JSON shapes and calls that fail with an {@linkcode ApiError} (the backend answered with an
 * error) or a {@linkcode BackendUnreachable} (it did not answer at all).
 *
 * @module
 */

/** A chain head (`GET /chain/head`, SSE `head`). */
export interface HeadJson {
  readonly height: string;
  readonly hash: string;
  /** Chain time: the block's timestamp · 1000. */
  readonly timestamp_unix_millis: string;
  /** When the backend processed it (its clock): the block boundary as it saw it. */
  readonly received_unix_millis: string;
}

/** One validator's health. */
export interface ValidatorJson {
  readonly name: string;
  readonly pubkey: string;
  readonly endpoint: string;
  readonly settlement_address: string;
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
  readonly vault: string;
  readonly threshold: number;
  readonly validators: readonly ValidatorJson[];
}

/** `GET /config`: what the backend tells the UI of its setup. */
export interface ConfigJson {
  readonly chain_id: string;
  readonly vault: string;
  /** Where the browser sends the account's own transactions (deposit, forced exit); or none. */
  readonly public_rpc_url: string | null;
  readonly block_interval_ms: number;
  readonly confirmations: number;
  /** The vault's W (ms) and forced-exit delay (s). */
  readonly max_validity_ms: string;
  readonly exit_delay_seconds: string;
  /** The account that settles each QC the backend forms, if any. */
  readonly settler: string | null;
}

/** A payment order (SPEC §4): u64 values as decimal strings, bytes as `0x` hex. */
export interface OrderJson {
  readonly chain_id: string;
  readonly vault: string;
  readonly payer: string;
  readonly recipient: string;
  readonly token: string;
  readonly amount: string;
  readonly fee: string;
  readonly seq: string;
  readonly valid_before: string;
  readonly parent: string;
  readonly exit: boolean;
  readonly memo: string;
}

/** An order with its payer's signature. */
export interface SignedOrderJson {
  readonly order: OrderJson;
  readonly signature: string;
}

/** A validator's certificate: Ed25519 signature and secp256k1 settlement attestation. */
export interface CertificateJson {
  readonly signer: string;
  readonly tx_hash: string;
  readonly effects_hash: string;
  readonly signature: string;
  readonly attestation: string;
  readonly created_unix_millis: string;
  readonly epoch: string;
}

/** A quorum certificate. */
export interface QcJson {
  readonly tx_hash: string;
  readonly effects_hash: string;
  readonly threshold: number;
  readonly epoch: string;
  readonly qc_hash: string;
  readonly certificates: readonly CertificateJson[];
}

/** An order with its QC (`GET /qc/{tx_hash}`): what a recipient cites as parent. */
export interface CertifiedOrderJson {
  readonly tx_hash: string;
  readonly order: SignedOrderJson;
  readonly qc: QcJson;
}

/** A certificate as the backend received it. */
export interface RecordCertificateJson extends CertificateJson {
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

/** One stage change of a payment. */
export interface HistoryJson {
  readonly stage: string;
  readonly at_unix_millis: string;
  readonly block_height: string | null;
}

/** `GET /tx/{tx_hash}`: everything the backend knows of a payment. */
export interface TxJson {
  readonly tx_hash: string;
  readonly stage: string;
  readonly order: SignedOrderJson;
  readonly certificates: readonly RecordCertificateJson[];
  readonly rejects: readonly RejectJson[];
  readonly qc: QcJson | null;
  readonly block_height: string | null;
  readonly settlement: { readonly tx_hash: string; readonly gas_used: string | null } | null;
  readonly failure: string | null;
  readonly history: readonly HistoryJson[];
  readonly source: "submission" | "board";
}

/** A payment from or to an account. */
export interface AccountPaymentJson {
  readonly tx_hash: string;
  readonly stage: string;
  readonly direction: "in" | "out";
  readonly order: OrderJson;
}

/** An account in one token. */
export interface AccountTokenJson {
  readonly token: string;
  readonly symbol: string | null;
  readonly wallet_balance: string;
  readonly vault_balance: string;
  readonly pending_in: string;
  readonly pending_out: string;
  readonly exit: { readonly amount: string; readonly ready_at_unix_seconds: string } | null;
}

/** `GET /accounts/{address}`. */
export interface AccountJson {
  readonly address: string;
  readonly block_height: string | null;
  readonly tokens: readonly AccountTokenJson[];
  readonly pending: readonly AccountPaymentJson[];
  readonly recent: readonly AccountPaymentJson[];
}

/** An account of a local dev network, key included (`GET /demo/accounts`). */
export interface DemoAccountJson {
  readonly name: string;
  readonly address: string;
  readonly private_key: string;
}

/** The backend answered with an error. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The error code, e.g. `NOT_FOUND`. */
  readonly code: string;

  /** An error answer of `status`. */
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The backend did not answer (down, restarting, or the network is gone). */
export class BackendUnreachable extends Error {
  /** Wraps what `fetch` threw. */
  constructor(cause: unknown) {
    super(`the backend did not answer: ${(cause as Error)?.message ?? cause}`);
    this.name = "BackendUnreachable";
  }
}

async function call<T>(path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { signal: AbortSignal.timeout(15_000) });
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
    );
  }
  return body as T;
}

/** The REST calls the UI makes. */
export const api = {
  head: (): Promise<HeadJson> => call("/chain/head"),
  validators: (): Promise<ValidatorsJson> => call("/validators"),
  config: (): Promise<ConfigJson> => call("/config"),
  account: (address: string, token: string): Promise<AccountJson> =>
    call(`/accounts/${address}?token=${token}`),
  tx: (txHash: string): Promise<TxJson> => call(`/tx/${txHash}`),
  qc: (txHash: string): Promise<CertifiedOrderJson> => call(`/qc/${txHash}`),
  demoAccounts: (): Promise<{ accounts: DemoAccountJson[] }> => call("/demo/accounts"),
};

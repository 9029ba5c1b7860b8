/**
 * The OpenAPI 3.1 document of the REST API, served at `/api/v1/openapi.json`. It passes
 * Redocly's `recommended` rules (`openapi_test.ts` lints it): every operation has an
 * `operationId`, a summary and its 4xx answers; every schema lists what is `required`; every
 * event of the SSE stream, `ready` included, has a schema of its own.
 *
 * @module
 */
import { REJECT_CODES } from "@allegro/client";
import { STAGES } from "./record.ts";

type Schema = Record<string, unknown>;

const hex = (description: string, bytes?: number): Schema => ({
  type: "string",
  pattern: bytes ? `^0x[0-9a-fA-F]{${bytes * 2}}$` : "^0x([0-9a-fA-F]{2})*$",
  description,
});
const address = (description: string) => hex(description, 20);
const u64 = (description: string): Schema => ({
  type: "string",
  pattern: "^[0-9]{1,20}$",
  description,
});
const text = (description: string): Schema => ({ type: "string", description });
const nullable = (schema: Schema): Schema => ({ oneOf: [schema, { type: "null" }] });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const object = (
  description: string,
  properties: Record<string, Schema>,
  optional: readonly string[] = [],
): Schema => ({
  type: "object",
  description,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  properties,
});
const json = (schema: Schema) => ({ "application/json": { schema } });
const answer = (description: string, name: string) => ({ description, content: json(ref(name)) });
const error = (description: string) => answer(description, "Error");

const txHashParam = {
  name: "tx_hash",
  in: "path",
  required: true,
  description: "The payment's tx_hash (SPEC §4), 32 bytes of 0x hex.",
  schema: hex("tx_hash", 32),
};
const badTxHash = error("INVALID_ARGUMENT: tx_hash is not 32 bytes of 0x hex.");
const clientError = error("A client error; error.code says which.");

/** An SSE frame: its `event` name, its `id` and its JSON `data`. */
const sseEvent = (name: string, description: string, data: string, id = true): Schema =>
  object(description, {
    event: { type: "string", const: name, description: "The SSE `event:` line." },
    ...(id ? { id: text("The SSE `id:` line: a decimal event number, for Last-Event-ID.") } : {}),
    data: { ...ref(data), description: "The SSE `data:` line, JSON." },
  });

const schemas: Record<string, Schema> = {
  Error: object("An error answer.", {
    error: object("What went wrong.", {
      code: text("A reject code (SPEC §7) or an HTTP-level code such as INVALID_JSON."),
      message: text("Names the field and the value involved."),
      details: { ...ref("Submission"), description: "For 422 and 503 answers to a payment." },
    }, ["details"]),
  }),
  PaymentOrder: object("A payment order (SPEC §4), the EIP-712 `Payment` its payer signs.", {
    chain_id: u64("Chain id of the EIP-712 domain."),
    vault: address("The vault: the EIP-712 verifyingContract."),
    payer: address("Who pays; signs the order."),
    recipient: address("Who is paid."),
    token: address("A TIP-20 token (0x20c0…)."),
    amount: u64("Base units of the token; > 0."),
    fee: u64("Paid to whoever settles the order; default 0."),
    seq: u64("Numbers the payer's orders in this token from 0."),
    valid_before: u64("Unix milliseconds; the vault settles the order only before it."),
    parent: hex("tx_hash of the payment funding this one, or zero (default).", 32),
    exit: {
      type: "boolean",
      description: "Pay the recipient's wallet instead of its vault balance.",
    },
    memo: hex("Free 32 bytes; default zero.", 32),
  }, ["fee", "parent", "exit", "memo"]),
  SignedOrder: object("An order with its payer's signature.", {
    order: ref("PaymentOrder"),
    signature: hex("secp256k1 r || s || v over the EIP-712 digest, canonical.", 65),
  }),
  Certificate: object("A validator's certificate of an order (SPEC §4).", {
    signer: hex("The validator id: its Ed25519 public key.", 32),
    tx_hash: hex("The order's tx_hash.", 32),
    effects_hash: hex("The order's effects_hash.", 32),
    signature: hex("Ed25519 over cert_digest.", 64),
    attestation: hex("secp256k1 over cert_digest by the validator's settlement key.", 65),
    created_unix_millis: u64("When the validator signed."),
    epoch: u64("The committee epoch."),
  }),
  QuorumCertificate: object("A QC: threshold certificates of distinct validators.", {
    tx_hash: hex("The order's tx_hash.", 32),
    effects_hash: hex("The order's effects_hash.", 32),
    threshold: { type: "integer", minimum: 1, description: "The committee's threshold." },
    epoch: u64("The committee epoch."),
    qc_hash: hex("qc_hash (SPEC §4).", 32),
    certificates: { type: "array", items: ref("Certificate"), description: "The certificates." },
  }),
  CertifiedOrder: object("An order with its QC: what a recipient cites as parent.", {
    tx_hash: hex("The order's tx_hash (ignored in requests).", 32),
    order: ref("SignedOrder"),
    qc: ref("QuorumCertificate"),
  }, ["tx_hash"]),
  PaymentRequest: object("The JSON form of SubmitFastPayRequest.", {
    order: ref("SignedOrder"),
    lane_qcs: {
      type: "array",
      maxItems: 32,
      items: ref("CertifiedOrder"),
      description: "QCs of the payer's earlier orders in the lane that a sidecar may lack.",
    },
    parent: {
      ...ref("CertifiedOrder"),
      description: "The parent with its QC, when order.parent is set.",
    },
    client_request_id: { type: "string", maxLength: 128, description: "Only logged." },
  }, ["lane_qcs", "parent", "client_request_id"]),
  Stage: { type: "string", enum: [...STAGES], description: "A lifecycle stage (SPEC §7)." },
  RecordCertificate: {
    description: "A verified certificate and which validator gave it when.",
    allOf: [
      ref("Certificate"),
      object("Where it came from.", {
        validator: text("The validator's name."),
        received_unix_millis: u64("When the backend received it."),
      }),
    ],
  },
  Reject: object("A validator that refused, did not answer, or answered wrongly.", {
    validator: text("The validator's name."),
    signer: hex("Its validator id.", 32),
    code: { type: "string", enum: [...REJECT_CODES], description: "The reject code." },
    message: text("Its reason."),
    kind: {
      type: "string",
      enum: ["rejected", "unreachable", "invalid"],
      description:
        "rejected: it refused; unreachable: no answer in time; invalid: an answer that does not verify.",
    },
    at_unix_millis: u64("When."),
  }),
  Submission: object("What a payment's fan-out collected.", {
    tx_hash: hex("The order's tx_hash.", 32),
    effects_hash: hex("The order's effects_hash.", 32),
    stage: nullable(ref("Stage")),
    outcome: {
      type: "string",
      enum: ["certified", "confirmed", "rejected", "unavailable"],
      description:
        "certified: a settleable QC; confirmed: a confirmation QC (the order was past valid_before); rejected: no QC can form; unavailable: not yet.",
    },
    replayed: { type: "boolean", description: "Answered from the store, no fan-out." },
    threshold: { type: "integer", description: "Certificates a QC needs." },
    validators: { type: "integer", description: "Validators in the committee." },
    certificates: { type: "array", items: ref("RecordCertificate"), description: "Verified." },
    rejects: { type: "array", items: ref("Reject"), description: "Refusals and failures." },
    qc: nullable(ref("QuorumCertificate")),
  }),
  TxStatus: object("Everything the backend knows about a payment.", {
    tx_hash: hex("The order's tx_hash.", 32),
    effects_hash: hex("The order's effects_hash.", 32),
    stage: ref("Stage"),
    order: ref("SignedOrder"),
    certificates: { type: "array", items: ref("RecordCertificate"), description: "Verified." },
    rejects: { type: "array", items: ref("Reject"), description: "Refusals and failures." },
    qc: nullable(ref("QuorumCertificate")),
    block_height: nullable(u64("The block whose Settled event carries this tx_hash.")),
    settlement: nullable(object("The settlement transaction.", {
      tx_hash: hex("Its hash.", 32),
      gas_used: nullable(u64("Gas it used, when this backend sent it.")),
    })),
    failure: nullable(text("Why settlement failed (FAILED).")),
    timestamps: object("When stages were reached (unix ms).", {
      first_seen: u64("First seen."),
      certified: nullable(u64("QC formed.")),
      queued_onchain: nullable(u64("Settlement sent.")),
      included: nullable(u64("Settled.")),
      finalized: nullable(u64("Final.")),
    }),
    history: {
      type: "array",
      description: "Stage changes, oldest first (the last 32).",
      items: object("One change.", {
        stage: ref("Stage"),
        at_unix_millis: u64("When."),
        block_height: nullable(u64("The block, for INCLUDED and FINALIZED.")),
      }),
    },
    source: {
      type: "string",
      enum: ["submission", "board"],
      description: "A submission to this backend (which settles it) or a sidecar's board.",
    },
  }),
  ChainHead: object("The last vault block the backend processed.", {
    height: u64("Block number."),
    hash: hex("Block hash.", 32),
    timestamp_unix_millis: u64("Chain time: block timestamp · 1000."),
    header_unix_millis: u64("The header's time with its millisecond part."),
    received_unix_millis: u64("When the backend processed it."),
  }),
  Validator: object("A committee member and its sidecar's health.", {
    name: text("Its name."),
    pubkey: hex("Its validator id.", 32),
    endpoint: text("Its sidecar's URL."),
    settlement_address: address("Its settlement key's address."),
    up: { type: "boolean", description: "Answered the last probe with a chain head." },
    status: {
      type: "string",
      enum: ["up", "unready", "down", "unknown"],
      description: "unready: answered but has no chain view; down: no answer in time.",
    },
    latency_ms: nullable({ type: "number", description: "Round trip of the last probe." }),
    head: nullable(object("The sidecar's chain head.", {
      height: u64("Block number."),
      hash: hex("Block hash.", 32),
      timestamp_unix_millis: u64("Chain time."),
    })),
    checked_unix_millis: nullable(u64("When it was last probed.")),
    error: nullable(text("Why the last probe failed.")),
  }),
  Validators: object("The committee and its health.", {
    chain_id: u64("Chain id."),
    epoch: u64("Committee epoch."),
    vault: address("The vault."),
    threshold: { type: "integer", description: "Certificates a QC needs." },
    validators: { type: "array", items: ref("Validator"), description: "In committee order." },
  }),
  PendingPayment: object("A payment of the account.", {
    tx_hash: hex("Its tx_hash.", 32),
    stage: ref("Stage"),
    direction: { type: "string", enum: ["in", "out"], description: "out: the account pays." },
    order: ref("PaymentOrder"),
  }),
  Account: object("An account's balances and pending payments.", {
    address: address("The account."),
    vault: address("The vault."),
    block_height: nullable(u64("The block the balances were read at.")),
    tokens: {
      type: "array",
      description: "One entry per token asked for.",
      items: object("The account in one token.", {
        token: address("The TIP-20 token."),
        symbol: nullable(text("The token's symbol(), when it has one.")),
        wallet_balance: u64("TIP-20 balance of the account's wallet."),
        vault_balance: u64("The account's balance in the vault."),
        pending_in: u64("Certified, unsettled payments to the account."),
        pending_out: u64("Certified, unsettled payments from it (amount + fee)."),
        exit: nullable(object("The pending forced exit.", {
          amount: u64("Requested amount."),
          ready_at_unix_seconds: u64("When exit() pays it."),
        })),
      }),
    },
    pending: { type: "array", items: ref("PendingPayment"), description: "Certified, unsettled." },
    recent: { type: "array", items: ref("PendingPayment"), description: "Newest first." },
  }),
  ClientConfig: object("What clients such as the web UI are told of this backend's setup.", {
    chain_id: u64("The committee's chain id."),
    vault: address("The vault."),
    public_rpc_url: nullable(text(
      "The chain's JSON-RPC URL as browsers reach it (--public-rpc-url): where a wallet sends its own deposits and exits. null: not configured.",
    )),
    block_interval_ms: { type: "integer", description: "The chain's block interval." },
    confirmations: {
      type: "integer",
      description: "INCLUDED in block N becomes FINALIZED at head N + this.",
    },
    max_validity_ms: u64("The vault's W: how far past chain time an order's valid_before may lie."),
    exit_delay_seconds: u64(
      "The vault's forced-exit delay: exit() pays this long after requestExit.",
    ),
    settler: nullable(address("The account that settles each QC this backend forms at once.")),
  }),
  DemoAccounts: object("Demo accounts of a local dev network, with their keys.", {
    note: text("A warning."),
    accounts: {
      type: "array",
      description: "The accounts.",
      items: object("One account.", {
        name: text("Its name."),
        address: address("Its address."),
        private_key: hex("Its key: local dev networks only.", 32),
      }),
    },
  }),
  ReadyEventData: object("The stream is open.", {
    last_event_id: { type: "integer", description: "The last event emitted before it opened." },
  }),
  HeadEventData: object("A new vault block was processed.", {
    type: { type: "string", const: "head", description: "Event type." },
    height: u64("Block number."),
    hash: hex("Block hash.", 32),
    timestamp_unix_millis: u64("Chain time."),
    received_unix_millis: u64("When the backend processed it."),
  }),
  CertificateEventData: object("A verified certificate arrived.", {
    type: { type: "string", const: "certificate", description: "Event type." },
    tx_hash: hex("The payment.", 32),
    validator: text("The validator's name."),
    signer: hex("Its validator id.", 32),
    created_unix_millis: u64("When it signed."),
    received_unix_millis: u64("When the backend received it."),
    payer: address("Payer, lowercase."),
    recipient: address("Recipient, lowercase."),
  }),
  StageEventData: object("A payment changed stage.", {
    type: { type: "string", const: "stage", description: "Event type." },
    tx_hash: hex("The payment.", 32),
    stage: ref("Stage"),
    previous: nullable(ref("Stage")),
    at_unix_millis: u64("When."),
    block_height: u64("For INCLUDED and FINALIZED."),
    qc_hash: hex("For CERTIFIED and CONFIRMED.", 32),
    failure: text("For FAILED."),
    payer: address("Payer, lowercase."),
    recipient: address("Recipient, lowercase."),
  }, ["block_height", "qc_hash", "failure"]),
  ValidatorEventData: object("A validator's status changed.", {
    type: { type: "string", const: "validator", description: "Event type." },
    name: text("The validator's name."),
    up: { type: "boolean", description: "Answered with a head." },
    status: { type: "string", enum: ["up", "unready", "down", "unknown"], description: "Status." },
    latency_ms: nullable({ type: "number", description: "Round trip." }),
    head_height: nullable(u64("Its head.")),
  }),
  ReadyEvent: sseEvent("ready", "First frame of every stream.", "ReadyEventData", false),
  HeadEvent: sseEvent("head", "A head.", "HeadEventData"),
  CertificateEvent: sseEvent("certificate", "A certificate.", "CertificateEventData"),
  StageEvent: sseEvent("stage", "A stage change.", "StageEventData"),
  ValidatorEvent: sseEvent("validator", "A validator status change.", "ValidatorEventData"),
};

/** The document (a plain JSON value). */
export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "Allegro backend",
    version: "2.0.0",
    description:
      'The aggregator of Allegro, FastPay-style preconfirmations for Tempo: it fans payment orders out to the validators\' sidecars, assembles and settles QCs, and follows them on the vault. Bytes are 0x hex, u64 values decimal strings; errors are {"error":{"code","message"}} with an HTTP status. The same service speaks Connect (allegro.v1.FastPayAggregator) on this origin.',
    license: { name: "MIT", identifier: "MIT" },
  },
  servers: [{ url: "/api/v1", description: "This backend." }],
  security: [],
  tags: [
    { name: "payments", description: "Submitting and following payments." },
    { name: "chain", description: "The chain, the committee and accounts." },
    { name: "meta", description: "The document itself, and local dev networks." },
  ],
  paths: {
    "/payments": {
      post: {
        operationId: "submitPayment",
        tags: ["payments"],
        summary: "Submit a signed payment order",
        description:
          "Fans the order out to every sidecar and answers once its outcome is decided. Idempotent: the same order gives the same tx_hash and, once formed, the same QC. The backend settles every QC it forms at once.",
        requestBody: { required: true, content: json(ref("PaymentRequest")) },
        responses: {
          "200": answer("A QC (settleable, or a confirmation QC).", "Submission"),
          "400": error(
            "INVALID_JSON, or INVALID_FORMAT: a malformed field, value or signature.",
          ),
          "413": error("PAYLOAD_TOO_LARGE: the body is over the size limit."),
          "415": error("UNSUPPORTED_MEDIA_TYPE: the body is not application/json."),
          "422": error(
            "The order cannot be certified: refused by the backend (WRONG_CHAIN, MISSING_PARENT_QC, INVALID_PARENT_QC) or by so many validators that no QC can form (their most common code; error.details is the Submission).",
          ),
          "503": error(
            "TEMPORARY_UNAVAILABLE: no QC yet, validators unreachable or not ready; retry (Retry-After; error.details is the Submission).",
          ),
        },
      },
    },
    "/tx/{tx_hash}": {
      get: {
        operationId: "getTx",
        tags: ["payments"],
        summary: "A payment's lifecycle",
        parameters: [txHashParam],
        responses: {
          "200": answer("The payment.", "TxStatus"),
          "400": badTxHash,
          "404": error("NOT_FOUND: unknown to this backend."),
        },
      },
    },
    "/qc/{tx_hash}": {
      get: {
        operationId: "getQc",
        tags: ["payments"],
        summary: "A payment's order and verified QC",
        parameters: [txHashParam],
        responses: {
          "200": answer("The certified order.", "CertifiedOrder"),
          "400": badTxHash,
          "404": error("NOT_FOUND: unknown, or no QC yet."),
        },
      },
    },
    "/events": {
      get: {
        operationId: "streamEvents",
        tags: ["payments"],
        summary: "Server-sent events: heads, certificates, stages, validators",
        description:
          "The first frame is `ready`. Every other event has an increasing id; reconnect with Last-Event-ID (or last_event_id) to resume from the last 4096 events.",
        parameters: [
          {
            name: "types",
            in: "query",
            required: false,
            description: "Comma-separated subset of head, certificate, stage, validator.",
            schema: { type: "string" },
          },
          {
            name: "tx_hash",
            in: "query",
            required: false,
            description: "Only certificate and stage events of this payment.",
            schema: hex("tx_hash", 32),
          },
          {
            name: "address",
            in: "query",
            required: false,
            description: "Only certificate and stage events paying from or to this address.",
            schema: address("An address."),
          },
          {
            name: "last_event_id",
            in: "query",
            required: false,
            description: "Resume after this event (as the Last-Event-ID header).",
            schema: { type: "string", pattern: "^[0-9]{1,15}$" },
          },
        ],
        responses: {
          "200": {
            description: "An event stream.",
            content: {
              "text/event-stream": {
                schema: {
                  oneOf: [
                    ref("ReadyEvent"),
                    ref("HeadEvent"),
                    ref("CertificateEvent"),
                    ref("StageEvent"),
                    ref("ValidatorEvent"),
                  ],
                },
              },
            },
          },
          "400": error("INVALID_ARGUMENT: an unknown type or a malformed filter."),
          "503": error("TOO_MANY_STREAMS: retry later."),
        },
      },
    },
    "/chain/head": {
      get: {
        operationId: "getChainHead",
        tags: ["chain"],
        summary: "The last vault block processed",
        responses: {
          "200": answer("The head.", "ChainHead"),
          "4XX": clientError,
          "503": error("TEMPORARY_UNAVAILABLE: no block processed yet."),
        },
      },
    },
    "/validators": {
      get: {
        operationId: "getValidators",
        tags: ["chain"],
        summary: "The committee and each validator's status",
        responses: {
          "200": answer("The committee.", "Validators"),
          "4XX": clientError,
        },
      },
    },
    "/accounts/{address}": {
      get: {
        operationId: "getAccount",
        tags: ["chain"],
        summary: "Wallet and vault balances, pending payments and exits of an account",
        parameters: [
          {
            name: "address",
            in: "path",
            required: true,
            description: "The account.",
            schema: address("An address."),
          },
          {
            name: "token",
            in: "query",
            required: false,
            description: "TIP-20 tokens (repeat or comma-separate, at most 16).",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": answer("The account.", "Account"),
          "400": error("INVALID_ARGUMENT: a malformed address or token."),
          "503": error("TEMPORARY_UNAVAILABLE: the chain could not be read."),
        },
      },
    },
    "/config": {
      get: {
        operationId: "getConfig",
        tags: ["meta"],
        summary: "This backend's setup as clients need it (the chain's public RPC URL)",
        responses: {
          "200": answer("The setup.", "ClientConfig"),
          "4XX": clientError,
        },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "getOpenApi",
        tags: ["meta"],
        summary: "This document",
        responses: {
          "200": {
            description: "The OpenAPI 3.1 document.",
            content: json({ type: "object", description: "OpenAPI 3.1." }),
          },
          "4XX": clientError,
        },
      },
    },
    "/demo/accounts": {
      get: {
        operationId: "getDemoAccounts",
        tags: ["meta"],
        summary: "Funded accounts with their keys (local dev networks only)",
        responses: {
          "200": answer("The accounts.", "DemoAccounts"),
          "404": error("NOT_FOUND: not a local dev network."),
        },
      },
    },
  },
  components: { schemas },
};

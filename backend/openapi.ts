/**
 * The OpenAPI 3.1 document of the REST API, served at `/api/v1/openapi.json`.
 *
 * @module
 */
import { REJECT_CODES } from "@allegro/client";
import { STAGES } from "./record.ts";

const hex = (description: string, bytes?: number) => ({
  type: "string",
  pattern: bytes ? `^0x[0-9a-fA-F]{${bytes * 2}}$` : "^0x([0-9a-fA-F]{2})*$",
  description,
});
const u64 = (description: string) => ({ type: "string", pattern: "^[0-9]+$", description });
const nullable = (schema: Record<string, unknown>) => ({ oneOf: [schema, { type: "null" }] });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Record<string, unknown>) => ({ "application/json": { schema } });
const error = (description: string) => ({ description, content: json(ref("Error")) });

const txHashParam = {
  name: "tx_hash",
  in: "path",
  required: true,
  schema: hex("Allegro tx_hash (SPEC §4)", 32),
};

/** The document (a plain JSON value). */
export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "Allegro backend",
    version: "0.1.0",
    description:
      'Pre-block payment certificates for Tempo (FastPay). Bytes are 0x hex, u64 values decimal strings. Errors are {"error":{"code","message"}} with an HTTP status; see backend/README.md for the status mapping.',
  },
  servers: [{ url: "/" }],
  paths: {
    "/api/v1/payments": {
      post: {
        summary: "Submit a payment: fan out to every sidecar and return certificates and the QC",
        description:
          "Idempotent: the same signed transaction and parent give the same tx_hash and, once formed, the same QC. A client_request_id is bound to one tx per sender; reusing it for another tx is a 409.",
        requestBody: { required: true, content: json(ref("PaymentRequest")) },
        responses: {
          "200": {
            description: "A QC was formed (or was already)",
            content: json(ref("Submission")),
          },
          "400": error(
            "Malformed JSON, fields, or transaction bytes (INVALID_JSON, INVALID_REQUEST, INVALID_FORMAT)",
          ),
          "409": error(
            "IDEMPOTENCY_CONFLICT: client_request_id already used for another transaction",
          ),
          "413": error("PAYLOAD_TOO_LARGE: body over the size limit"),
          "422": error(
            "The payment cannot be certified: the backend refuses it (WRONG_CHAIN, NOT_PAYMENT_TX, MISSING_PARENT_QC, INVALID_PARENT_QC) or so many validators rejected it for good that no QC can form (the most common code; error.details is the Submission)",
          ),
          "503": error(
            "TEMPORARY_UNAVAILABLE: no QC yet because validators are unreachable or not ready; retry (error.details is the Submission; Retry-After header)",
          ),
        },
      },
    },
    "/api/v1/tx/{tx_hash}": {
      get: {
        summary: "Lifecycle of a payment",
        parameters: [txHashParam],
        responses: {
          "200": { description: "Status", content: json(ref("TxStatus")) },
          "400": error("INVALID_REQUEST: tx_hash is not 32 bytes of hex"),
          "404": error("NOT_FOUND: unknown to this backend"),
        },
      },
    },
    "/api/v1/qc/{tx_hash}": {
      get: {
        summary: "The verified QC of a payment",
        parameters: [txHashParam],
        responses: {
          "200": { description: "QC", content: json(ref("QuorumCertificate")) },
          "400": error("INVALID_REQUEST"),
          "404": error("NOT_FOUND: no QC for this tx (yet)"),
        },
      },
    },
    "/api/v1/chain/head": {
      get: {
        summary: "The chain head as the backend follows it",
        responses: {
          "200": { description: "Head", content: json(ref("ChainHead")) },
          "503": error("TEMPORARY_UNAVAILABLE: the chain has not answered recently"),
        },
      },
    },
    "/api/v1/validators": {
      get: {
        summary: "Committee and the health of each validator's sidecar",
        responses: { "200": { description: "Validators", content: json(ref("Validators")) } },
      },
    },
    "/api/v1/accounts/{address}": {
      get: {
        summary: "Chain balances and pending (certified, not yet included) amounts of an account",
        parameters: [
          { name: "address", in: "path", required: true, schema: hex("account", 20) },
          {
            name: "token",
            in: "query",
            required: false,
            description:
              "TIP-20 token(s), repeatable or comma-separated (default: the configured tokens)",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": { description: "Account", content: json(ref("Account")) },
          "400": error("INVALID_REQUEST: not an address / token"),
          "503": error("TEMPORARY_UNAVAILABLE: balances could not be read from the chain"),
        },
      },
    },
    "/api/v1/events": {
      get: {
        summary: "Server-sent events: head, certificate, stage, validator",
        description:
          "Each event has an id (resume with the Last-Event-ID header or ?last_event_id) and a JSON data line; its `event` field is the type. Certificates are verified before they are announced; stage events of one tx come in lifecycle order.",
        parameters: [
          {
            name: "types",
            in: "query",
            schema: { type: "string" },
            description: "comma-separated subset of head,certificate,stage,validator",
          },
          {
            name: "tx_hash",
            in: "query",
            schema: hex("only this tx's certificate/stage events", 32),
          },
          {
            name: "address",
            in: "query",
            schema: hex("only events of payments from/to this address", 20),
          },
          { name: "last_event_id", in: "query", schema: { type: "string" } },
        ],
        responses: {
          "200": {
            description: "An event stream",
            content: {
              "text/event-stream": {
                schema: {
                  oneOf: [
                    ref("HeadEvent"),
                    ref("CertificateEvent"),
                    ref("StageEvent"),
                    ref("ValidatorEvent"),
                  ],
                },
              },
            },
          },
          "400": error("INVALID_REQUEST: a bad filter"),
          "503": error("TOO_MANY_STREAMS: the stream limit is reached"),
        },
      },
    },
    "/api/v1/demo/accounts": {
      get: {
        summary: "Named, funded accounts WITH PRIVATE KEYS of a local development network",
        description:
          "Served only when the backend runs with --demo-accounts, which only the local network launcher (deno task net, deno task demo --keep-running) sets: the web UI offers these accounts to pick from.",
        responses: {
          "200": { description: "Accounts", content: json(ref("DemoAccounts")) },
          "404": error("NOT_FOUND: this backend has no demo accounts"),
        },
      },
    },
    "/api/v1/openapi.json": {
      get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } },
    },
  },
  components: {
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["code", "message"],
            properties: {
              code: { type: "string" },
              message: { type: "string" },
              details: ref("Submission"),
            },
          },
        },
      },
      PaymentRequest: {
        type: "object",
        required: ["signed_tx"],
        properties: {
          signed_tx: hex("the signed type-0x76 Tempo transaction"),
          parent_qc_hash: hex("QC hash of the payment that funds this one (= the memo)", 32),
          parent: ref("ParentPayment"),
          client_request_id: { type: "string", maxLength: 128 },
        },
      },
      ParentPayment: {
        type: "object",
        description:
          "The parent's QC and signed tx; optional when this backend assembled that QC itself",
        required: ["qc", "signed_tx"],
        properties: {
          qc: ref("QuorumCertificate"),
          signed_tx: hex("the parent's signed transaction"),
          parent_qc_hash: hex("the parent's own parent_qc_hash", 32),
        },
      },
      Certificate: {
        type: "object",
        properties: {
          signer: hex("validator Ed25519 public key", 32),
          tx_hash: hex("tx_hash", 32),
          effects_hash: hex("effects_hash", 32),
          signature: hex("Ed25519 signature over cert_digest", 64),
          created_unix_millis: u64("when the validator signed"),
        },
      },
      ValidatorCertificate: {
        allOf: [ref("Certificate"), {
          type: "object",
          properties: {
            validator: { type: "string" },
            received_unix_millis: u64("when the backend received it"),
          },
        }],
      },
      Reject: {
        type: "object",
        properties: {
          validator: { type: "string" },
          signer: hex("validator public key", 32),
          code: { enum: REJECT_CODES },
          message: { type: "string" },
          kind: {
            enum: ["rejected", "unreachable", "invalid"],
            description:
              "rejected: the sidecar refused; unreachable: no answer in time; invalid: its certificate did not verify",
          },
          at_unix_millis: u64("when"),
        },
      },
      QuorumCertificate: {
        type: "object",
        properties: {
          tx_hash: hex("tx_hash", 32),
          effects_hash: hex("effects_hash", 32),
          threshold: { type: "integer" },
          certificates: { type: "array", items: ref("Certificate") },
          qc_hash: hex("qc_hash", 32),
        },
      },
      Submission: {
        type: "object",
        properties: {
          tx_hash: hex("tx_hash", 32),
          effects_hash: hex("effects_hash", 32),
          chain_tx_hash: nullable(hex("keccak256 of the signed tx", 32)),
          stage: nullable({ enum: STAGES }),
          outcome: { enum: ["certified", "rejected", "unavailable"] },
          replayed: { type: "boolean", description: "answered from the store, no fan-out" },
          threshold: { type: "integer" },
          validators: { type: "integer" },
          certificates: { type: "array", items: ref("ValidatorCertificate") },
          rejects: { type: "array", items: ref("Reject") },
          qc: nullable(ref("QuorumCertificate")),
        },
      },
      TxStatus: {
        type: "object",
        properties: {
          tx_hash: hex("tx_hash", 32),
          effects_hash: hex("effects_hash", 32),
          chain_tx_hash: hex("keccak256 of the signed tx", 32),
          stage: { enum: STAGES },
          payment: {
            type: "object",
            properties: {
              sender: hex("sender", 20),
              recipient: hex("recipient", 20),
              amount: u64("TIP-20 base units"),
              asset: hex("TIP-20 token", 20),
              fee_token: hex("fee token", 20),
              chain_id: u64("chain id"),
              nonce_key: hex("nonce key", 32),
              nonce_seq: u64("nonce"),
              valid_before_unix_millis: u64("expiry"),
              memo: nullable(hex("memo", 32)),
              gas: u64("gas limit"),
              max_fee_per_gas: u64("max fee per gas"),
            },
          },
          signed_tx: hex("signed transaction"),
          parent_qc_hash: nullable(hex("parent QC hash", 32)),
          certificates: { type: "array", items: ref("ValidatorCertificate") },
          rejects: { type: "array", items: ref("Reject") },
          qc: nullable(ref("QuorumCertificate")),
          block: nullable({
            type: "object",
            properties: { height: u64("block"), hash: hex("block hash", 32) },
          }),
          timestamps: {
            type: "object",
            description: "unix millis of each stage (null if not reached)",
            additionalProperties: nullable(u64("unix millis")),
          },
          history: {
            type: "array",
            items: {
              type: "object",
              properties: {
                stage: { enum: STAGES },
                at_unix_millis: u64("when"),
                block_height: u64("block"),
              },
            },
          },
          source: { enum: ["submission", "board"] },
        },
      },
      ChainHead: {
        type: "object",
        properties: {
          height: u64("block number"),
          hash: hex("block hash", 32),
          timestamp_unix_millis: u64("block time"),
          received_unix_millis: u64("when the backend saw it"),
        },
      },
      Validators: {
        type: "object",
        properties: {
          chain_id: u64("chain id"),
          epoch: u64("epoch"),
          threshold: { type: "integer" },
          validators: {
            type: "array",
            items: {
              type: "object",
              properties: {
                name: { type: "string" },
                pubkey: hex("Ed25519 public key", 32),
                endpoint: { type: "string" },
                up: { type: "boolean" },
                status: { enum: ["up", "unready", "down", "unknown"] },
                latency_ms: nullable({ type: "number" }),
                head: nullable(ref("ChainHead")),
                checked_unix_millis: nullable(u64("last probe")),
                last_up_unix_millis: nullable(u64("last successful probe")),
                error: nullable({ type: "string" }),
              },
            },
          },
        },
      },
      Account: {
        type: "object",
        properties: {
          address: hex("account", 20),
          head_height: nullable(u64("block of the balances")),
          tokens: {
            type: "array",
            items: {
              type: "object",
              properties: {
                token: hex("TIP-20 token", 20),
                balance: u64("chain balance"),
                pending_debit: u64("certified, not yet included payments from the account"),
                pending_credit: u64("certified, not yet included payments to the account"),
                available: { type: "string", description: "balance - debit + credit" },
              },
            },
          },
          pending: { type: "array", items: { type: "object" } },
          recent: { type: "array", items: { type: "object" } },
        },
      },
      DemoAccounts: {
        type: "object",
        required: ["accounts"],
        properties: {
          note: { type: "string" },
          accounts: {
            type: "array",
            items: {
              type: "object",
              required: ["name", "address", "private_key"],
              properties: {
                name: { type: "string" },
                address: hex("account", 20),
                private_key: hex("secp256k1 private key", 32),
              },
            },
          },
        },
      },
      HeadEvent: {
        type: "object",
        description:
          "event: head — height, hash, timestamp_unix_millis (block time), received_unix_millis (when the backend first saw it)",
      },
      CertificateEvent: { type: "object", description: "event: certificate (verified)" },
      StageEvent: { type: "object", description: "event: stage" },
      ValidatorEvent: { type: "object", description: "event: validator (up/down change)" },
    },
  },
} as const;

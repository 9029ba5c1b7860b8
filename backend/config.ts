/**
 * `backend run` settings: the option table (read by `@allegro/server/cli`: flags, the config
 * file, validation and `--help`) and the validated {@linkcode BackendConfig}.
 *
 * @module
 */
import { type Hex, isAddress } from "viem";
import {
  COMMITTEE_OPTION,
  CONFIG_OPTION,
  ConfigError,
  GRPC_LISTEN_OPTION,
  optionsHelp,
  type OptionSpec,
  readOptions,
} from "@allegro/server/cli";

export { ConfigError };

/** Validated settings of a running backend. */
export interface BackendConfig {
  readonly listen: { hostname: string; port: number };
  readonly grpcListen?: { hostname: string; port: number };
  readonly committee: string;
  readonly kv: string;
  readonly rpcUrl: string;
  readonly sidecarTimeoutMillis: number;
  readonly healthIntervalMillis: number;
  readonly boardPollMillis: number;
  readonly chainPollMillis: number;
  readonly confirmations: number;
  readonly forward: boolean;
  readonly maxBodyBytes: number;
  readonly certCacheSize: number;
  readonly maxBoardEntries: number;
  readonly maxPage: number;
  readonly maxSseClients: number;
  readonly watchMaxMillis: number;
  readonly txTtlMillis: number;
  /** Allowed CORS origins; empty: no CORS headers. `["*"]` allows any origin. */
  readonly corsOrigins: readonly string[];
  /** Folder of the web UI's static files, served at `/`. */
  readonly webDir?: string;
  /** Demo accounts file (with private keys) served to the web UI; local dev networks only. */
  readonly demoAccounts?: string;
  /** Tokens `GET /api/v1/accounts/{address}` reports when no `?token=` is given. */
  readonly tokens: readonly Hex[];
}

/** pathUSD, AlphaUSD, BetaUSD and ThetaUSD: the TIP-20 tokens of a fresh Tempo chain. */
export const DEFAULT_TOKENS: readonly Hex[] = [0, 1, 2, 3].map((i) =>
  `0x20c000000000000000000000000000000000000${i}` as Hex
);

/** Every `backend run` option, in `--help` order. */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  CONFIG_OPTION,
  {
    flag: "listen",
    kind: "address",
    default: "127.0.0.1:8080",
    help: "HOST:PORT for REST, SSE, Connect, gRPC-Web, the web UI, /healthz and /metrics",
  },
  GRPC_LISTEN_OPTION,
  COMMITTEE_OPTION,
  {
    flag: "kv",
    kind: "string",
    required: true,
    help: "Deno KV database path for tx lifecycles (created if missing)",
  },
  {
    flag: "rpc-url",
    kind: "url",
    required: true,
    help: "Tempo JSON-RPC endpoint, http:// or ws://",
  },
  {
    flag: "sidecar-timeout-ms",
    kind: "int",
    default: "2000",
    min: 50,
    max: 120_000,
    help: "per-sidecar timeout of a submission and of a health probe",
  },
  {
    flag: "health-interval-ms",
    kind: "int",
    default: "1000",
    min: 50,
    max: 3_600_000,
    help: "pause between validator health probes",
  },
  {
    flag: "board-poll-ms",
    kind: "int",
    default: "1000",
    min: 0,
    max: 3_600_000,
    help: "pause between bulletin-board pulls from the sidecars (0: do not pull)",
  },
  {
    flag: "chain-poll-ms",
    kind: "int",
    default: "250",
    min: 10,
    max: 60_000,
    help: "how often the chain head is polled",
  },
  {
    flag: "confirmations",
    kind: "int",
    default: "2",
    min: 0,
    max: 1000,
    help: "INCLUDED in block N becomes FINALIZED at head N + this",
  },
  {
    flag: "forward",
    kind: "bool",
    default: "true",
    help: "send certified transactions to the chain too (eth_sendRawTransaction)",
  },
  {
    flag: "max-body-bytes",
    kind: "int",
    default: "65536",
    min: 1024,
    max: 16 << 20,
    help: "largest REST request body and Connect message",
  },
  {
    flag: "cert-cache-size",
    kind: "int",
    default: "100000",
    min: 16,
    max: 10_000_000,
    help: "verified certificates kept in memory (LRU)",
  },
  {
    flag: "max-board-entries",
    kind: "int",
    default: "1000000",
    min: 16,
    max: 100_000_000,
    help: "entries kept on the backend's bulletin board (oldest dropped first)",
  },
  {
    flag: "max-page",
    kind: "int",
    default: "1000",
    min: 1,
    max: 10_000,
    help: "most entries in one bulletin-board response",
  },
  {
    flag: "max-sse-clients",
    kind: "int",
    default: "256",
    min: 1,
    max: 100_000,
    help: "most open GET /api/v1/events streams and Watch* streams",
  },
  {
    flag: "watch-max-ms",
    kind: "int",
    default: "600000",
    min: 1000,
    max: 86_400_000,
    help: "longest life of one SSE or Watch* stream (clients reconnect)",
  },
  {
    flag: "tx-ttl-ms",
    kind: "int",
    default: "604800000",
    min: 60_000,
    max: 3650 * 86_400_000,
    help: "how long a settled (FINALIZED, EXPIRED, FAILED, REJECTED) tx stays in the store",
  },
  {
    flag: "cors-origin",
    kind: "list",
    default: "",
    help: "comma-separated origins allowed by CORS, or * (default: no CORS headers)",
  },
  { flag: "web-dir", kind: "string", help: "folder of the web UI's static files, served at /" },
  {
    flag: "demo-accounts",
    kind: "string",
    help:
      "JSON file of named accounts WITH PRIVATE KEYS served at /api/v1/demo/accounts (local dev networks only)",
  },
  {
    flag: "tokens",
    kind: "list",
    default: DEFAULT_TOKENS.join(","),
    hideDefault: true,
    help: "comma-separated TIP-20 tokens reported by GET /api/v1/accounts/{address}",
  },
];

/** The `--help` text of `backend run`. */
export function runHelp(): string {
  return optionsHelp("Usage: backend run [options]", RUN_OPTIONS);
}

/**
 * Reads `backend run` flags and the optional config file into a validated
 * {@linkcode BackendConfig}; throws {@linkcode ConfigError} naming the option.
 *
 * @example
 * ```ts
 * import { parseRunConfig } from "./config.ts";
 *
 * const config = await parseRunConfig([
 *   "--committee", "committee.json", "--kv", "backend.kv", "--rpc-url", "http://127.0.0.1:8545",
 * ]);
 * console.log(config.listen.port); // 8080
 * ```
 */
export async function parseRunConfig(args: readonly string[]): Promise<BackendConfig> {
  const o = await readOptions(args, RUN_OPTIONS, "backend run");
  const grpcListen = o.address("grpc-listen");
  const webDir = o.string("web-dir");
  const demoAccounts = o.string("demo-accounts");
  const tokens = o.list("tokens");
  for (const token of tokens) {
    if (!isAddress(token, { strict: false })) {
      throw new ConfigError(`--tokens must be addresses, got "${token}"`);
    }
  }
  const corsOrigins = o.list("cors-origin");
  for (const origin of corsOrigins) {
    if (origin !== "*" && !URL.canParse(origin)) {
      throw new ConfigError(
        `--cors-origin must be * or origins like http://host:port, got "${origin}"`,
      );
    }
  }
  return {
    listen: o.address("listen")!,
    ...(grpcListen ? { grpcListen } : {}),
    committee: o.string("committee")!,
    kv: o.string("kv")!,
    rpcUrl: o.url("rpc-url"),
    sidecarTimeoutMillis: o.int("sidecar-timeout-ms"),
    healthIntervalMillis: o.int("health-interval-ms"),
    boardPollMillis: o.int("board-poll-ms"),
    chainPollMillis: o.int("chain-poll-ms"),
    confirmations: o.int("confirmations"),
    forward: o.bool("forward"),
    maxBodyBytes: o.int("max-body-bytes"),
    certCacheSize: o.int("cert-cache-size"),
    maxBoardEntries: o.int("max-board-entries"),
    maxPage: o.int("max-page"),
    maxSseClients: o.int("max-sse-clients"),
    watchMaxMillis: o.int("watch-max-ms"),
    txTtlMillis: o.int("tx-ttl-ms"),
    corsOrigins,
    ...(webDir ? { webDir } : {}),
    ...(demoAccounts ? { demoAccounts } : {}),
    tokens: tokens.map((t) => t.toLowerCase() as Hex),
  };
}

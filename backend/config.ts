/**
 * `backend run` settings: the option table (read by `@allegro/server/cli`: flags, the config
 * file, validation and `--help`) and the validated {@linkcode BackendConfig}.
 *
 * @module
 */
import { type Address, getAddress } from "viem";
import { isTip20Address } from "@allegro/client";
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
  /** The chain's JSON-RPC URL as browsers reach it, told to the web UI (`GET /api/v1/config`). */
  readonly publicRpcUrl?: string;
  /** Account key file the backend settles with; none: it settles nothing. */
  readonly settlerKey?: string;
  readonly feeToken: Address;
  readonly blockIntervalMillis: number;
  readonly confirmations: number;
  readonly sidecarTimeoutMillis: number;
  readonly healthIntervalMillis: number;
  /** 0: the sidecars' boards are not pulled. */
  readonly boardPollMillis: number;
  readonly maxBodyBytes: number;
  readonly maxPage: number;
  readonly maxBoardEntries: number;
  readonly maxStreams: number;
  readonly watchMaxMillis: number;
  readonly recordTtlMillis: number;
  /** Allowed CORS origins; empty: no CORS headers. `["*"]` allows any origin. */
  readonly corsOrigins: readonly string[];
  /** Folder of the web UI's static files, served at `/`. */
  readonly webDir?: string;
  /** Demo accounts file (with private keys) served to the web UI; local dev networks only. */
  readonly demoAccounts?: string;
  /** Tokens `GET /api/v1/accounts/{address}` reports when no `?token=` is given. */
  readonly tokens: readonly Address[];
}

/** pathUSD, AlphaUSD, BetaUSD and ThetaUSD: the TIP-20 tokens of a fresh Tempo chain. */
export const DEFAULT_TOKENS: readonly Address[] = [0, 1, 2, 3].map((i) =>
  getAddress(`0x20c000000000000000000000000000000000000${i}`)
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
    help: "Deno KV database path for payment lifecycles (created if missing; one process per path)",
  },
  {
    flag: "rpc-url",
    kind: "url",
    required: true,
    protocols: ["http:", "https:"],
    help: "Tempo JSON-RPC endpoint (http or https)",
  },
  {
    flag: "public-rpc-url",
    kind: "url",
    protocols: ["http:", "https:"],
    help:
      "the chain's JSON-RPC URL as browsers reach it (http or https), told to the web UI for the account's own deposits and exits; none: the UI cannot send them",
  },
  {
    flag: "settler-key",
    kind: "string",
    help: "account key file that settles every QC the backend forms; none: no settling",
  },
  {
    flag: "fee-token",
    kind: "string",
    default: DEFAULT_TOKENS[0],
    help: "TIP-20 the settler pays fees in",
  },
  {
    flag: "block-interval-ms",
    kind: "int",
    default: "1000",
    min: 50,
    max: 600_000,
    help: "the chain's block interval: vault polling, staleness and settlement timing follow it",
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
    flag: "sidecar-timeout-ms",
    kind: "int",
    default: "2000",
    min: 50,
    max: 120_000,
    help: "per-sidecar timeout of a submission, a health probe and a board pull",
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
    help: "pause between pulls of the sidecars' bulletin boards (0: do not pull)",
  },
  {
    flag: "max-body-bytes",
    kind: "int",
    default: "1048576",
    min: 1024,
    max: 64 << 20,
    help: "largest REST request body and Connect message",
  },
  {
    flag: "max-page",
    kind: "int",
    default: "1000",
    min: 1,
    max: 10_000,
    help: "most entries in one GetBulletinBoard response",
  },
  {
    flag: "max-board-entries",
    kind: "int",
    default: "1000000",
    min: 16,
    max: 100_000_000,
    help: "entries kept on the backend's merged bulletin board (oldest dropped first)",
  },
  {
    flag: "max-streams",
    kind: "int",
    default: "256",
    min: 1,
    max: 100_000,
    help: "most open GET /api/v1/events, WatchTx and WatchHeads streams",
  },
  {
    flag: "watch-max-ms",
    kind: "int",
    default: "600000",
    min: 1000,
    max: 86_400_000,
    help: "longest life of one event stream (clients reconnect)",
  },
  {
    flag: "record-ttl-ms",
    kind: "int",
    default: "604800000",
    min: 60_000,
    max: 3650 * 86_400_000,
    help: "how long a payment's record stays in the store once nothing more can happen to it",
  },
  {
    flag: "cors-origins",
    kind: "list",
    default: "",
    help: "origins browsers may call from (comma-separated, * for any; default: none)",
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
    help:
      "TIP-20 tokens GET /api/v1/accounts/{address} reports [default: the four of a fresh chain]",
  },
];

/**
 * The `--help` text of `backend run`.
 *
 * @example
 * ```ts
 * import { runHelp } from "./config.ts";
 *
 * console.log(runHelp().startsWith("Usage: backend run [options]")); // true
 * ```
 */
export function runHelp(): string {
  return optionsHelp("Usage: backend run [options]", RUN_OPTIONS);
}

function tip20(flag: string, value: string): Address {
  if (!isTip20Address(value)) {
    throw new ConfigError(`--${flag} must be TIP-20 addresses (0x20c0…), got "${value}"`);
  }
  return getAddress(value);
}

/**
 * Reads `backend run` flags and the optional config file into a validated
 * {@linkcode BackendConfig}; throws {@linkcode ConfigError} naming the option and the value.
 *
 * @example
 * ```ts
 * import { parseRunConfig } from "./config.ts";
 *
 * const config = await parseRunConfig([
 *   "--committee", "committee.json", "--kv", "backend.kv", "--rpc-url", "http://127.0.0.1:8545",
 * ]);
 * console.log(config.listen.port, config.confirmations); // 8080 2
 * ```
 */
export async function parseRunConfig(args: readonly string[]): Promise<BackendConfig> {
  const o = await readOptions(args, RUN_OPTIONS, "backend run");
  const grpcListen = o.address("grpc-listen");
  const publicRpcUrl = o.string("public-rpc-url") ? o.url("public-rpc-url") : undefined;
  const settlerKey = o.string("settler-key");
  const webDir = o.string("web-dir");
  const demoAccounts = o.string("demo-accounts");
  const corsOrigins = o.list("cors-origins");
  for (const origin of corsOrigins) {
    if (origin !== "*" && !/^https?:\/\/[^/]+$/.test(origin)) {
      throw new ConfigError(
        `--cors-origins must be * or origins like http://host:port, got "${origin}"`,
      );
    }
  }
  return {
    listen: o.address("listen")!,
    ...(grpcListen ? { grpcListen } : {}),
    committee: o.string("committee")!,
    kv: o.string("kv")!,
    rpcUrl: o.url("rpc-url"),
    ...(publicRpcUrl ? { publicRpcUrl } : {}),
    ...(settlerKey ? { settlerKey } : {}),
    feeToken: tip20("fee-token", o.string("fee-token")!),
    blockIntervalMillis: o.int("block-interval-ms"),
    confirmations: o.int("confirmations"),
    sidecarTimeoutMillis: o.int("sidecar-timeout-ms"),
    healthIntervalMillis: o.int("health-interval-ms"),
    boardPollMillis: o.int("board-poll-ms"),
    maxBodyBytes: o.int("max-body-bytes"),
    maxPage: o.int("max-page"),
    maxBoardEntries: o.int("max-board-entries"),
    maxStreams: o.int("max-streams"),
    watchMaxMillis: o.int("watch-max-ms"),
    recordTtlMillis: o.int("record-ttl-ms"),
    corsOrigins,
    ...(webDir ? { webDir } : {}),
    ...(demoAccounts ? { demoAccounts } : {}),
    tokens: o.list("tokens").map((t) => tip20("tokens", t)),
  };
}

/**
 * `backend run` settings: one table of options drives flag parsing, the config file (a JSON
 * object with the same kebab-case keys; flags win), validation and `--help`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Hex, isAddress } from "viem";

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

type Kind = "string" | "address" | "url" | "int" | "bool" | "list";

interface Option {
  readonly flag: string;
  readonly kind: Kind;
  readonly help: string;
  readonly default?: string;
  readonly min?: number;
  readonly max?: number;
}

/** pathUSD, AlphaUSD, BetaUSD and ThetaUSD: the TIP-20 tokens of a fresh Tempo chain. */
export const DEFAULT_TOKENS: readonly Hex[] = [0, 1, 2, 3].map((i) =>
  `0x20c000000000000000000000000000000000000${i}` as Hex
);

/** Every `backend run` option, in `--help` order. */
export const RUN_OPTIONS: readonly Option[] = [
  { flag: "config", kind: "string", help: "JSON file with any of these options (flags win)" },
  {
    flag: "listen",
    kind: "address",
    default: "127.0.0.1:8080",
    help: "HOST:PORT for REST, SSE, Connect, gRPC-Web, the web UI, /healthz and /metrics",
  },
  { flag: "grpc-listen", kind: "address", help: "HOST:PORT for plain gRPC (HTTP/2), optional" },
  { flag: "committee", kind: "string", help: "committee JSON file (chain_id, epoch, validators)" },
  {
    flag: "kv",
    kind: "string",
    help: "Deno KV database path for tx lifecycles (created if missing)",
  },
  { flag: "rpc-url", kind: "url", help: "Tempo JSON-RPC endpoint, http:// or ws://" },
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
    help: "comma-separated TIP-20 tokens reported by GET /api/v1/accounts/{address}",
  },
];

const REQUIRED = ["committee", "kv", "rpc-url"];

/** Raised for a bad option; the message names the option and the value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The `--help` text of `backend run`. */
export function runHelp(): string {
  const lines = RUN_OPTIONS.map((o) => {
    const req = REQUIRED.includes(o.flag) ? " (required)" : "";
    const def = o.default !== undefined && o.default !== "" && o.flag !== "tokens"
      ? ` [default: ${o.default}]`
      : "";
    return `  --${o.flag.padEnd(20)} ${o.help}${req}${def}`;
  });
  return ["Usage: backend run [options]", "", "Options:", ...lines].join("\n");
}

function parseAddress(flag: string, value: string) {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`--${flag} must be HOST:PORT, got "${value}"`);
  return { hostname: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

function parseUrl(flag: string, value: string): string {
  if (!URL.canParse(value)) throw new ConfigError(`--${flag} must be a URL, got "${value}"`);
  return value;
}

function parseInt_(o: Option, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < (o.min ?? 0) || n > (o.max ?? Number.MAX_SAFE_INTEGER)) {
    throw new ConfigError(
      `--${o.flag} must be an integer in ${o.min ?? 0}…${o.max}, got "${value}"`,
    );
  }
  return n;
}

function parseBool(flag: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new ConfigError(`--${flag} must be true or false, got "${value}"`);
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
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: Object.fromEntries(RUN_OPTIONS.map((o) => [o.flag, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const flags = parsed.values as Record<string, string | undefined>;
  let file: Record<string, unknown> = {};
  if (flags.config !== undefined) {
    try {
      file = JSON.parse(await Deno.readTextFile(flags.config));
    } catch (e) {
      throw new ConfigError(`--config ${flags.config}: ${(e as Error).message}`);
    }
    if (typeof file !== "object" || file === null || Array.isArray(file)) {
      throw new ConfigError(`--config ${flags.config} must hold a JSON object`);
    }
    for (const key of Object.keys(file)) {
      if (!RUN_OPTIONS.some((o) => o.flag === key && key !== "config")) {
        throw new ConfigError(`--config ${flags.config}: unknown option "${key}"`);
      }
    }
  }
  const raw = (flag: string): string | undefined => {
    const fromFile = file[flag];
    const value = flags[flag] ??
      (Array.isArray(fromFile) ? fromFile.join(",") : fromFile?.toString());
    return value ?? RUN_OPTIONS.find((o) => o.flag === flag)?.default;
  };
  for (const flag of REQUIRED) {
    if (!raw(flag)) throw new ConfigError(`--${flag} is required (see backend run --help)`);
  }
  const int = (flag: string) => parseInt_(RUN_OPTIONS.find((o) => o.flag === flag)!, raw(flag)!);
  const list = (flag: string) => (raw(flag) ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const grpc = raw("grpc-listen");
  const webDir = raw("web-dir");
  const demoAccounts = raw("demo-accounts");
  const tokens = list("tokens");
  for (const token of tokens) {
    if (!isAddress(token, { strict: false })) {
      throw new ConfigError(`--tokens must be addresses, got "${token}"`);
    }
  }
  const corsOrigins = list("cors-origin");
  for (const origin of corsOrigins) {
    if (origin !== "*" && !URL.canParse(origin)) {
      throw new ConfigError(`--cors-origin must be * or origins like http://host:port`);
    }
  }
  return {
    listen: parseAddress("listen", raw("listen")!),
    ...(grpc ? { grpcListen: parseAddress("grpc-listen", grpc) } : {}),
    committee: raw("committee")!,
    kv: raw("kv")!,
    rpcUrl: parseUrl("rpc-url", raw("rpc-url")!),
    sidecarTimeoutMillis: int("sidecar-timeout-ms"),
    healthIntervalMillis: int("health-interval-ms"),
    boardPollMillis: int("board-poll-ms"),
    chainPollMillis: int("chain-poll-ms"),
    confirmations: int("confirmations"),
    forward: parseBool("forward", raw("forward")!),
    maxBodyBytes: int("max-body-bytes"),
    certCacheSize: int("cert-cache-size"),
    maxBoardEntries: int("max-board-entries"),
    maxPage: int("max-page"),
    maxSseClients: int("max-sse-clients"),
    watchMaxMillis: int("watch-max-ms"),
    txTtlMillis: int("tx-ttl-ms"),
    corsOrigins,
    ...(webDir ? { webDir } : {}),
    ...(demoAccounts ? { demoAccounts } : {}),
    tokens: tokens.map((t) => t.toLowerCase() as Hex),
  };
}

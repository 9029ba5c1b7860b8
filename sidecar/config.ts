/**
 * `sidecar run` settings: one table of options drives flag parsing, the config file (a JSON
 * object with the same kebab-case keys; flags win), validation and `--help`.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Validated settings of a running sidecar. */
export interface SidecarConfig {
  readonly name: string;
  readonly listen: { hostname: string; port: number };
  readonly grpcListen?: { hostname: string; port: number };
  readonly key: string;
  readonly committee: string;
  readonly kv: string;
  readonly rpcUrl: string;
  readonly peers: readonly string[];
  readonly gossipIntervalMillis: number;
  readonly expiryWindowMillis: bigint;
  readonly minValidityMillis: bigint;
  readonly minGas: bigint;
  readonly maxBodyBytes: number;
  readonly maxPage: number;
  readonly maxTrackedAccounts: number;
  readonly maxCachedEntries: number;
  readonly maxGossipPerSigner: number;
  readonly requestTtlMillis: number;
  readonly maxBatch: number;
  readonly staleAfterMillis: number;
}

type Kind = "string" | "address" | "url" | "urls" | "int";

interface Option {
  readonly flag: string;
  readonly kind: Kind;
  readonly help: string;
  readonly default?: string;
  readonly min?: number;
  readonly max?: number;
}

/** Every `sidecar run` option, in `--help` order. */
export const RUN_OPTIONS: readonly Option[] = [
  { flag: "config", kind: "string", help: "JSON file with any of these options (flags win)" },
  { flag: "name", kind: "string", help: "validator name, as in the committee file" },
  {
    flag: "listen",
    kind: "address",
    default: "127.0.0.1:7001",
    help: "HOST:PORT for Connect, gRPC-Web, /healthz and /metrics",
  },
  { flag: "grpc-listen", kind: "address", help: "HOST:PORT for plain gRPC (HTTP/2), optional" },
  { flag: "key", kind: "string", help: "key file written by `sidecar keygen` (mode 0600)" },
  { flag: "committee", kind: "string", help: "committee JSON file (chain_id, epoch, validators)" },
  { flag: "kv", kind: "string", help: "Deno KV database path (created if missing)" },
  { flag: "rpc-url", kind: "url", help: "Tempo JSON-RPC endpoint, ws:// (newHeads) or http://" },
  {
    flag: "peers",
    kind: "urls",
    default: "",
    help: "comma-separated sidecar URLs to gossip with (default: none)",
  },
  {
    flag: "gossip-interval-ms",
    kind: "int",
    default: "500",
    min: 10,
    max: 3_600_000,
    help: "pause between gossip rounds",
  },
  {
    flag: "expiry-window-ms",
    kind: "int",
    default: "3600000",
    min: 1000,
    max: 30 * 86_400_000,
    help: "how far past the head's time validBefore may be",
  },
  {
    flag: "min-validity-ms",
    kind: "int",
    default: "10000",
    min: 0,
    max: 3_600_000,
    help: "how far past the head's time validBefore must at least be",
  },
  {
    flag: "min-gas",
    kind: "int",
    default: "100000",
    min: 21000,
    max: 30_000_000,
    help: "least gas limit accepted (a payment uses up to ~95k)",
  },
  {
    flag: "max-body-bytes",
    kind: "int",
    default: "1048576",
    min: 1024,
    max: 64 << 20,
    help: "largest request message",
  },
  {
    flag: "max-page",
    kind: "int",
    default: "1000",
    min: 1,
    max: 10_000,
    help: "most certificates in one bulletin-board response",
  },
  {
    flag: "max-tracked-accounts",
    kind: "int",
    default: "100000",
    min: 1,
    max: 10_000_000,
    help: "most accounts whose balances are followed",
  },
  {
    flag: "max-cached-entries",
    default: "100000",
    kind: "int",
    min: 16,
    max: 100_000_000,
    help: "most locks, nonces, parents and request answers cached in memory, each",
  },
  {
    flag: "max-gossip-per-signer",
    kind: "int",
    default: "1000000",
    min: 0,
    max: 1_000_000_000,
    help: "most certificates kept from each other validator",
  },
  {
    flag: "request-ttl-ms",
    kind: "int",
    default: "86400000",
    min: 1000,
    max: 365 * 86_400_000,
    help: "how long client_request_id answers are kept",
  },
  {
    flag: "max-batch",
    kind: "int",
    default: "96",
    min: 1,
    max: 96,
    help: "most certifications per KV commit (fewer when Deno KV's per-commit limits bind)",
  },
  {
    flag: "stale-after-ms",
    kind: "int",
    default: "10000",
    min: 100,
    max: 3_600_000,
    help: "chain view is unavailable after this long without a new head",
  },
];

const REQUIRED = ["name", "key", "committee", "kv", "rpc-url"];

/** Raised for a bad option; the message names the option and the value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The `--help` text of `sidecar run`. */
export function runHelp(): string {
  const lines = RUN_OPTIONS.map((o) => {
    const req = REQUIRED.includes(o.flag) ? " (required)" : "";
    const def = o.default !== undefined && o.default !== "" ? ` [default: ${o.default}]` : "";
    return `  --${o.flag.padEnd(22)} ${o.help}${req}${def}`;
  });
  return ["Usage: sidecar run [options]", "", "Options:", ...lines].join("\n");
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

/**
 * Reads `sidecar run` flags and the optional config file into a validated
 * {@linkcode SidecarConfig}; throws {@linkcode ConfigError} naming the option.
 *
 * @example
 * ```ts
 * import { parseRunConfig } from "./config.ts";
 *
 * const config = await parseRunConfig([
 *   "--name", "dave", "--key", "dave.key", "--committee", "committee.json",
 *   "--kv", "dave.kv", "--rpc-url", "ws://127.0.0.1:8545",
 * ]);
 * console.log(config.listen.port); // 7001
 * ```
 */
export async function parseRunConfig(args: readonly string[]): Promise<SidecarConfig> {
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
    if (!raw(flag)) throw new ConfigError(`--${flag} is required (see sidecar run --help)`);
  }
  const int = (flag: string) => parseInt_(RUN_OPTIONS.find((o) => o.flag === flag)!, raw(flag)!);
  const grpc = raw("grpc-listen");
  const peers = raw("peers")!.split(",").map((p) => p.trim()).filter(Boolean);
  return {
    name: raw("name")!,
    listen: parseAddress("listen", raw("listen")!),
    ...(grpc ? { grpcListen: parseAddress("grpc-listen", grpc) } : {}),
    key: raw("key")!,
    committee: raw("committee")!,
    kv: raw("kv")!,
    rpcUrl: parseUrl("rpc-url", raw("rpc-url")!),
    peers: peers.map((p) => parseUrl("peers", p)),
    gossipIntervalMillis: int("gossip-interval-ms"),
    expiryWindowMillis: BigInt(int("expiry-window-ms")),
    minValidityMillis: BigInt(int("min-validity-ms")),
    minGas: BigInt(int("min-gas")),
    maxBodyBytes: int("max-body-bytes"),
    maxPage: int("max-page"),
    maxTrackedAccounts: int("max-tracked-accounts"),
    maxCachedEntries: int("max-cached-entries"),
    maxGossipPerSigner: int("max-gossip-per-signer"),
    requestTtlMillis: int("request-ttl-ms"),
    maxBatch: int("max-batch"),
    staleAfterMillis: int("stale-after-ms"),
  };
}

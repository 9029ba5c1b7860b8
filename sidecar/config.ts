/**
 * `sidecar run` settings: the option table (read by `@allegro/server/cli`: flags, the config
 * file, validation and `--help`) and the validated {@linkcode SidecarConfig}.
 *
 * @module
 */
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

/** Every `sidecar run` option, in `--help` order. */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  CONFIG_OPTION,
  {
    flag: "name",
    kind: "string",
    required: true,
    help: "validator name, as in the committee file",
  },
  {
    flag: "listen",
    kind: "address",
    default: "127.0.0.1:7001",
    help: "HOST:PORT for Connect, gRPC-Web, /healthz and /metrics",
  },
  GRPC_LISTEN_OPTION,
  {
    flag: "key",
    kind: "string",
    required: true,
    help: "key file written by `sidecar keygen` (mode 0600)",
  },
  COMMITTEE_OPTION,
  {
    flag: "kv",
    kind: "string",
    required: true,
    help: "Deno KV database path (created if missing)",
  },
  {
    flag: "rpc-url",
    kind: "url",
    required: true,
    help: "Tempo JSON-RPC endpoint, ws:// (newHeads) or http://",
  },
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

/** The `--help` text of `sidecar run`. */
export function runHelp(): string {
  return optionsHelp("Usage: sidecar run [options]", RUN_OPTIONS);
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
  const o = await readOptions(args, RUN_OPTIONS, "sidecar run");
  const grpcListen = o.address("grpc-listen");
  return {
    name: o.string("name")!,
    listen: o.address("listen")!,
    ...(grpcListen ? { grpcListen } : {}),
    key: o.string("key")!,
    committee: o.string("committee")!,
    kv: o.string("kv")!,
    rpcUrl: o.url("rpc-url"),
    peers: o.urls("peers"),
    gossipIntervalMillis: o.int("gossip-interval-ms"),
    expiryWindowMillis: BigInt(o.int("expiry-window-ms")),
    minValidityMillis: BigInt(o.int("min-validity-ms")),
    minGas: BigInt(o.int("min-gas")),
    maxBodyBytes: o.int("max-body-bytes"),
    maxPage: o.int("max-page"),
    maxTrackedAccounts: o.int("max-tracked-accounts"),
    maxCachedEntries: o.int("max-cached-entries"),
    maxGossipPerSigner: o.int("max-gossip-per-signer"),
    requestTtlMillis: o.int("request-ttl-ms"),
    maxBatch: o.int("max-batch"),
    staleAfterMillis: o.int("stale-after-ms"),
  };
}

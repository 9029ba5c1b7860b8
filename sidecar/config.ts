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
  readonly firstStart: boolean;
  readonly rpcUrl: string;
  readonly peers: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly blockIntervalMillis: number;
  /** S: a chain view whose newest header is older than this by the local clock is stale. */
  readonly staleAfterMillis: number;
  /** M: how far past chain time `validBefore` must lie. */
  readonly marginMillis: number;
  readonly settlerKey?: string;
  readonly feeToken: `0x${string}`;
  /** D: how long an order stays unsettled before this sidecar settles it. */
  readonly settleDelayMillis: number;
  readonly gossipIntervalMillis: number;
  readonly gossipWindow: number;
  readonly gossipPerSignerPerSecond: number;
  readonly maxUnsettledPerLane: number;
  readonly maxBodyBytes: number;
  readonly maxPage: number;
  readonly maxCachedLanes: number;
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
    help: "validator key file written by `sidecar keygen` (mode 0600)",
  },
  COMMITTEE_OPTION,
  {
    flag: "kv",
    kind: "string",
    required: true,
    help: "Deno KV database path (created if missing)",
  },
  {
    flag: "first-start",
    kind: "bool",
    default: "false",
    help: "declare that this key never signed: an empty store is then not a store loss",
  },
  {
    flag: "rpc-url",
    kind: "url",
    required: true,
    protocols: ["http:", "https:"],
    help: "Tempo JSON-RPC endpoint (http or https)",
  },
  { flag: "peers", kind: "urls", default: "", help: "comma-separated sidecar URLs to gossip with" },
  {
    flag: "cors-origins",
    kind: "list",
    default: "*",
    help: "origins browsers may call from (comma-separated, * for any, empty for none)",
  },
  {
    flag: "block-interval-ms",
    kind: "int",
    default: "1000",
    min: 50,
    max: 600_000,
    help: "the chain's block interval, the unit of the defaults below",
  },
  {
    flag: "stale-after-ms",
    kind: "int",
    min: 100,
    max: 3_600_000,
    help:
      "S: the chain view is stale once its newest header is this old [default: 3 block intervals + 1 s]",
  },
  {
    flag: "margin-ms",
    kind: "int",
    min: 100,
    max: 3_600_000,
    help:
      "M: validBefore must lie this far past chain time; > S + D + one block [default: S + D + 2 blocks]",
  },
  {
    flag: "settler-key",
    kind: "string",
    help: "account key file that sends settlements (not the settlement key); none: no settling",
  },
  {
    flag: "fee-token",
    kind: "string",
    default: "0x20c0000000000000000000000000000000000000",
    help: "TIP-20 the settler pays fees in",
  },
  {
    flag: "settle-delay-ms",
    kind: "int",
    min: 0,
    max: 3_600_000,
    help:
      "D: settle what is still unsettled this long after it was seen [default: 2 block intervals]",
  },
  {
    flag: "gossip-interval-ms",
    kind: "int",
    default: "250",
    min: 10,
    max: 3_600_000,
    help: "pause between gossip rounds",
  },
  {
    flag: "gossip-window",
    kind: "int",
    default: "16",
    min: 1,
    max: 4096,
    help: "seqs past a lane's applied prefix whose foreign certificates are kept as locks",
  },
  {
    flag: "gossip-per-signer",
    kind: "int",
    default: "500",
    min: 1,
    max: 1_000_000,
    help: "new entries taken from peers per foreign signer per second",
  },
  {
    flag: "max-unsettled-per-lane",
    kind: "int",
    default: "64",
    min: 1,
    max: 10_000,
    help: "orders one lane may have counting against its balance before new ones wait",
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
    help: "most entries in one bulletin-board response",
  },
  {
    flag: "max-cached-lanes",
    kind: "int",
    default: "100000",
    min: 16,
    max: 100_000_000,
    help:
      "most lanes, and most parent records, kept in memory (the rest are read from the store when needed)",
  },
];

/** The `--help` text of `sidecar run`. */
export function runHelp(): string {
  return optionsHelp("Usage: sidecar run [options]", RUN_OPTIONS);
}

/**
 * Reads `sidecar run` flags and the optional config file into a validated
 * {@linkcode SidecarConfig}; throws {@linkcode ConfigError} naming the option and the value.
 *
 * @example
 * ```ts
 * import { parseRunConfig } from "./config.ts";
 *
 * const config = await parseRunConfig([
 *   "--name", "dave", "--key", "dave.key", "--committee", "committee.json",
 *   "--kv", "dave.kv", "--rpc-url", "http://127.0.0.1:8545",
 * ]);
 * console.log(config.listen.port, config.staleAfterMillis, config.marginMillis); // 7001 4000 8000
 * ```
 */
export async function parseRunConfig(args: readonly string[]): Promise<SidecarConfig> {
  const o = await readOptions(args, RUN_OPTIONS, "sidecar run");
  const grpcListen = o.address("grpc-listen");
  const block = o.int("block-interval-ms");
  const stale = o.string("stale-after-ms") ? o.int("stale-after-ms") : 3 * block + 1000;
  const delay = o.string("settle-delay-ms") ? o.int("settle-delay-ms") : 2 * block;
  const margin = o.string("margin-ms") ? o.int("margin-ms") : stale + delay + 2 * block;
  if (margin <= stale + delay + block) {
    throw new ConfigError(
      `--margin-ms ${margin} must exceed --stale-after-ms ${stale} + --settle-delay-ms ${delay} + one block (${block}): a certified order must stay settleable`,
    );
  }
  const feeToken = o.string("fee-token")!;
  if (!/^0x20c0000000000000000000[0-9a-f]{18}$/i.test(feeToken)) {
    throw new ConfigError(`--fee-token must be a TIP-20 address (0x20c0…), got "${feeToken}"`);
  }
  const settlerKey = o.string("settler-key");
  return {
    name: o.string("name")!,
    listen: o.address("listen")!,
    ...(grpcListen ? { grpcListen } : {}),
    key: o.string("key")!,
    committee: o.string("committee")!,
    kv: o.string("kv")!,
    firstStart: o.bool("first-start"),
    rpcUrl: o.url("rpc-url"),
    peers: o.urls("peers"),
    corsOrigins: o.list("cors-origins"),
    blockIntervalMillis: block,
    staleAfterMillis: stale,
    marginMillis: margin,
    ...(settlerKey ? { settlerKey } : {}),
    feeToken: feeToken as `0x${string}`,
    settleDelayMillis: delay,
    gossipIntervalMillis: o.int("gossip-interval-ms"),
    gossipWindow: o.int("gossip-window"),
    gossipPerSignerPerSecond: o.int("gossip-per-signer"),
    maxUnsettledPerLane: o.int("max-unsettled-per-lane"),
    maxBodyBytes: o.int("max-body-bytes"),
    maxPage: o.int("max-page"),
    maxCachedLanes: o.int("max-cached-lanes"),
  };
}

/**
 * Local Allegro networks for tests, the demo and people: anvil in Tempo mode (or an existing
 * node), validator keys and a committee file in a data folder, sidecar processes and the
 * backend, each started with the narrowest permissions that work. Loopback only. The components
 * run from their packages' public entries (`@allegro/sidecar`, `@allegro/backend`) as programs,
 * never imported: this member sits below them.
 *
 * @module
 */
import { join } from "node:path";
import { createServer } from "node:net";
import { type Address, bytesToHex, createPublicClient, type Hex, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deployVault } from "@allegro/client";
import { fund, PATH_USD } from "./anvil.ts";
import { writeAccountKeyFile, writeKeyFile } from "./keyfile.ts";

/** A validator of a local network. */
export interface LocalValidator {
  readonly name: string;
  readonly keyPath: string;
  readonly publicKey: Uint8Array;
  readonly settlementAddress: Address;
  /** An account key file (funded) this validator's sidecar settles with. */
  readonly settlerKeyPath: string;
  readonly port: number;
  readonly url: string;
}

/** A committee written to disk, registered in a vault it deployed. */
export interface LocalCommittee {
  readonly path: string;
  readonly chainId: bigint;
  readonly epoch: bigint;
  readonly vault: Address;
  /** The block the vault was deployed in. */
  readonly vaultBlock: bigint;
  /** The vault's W (ms) and exit delay (s). */
  readonly maxValidity: bigint;
  readonly exitDelay: bigint;
  readonly validators: readonly LocalValidator[];
}

/**
 * A free TCP port on 127.0.0.1 (taken by nobody at the time of the call).
 *
 * @example
 * ```ts
 * import { freePort } from "@allegro/server/network";
 *
 * const port = await freePort();
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** How {@linkcode writeCommittee} sets the network up. */
export interface CommitteeOptions {
  readonly chainId: bigint;
  /** A JSON-RPC URL of the chain the vault is deployed on. */
  readonly rpcUrl: string;
  /** The key that deploys the vault and is its admin (it pays fees in pathUSD). */
  readonly adminKey: Hex;
  /** A funded key that gives each validator's settler account {@linkcode SETTLER_FUNDS}. */
  readonly funderKey: Hex;
  readonly epoch?: bigint;
  /** The vault's W in ms; default {@linkcode DEFAULT_MAX_VALIDITY}. */
  readonly maxValidity?: bigint;
  /** The vault's forced-exit delay in s; default the least allowed, `ceil((W + 1000) / 1000)`. */
  readonly exitDelay?: bigint;
}

/** W of a local network's vault: 60 s. */
export const DEFAULT_MAX_VALIDITY = 60_000n;
/** What each settler account is given to pay its fees with: 10 USD. */
export const SETTLER_FUNDS = 10_000_000n;

/**
 * Generates a validator key (Ed25519 and settlement key) and a funded settler key per validator
 * in `dir`, deploys a vault whose first committee is theirs (with `client`'s `deployVault`, as
 * the admin command does), and writes `dir/committee.json` naming the vault and each
 * validator's settlement address.
 *
 * @example
 * ```ts ignore
 * const committee = await writeCommittee(dir, ["dave", "edgar"], {
 *   chainId: anvil.chainId,
 *   rpcUrl: anvil.rpcUrl,
 *   adminKey: DEV_KEYS[3],
 *   funderKey: DEV_KEYS[4],
 * });
 * ```
 */
export async function writeCommittee(
  dir: string,
  names: readonly string[],
  options: CommitteeOptions,
): Promise<LocalCommittee> {
  await Deno.mkdir(dir, { recursive: true });
  const drafts = [];
  for (const name of names) {
    const keyPath = join(dir, `${name}.key`);
    const settlerKeyPath = join(dir, `${name}.settler.key`);
    await Deno.remove(keyPath).catch(() => {});
    await Deno.remove(settlerKeyPath).catch(() => {});
    const key = await writeKeyFile(keyPath);
    const settler = await writeAccountKeyFile(settlerKeyPath);
    const port = await freePort();
    drafts.push({ name, keyPath, settlerKeyPath, key, settler, port });
  }
  const client = createPublicClient({ transport: http(options.rpcUrl, { timeout: 10_000 }) });
  const maxValidity = options.maxValidity ?? DEFAULT_MAX_VALIDITY;
  const exitDelay = options.exitDelay ?? (maxValidity + 1000n + 999n) / 1000n;
  const epoch = options.epoch ?? 1n;
  const admin = privateKeyToAccount(options.adminKey);
  const [{ vault, blockNumber }] = await Promise.all([
    deployVault(client, admin, {
      chainId: options.chainId,
      feeToken: PATH_USD,
      admin: admin.address,
      maxValidity,
      exitDelay,
      epoch,
      members: drafts.map((d) => d.key.settlementAddress),
    }),
    Promise.all(drafts.map((d) =>
      fund({ rpcUrl: options.rpcUrl, chainId: options.chainId }, {
        from: options.funderKey,
        to: d.settler.address,
        token: PATH_USD,
        amount: SETTLER_FUNDS,
        feeToken: PATH_USD,
      })
    )),
  ]);
  const validators: LocalValidator[] = drafts.map((d) => ({
    name: d.name,
    keyPath: d.keyPath,
    publicKey: d.key.publicKey,
    settlementAddress: d.key.settlementAddress,
    settlerKeyPath: d.settlerKeyPath,
    port: d.port,
    url: `http://127.0.0.1:${d.port}`,
  }));
  const path = join(dir, "committee.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify(
      {
        chain_id: options.chainId.toString(),
        epoch: epoch.toString(),
        vault,
        validators: validators.map((v) => ({
          name: v.name,
          pubkey: bytesToHex(v.publicKey).slice(2),
          settlement_address: v.settlementAddress,
          endpoint: v.url,
        })),
      },
      null,
      2,
    ) + "\n",
  );
  return {
    path,
    chainId: options.chainId,
    epoch,
    vault,
    vaultBlock: blockNumber,
    maxValidity,
    exitDelay,
    validators,
  };
}

/** A component running as a child process. */
export interface ComponentProcess {
  readonly name: string;
  /** Base URL of its HTTP listener. */
  readonly url: string;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Sends `signal` (SIGKILL simulates a crash). */
  kill(signal: Deno.Signal): void;
  /** SIGTERM, then SIGKILL after 5 s; resolves once exited. */
  stop(): Promise<void>;
}

/** A sidecar running as a child process. */
export type SidecarProcess = ComponentProcess;

/** Which program a component runs. */
export type Component = "sidecar" | "backend";

/** The components' programs, by package name: their public entry, resolved only from source. */
const MAINS: Record<Component, string> = {
  sidecar: "@allegro/sidecar",
  backend: "@allegro/backend",
};
/** What every component process may do. */
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write"];

/**
 * The command line that runs `component`: its package's entry (`main.ts`) when this module runs
 * from source, else this very program again with a `__sidecar` / `__backend` first argument (a
 * `deno compile`d or bundled demo carries every component; see `demo/main.ts`).
 *
 * @example
 * ```ts
 * import { componentCommand } from "@allegro/server/network";
 *
 * const [program, ...args] = componentCommand("sidecar");
 * console.log(args.includes("run")); // true when run from source
 * ```
 */
export function componentCommand(component: Component): string[] {
  const main = Deno.mainModule;
  if (main.includes("/deno-compile-")) return [Deno.execPath(), `__${component}`];
  if (main.endsWith(".js")) {
    return [
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      "--no-config",
      "--unstable-kv",
      main,
      `__${component}`,
    ];
  }
  return [Deno.execPath(), "run", ...PERMISSIONS, import.meta.resolve(MAINS[component])];
}

/** How to start one component process. */
export interface SpawnOptions {
  readonly component: Component;
  readonly name: string;
  /** Arguments after `run`. */
  readonly args: readonly string[];
  /** Its `http://127.0.0.1:PORT` base URL (`/healthz` must answer 200 there). */
  readonly url: string;
  /** Where the JSON-lines log goes (appended). */
  readonly logPath: string;
  /** How long to wait for `/healthz`; default 30 s. */
  readonly readyTimeoutMillis?: number;
}

/**
 * Starts a component and waits until its `/healthz` answers 200.
 *
 * @example
 * ```ts ignore
 * const p = await spawnComponent({ component: "backend", name: "backend", args, url, logPath });
 * await p.stop();
 * ```
 */
export async function spawnComponent(options: SpawnOptions): Promise<ComponentProcess> {
  const [program, ...prefix] = componentCommand(options.component);
  const log = await Deno.open(options.logPath, { create: true, append: true });
  const child = new Deno.Command(program, {
    args: [...prefix, "run", ...options.args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const piped = child.stderr.pipeTo(log.writable).catch(() => {});
  const exited = child.status.then(async (status) => {
    await piped;
    return status;
  });
  const process: ComponentProcess = {
    name: options.name,
    url: options.url,
    pid: child.pid,
    exited,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
    stop: async () => {
      process.kill("SIGTERM");
      const timer = setTimeout(() => process.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMillis ?? 30_000);
  let exitedEarly = false;
  exited.then(() => (exitedEarly = true));
  while (Date.now() < deadline && !exitedEarly) {
    try {
      const response = await fetch(`${options.url}/healthz`);
      await response.body?.cancel();
      if (response.ok) return process;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await process.stop();
  const tail = (await Deno.readTextFile(options.logPath)).split("\n").slice(-10).join("\n");
  throw new Error(
    `${options.name} ${exitedEarly ? "exited" : "did not become ready"}; log tail:\n${tail}`,
  );
}

/** How to start one sidecar. */
export interface SpawnSidecarOptions {
  readonly committee: LocalCommittee;
  readonly validator: LocalValidator;
  readonly rpcUrl: string;
  readonly kvPath: string;
  /** Pass `--first-start` (the key never signed); default true. A store wiped later must not. */
  readonly firstStart?: boolean;
  /** Settle with the validator's settler account (`--settler-key`); default true. */
  readonly settler?: boolean;
  /** The chain's block interval (`--block-interval-ms`); default 1000. */
  readonly blockIntervalMillis?: number;
  /** Where the JSON-lines log goes (appended). */
  readonly logPath: string;
  readonly peers?: readonly string[];
  readonly extraArgs?: readonly string[];
  readonly readyTimeoutMillis?: number;
}

/**
 * Starts `sidecar run` and waits until its `/healthz` answers 200 (chain view ready).
 *
 * @example
 * ```ts ignore
 * const dave = await spawnSidecar({ committee, validator: committee.validators[0],
 *   rpcUrl: anvil.wsUrl, kvPath: `${dir}/dave.kv`, logPath: `${dir}/dave.log` });
 * await dave.stop();
 * ```
 */
export function spawnSidecar(options: SpawnSidecarOptions): Promise<ComponentProcess> {
  const v = options.validator;
  return spawnComponent({
    component: "sidecar",
    name: v.name,
    url: v.url,
    logPath: options.logPath,
    ...(options.readyTimeoutMillis ? { readyTimeoutMillis: options.readyTimeoutMillis } : {}),
    args: [
      "--name",
      v.name,
      "--key",
      v.keyPath,
      "--committee",
      options.committee.path,
      "--kv",
      options.kvPath,
      "--rpc-url",
      options.rpcUrl,
      "--listen",
      `127.0.0.1:${v.port}`,
      "--peers",
      (options.peers ?? []).join(","),
      ...(options.firstStart ?? true ? ["--first-start"] : []),
      ...(options.settler ?? true ? ["--settler-key", v.settlerKeyPath] : []),
      "--block-interval-ms",
      String(options.blockIntervalMillis ?? 1000),
      ...(options.extraArgs ?? []),
    ],
  });
}

/** How to start the sidecars of a local committee. */
export interface SpawnSidecarsOptions {
  readonly committee: LocalCommittee;
  readonly rpcUrl: string;
  /** Where each validator's `NAME.kv` and `NAME.log` go. */
  readonly dir: string;
  /** Which validators to start (default: all of the committee). */
  readonly validators?: readonly LocalValidator[];
  /** Gossip with every other validator of the committee (default true). */
  readonly gossip?: boolean;
  /** Pass `--first-start` (see {@linkcode SpawnSidecarOptions}); default true. */
  readonly firstStart?: boolean;
  /** Settle with each validator's settler account; default true. */
  readonly settlers?: boolean;
  /** The chain's block interval; default 1000 ms. */
  readonly blockIntervalMillis?: number;
  readonly extraArgs?: readonly string[];
}

/**
 * Starts a sidecar for each validator (see {@linkcode spawnSidecar}), each pulling the boards of
 * all the others. If one does not start, those that did are stopped and its error is thrown.
 *
 * @example
 * ```ts ignore
 * const sidecars = await spawnSidecars({ committee, rpcUrl: anvil.wsUrl, dir });
 * ```
 */
export async function spawnSidecars(options: SpawnSidecarsOptions): Promise<SidecarProcess[]> {
  const { committee, dir } = options;
  const started = await Promise.allSettled(
    (options.validators ?? committee.validators).map((validator) =>
      spawnSidecar({
        committee,
        validator,
        rpcUrl: options.rpcUrl,
        kvPath: join(dir, `${validator.name}.kv`),
        logPath: join(dir, `${validator.name}.log`),
        ...(options.gossip ?? true
          ? { peers: committee.validators.filter((v) => v !== validator).map((v) => v.url) }
          : {}),
        ...(options.firstStart === undefined ? {} : { firstStart: options.firstStart }),
        ...(options.settlers === undefined ? {} : { settler: options.settlers }),
        ...(options.blockIntervalMillis
          ? { blockIntervalMillis: options.blockIntervalMillis }
          : {}),
        ...(options.extraArgs ? { extraArgs: options.extraArgs } : {}),
      })
    ),
  );
  const sidecars = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(sidecars.map((s) => s.stop()));
    throw failed.reason;
  }
  return sidecars;
}

/** How to start the backend. */
export interface SpawnBackendOptions {
  readonly committee: LocalCommittee;
  /** The chain's JSON-RPC URL; the web UI is told it too (`--public-rpc-url`). */
  readonly rpcUrl: string;
  readonly kvPath: string;
  readonly logPath: string;
  /** Default: a free port. */
  readonly port?: number;
  readonly webDir?: string;
  /** Demo accounts file (with keys) the backend hands to the web UI: local networks only. */
  readonly demoAccounts?: string;
  /** The account key file the backend settles with. */
  readonly settlerKey?: string;
  /** The chain's block interval; default 1000 ms. */
  readonly blockIntervalMillis?: number;
  readonly extraArgs?: readonly string[];
}

/**
 * Starts `backend run` and waits until its `/healthz` answers 200.
 *
 * @example
 * ```ts ignore
 * const backend = await spawnBackend({ committee, rpcUrl: anvil.rpcUrl, kvPath, logPath });
 * console.log(backend.url);
 * ```
 */
export async function spawnBackend(options: SpawnBackendOptions): Promise<ComponentProcess> {
  const port = options.port ?? await freePort();
  return await spawnComponent({
    component: "backend",
    name: "backend",
    url: `http://127.0.0.1:${port}`,
    logPath: options.logPath,
    args: [
      "--committee",
      options.committee.path,
      "--kv",
      options.kvPath,
      "--rpc-url",
      options.rpcUrl,
      "--public-rpc-url",
      options.rpcUrl,
      "--listen",
      `127.0.0.1:${port}`,
      "--cors-origins",
      "*",
      "--block-interval-ms",
      String(options.blockIntervalMillis ?? 1000),
      ...(options.settlerKey ? ["--settler-key", options.settlerKey] : []),
      ...(options.webDir ? ["--web-dir", options.webDir] : []),
      ...(options.demoAccounts ? ["--demo-accounts", options.demoAccounts] : []),
      ...(options.extraArgs ?? []),
    ],
  });
}

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
import { bytesToHex } from "viem";
import { writeKeyFile } from "./keyfile.ts";

/** A validator of a local network. */
export interface LocalValidator {
  readonly name: string;
  readonly keyPath: string;
  readonly publicKey: Uint8Array;
  readonly port: number;
  readonly url: string;
}

/** A committee written to disk. */
export interface LocalCommittee {
  readonly path: string;
  readonly chainId: bigint;
  readonly epoch: bigint;
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

/**
 * Generates a key per validator in `dir` and writes `dir/committee.json`.
 *
 * @example
 * ```ts ignore
 * const committee = await writeCommittee(dir, ["dave", "edgar"], { chainId: 1337n });
 * ```
 */
export async function writeCommittee(
  dir: string,
  names: readonly string[],
  options: { chainId: bigint; epoch?: bigint },
): Promise<LocalCommittee> {
  await Deno.mkdir(dir, { recursive: true });
  const validators: LocalValidator[] = [];
  for (const name of names) {
    const keyPath = join(dir, `${name}.key`);
    await Deno.remove(keyPath).catch(() => {});
    const { publicKey } = await writeKeyFile(keyPath);
    const port = await freePort();
    validators.push({ name, keyPath, publicKey, port, url: `http://127.0.0.1:${port}` });
  }
  const epoch = options.epoch ?? 1n;
  const path = join(dir, "committee.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify(
      {
        chain_id: options.chainId.toString(),
        epoch: epoch.toString(),
        validators: validators.map((v) => ({
          name: v.name,
          pubkey: bytesToHex(v.publicKey).slice(2),
          endpoint: v.url,
        })),
      },
      null,
      2,
    ) + "\n",
  );
  return { path, chainId: options.chainId, epoch, validators };
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
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write"];
/** The sidecar may load libsecp256k1 through FFI (it falls back to WebAssembly without it). */
const permissions = (component: Component) =>
  component === "sidecar" ? [...PERMISSIONS, "--allow-ffi"] : PERMISSIONS;

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
      ...permissions(component),
      "--no-config",
      "--unstable-kv",
      main,
      `__${component}`,
    ];
  }
  return [Deno.execPath(), "run", ...permissions(component), import.meta.resolve(MAINS[component])];
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
  readonly rpcUrl: string;
  readonly kvPath: string;
  readonly logPath: string;
  /** Default: a free port. */
  readonly port?: number;
  readonly webDir?: string;
  /** Demo accounts file (with keys) the backend hands to the web UI: local networks only. */
  readonly demoAccounts?: string;
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
      "--listen",
      `127.0.0.1:${port}`,
      "--cors-origin",
      "*",
      ...(options.webDir ? ["--web-dir", options.webDir] : []),
      ...(options.demoAccounts ? ["--demo-accounts", options.demoAccounts] : []),
      ...(options.extraArgs ?? []),
    ],
  });
}

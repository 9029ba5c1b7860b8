/**
 * Local Allegro networks for tests, the demo and people: validator keys and a committee file in
 * a data folder, and sidecar processes started from source with the narrowest permissions that
 * work. Loopback only.
 *
 * @module
 */
import { join } from "node:path";
import { createServer } from "node:net";
import { bytesToHex } from "viem";
import { writeKeyFile } from "../sidecar/keyfile.ts";

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
 * import { freePort } from "./network.ts";
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

/** A sidecar running as a child process. */
export interface SidecarProcess {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Sends `signal` (SIGKILL simulates a crash). */
  kill(signal: Deno.Signal): void;
  /** SIGTERM, then SIGKILL after 5 s; resolves once exited. */
  stop(): Promise<void>;
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
  /** How long to wait for `/healthz` to answer 200. */
  readonly readyTimeoutMillis?: number;
}

const SIDECAR_MAIN = new URL("../sidecar/main.ts", import.meta.url);

/**
 * Starts `sidecar run` from source and waits until its `/healthz` answers 200 (chain view ready).
 *
 * @example
 * ```ts ignore
 * const dave = await spawnSidecar({ committee, validator: committee.validators[0],
 *   rpcUrl: anvil.wsUrl, kvPath: `${dir}/dave.kv`, logPath: `${dir}/dave.log` });
 * await dave.stop();
 * ```
 */
export async function spawnSidecar(options: SpawnSidecarOptions): Promise<SidecarProcess> {
  const v = options.validator;
  const args = [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    SIDECAR_MAIN.href,
    "run",
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
  ];
  const log = await Deno.open(options.logPath, { create: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const piped = child.stderr.pipeTo(log.writable).catch(() => {});
  const exited = child.status.then(async (status) => {
    await piped;
    return status;
  });
  const process: SidecarProcess = {
    name: v.name,
    url: v.url,
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
      const response = await fetch(`${v.url}/healthz`);
      await response.body?.cancel();
      if (response.ok) return process;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await process.stop();
  const tail = (await Deno.readTextFile(options.logPath)).split("\n").slice(-10).join("\n");
  throw new Error(`sidecar ${v.name} did not become ready; log tail:\n${tail}`);
}

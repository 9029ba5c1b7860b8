/**
 * A local Tempo chain for the demo and integration tests: Foundry's anvil in Tempo mode
 * (`anvil --network tempo`) on a loopback port, its funded dev accounts and TIP-20 tokens, and a
 * helper that funds fresh accounts with a `0x76` transfer.
 *
 * The binary comes from `ANVIL_BIN` or `anvil` on `PATH` (`./denow` puts a shim there). When that
 * is a script (the shim, or npm's node wrapper), the native binary next to its npm install is run
 * instead, so that stopping it can never orphan the real anvil; if none is found, the command is
 * run as given in its own process group and the whole group is signalled.
 *
 * @example
 * ```ts ignore
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 * import { DEV_KEYS, fund, PATH_USD, startAnvil } from "@allegro/server/anvil";
 *
 * await using anvil = await startAnvil({ chainId: 1337n, blockTimeSeconds: 1 });
 * const alice = privateKeyToAccount(generatePrivateKey());
 * await fund(anvil, {
 *   from: DEV_KEYS[3],
 *   to: alice.address,
 *   token: PATH_USD,
 *   amount: 1_000_000n,
 *   feeToken: PATH_USD,
 * });
 * ```
 *
 * @module
 */
import {
  type Address,
  bytesToBigInt,
  createPublicClient,
  encodeFunctionData,
  type Hex,
  http,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Abis, Transaction } from "viem/tempo";

/**
 * pathUSD, the default fee token (TIP-20 id 0). Like every anvil token: 6 decimals, "USD".
 *
 * @example
 * ```ts
 * import { PATH_USD } from "@allegro/server/anvil";
 *
 * console.log(PATH_USD); // 0x20c0000000000000000000000000000000000000
 * ```
 */
export const PATH_USD: Address = "0x20c0000000000000000000000000000000000000";
/**
 * AlphaUSD (TIP-20 id 1); dev 0 pays its fees in it by default.
 *
 * @example
 * ```ts
 * import { ALPHA_USD } from "@allegro/server/anvil";
 *
 * console.log(ALPHA_USD.endsWith("01")); // true
 * ```
 */
export const ALPHA_USD: Address = "0x20c0000000000000000000000000000000000001";
/**
 * BetaUSD (TIP-20 id 2); dev 1 pays its fees in it by default.
 *
 * @example
 * ```ts
 * import { BETA_USD } from "@allegro/server/anvil";
 *
 * console.log(BETA_USD.endsWith("02")); // true
 * ```
 */
export const BETA_USD: Address = "0x20c0000000000000000000000000000000000002";
/**
 * ThetaUSD (TIP-20 id 3); dev 2 pays its fees in it by default.
 *
 * @example
 * ```ts
 * import { THETA_USD } from "@allegro/server/anvil";
 *
 * console.log(THETA_USD.endsWith("03")); // true
 * ```
 */
export const THETA_USD: Address = "0x20c0000000000000000000000000000000000003";

/**
 * Private keys of anvil's ten dev accounts (mnemonic `test test … junk`). Each holds 2^64 − 1 of
 * every token. Dev 0, 1 and 2 pay fees in AlphaUSD, BetaUSD and ThetaUSD by default (FeeManager
 * preferences), dev 3 to 9 in pathUSD; see {@linkcode FUNDER_KEYS}.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { DEV_KEYS } from "@allegro/server/anvil";
 *
 * console.log(privateKeyToAccount(DEV_KEYS[3]).address); // 0x90F79bf6EB2c4f870365E785982E1f101E93b906
 * ```
 */
export const DEV_KEYS: readonly Hex[] = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/**
 * Dev keys 3 to 9, whose fees are paid in pathUSD: the accounts to fund others from.
 *
 * @example
 * ```ts
 * import { FUNDER_KEYS } from "@allegro/server/anvil";
 *
 * console.log(FUNDER_KEYS.length); // 7
 * ```
 */
export const FUNDER_KEYS: readonly Hex[] = DEV_KEYS.slice(3);

/**
 * How to start anvil.
 *
 * @example
 * ```ts
 * import type { AnvilOptions } from "@allegro/server/anvil";
 *
 * const options: AnvilOptions = { chainId: 1337n, blockTimeSeconds: 0.5 };
 * ```
 */
export interface AnvilOptions {
  /** Chain id; default 1337 (viem's `tempoLocalnet`). */
  readonly chainId?: bigint;
  /** Seconds between blocks, fractions allowed; default 1. `0` mines each tx at once (automine). */
  readonly blockTimeSeconds?: number;
  /** Loopback port; default: a free one. */
  readonly port?: number;
  /** How long to wait for the RPC to answer; default 30 s (the shim may install anvil first). */
  readonly readyTimeoutMillis?: number;
}

/**
 * A running anvil. Stop it with {@linkcode Anvil.stop} or `await using`.
 *
 * @example
 * ```ts ignore
 * import { startAnvil } from "@allegro/server/anvil";
 *
 * await using anvil = await startAnvil();
 * console.log(anvil.rpcUrl, anvil.wsUrl, anvil.chainId); // http://127.0.0.1:… ws://127.0.0.1:… 1337n
 * ```
 */
export interface Anvil {
  /** `http://127.0.0.1:PORT` */
  readonly rpcUrl: string;
  /** `ws://127.0.0.1:PORT` (same port). */
  readonly wsUrl: string;
  readonly chainId: bigint;
  /** Process id of what was spawned (the leader of its process group when run via a shim). */
  readonly pid: number;
  /** Stops anvil: SIGTERM, then SIGKILL after a timeout. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const TAIL_BYTES = 16_384;
const STOP_GRACE_MILLIS = 5_000;
const START_ATTEMPTS = 3;

/**
 * Starts `anvil --network tempo` on 127.0.0.1 and waits until `eth_chainId` answers with the
 * expected id. Throws with anvil's output if it exits or does not answer in time.
 *
 * @example
 * ```ts ignore
 * import { startAnvil } from "@allegro/server/anvil";
 *
 * const anvil = await startAnvil({ blockTimeSeconds: 0.5 });
 * try {
 *   console.log(anvil.rpcUrl, anvil.wsUrl);
 * } finally {
 *   await anvil.stop();
 * }
 * ```
 */
export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const attempts = options.port === undefined ? START_ATTEMPTS : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = options.port ?? freeLoopbackPort();
    try {
      return await startOnce(options, port);
    } catch (e) {
      lastError = e;
      // A free port can be taken between picking and binding it: try another one.
      if (!String((e as Error).message).includes("in use")) break;
    }
  }
  throw lastError;
}

async function startOnce(options: AnvilOptions, port: number): Promise<Anvil> {
  const chainId = options.chainId ?? 1337n;
  const blockTime = options.blockTimeSeconds ?? 1;
  const args = [
    "--network",
    "tempo",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--chain-id",
    String(chainId),
    ...(blockTime > 0 ? ["--block-time", String(blockTime)] : []),
  ];
  const proc = AnvilProcess.spawn(resolveAnvil(), args);
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitReady(proc, rpcUrl, chainId, options.readyTimeoutMillis ?? 30_000);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const stop = () => proc.stop();
  return {
    rpcUrl,
    wsUrl: `ws://127.0.0.1:${port}`,
    chainId,
    pid: proc.pid,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Asks the OS for a free loopback port. */
function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitReady(
  proc: AnvilProcess,
  rpcUrl: string,
  chainId: bigint,
  timeoutMillis: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (proc.exited) {
      throw new Error(`anvil exited (${proc.exitDescription()}) before answering:\n${proc.tail()}`);
    }
    try {
      const id = BigInt(await jsonRpc(rpcUrl, "eth_chainId", [], 1_000) as string);
      if (id !== chainId) throw new Error(`anvil answers chain id ${id}, expected ${chainId}`);
      return;
    } catch (e) {
      if ((e as Error).message.startsWith("anvil answers")) throw e;
    }
    await sleep(50);
  }
  throw new Error(`anvil did not answer eth_chainId within ${timeoutMillis} ms:\n${proc.tail()}`);
}

/** The spawned process, its output tails, and how to stop it for good. */
class AnvilProcess {
  readonly #child: Deno.ChildProcess;
  /** Signal the process group (a shim chain) instead of the process alone. */
  readonly #group: boolean;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #readers: Promise<void>[];
  readonly #out = new Tail();
  readonly #err = new Tail();
  #exit: Deno.CommandStatus | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(child: Deno.ChildProcess, group: boolean) {
    this.#child = child;
    this.#group = group;
    this.#status = child.status.then((s) => (this.#exit = s));
    this.#readers = [drain(child.stdout, this.#out), drain(child.stderr, this.#err)];
  }

  static spawn(bin: ResolvedAnvil, args: string[]): AnvilProcess {
    const child = new Deno.Command(bin.path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: !bin.native,
    }).spawn();
    return new AnvilProcess(child, !bin.native);
  }

  get pid(): number {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  exitDescription(): string {
    const s = this.#exit;
    return s === undefined ? "running" : s.signal ? `signal ${s.signal}` : `code ${s.code}`;
  }

  tail(): string {
    return `--- stderr ---\n${this.#err.text()}\n--- stdout (tail) ---\n${this.#out.text()}`;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#signal("SIGTERM");
    if (!(await within(this.#status, STOP_GRACE_MILLIS))) this.#signal("SIGKILL");
    await this.#status;
    if (this.#group && !(await this.#groupGone(STOP_GRACE_MILLIS))) {
      this.#signal("SIGKILL");
      await this.#groupGone(STOP_GRACE_MILLIS);
    }
    // The pipes close once every process holding them has exited.
    if (!(await within(Promise.all(this.#readers), 2_000))) {
      await Promise.allSettled([this.#child.stdout.cancel(), this.#child.stderr.cancel()]);
    }
  }

  #signal(signal: Deno.Signal): void {
    try {
      if (this.#group) Deno.kill(-this.#child.pid, signal);
      else if (this.#exit === undefined) this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Polls until no process of the group is left (the shim's native child included). */
  async #groupGone(timeoutMillis: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      try {
        Deno.kill(-this.#child.pid, 0);
      } catch {
        return true;
      }
      await sleep(50);
    }
    return false;
  }
}

/** The last {@linkcode TAIL_BYTES} of a stream, for error messages. */
class Tail {
  #chunks: Uint8Array[] = [];
  #size = 0;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0].length >= TAIL_BYTES) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }

  text(): string {
    const all = new Uint8Array(this.#size);
    let offset = 0;
    for (const c of this.#chunks) {
      all.set(c, offset);
      offset += c.length;
    }
    return new TextDecoder().decode(all.subarray(Math.max(0, all.length - TAIL_BYTES))).trim();
  }
}

async function drain(stream: ReadableStream<Uint8Array>, tail: Tail): Promise<void> {
  try {
    for await (const chunk of stream) tail.push(chunk);
  } catch {
    // Cancelled on stop.
  }
}

/** Which file to run, and whether it is the native anvil (not a script that spawns it). */
interface ResolvedAnvil {
  readonly path: string;
  readonly native: boolean;
}

/**
 * `ANVIL_BIN`, else `anvil` on `PATH`. A script (`./denow`'s shim, npm's node wrapper) is
 * replaced by the native binary of its npm install when one is found near it.
 */
function resolveAnvil(): ResolvedAnvil {
  const command = Deno.env.get("ANVIL_BIN") ?? "anvil";
  const path = command.includes("/") ? command : onPath(command);
  if (path === undefined) return { path: command, native: false };
  if (isNativeExecutable(path)) return { path, native: true };
  const native = nativeNear(path);
  return native === undefined ? { path, native: false } : { path: native, native: true };
}

function onPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = `${dir}/${name}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** ELF or Mach-O, judged by the first four bytes. */
function isNativeExecutable(path: string): boolean {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    const head = new Uint8Array(4);
    if (file.readSync(head) !== 4) return false;
    const magic = Number(bytesToBigInt(head));
    return [0x7f454c46, 0xcffaedfe, 0xcefaedfe, 0xcafebabe].includes(magic);
  } catch {
    return false;
  } finally {
    file?.close();
  }
}

/** `@foundry-rs/anvil-<os>-<arch>/bin/anvil` under a `node_modules` above `path` or its target. */
function nativeNear(path: string): string | undefined {
  const os = Deno.build.os === "darwin" ? "darwin" : Deno.build.os === "linux" ? "linux" : "";
  const arch = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
  if (os === "") return undefined;
  const relative = `node_modules/@foundry-rs/anvil-${os}-${arch}/bin/anvil`;
  const starts = [path];
  try {
    starts.push(Deno.realPathSync(path));
  } catch {
    // A dangling link: only look near the link itself.
  }
  for (const start of starts) {
    let dir = dirname(start);
    for (let depth = 0; depth < 5 && dir !== ""; depth++) {
      const candidate = `${dir}/${relative}`;
      if (isExecutableFile(candidate) && isNativeExecutable(candidate)) return candidate;
      dir = dirname(dir);
    }
  }
  return undefined;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/**
 * What {@linkcode fund} sends.
 *
 * @example
 * ```ts
 * import { FUNDER_KEYS, type FundParams, PATH_USD } from "@allegro/server/anvil";
 *
 * const params: FundParams = {
 *   from: FUNDER_KEYS[0],
 *   to: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   token: PATH_USD,
 *   amount: 1_000_000n,
 *   feeToken: PATH_USD,
 * };
 * ```
 */
export interface FundParams {
  /** Private key of the payer, e.g. one of {@linkcode FUNDER_KEYS}. */
  readonly from: Hex;
  readonly to: Address;
  readonly token: Address;
  readonly amount: bigint;
  /** Token the payer's fee is charged in (set explicitly: see the fee-token rule). */
  readonly feeToken: Address;
}

/**
 * A funding transfer that succeeded.
 *
 * @example
 * ```ts ignore
 * const { txHash, blockNumber } = await fund(anvil, params);
 * ```
 */
export interface FundReceipt {
  readonly txHash: Hex;
  readonly blockNumber: bigint;
}

/**
 * Sends `amount` of `token` from the `from` key to `to` as a type `0x76` TIP-20 `transfer` (on a
 * random 2D nonce key, so concurrent calls never collide) and waits for a successful receipt.
 * Throws if the transaction is rejected, reverts, or is not mined within 20 s.
 *
 * @example
 * ```ts ignore
 * import { fund, FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
 *
 * await using anvil = await startAnvil();
 * const receipt = await fund(anvil, {
 *   from: FUNDER_KEYS[0],
 *   to: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *   token: PATH_USD,
 *   amount: 5_000_000n,
 *   feeToken: PATH_USD,
 * });
 * console.log(receipt.blockNumber);
 * ```
 */
export async function fund(
  anvil: Pick<Anvil, "rpcUrl" | "chainId">,
  params: FundParams,
): Promise<FundReceipt> {
  const account = privateKeyToAccount(params.from);
  const tx: Transaction.TransactionSerializableTempo = {
    type: "tempo",
    chainId: Number(anvil.chainId),
    calls: [{
      to: params.token,
      data: encodeFunctionData({
        abi: Abis.tip20,
        functionName: "transfer",
        args: [params.to, params.amount],
      }),
    }],
    nonceKey: bytesToBigInt(crypto.getRandomValues(new Uint8Array(20))) + 1n,
    nonce: 0,
    gas: 150_000n,
    maxFeePerGas: 20_000_000_000n,
    maxPriorityFeePerGas: 0n,
    validBefore: Math.floor(Date.now() / 1000) + 60,
    feeToken: params.feeToken,
  };
  const raw = await account.signTransaction(tx, { serializer: Transaction.serialize });
  const client = createPublicClient({ transport: http(anvil.rpcUrl, { retryCount: 0 }) });
  const txHash = await client.sendRawTransaction({ serializedTransaction: raw });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const receipt = await jsonRpc(anvil.rpcUrl, "eth_getTransactionReceipt", [txHash], 2_000) as
      | { status: Hex; blockNumber: Hex }
      | null;
    if (receipt) {
      if (receipt.status !== "0x1") throw new Error(`funding tx ${txHash} reverted`);
      return { txHash, blockNumber: BigInt(receipt.blockNumber) };
    }
    await sleep(100);
  }
  throw new Error(`funding tx ${txHash} was not mined within 20 s`);
}

/** One JSON-RPC call over HTTP, bounded in time. */
async function jsonRpc(
  url: string,
  method: string,
  params: unknown[],
  timeoutMillis: number,
): Promise<unknown> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMillis);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: abort.signal,
    });
    const body = await response.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` settles within `millis`. */
async function within(promise: Promise<unknown>, millis: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), millis)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(millis: number): Promise<void> {
  return new Promise((r) => setTimeout(r, millis));
}

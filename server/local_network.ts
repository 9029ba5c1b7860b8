/**
 * Starts a whole local Allegro network: anvil in Tempo mode (or an existing node), N sidecars
 * gossiping with each other, and the backend, with keys and a committee in a data folder.
 *
 * @module
 */
import { join } from "node:path";
import { type Address, createPublicClient, type Hex, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { depositCalls, sendTempoTransaction, waitForSuccess } from "@allegro/client";
import { FastPaySidecar } from "@allegro/proto";
import { type DemoAccount, writeDemoAccounts } from "./demo_accounts.ts";
import { type Anvil, fund, FUNDER_KEYS, PATH_USD, startAnvil } from "./anvil.ts";
import { writeAccountKeyFile } from "./keyfile.ts";
import {
  type ComponentProcess,
  type LocalCommittee,
  SETTLER_FUNDS,
  spawnBackend,
  spawnSidecars,
  writeCommittee,
} from "./network.ts";

/** Validator names, in committee order. */
export const VALIDATOR_NAMES: readonly string[] = [
  "dave",
  "edgar",
  "frank",
  "grace",
  "heidi",
  "ivan",
  "judy",
  "kevin",
  "laura",
  "mike",
];

/** What to start. */
export interface NetworkOptions {
  /** Number of sidecars (1 … 10). */
  readonly validators: number;
  /** Block interval of the anvil this starts (ignored with `rpcUrl`). */
  readonly blockTimeSeconds: number;
  /** Use this Tempo node instead of starting anvil. */
  readonly rpcUrl?: string;
  /**
   * Where keys, committee, KV files and logs go; default a new temporary folder, which `stop`
   * removes (validator keys must not be left behind).
   */
  readonly dataDir?: string;
  /** Backend listen port; default a free one. */
  readonly backendPort?: number;
  /** Static web UI files the backend serves at `/`. */
  readonly webDir?: string;
  /** Start the backend (default true). */
  readonly backend?: boolean;
  /**
   * How many validators, the first in committee order, get a sidecar process; default all.
   * A test runs the others itself (a Byzantine one, or one behind a proxy).
   */
  readonly sidecars?: number;
  /** Whether the sidecars settle with their settler accounts (default true). */
  readonly settlers?: boolean;
  /** More `sidecar run` arguments for every sidecar. */
  readonly sidecarArgs?: readonly string[];
  /** The vault's W in ms (default `network.ts`'s `DEFAULT_MAX_VALIDITY`). */
  readonly maxValidity?: bigint;
  /** The vault's forced-exit delay in s (default the least W allows). */
  readonly exitDelay?: bigint;
  /**
   * Create Alice, Bob and Carol with fresh keys, fund each with {@linkcode DEMO_FUNDS} pathUSD
   * and hand them (keys included) to the backend for the web UI (`--demo-accounts`).
   */
  readonly demoAccounts?: boolean;
}

/** What each demo account is funded with: 100 USD (pathUSD base units). */
export const DEMO_FUNDS = 100_000_000n;

/** A running local network. */
export interface LocalNetwork {
  readonly dataDir: string;
  readonly chainId: bigint;
  /** HTTP JSON-RPC URL of the chain. */
  readonly rpcUrl: string;
  /** The anvil this network started, if any. */
  readonly anvil?: Anvil;
  readonly committee: LocalCommittee;
  readonly sidecars: ComponentProcess[];
  readonly backend?: ComponentProcess;
  /** The funded demo accounts, with `demoAccounts`. */
  readonly demoAccounts?: readonly DemoAccount[];
  /** Stops everything this network started (idempotent). */
  stop(): Promise<void>;
}

async function chainIdOf(rpcUrl: string): Promise<bigint> {
  const response = await fetch(rpcUrl.replace(/^ws/, "http"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.json();
  if (body.error || typeof body.result !== "string") {
    throw new Error(`${rpcUrl} did not answer eth_chainId: ${JSON.stringify(body.error ?? body)}`);
  }
  return BigInt(body.result);
}

/**
 * Starts anvil (unless `rpcUrl`), the sidecars and the backend; stops what it started if any
 * step fails.
 *
 * @example
 * ```ts ignore
 * const net = await startLocalNetwork({ validators: 2, blockTimeSeconds: 2 });
 * console.log(net.backend?.url, net.sidecars.map((s) => s.url));
 * await net.stop();
 * ```
 */
export async function startLocalNetwork(options: NetworkOptions): Promise<LocalNetwork> {
  if (!Number.isInteger(options.validators) || options.validators < 1 || options.validators > 10) {
    throw new Error(`validators must be 1 … 10, got ${options.validators}`);
  }
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "allegro-net-" });
  await Deno.mkdir(dataDir, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  if (options.dataDir === undefined) {
    started.push({ stop: () => Deno.remove(dataDir, { recursive: true }) });
  }
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {});
    started.length = 0;
  };
  try {
    let anvil: Anvil | undefined;
    if (options.rpcUrl === undefined) {
      anvil = await startAnvil({ blockTimeSeconds: options.blockTimeSeconds });
      started.push(anvil);
    }
    const rpcUrl = anvil?.rpcUrl ?? options.rpcUrl!;
    const chainId = anvil?.chainId ?? await chainIdOf(rpcUrl);
    const names = VALIDATOR_NAMES.slice(0, options.validators);
    const committee = await writeCommittee(dataDir, names, {
      chainId,
      rpcUrl,
      adminKey: FUNDER_KEYS[0],
      funderKey: FUNDER_KEYS[1],
      ...(options.maxValidity ? { maxValidity: options.maxValidity } : {}),
      ...(options.exitDelay ? { exitDelay: options.exitDelay } : {}),
    });
    const blockIntervalMillis = Math.max(100, Math.round(options.blockTimeSeconds * 1000));
    const funding = options.demoAccounts ? fundDemoAccounts(rpcUrl, chainId) : undefined;
    funding?.catch(() => {}); // awaited below, after the sidecars
    // A data folder given again holds the databases of an earlier chain: start afresh.
    await Promise.all(
      committee.validators.map((v) => Deno.remove(join(dataDir, `${v.name}.kv`)).catch(() => {})),
    );
    const sidecars = await spawnSidecars({
      committee,
      rpcUrl,
      dir: dataDir,
      blockIntervalMillis,
      validators: committee.validators.slice(0, options.sidecars),
      ...(options.settlers === undefined ? {} : { settlers: options.settlers }),
      ...(options.sidecarArgs ? { extraArgs: options.sidecarArgs } : {}),
    });
    started.push(...sidecars);
    const demoAccounts = await funding;
    const demoAccountsPath = join(dataDir, "demo-accounts.json");
    if (demoAccounts) await writeDemoAccounts(demoAccountsPath, demoAccounts);
    let backend: ComponentProcess | undefined;
    if (options.backend ?? true) {
      const kvPath = join(dataDir, "backend.kv");
      await Deno.remove(kvPath).catch(() => {});
      const settlerKey = join(dataDir, "backend.settler.key");
      await Deno.remove(settlerKey).catch(() => {});
      const settler = await writeAccountKeyFile(settlerKey);
      await fund({ rpcUrl, chainId }, {
        from: FUNDER_KEYS[1],
        to: settler.address,
        token: PATH_USD,
        amount: SETTLER_FUNDS,
        feeToken: PATH_USD,
      });
      backend = await spawnBackend({
        committee,
        rpcUrl,
        kvPath,
        logPath: join(dataDir, "backend.log"),
        ...(options.backendPort ? { port: options.backendPort } : {}),
        ...(options.webDir ? { webDir: options.webDir } : {}),
        ...(demoAccounts ? { demoAccounts: demoAccountsPath } : {}),
        settlerKey,
        blockIntervalMillis,
      });
      started.push(backend);
    }
    let stopped: Promise<void> | undefined;
    return {
      dataDir,
      chainId,
      rpcUrl,
      ...(anvil ? { anvil } : {}),
      committee,
      sidecars,
      ...(backend ? { backend } : {}),
      ...(demoAccounts ? { demoAccounts } : {}),
      stop: () => stopped ??= stopAll(),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Alice, Bob and Carol with fresh keys, each funded with {@linkcode DEMO_FUNDS} pathUSD. */
async function fundDemoAccounts(rpcUrl: string, chainId: bigint): Promise<DemoAccount[]> {
  const accounts = ["alice", "bob", "carol"].map((name) => {
    const privateKey = generatePrivateKey();
    return { name, address: privateKeyToAccount(privateKey).address, privateKey };
  });
  // The demo scenario funds its payers from FUNDER_KEYS[0…2]; these use the next three.
  await Promise.all(accounts.map((a, i) =>
    fund({ rpcUrl, chainId }, {
      from: FUNDER_KEYS[3 + i],
      to: a.address,
      token: PATH_USD,
      amount: DEMO_FUNDS,
      feeToken: PATH_USD,
    })
  ));
  return accounts;
}

/**
 * Funds `privateKey`'s wallet with `wallet` pathUSD from a dev account, then has it deposit
 * `deposit` of it into the vault (approve + deposit in one Tempo transaction).
 *
 * @example
 * ```ts ignore
 * await fundAndDeposit(net, alice, { wallet: 20_000_000n, deposit: 15_000_000n });
 * ```
 */
export async function fundAndDeposit(
  net: Pick<LocalNetwork, "rpcUrl" | "chainId" | "committee">,
  privateKey: Hex,
  amounts: { wallet: bigint; deposit: bigint; funder?: Hex; token?: Address },
): Promise<void> {
  const account = privateKeyToAccount(privateKey);
  const token = amounts.token ?? PATH_USD;
  await fund(net, {
    from: amounts.funder ?? FUNDER_KEYS[2],
    to: account.address,
    token,
    amount: amounts.wallet,
    feeToken: PATH_USD,
  });
  if (amounts.deposit === 0n) return;
  const client = createPublicClient({ transport: http(net.rpcUrl, { timeout: 10_000 }) });
  const hash = await sendTempoTransaction(client, account, {
    chainId: net.chainId,
    calls: depositCalls(net.committee.vault, token, amounts.deposit),
    feeToken: PATH_USD,
    gas: 1_000_000n,
  });
  const receipt = await waitForSuccess(client, hash);
  await sidecarsReached(net.committee, receipt.blockNumber);
}

/**
 * Waits until every sidecar of `committee` that answers has processed block `height`, so that a
 * payment right after a deposit is judged on it; at most `millis`. A sidecar that does not answer,
 * or answers anything but a chain head or "not ready", is not waited for (a test may have stopped
 * it, or put a fake in its place).
 *
 * @example
 * ```ts ignore
 * await sidecarsReached(net.committee, receipt.blockNumber);
 * ```
 */
export async function sidecarsReached(
  committee: Pick<LocalCommittee, "validators">,
  height: bigint,
  millis = 10_000,
): Promise<void> {
  const deadline = Date.now() + millis;
  const reached = async (url: string): Promise<boolean> => {
    const response = await fetch(`${url}/${FastPaySidecar.typeName}/GetChainHead`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    if (response?.status !== 200) {
      await response?.body?.cancel();
      // Down, or not a sidecar that follows the chain (a test's fake): not waited for; a view
      // not ready yet (unavailable, 503): waited for.
      return response?.status !== 503;
    }
    return BigInt((await response.json()).height ?? 0) >= height;
  };
  let waiting = committee.validators.map((v) => v.url);
  while (waiting.length > 0 && Date.now() < deadline) {
    const done = await Promise.all(waiting.map(reached));
    waiting = waiting.filter((_, i) => !done[i]);
    if (waiting.length > 0) await new Promise((r) => setTimeout(r, 50));
  }
  if (waiting.length > 0) {
    throw new Error(`sidecars ${waiting.join(", ")} did not reach block ${height} in ${millis} ms`);
  }
}

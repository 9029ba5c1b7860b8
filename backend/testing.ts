/**
 * Test fixtures for the backend: a local network (anvil + sidecar processes), an in-process
 * backend on it, funded payers, signed payments and an SSE reader. Not part of the executable.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { type Hex, hexToBytes } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import {
  allegroNonceKey,
  type Committee,
  loadCommittee,
  signPaymentTransaction,
} from "@allegro/client";
import { type Anvil, fund, FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
import {
  type LocalCommittee,
  type SidecarProcess,
  spawnSidecars,
  writeCommittee,
} from "@allegro/server/network";
import { jsonLogger } from "@allegro/server/log";
import { type RunningBackend, startBackend } from "./app.ts";
import { parseRunConfig } from "./config.ts";

/** One USD in base units (6 decimals). */
export const USD = 1_000_000n;
/** The most fee a test payment can cost: ceil(100000 gas × 20 gwei / 10^12). */
export const MAX_FEE = 2000n;

/** A chain, a committee and the sidecars that run. */
export interface TestNetwork {
  readonly dir: string;
  readonly anvil: Anvil;
  readonly local: LocalCommittee;
  readonly committee: Committee;
  readonly sidecars: SidecarProcess[];
  /** Stops sidecars and anvil and removes the folder. */
  stop(): Promise<void>;
}

/**
 * Starts anvil (1 s blocks) and sidecar processes for the first `running` of `names`.
 */
export async function startNetwork(
  names: readonly string[],
  running: number = names.length,
): Promise<TestNetwork> {
  const dir = await Deno.makeTempDir({ prefix: "allegro-backend-" });
  const anvil = await startAnvil({ blockTimeSeconds: 1 });
  const sidecars: SidecarProcess[] = [];
  const stop = async () => {
    await Promise.all(sidecars.map((s) => s.stop()));
    await anvil.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const local = await writeCommittee(dir, names, { chainId: anvil.chainId });
    const committee = await loadCommittee(pathToFileURL(local.path));
    sidecars.push(
      ...await spawnSidecars({
        committee: local,
        rpcUrl: anvil.wsUrl,
        dir,
        validators: local.validators.slice(0, running),
        gossip: false,
      }),
    );
    return { dir, anvil, local, committee, sidecars, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A backend running in this process, and its log lines. */
export interface TestBackend {
  readonly backend: RunningBackend;
  readonly url: string;
  readonly logs: string[];
}

/** Starts a backend on `net` with test-friendly timings; `args` override. */
export async function startTestBackend(
  net: TestNetwork,
  kvPath: string,
  args: readonly string[] = [],
): Promise<TestBackend> {
  const config = await parseRunConfig([
    "--committee",
    net.local.path,
    "--kv",
    kvPath,
    "--rpc-url",
    net.anvil.rpcUrl,
    "--listen",
    "127.0.0.1:0",
    "--confirmations",
    "1",
    "--sidecar-timeout-ms",
    "1500",
    "--health-interval-ms",
    "200",
    "--board-poll-ms",
    "200",
    "--chain-poll-ms",
    "100",
    ...args,
  ]);
  const logs: string[] = [];
  const backend = await startBackend(config, jsonLogger("backend", (line) => logs.push(line)));
  return { backend, url: backend.url, logs };
}

/** Fresh accounts, each funded with `amount` pathUSD (in parallel, one funder each). */
export async function fundedAccounts(
  anvil: Anvil,
  amounts: readonly bigint[],
): Promise<PrivateKeyAccount[]> {
  const accounts = amounts.map(() => privateKeyToAccount(generatePrivateKey()));
  await Promise.all(accounts.map((a, i) =>
    amounts[i] > 0n
      ? fund(anvil, {
        from: FUNDER_KEYS[i % FUNDER_KEYS.length],
        to: a.address,
        token: PATH_USD,
        amount: amounts[i],
        feeToken: PATH_USD,
      })
      : Promise.resolve()
  ));
  return accounts;
}

/** A signed payment of `amount` pathUSD (Allegro lane 1, nonce `nonce`, valid 5 min). */
export async function signedPayment(
  from: PrivateKeyAccount,
  to: Hex,
  amount: bigint,
  options: { chainId?: bigint; nonce?: bigint; memo?: Uint8Array } = {},
): Promise<Hex> {
  return await signPaymentTransaction(from, {
    chainId: options.chainId ?? 1337n,
    token: PATH_USD,
    recipient: to,
    amount,
    ...(options.memo ? { memo: options.memo } : {}),
    nonceKey: allegroNonceKey(1n),
    nonce: options.nonce ?? 0n,
    validBefore: BigInt(Math.floor(Date.now() / 1000)) + 300n,
    gas: 100_000n,
    maxFeePerGas: 20_000_000_000n,
    maxPriorityFeePerGas: 0n,
    feeToken: PATH_USD,
  });
}

/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly id?: string;
  readonly data: Record<string, string>;
}

/**
 * Opens `url` as an event stream and collects its events into `events` until `signal` aborts;
 * resolves once the stream is open (its `ready` event arrived).
 */
export async function collectSse(
  url: string,
  events: SseEvent[],
  signal: AbortSignal,
): Promise<{ done: Promise<void> }> {
  const response = await fetch(url, { signal, headers: { accept: "text/event-stream" } });
  if (!response.ok || !response.body) {
    throw new Error(`SSE ${url}: HTTP ${response.status} ${await response.text()}`);
  }
  const ready = Promise.withResolvers<void>();
  const done = (async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          let id: string | undefined;
          const data: string[] = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("id:")) id = line.slice(3).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
          }
          if (data.length === 0) continue;
          if (event === "ready") {
            ready.resolve();
            continue;
          }
          events.push({ event, ...(id ? { id } : {}), data: JSON.parse(data.join("\n")) });
        }
      }
    } catch {
      // aborted
    } finally {
      ready.resolve();
      await reader.cancel().catch(() => {});
    }
  })();
  await ready.promise;
  return { done };
}

/** Polls `fn` every 100 ms until it returns a value other than `undefined`, for `millis`. */
export async function waitFor<T>(
  what: string,
  millis: number,
  fn: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + millis;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${millis} ms waiting for ${what}`);
}

/** `fetch` + JSON: the status and the parsed body. */
export async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, body, headers: response.headers };
}

/** POSTs `body` as JSON. */
export function postJson(url: string, body: unknown) {
  return getJson(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Bytes of a 0x hex string. */
export const bytes = (hex: string): Uint8Array => hexToBytes(hex as Hex);

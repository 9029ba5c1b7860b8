/**
 * Test fixtures for the backend: a local network (anvil, the vault, four sidecar processes), a
 * backend running in this process on it, payers with funds in the vault, signed orders, JSON
 * calls and an SSE reader. Not part of the executable.
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Address, type Hex, hexToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type Committee,
  connectSidecars,
  loadCommittee,
  NO_PARENT,
  type SignedOrder,
  signOrder,
} from "@allegro/client";
import { fund, FUNDER_KEYS, PATH_USD } from "@allegro/server/anvil";
import { writeAccountKeyFile } from "@allegro/server/keyfile";
import {
  fundAndDeposit,
  type LocalNetwork,
  startLocalNetwork,
} from "@allegro/server/local-network";
import { SETTLER_FUNDS } from "@allegro/server/network";
import { jsonLogger } from "@allegro/server/log";
import { type RunningBackend, startBackend } from "./app.ts";
import { parseRunConfig } from "./config.ts";

/** One USD in base units (6 decimals). */
export const USD = 1_000_000n;

/** A local network of four sidecars (1 s blocks), its committee, and a funded settler key. */
export interface TestNetwork {
  readonly net: LocalNetwork;
  readonly committee: Committee;
  /** An account key file with funds to pay settlement fees. */
  readonly settlerKey: string;
}

/** Starts anvil, the vault and four sidecars (no backend process). */
export async function startTestNetwork(): Promise<TestNetwork> {
  const net = await startLocalNetwork({ validators: 4, blockTimeSeconds: 1, backend: false });
  try {
    const committee = await loadCommittee(pathToFileURL(net.committee.path));
    const settlerKey = join(net.dataDir, "backend.settler.key");
    const settler = await writeAccountKeyFile(settlerKey);
    await fund(net, {
      from: FUNDER_KEYS[1],
      to: settler.address,
      token: PATH_USD,
      amount: SETTLER_FUNDS,
      feeToken: PATH_USD,
    });
    return { net, committee, settlerKey };
  } catch (e) {
    await net.stop();
    throw e;
  }
}

/** A backend running in this process, and its log lines. */
export interface TestBackend {
  readonly backend: RunningBackend;
  readonly url: string;
  readonly logs: string[];
  /** `url` + `/api/v1` + `path`. */
  api(path: string): string;
}

/** Starts a backend on `t` with test-friendly timings and a KV of its own; `args` add or override. */
export async function startTestBackend(
  t: TestNetwork,
  name: string,
  args: readonly string[] = [],
): Promise<TestBackend> {
  const config = await parseRunConfig([
    "--committee",
    t.net.committee.path,
    "--kv",
    join(t.net.dataDir, `${name}.kv`),
    "--rpc-url",
    t.net.rpcUrl,
    "--listen",
    "127.0.0.1:0",
    "--confirmations",
    "1",
    "--sidecar-timeout-ms",
    "1500",
    "--health-interval-ms",
    "200",
    "--board-poll-ms",
    "250",
    ...args,
  ]);
  const logs: string[] = [];
  const backend = await startBackend(config, jsonLogger(name, (line) => logs.push(line)));
  return { backend, url: backend.url, logs, api: (path) => `${backend.url}/api/v1${path}` };
}

/**
 * A new account with `wallet` pathUSD, `deposit` of which it put into the vault — once every
 * sidecar has seen the deposit (`GetLane`).
 */
export async function depositor(
  t: TestNetwork,
  wallet: bigint,
  deposit: bigint,
): Promise<{ key: Hex; address: Address }> {
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  await fundAndDeposit(t.net, key, { wallet, deposit });
  const sidecars = connectSidecars(t.committee);
  await waitFor("every sidecar to see the deposit", 10_000, async () => {
    const lanes = await Promise.all(
      sidecars.map(({ client }) =>
        client.getLane({ payer: hexToBytes(address), token: hexToBytes(PATH_USD) })
      ),
    );
    return lanes.every((l) => BigInt(l.balance) === deposit) || undefined;
  });
  return { key, address };
}

/** An order of `amount` pathUSD from `key` to `to`, valid 30 s (or until `validBefore`), signed. */
export function order(
  t: TestNetwork,
  key: Hex,
  to: Address,
  amount: bigint,
  options: { seq?: bigint; parent?: Hex; validBefore?: bigint; chainId?: bigint } = {},
): Promise<SignedOrder> {
  const payer = privateKeyToAccount(key);
  return signOrder(payer, {
    chainId: options.chainId ?? t.committee.chainId,
    vault: t.committee.vault,
    payer: payer.address,
    recipient: to,
    token: PATH_USD,
    amount,
    fee: 0n,
    seq: options.seq ?? 0n,
    validBefore: options.validBefore ?? BigInt(Date.now() + 30_000),
    parent: options.parent ?? NO_PARENT,
    exit: false,
    memo: NO_PARENT,
  });
}

/** Polls `fn` every 100 ms until it returns something other than `undefined`, for `millis`. */
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

/** A JSON answer. */
export interface JsonAnswer {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
  readonly headers: Headers;
}

/** `fetch` + JSON: the status, the parsed body and the headers. */
export async function getJson(url: string, init?: RequestInit): Promise<JsonAnswer> {
  const response = await fetch(url, init);
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text), headers: response.headers };
  } catch {
    throw new Error(`${url}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
}

/** POSTs `body` (a string as is, anything else as JSON) with `content-type`. */
export function postJson(
  url: string,
  body: unknown,
  contentType = "application/json",
): Promise<JsonAnswer> {
  return getJson(url, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly id?: string;
  // deno-lint-ignore no-explicit-any
  readonly data: any;
}

/**
 * Opens `url` as an event stream and collects its events (`ready` included) into `events`
 * until the stream ends or `signal` aborts; resolves once the `ready` event arrived, with a
 * promise of the stream's end.
 */
export async function collectSse(
  url: string,
  events: SseEvent[],
  signal: AbortSignal,
): Promise<{ ended: Promise<void> }> {
  const response = await fetch(url, { signal, headers: { accept: "text/event-stream" } });
  if (!response.ok || !response.body) {
    throw new Error(`SSE ${url}: HTTP ${response.status} ${await response.text()}`);
  }
  const ready = Promise.withResolvers<void>();
  const ended = (async () => {
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
          events.push({ event, ...(id ? { id } : {}), data: JSON.parse(data.join("\n")) });
          if (event === "ready") ready.resolve();
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
  return { ended };
}

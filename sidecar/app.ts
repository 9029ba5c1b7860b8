/**
 * Assembles a running sidecar from its configuration: key, committee (checked against the
 * vault), store (and its store-loss marker), authority, vault follower, certifier, gossip,
 * settler and the listeners.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { bytesToHex, createPublicClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { FastPaySidecar } from "@allegro/proto";
import {
  bytesEqual,
  CertificateSigner,
  committeeMismatch,
  loadCommittee,
  readCommittee,
  readVaultInfo,
} from "@allegro/client";
import { readAccountKeyFile, readKeyFile } from "@allegro/server/keyfile";
import { type Listener, serveConnect, serveGrpc } from "@allegro/server/listen";
import type { Logger } from "@allegro/server/log";
import { VaultFollower } from "@allegro/server/vault-follower";
import { Authority, type Gate } from "./authority.ts";
import { Certifier } from "./certifier.ts";
import type { SidecarConfig } from "./config.ts";
import { TxEvents } from "./events.ts";
import { Gossip } from "./gossip.ts";
import { SidecarMetrics } from "./metrics.ts";
import { sidecarService, submitFastPath } from "./service.ts";
import { Settler } from "./settler.ts";
import { Store } from "./store.ts";

/** How long (chain time) board entries outlive their order's `validBefore`. */
const BOARD_RETENTION_MILLIS = 3_600_000n;

/** A started sidecar. */
export interface RunningSidecar {
  /** Base URL of the Connect / gRPC-Web listener. */
  readonly url: string;
  /** Base URL of the plain gRPC listener, if configured. */
  readonly grpcUrl?: string;
  /** Stops listeners, gossip, the settler and the follower, then closes the store. */
  stop(): Promise<void>;
}

/** Why the sidecar refuses to start; the message says what to fix. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

/**
 * Starts a sidecar. Refuses to start with a key that is not the committee member `name`, a
 * committee that is not the vault's for its epoch, or a store of another key or epoch.
 *
 * @example
 * ```ts ignore
 * const sidecar = await startSidecar(await parseRunConfig(Deno.args), jsonLogger("dave"));
 * ```
 */
export async function startSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const restartClock = BigInt(Date.now());
  const key = await readKeyFile(config.key).catch((e) => {
    throw new StartError(`--key: ${(e as Error).message}`);
  });
  const committee = await loadCommittee(pathToFileURL(config.committee)).catch((e) => {
    throw new StartError(`--committee ${config.committee}: ${(e as Error).message}`);
  });
  const member = committee.validators.find((v) => v.name === config.name);
  if (member === undefined) {
    throw new StartError(`--name ${config.name} is not in committee ${config.committee}`);
  }
  if (!bytesEqual(member.publicKey, key.publicKey)) {
    throw new StartError(
      `--key ${config.key} (${bytesToHex(key.publicKey)}) is not ${config.name}'s committee key ${
        bytesToHex(member.publicKey)
      }`,
    );
  }
  if (member.settlementAddress !== key.settlementAddress) {
    throw new StartError(
      `--key ${config.key} settles as ${key.settlementAddress}, the committee names ${member.settlementAddress} for ${config.name}`,
    );
  }

  const chain = createPublicClient({
    transport: http(config.rpcUrl, { timeout: 5000, retryCount: 1 }),
  });
  const chainId = await chain.getChainId().catch((e) => {
    throw new StartError(`--rpc-url ${config.rpcUrl} does not answer: ${(e as Error).message}`);
  });
  if (BigInt(chainId) !== committee.chainId) {
    throw new StartError(
      `--rpc-url ${config.rpcUrl} is chain ${chainId}, the committee's is ${committee.chainId}`,
    );
  }
  const vault = await readVaultInfo(chain, committee.vault).catch((e) => {
    throw new StartError(
      `the committee's vault ${committee.vault} cannot be read: ${(e as Error).message}`,
    );
  });
  const mismatch = committeeMismatch(
    committee,
    await readCommittee(chain, committee.vault, committee.epoch),
  );
  if (mismatch !== undefined) throw new StartError(`--committee ${config.committee}: ${mismatch}`);
  if (vault.maxValidity <= BigInt(config.marginMillis)) {
    throw new StartError(
      `--margin-ms ${config.marginMillis} must be below the vault's maxValidity ${vault.maxValidity} ms`,
    );
  }

  const store = await Store.open(config.kv);
  const start = await store.start();
  const pubkey = bytesToHex(key.publicKey);
  store.marker = { pubkey, epoch: committee.epoch };
  if (start.marker && (start.marker.pubkey !== pubkey || start.marker.epoch !== committee.epoch)) {
    store.close();
    throw new StartError(
      `--kv ${config.kv} holds the state of key ${start.marker.pubkey} in epoch ${start.marker.epoch}; this sidecar is ${pubkey} in epoch ${committee.epoch}: each key and epoch runs on a store of its own`,
    );
  }
  let gate: Gate = { kind: "checking" };
  if (start.marker === undefined) {
    if (config.firstStart) await store.writeMarker(pubkey, committee.epoch);
    else {
      gate = {
        kind: "recovering",
        reason:
          "the store has no marker of this key: it is empty or lost (--first-start declares a key that never signed)",
        restartClock,
      };
    }
  }
  const f = committee.faultTolerance;
  const signer = CertificateSigner.create(key.secretKey, key.settlementKey, committee);
  const authority = new Authority({
    chainId: committee.chainId,
    vault: committee.vault,
    epoch: committee.epoch,
    self: pubkey,
    maxValidity: vault.maxValidity,
    margin: BigInt(config.marginMillis),
    staleAfter: BigInt(config.staleAfterMillis),
    maxUnsettledPerLane: config.maxUnsettledPerLane,
    gossipWindow: BigInt(config.gossipWindow),
    boardsToCheck: Math.min(2 * f, committee.validators.length - 1),
    boardsToRecover: Math.min(2 * f + 1, committee.validators.length - 1),
    sign: (txHash, effectsHash, created) => signer.sign(txHash, effectsHash, created),
  }, { ...start, gate });

  const events = new TxEvents();
  const metrics = new SidecarMetrics();
  const settlerAccount = config.settlerKey
    ? privateKeyToAccount(
      (await readAccountKeyFile(config.settlerKey).catch((e) => {
        throw new StartError(`--settler-key: ${(e as Error).message}`);
      })).privateKey,
    )
    : undefined;
  if (settlerAccount?.address === key.settlementAddress) {
    throw new StartError(
      "--settler-key must not be the settlement key: that key signs nothing else",
    );
  }
  const viewCurrent = () => authority.viewProblem(BigInt(Date.now())) === undefined;
  const settler = new Settler({
    committee,
    log,
    metrics,
    events,
    chainTime: () => authority.chain?.time,
    viewCurrent,
    alertMarginMillis: config.staleAfterMillis,
    ...(settlerAccount
      ? { send: { client: chain, account: settlerAccount, feeToken: config.feeToken } }
      : {}),
    delayMillis: config.settleDelayMillis,
    intervalMillis: Math.max(100, Math.floor(config.blockIntervalMillis / 4)),
    minRemainingMillis: config.blockIntervalMillis * 2,
  });
  const certifier = new Certifier(authority, store, committee, {
    maxCachedLanes: config.maxCachedLanes,
    hooks: {
      seen: (entry) => settler.track(entry),
      applied: (block) => {
        settler.applied(block);
        metrics.head(block.height, Math.max(0, (Date.now() - Number(block.headerMillis)) / 1000));
      },
    },
  });
  const follower = new VaultFollower({
    rpcUrl: config.rpcUrl,
    vault: committee.vault,
    fromBlock: start.chain ? start.chain.height + 1n : vault.deployBlock,
    onBlocks: (blocks) => certifier.applyBlocks(blocks),
    onConnection: (up, error) => {
      authority.connected = up;
      if (up) log.info("chain connection up", { rpc_url: config.rpcUrl });
      else log.warn("chain connection down", { rpc_url: config.rpcUrl, error });
    },
    pollMillis: Math.max(50, Math.floor(config.blockIntervalMillis / 4)),
    timeoutMillis: Math.max(500, Math.floor(config.staleAfterMillis / 2)),
  });
  follower.start();
  const gossip = new Gossip({
    peers: config.peers,
    committee,
    self: key.publicKey,
    certifier,
    log,
    metrics,
    intervalMillis: config.gossipIntervalMillis,
    pageLimit: Math.min(config.maxPage, 256),
    maxPagesPerRound: 16,
    timeoutMillis: 2000,
    perSignerPerSecond: config.gossipPerSignerPerSecond,
    viewCurrent,
    onEntry: (entry) => settler.track(entry),
    onStoreLoss: (reason) => {
      log.error("store loss detected: signing stops until recovery ends", { reason });
      certifier.storeLossDetected(reason, restartClock);
    },
  });
  gossip.start();
  settler.start();
  // The board keeps what readers may still need: orders expired for an hour of chain time go.
  const sweep = setInterval(() => {
    const time = authority.chain?.time;
    if (time !== undefined) {
      store.sweepBoard(time, BOARD_RETENTION_MILLIS).catch((e) =>
        log.warn("board sweep failed", { error: String(e) })
      );
    }
  }, 60_000);

  const service = sidecarService({
    name: config.name,
    committee,
    publicKey: key.publicKey,
    settlementAddress: key.settlementAddress,
    peers: config.peers,
    certifier,
    store,
    chain: () => authority.chain,
    events,
    metrics,
    log,
    maxPage: config.maxPage,
  });
  const routes = (router: Parameters<Parameters<typeof serveConnect>[0]["routes"]>[0]) =>
    router.service(FastPaySidecar, service);
  const fastSubmit = submitFastPath({ certifier, metrics, log }, config.maxBodyBytes);
  const fallback = async (request: Request) => {
    const fast = fastSubmit(request);
    if (fast !== undefined) return await fast;
    const path = new URL(request.url).pathname;
    if (path === "/healthz") {
      const head = authority.chain;
      // The very test submissions are refused by: a down connection counts, not only age.
      const problem = authority.viewProblem(BigInt(Date.now()));
      return Response.json(
        {
          status: problem ? "unavailable" : "ok",
          ...(problem ? { reason: problem } : {}),
          name: config.name,
          gate: authority.gate.kind,
          ...(head ? { head: { height: head.height.toString(), time: head.time.toString() } } : {}),
        },
        { status: problem ? 503 : 200 },
      );
    }
    if (path === "/metrics") {
      metrics.commits(store.drainCommitMillis());
      return new Response(await metrics.render(), {
        headers: { "content-type": metrics.contentType },
      });
    }
    return undefined;
  };
  const listeners: Listener[] = [serveConnect({
    ...config.listen,
    routes,
    readMaxBytes: config.maxBodyBytes,
    fallback,
    corsOrigins: config.corsOrigins,
  })];
  if (config.grpcListen) {
    listeners.push(
      await serveGrpc({
        ...config.grpcListen,
        routes,
        readMaxBytes: config.maxBodyBytes,
        serving: () => authority.viewProblem(BigInt(Date.now())) === undefined,
      }),
    );
  }
  const url = (l: Listener) =>
    `http://${l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname}:${l.port}`;
  log.info("sidecar started", {
    name: config.name,
    url: url(listeners[0]),
    ...(listeners[1] ? { grpc: url(listeners[1]) } : {}),
    pubkey,
    settlement_address: key.settlementAddress,
    chain_id: committee.chainId,
    epoch: committee.epoch,
    vault: committee.vault,
    max_validity_ms: vault.maxValidity,
    margin_ms: config.marginMillis,
    stale_after_ms: config.staleAfterMillis,
    gate: gate.kind,
    settler: settlerAccount?.address ?? null,
    peers: config.peers,
  });

  let stopped: Promise<void> | undefined;
  return {
    url: url(listeners[0]),
    ...(listeners[1] ? { grpcUrl: url(listeners[1]) } : {}),
    stop: () =>
      stopped ??= (async () => {
        clearInterval(sweep);
        await Promise.allSettled(listeners.map((l) => l.close()));
        await gossip.stop();
        await settler.stop();
        await follower.stop();
        store.close();
        log.info("sidecar stopped", { name: config.name });
      })(),
  };
}

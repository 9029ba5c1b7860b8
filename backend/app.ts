/**
 * Assembles a running backend from its configuration: the committee (checked against the vault),
 * the store, the lifecycle with its vault tracker and settler, the vault follower, validator
 * health, the board puller, the aggregator, and one listener for REST, SSE, Connect, gRPC-Web and
 * the web UI (plus an optional plain-gRPC one).
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { privateKeyToAccount } from "viem/accounts";
import { FastPayAggregator } from "@allegro/proto";
import { connectSidecars, loadCommittee } from "@allegro/client";
import { loadDemoAccounts } from "@allegro/server/demo-accounts";
import { readAccountKeyFile } from "@allegro/server/keyfile";
import { type Listener, serveConnect, serveGrpc } from "@allegro/server/listen";
import type { Logger } from "@allegro/server/log";
import { VaultFollower } from "@allegro/server/vault-follower";
import { Aggregator } from "./aggregator.ts";
import { BoardPuller } from "./boards.ts";
import { Chain, StartError } from "./chain.ts";
import type { BackendConfig } from "./config.ts";
import { EventHub } from "./events.ts";
import { HealthMonitor } from "./health.ts";
import { Lifecycle } from "./lifecycle.ts";
import { BackendMetrics } from "./metrics.ts";
import { isPending } from "./record.ts";
import { httpApp } from "./rest.ts";
import { aggregatorService } from "./service.ts";
import { Settler } from "./settler.ts";
import { Store } from "./store.ts";
import { Tracker } from "./tracker.ts";

export { StartError };

/** A started backend. */
export interface RunningBackend {
  /** Base URL of the HTTP listener (REST, SSE, Connect, gRPC-Web, web UI). */
  readonly url: string;
  /** Base URL of the plain gRPC listener, if configured. */
  readonly grpcUrl?: string;
  /** Stops listeners, streams and background work, then closes the store. */
  stop(): Promise<void>;
}

/** Wiring that is not configuration. */
export interface BackendHooks {
  /** Web UI folder used when `--web-dir` is not given (the UI a shipped backend carries). */
  readonly webDir?: string;
}

const hostUrl = (l: { hostname: string; port: number }) =>
  `http://${l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname}:${l.port}`;

/** Runs `load`, turning its failure into a {@linkcode StartError} that names `option`. */
async function option<T>(option: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    throw new StartError(`${option}: ${(e as Error).message}`);
  }
}

/**
 * Starts a backend. Refuses to start ({@linkcode StartError}, naming the option) when the
 * committee is not the vault's for its epoch, the chain is another, or a file cannot be read.
 *
 * @example
 * ```ts ignore
 * const backend = await startBackend(await parseRunConfig(Deno.args), jsonLogger("backend"));
 * await backend.stop();
 * ```
 */
export async function startBackend(
  config: BackendConfig,
  log: Logger,
  hooks: BackendHooks = {},
): Promise<RunningBackend> {
  const committee = await option(
    `--committee ${config.committee}`,
    () => loadCommittee(pathToFileURL(config.committee)),
  );
  const chain = await Chain.connect(config.rpcUrl, committee);
  const settlerKey = config.settlerKey &&
    await option(
      `--settler-key ${config.settlerKey}`,
      () => readAccountKeyFile(config.settlerKey!),
    );
  const account = settlerKey ? privateKeyToAccount(settlerKey.privateKey) : undefined;
  if (account && committee.validators.some((v) => v.settlementAddress === account.address)) {
    throw new StartError(
      `--settler-key ${config.settlerKey} is a validator's settlement key, which signs nothing else`,
    );
  }
  const demoAccounts = config.demoAccounts &&
    await option(
      `--demo-accounts ${config.demoAccounts}`,
      () => loadDemoAccounts(config.demoAccounts!),
    );
  if (config.webDir) {
    const info = await option(`--web-dir ${config.webDir}`, () => Deno.stat(config.webDir!));
    if (!info.isDirectory) throw new StartError(`--web-dir ${config.webDir} is not a folder`);
  }
  const webDir = config.webDir ?? hooks.webDir;
  const store = await option(`--kv ${config.kv}`, () =>
    Store.open(config.kv, {
      recordTtlMillis: config.recordTtlMillis,
      maxBoardEntries: config.maxBoardEntries,
    }));

  const closing = new AbortController();
  const events = new EventHub({
    ringSize: 4096,
    queueSize: 4096,
    maxSubscribers: config.maxStreams,
  });
  const sidecars = connectSidecars(committee);
  const health = new HealthMonitor({
    sidecars,
    intervalMillis: config.healthIntervalMillis,
    timeoutMillis: config.sidecarTimeoutMillis,
    events,
    log,
  });
  const metrics = new BackendMetrics({
    streams: () => events.subscribers,
    validatorsUp: () => health.up,
  });
  const block = config.blockIntervalMillis;
  const lifecycle = new Lifecycle({
    store,
    committee,
    events,
    log,
    metrics,
    // The node's latest block, else the last one processed: chain time either way.
    chainTime: async (): Promise<bigint | undefined> => await chain.time() ?? tracker.head?.time,
  });
  const tracker: Tracker = new Tracker({
    lifecycle,
    store,
    events,
    metrics,
    log,
    confirmations: config.confirmations,
    settledAt: (r, latest) => chain.settledAt(r.signed, r.txHash, latest),
  });
  const settler = account &&
    new Settler({
      chain,
      committee,
      account,
      feeToken: config.feeToken,
      lifecycle,
      log,
      metrics,
      minRemainingMillis: 2 * block,
      retryMillis: block,
    });
  if (settler) {
    lifecycle.listen((before, after) => {
      const certified = after.stage === "CERTIFIED" && before?.stage !== "CERTIFIED";
      if (certified && after.source === "submission") settler.enqueue(after.txHash);
    });
  }
  for (const record of await store.openRecords()) {
    tracker.track(record);
    if (record.source === "submission" && record.qc && isPending(record)) {
      settler?.enqueue(record.txHash);
    }
  }
  const staleAfterMillis = 3 * block + 1000;
  let connected = false;
  const followFrom = await store.followFrom() ?? chain.vault.deployBlock;
  const follower = new VaultFollower({
    rpcUrl: config.rpcUrl,
    vault: committee.vault,
    fromBlock: followFrom,
    onBlocks: (blocks) => tracker.apply(blocks),
    onConnection: (up, error) => {
      connected = up;
      if (up) log.info("chain connection up", { rpc_url: config.rpcUrl });
      else log.warn("chain connection down", { rpc_url: config.rpcUrl, error });
    },
    pollMillis: Math.max(50, Math.floor(block / 4)),
    timeoutMillis: Math.max(500, Math.floor(staleAfterMillis / 2)),
  });
  const background = new Set<Promise<unknown>>();
  const aggregator = new Aggregator({
    committee,
    sidecars,
    lifecycle,
    log,
    metrics,
    timeoutMillis: config.sidecarTimeoutMillis,
    background,
    closing: closing.signal,
  });
  const boards = config.boardPollMillis > 0
    ? new BoardPuller({
      committee,
      sidecars,
      store,
      lifecycle,
      log,
      intervalMillis: config.boardPollMillis,
      timeoutMillis: config.sidecarTimeoutMillis,
    })
    : undefined;
  follower.start();
  health.start();
  boards?.start();

  const head = () => tracker.head;
  const service = aggregatorService({
    aggregator,
    lifecycle,
    store,
    head,
    events,
    maxPage: config.maxPage,
    watchMaxMillis: config.watchMaxMillis,
    closing: closing.signal,
  });
  const routes = (router: Parameters<Parameters<typeof serveConnect>[0]["routes"]>[0]) =>
    router.service(FastPayAggregator, service);
  /** Whether the chain view is current (`/healthz`, the gRPC health service). */
  const fresh = () => {
    const h = tracker.head;
    return connected && h !== undefined && Date.now() - Number(h.headerMillis) <= staleAfterMillis;
  };
  const app = httpApp({
    committee,
    aggregator,
    lifecycle,
    accounts: { chain, store, head },
    head,
    fresh,
    health,
    events,
    metrics,
    log,
    maxBodyBytes: config.maxBodyBytes,
    tokens: config.tokens,
    watchMaxMillis: config.watchMaxMillis,
    closing: closing.signal,
    ...(webDir ? { webDir } : {}),
    ...(demoAccounts ? { demoAccounts } : {}),
    clientConfig: {
      ...(config.publicRpcUrl ? { publicRpcUrl: config.publicRpcUrl } : {}),
      blockIntervalMillis: block,
      confirmations: config.confirmations,
      maxValidityMillis: chain.vault.maxValidity,
      exitDelaySeconds: chain.vault.exitDelay,
      ...(account ? { settler: account.address } : {}),
    },
  });
  const connectPrefix = `/${FastPayAggregator.typeName}/`;
  const listeners: Listener[] = [serveConnect({
    ...config.listen,
    routes,
    readMaxBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    fallback: (request) =>
      new URL(request.url).pathname.startsWith(connectPrefix) ? undefined : app.fetch(request),
  })];
  if (config.grpcListen) {
    listeners.push(
      await serveGrpc({
        ...config.grpcListen,
        routes,
        readMaxBytes: config.maxBodyBytes,
        serving: fresh,
      }),
    );
  }
  log.info("backend started", {
    url: hostUrl(listeners[0]),
    ...(listeners[1] ? { grpc: hostUrl(listeners[1]) } : {}),
    chain_id: committee.chainId,
    epoch: committee.epoch,
    vault: committee.vault,
    validators: committee.validators.map((v) => v.name),
    threshold: committee.threshold,
    settler: account?.address ?? null,
    rpc_url: config.rpcUrl,
    kv: config.kv,
    follow_from: followFrom,
    web_dir: webDir ?? null,
  });

  let stopped: Promise<void> | undefined;
  return {
    url: hostUrl(listeners[0]),
    ...(listeners[1] ? { grpcUrl: hostUrl(listeners[1]) } : {}),
    stop: () =>
      stopped ??= (async () => {
        closing.abort();
        events.closeAll();
        await Promise.allSettled(listeners.map((l) => l.close()));
        await Promise.all([health.stop(), boards?.stop(), follower.stop(), settler?.stop()]);
        await Promise.allSettled([...background]);
        store.close();
        log.info("backend stopped", {});
      })(),
  };
}

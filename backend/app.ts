/**
 * Assembles a running backend from its configuration: committee, store, lifecycle, chain
 * follower, validator health, board puller, aggregator, and the HTTP listeners.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { FastPayAggregator } from "@allegro/proto";
import { connectSidecars, loadCommittee } from "@allegro/client";
import { type Listener, serveFetch, serveGrpc } from "@allegro/server/listen";
import type { Logger } from "@allegro/server/log";
import { Aggregator } from "./aggregator.ts";
import { BoardPuller } from "./boards.ts";
import { ChainWatcher } from "./chain.ts";
import type { BackendConfig } from "./config.ts";
import { loadDemoAccounts } from "@allegro/server/demo-accounts";
import { EventHub } from "./events.ts";
import { HealthMonitor } from "./health.ts";
import { Lifecycle } from "./lifecycle.ts";
import { BackendMetrics } from "./metrics.ts";
import { httpApp } from "./rest.ts";
import { aggregatorService } from "./service.ts";
import { type Assets, dirAssets } from "./static.ts";
import { Store } from "./store.ts";

/** A started backend. */
export interface RunningBackend {
  /** Base URL of the HTTP listener (REST, SSE, Connect, gRPC-Web, web UI). */
  readonly url: string;
  /** Base URL of the plain gRPC listener, if configured. */
  readonly grpcUrl?: string;
  /** Stops listeners and background work, then closes the store. */
  stop(): Promise<void>;
}

/** Extra wiring that is not configuration. */
export interface BackendHooks {
  /** Web UI assets (e.g. embedded in the executable); `--web-dir` wins when both are set. */
  readonly assets?: Assets;
}

const hostUrl = (l: { hostname: string; port: number }) =>
  `http://${l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname}:${l.port}`;

/**
 * Starts a backend.
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
  const committee = await loadCommittee(pathToFileURL(config.committee));
  const demoAccounts = config.demoAccounts
    ? await loadDemoAccounts(config.demoAccounts)
    : undefined;
  const store = await Store.open(config.kv, {
    maxBoardEntries: config.maxBoardEntries,
    txTtlMillis: config.txTtlMillis,
  });
  const closing = new AbortController();
  const events = new EventHub({
    ringSize: 4096,
    queueSize: 4096,
    maxSubscribers: config.maxSseClients,
  });
  const metrics = new BackendMetrics();
  metrics.subscribersFrom(() => events.subscribers);
  const lifecycle = new Lifecycle({
    store,
    committee,
    events,
    log,
    cacheSize: config.certCacheSize,
    // The chain watcher is created next; no change happens before it exists.
    onChange: (before, after) => chain.onChange(before, after),
  });
  const chain: ChainWatcher = new ChainWatcher({
    rpcUrl: config.rpcUrl,
    pollIntervalMillis: config.chainPollMillis,
    confirmations: config.confirmations,
    forward: config.forward,
    lifecycle,
    store,
    events,
    log,
    metrics,
  });
  const sidecars = connectSidecars(committee);
  const background = new Set<Promise<unknown>>();
  const aggregator = new Aggregator({
    committee,
    sidecars,
    lifecycle,
    store,
    log,
    metrics,
    timeoutMillis: config.sidecarTimeoutMillis,
    background,
    closing: closing.signal,
  });
  const health = new HealthMonitor({
    sidecars,
    intervalMillis: config.healthIntervalMillis,
    timeoutMillis: config.sidecarTimeoutMillis,
    events,
    log,
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
      cacheSize: config.certCacheSize,
    })
    : undefined;
  await chain.start();
  health.start();
  boards?.start();

  const service = aggregatorService({
    committee,
    aggregator,
    lifecycle,
    store,
    chain,
    events,
    maxPage: config.maxPage,
    watchMaxMillis: config.watchMaxMillis,
    closing: closing.signal,
  });
  const routes = (router: ReturnType<typeof createConnectRouter>) =>
    router.service(FastPayAggregator, service);
  const router = createConnectRouter({ grpc: false, readMaxBytes: config.maxBodyBytes });
  routes(router);
  const connect = new Map(
    router.handlers.map((h) => [h.requestPath, createFetchHandler(h, { httpVersion: "1.1" })]),
  );
  const app = httpApp({
    committee,
    aggregator,
    lifecycle,
    store,
    chain,
    health,
    events,
    metrics,
    log,
    maxBodyBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    tokens: config.tokens,
    watchMaxMillis: config.watchMaxMillis,
    closing: closing.signal,
    connect,
    ...(demoAccounts ? { demoAccounts } : {}),
    ...(config.webDir
      ? { assets: dirAssets(config.webDir) }
      : hooks.assets
      ? { assets: hooks.assets }
      : {}),
  });
  const listeners: Listener[] = [serveFetch(config.listen, (request) => app.fetch(request))];
  if (config.grpcListen) {
    listeners.push(
      await serveGrpc({ ...config.grpcListen, routes, readMaxBytes: config.maxBodyBytes }),
    );
  }
  log.info("backend started", {
    url: hostUrl(listeners[0]),
    ...(listeners[1] ? { grpc: hostUrl(listeners[1]) } : {}),
    chain_id: committee.chainId,
    epoch: committee.epoch,
    validators: committee.validators.map((v) => v.name),
    threshold: committee.threshold,
    rpc: config.rpcUrl,
    kv: config.kv,
  });

  let stopped: Promise<void> | undefined;
  return {
    url: hostUrl(listeners[0]),
    ...(listeners[1] ? { grpcUrl: hostUrl(listeners[1]) } : {}),
    stop: () =>
      stopped ??= (async () => {
        closing.abort();
        events.closeAll();
        await Promise.all(listeners.map((l) => l.close()));
        await Promise.all([health.stop(), boards?.stop(), chain.stop()]);
        await Promise.allSettled([...background]);
        store.close();
        log.info("backend stopped", {});
      })(),
  };
}

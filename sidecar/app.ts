/**
 * Assembles a running sidecar from its configuration: key, committee, store, ledger, chain
 * follower, certifier, gossip and the HTTP listeners.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { bytesToHex } from "viem";
import { FastPaySidecar } from "@allegro/proto";
import { bytesEqual, CertificateSigner, ed25519, loadCommittee } from "@allegro/client";
import { type Listener, serveConnect, serveGrpc } from "@allegro/server/listen";
import { cachingEd25519, PaymentCache } from "./caches.ts";
import { Certifier } from "./certifier.ts";
import { ChainFollower } from "./chain.ts";
import type { SidecarConfig } from "./config.ts";
import { TxEvents } from "./events.ts";
import { Gossip } from "./gossip.ts";
import { readKeyFile } from "@allegro/server/keyfile";
import { enableNativeSecp256k1 } from "./secp256k1.ts";
import { Ledger } from "./ledger.ts";
import type { Logger } from "@allegro/server/log";
import { SidecarMetrics } from "./metrics.ts";
import { sidecarService, submitFastPath } from "./service.ts";
import { Store } from "./store.ts";

/** A started sidecar. */
export interface RunningSidecar {
  /** Base URL of the Connect / gRPC-Web listener. */
  readonly url: string;
  /** Base URL of the plain gRPC listener, if configured. */
  readonly grpcUrl?: string;
  /** Stops listeners, gossip and the chain follower, then closes the store. */
  stop(): Promise<void>;
}

/**
 * Starts a sidecar. Refuses to start with a key that is not the committee member `name`.
 *
 * @example
 * ```ts ignore
 * const sidecar = await startSidecar(await parseRunConfig(Deno.args), jsonLogger("dave"));
 * ```
 */
export async function startSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const key = await readKeyFile(config.key);
  const committee = await loadCommittee(pathToFileURL(config.committee));
  const member = committee.validators.find((v) => v.name === config.name);
  if (member === undefined) {
    throw new Error(`validator "${config.name}" is not in committee ${config.committee}`);
  }
  if (!bytesEqual(member.publicKey, key.publicKey)) {
    throw new Error(
      `key ${config.key} (${bytesToHex(key.publicKey)}) is not ${config.name}'s committee key ${
        bytesToHex(member.publicKey)
      }`,
    );
  }
  // Own signatures and verified ones are remembered: a parent QC usually holds this sidecar's
  // own certificate, and parents were decoded when they were certified.
  const ed = cachingEd25519(await ed25519());
  const signer = await CertificateSigner.create(key.secretKey, committee, ed);
  const secp256k1 = await enableNativeSecp256k1();
  const store = await Store.open(config.kv, {
    maxBatch: config.maxBatch,
    requestTtlMillis: config.requestTtlMillis,
    maxGossipPerSigner: config.maxGossipPerSigner,
  });
  const ledger = new Ledger();
  for await (const tx of store.pending()) ledger.addPending(tx);
  const events = new TxEvents();
  const metrics = new SidecarMetrics();
  const chain = new ChainFollower({
    rpcUrl: config.rpcUrl,
    ledger,
    store,
    log,
    staleAfterMillis: config.staleAfterMillis,
    pollIntervalMillis: 250,
    maxTrackedAccounts: config.maxTrackedAccounts,
    backoff: { initialMillis: 100, maxMillis: 10_000 },
    onEvent: (e) => events.emit(e),
  });
  await chain.start();
  const certifier = new Certifier({
    ledger,
    store,
    signer,
    tracker: chain,
    prepare: {
      committee,
      minGas: config.minGas,
      maxClientRequestIdLength: 128,
      maxParents: 4,
      payments: new PaymentCache(),
      ed25519: ed,
    },
    policy: {
      expiryWindowMillis: config.expiryWindowMillis,
      minValidityMillis: config.minValidityMillis,
    },
    maxCachedEntries: config.maxCachedEntries,
  });
  const gossip = new Gossip({
    peers: config.peers,
    committee,
    self: key.publicKey,
    store,
    log,
    metrics,
    intervalMillis: config.gossipIntervalMillis,
    pageLimit: Math.min(config.maxPage, 256),
    maxPagesPerRound: 8,
    timeoutMillis: 2000,
  });
  gossip.start();

  const service = sidecarService({
    name: config.name,
    committee,
    signer,
    peers: config.peers,
    certifier,
    store,
    ledger,
    events,
    metrics,
    maxPage: config.maxPage,
  });
  const routes = (router: Parameters<Parameters<typeof serveConnect>[0]["routes"]>[0]) =>
    router.service(FastPaySidecar, service);
  const fastSubmit = submitFastPath({ certifier, metrics }, config.maxBodyBytes);
  const fallback = (request: Request) => {
    const fast = fastSubmit(request);
    if (fast !== undefined) return fast;
    const path = new URL(request.url).pathname;
    if (path === "/healthz") {
      const head = ledger.head;
      return Response.json(
        head
          ? { status: "ok", name: config.name, head: { height: String(head.height) } }
          : { status: "unavailable", name: config.name, reason: "chain view is not ready" },
        { status: head ? 200 : 503 },
      );
    }
    if (path === "/metrics") {
      metrics.commits(store.drainCommitMillis());
      const head = ledger.head;
      if (head) {
        metrics.head(
          head.height,
          Math.max(0, Date.now() / 1000 - Number(head.timestampMillis) / 1000),
        );
      }
      return new Response(metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4" },
      });
    }
    return undefined;
  };
  const listeners: Listener[] = [serveConnect({
    ...config.listen,
    routes,
    readMaxBytes: config.maxBodyBytes,
    fallback,
  })];
  if (config.grpcListen) {
    listeners.push(
      await serveGrpc({ ...config.grpcListen, routes, readMaxBytes: config.maxBodyBytes }),
    );
  }
  const url = (l: Listener) =>
    `http://${l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname}:${l.port}`;
  log.info("sidecar started", {
    name: config.name,
    url: url(listeners[0]),
    ...(listeners[1] ? { grpc: url(listeners[1]) } : {}),
    pubkey: bytesToHex(key.publicKey),
    chain_id: committee.chainId,
    epoch: committee.epoch,
    peers: config.peers,
    secp256k1,
  });

  let stopped: Promise<void> | undefined;
  return {
    url: url(listeners[0]),
    ...(listeners[1] ? { grpcUrl: url(listeners[1]) } : {}),
    stop: () =>
      stopped ??= (async () => {
        await Promise.all(listeners.map((l) => l.close()));
        await gossip.stop();
        await chain.stop();
        store.close();
        log.info("sidecar stopped", { name: config.name });
      })(),
  };
}

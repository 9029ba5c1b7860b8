/**
 * The HTTP surface of the backend on one Hono app: the REST API and SSE under `/api/v1`, the
 * OpenAPI document, `/healthz`, `/metrics`, the Connect services (mounted as fetch handlers, so
 * CORS applies to them too) and the web UI's static files at `/`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { streamSSE } from "hono/streaming";
import { bytesToHex, getAddress, type Hex, isAddress } from "viem";
import { create } from "@bufbuild/protobuf";
import { ParentPaymentSchema } from "@allegro/proto";
import { type Committee, qcInit } from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import { type Aggregator, SubmitError } from "./aggregator.ts";
import type { ChainWatcher } from "./chain.ts";
import type { DemoAccount } from "@allegro/server/demo-accounts";
import type { BackendEvent, EventHub } from "./events.ts";
import type { HealthMonitor } from "./health.ts";
import {
  headJson,
  hexField,
  InputError,
  paymentRequestFromJson,
  qcJson,
  submitJson,
  txJson,
  validatorJson,
} from "./json.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { BackendMetrics } from "./metrics.ts";
import { OPENAPI } from "./openapi.ts";
import type { Assets } from "./static.ts";
import type { Store } from "./store.ts";

/** What the HTTP surface needs. */
export interface HttpDeps {
  readonly committee: Committee;
  readonly aggregator: Aggregator;
  readonly lifecycle: Lifecycle;
  readonly store: Store;
  readonly chain: ChainWatcher;
  readonly health: HealthMonitor;
  readonly events: EventHub;
  readonly metrics: BackendMetrics;
  readonly log: Logger;
  readonly maxBodyBytes: number;
  readonly corsOrigins: readonly string[];
  readonly tokens: readonly Hex[];
  readonly watchMaxMillis: number;
  /** Aborted at shutdown: open streams end. */
  readonly closing: AbortSignal;
  /** Connect handlers by request path. */
  readonly connect: ReadonlyMap<string, (request: Request) => Promise<Response>>;
  /** Static files of the web UI. */
  readonly assets?: Assets;
  /** Accounts (with keys) of a local dev network, for the web UI; unset anywhere else. */
  readonly demoAccounts?: readonly DemoAccount[];
}

/** The status and body of an error answer. */
function fail(
  c: Context,
  status: 400 | 404 | 405 | 409 | 413 | 422 | 500 | 503,
  code: string,
  message: string,
  details?: unknown,
): Response {
  return c.json(
    { error: { code, message, ...(details !== undefined ? { details } : {}) } },
    status,
  );
}

const SUBMIT_STATUS: Record<string, 400 | 409 | 422> = {
  INVALID_FORMAT: 400,
  IDEMPOTENCY_CONFLICT: 409,
};

const EVENT_TYPES = new Set(["head", "certificate", "stage", "validator"] as const);

const KEEPALIVE_MILLIS = 15_000;

const SYMBOLS: Record<string, string> = {
  "0x20c0000000000000000000000000000000000000": "pathUSD",
  "0x20c0000000000000000000000000000000000001": "AlphaUSD",
  "0x20c0000000000000000000000000000000000002": "BetaUSD",
  "0x20c0000000000000000000000000000000000003": "ThetaUSD",
};

/**
 * The app; serve it with `Deno.serve(app.fetch)`.
 *
 * @example
 * ```ts ignore
 * const app = httpApp(deps);
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, app.fetch);
 * ```
 */
export function httpApp(deps: HttpDeps): Hono {
  const { committee, aggregator, lifecycle, chain, health, events, metrics, log } = deps;
  const app = new Hono();

  app.onError((e, c) => {
    log.error("request failed", { path: c.req.path, error: (e as Error).message });
    return fail(c, 500, "INTERNAL", "internal error; see the backend log");
  });
  app.notFound((c) => fail(c, 404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));

  if (deps.corsOrigins.length > 0) {
    app.use(
      "*",
      cors({
        origin: deps.corsOrigins.includes("*") ? "*" : [...deps.corsOrigins],
        allowMethods: ["GET", "POST", "OPTIONS"],
        allowHeaders: [
          "content-type",
          "connect-protocol-version",
          "connect-timeout-ms",
          "connect-accept-encoding",
          "connect-content-encoding",
          "grpc-timeout",
          "x-grpc-web",
          "x-user-agent",
          "last-event-id",
        ],
        exposeHeaders: [
          "grpc-status",
          "grpc-message",
          "grpc-status-details-bin",
          "connect-content-encoding",
          "retry-after",
        ],
        maxAge: 600,
      }),
    );
  }

  app.use("/api/*", async (c, next) => {
    await next();
    const route = c.req.path.split("/").slice(0, 4).join("/");
    metrics.request(route, c.res.status);
  });

  // --- Connect ---------------------------------------------------------------------------------
  for (const path of deps.connect.keys()) {
    const handler = deps.connect.get(path)!;
    app.all(path, (c) => handler(c.req.raw));
  }

  // --- REST ------------------------------------------------------------------------------------
  app.post(
    "/api/v1/payments",
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: (c) =>
        fail(c, 413, "PAYLOAD_TOO_LARGE", `request body is over ${deps.maxBodyBytes} bytes`),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch (e) {
        return fail(c, 400, "INVALID_JSON", `body is not JSON: ${(e as Error).message}`);
      }
      let request;
      try {
        request = paymentRequestFromJson(body);
      } catch (e) {
        if (e instanceof InputError) return fail(c, 400, "INVALID_REQUEST", e.message);
        throw e;
      }
      const parents = request.parent
        ? [create(ParentPaymentSchema, {
          qc: qcInit(request.parent.qc),
          signedTx: request.parent.signedTx,
          parentQcHash: request.parent.parentQcHash,
        })]
        : [];
      if (request.parent && request.parentQcHash.length === 0) {
        return fail(c, 400, "INVALID_REQUEST", "parent is given but parent_qc_hash is not");
      }
      let result;
      try {
        result = await aggregator.submit({ ...request, parents });
      } catch (e) {
        if (e instanceof SubmitError) {
          return fail(c, SUBMIT_STATUS[e.code] ?? 422, e.code, e.message);
        }
        throw e;
      }
      const answer = submitJson(result, {
        threshold: committee.threshold,
        n: committee.validators.length,
      });
      log.info("payment", {
        tx_hash: answer.tx_hash,
        outcome: result.outcome,
        stage: answer.stage,
        certificates: answer.certificates.length,
        rejects: answer.rejects.map((r) => `${r.validator}:${r.code}`),
        replayed: result.replayed,
      });
      if (result.outcome === "certified") return c.json(answer, 200);
      const summary = answer.rejects.map((r) => `${r.validator}: ${r.code}`).join("; ");
      if (result.outcome === "rejected") {
        return fail(
          c,
          422,
          result.code!,
          `no QC can form: ${answer.rejects.length} of ${answer.validators} validators refused (${summary})`,
          answer,
        );
      }
      c.header("retry-after", "1");
      return fail(
        c,
        503,
        "TEMPORARY_UNAVAILABLE",
        `no QC yet: ${answer.certificates.length} of ${answer.threshold} certificates (${summary}); retry`,
        answer,
      );
    },
  );

  const txHashParam = (c: Context): Uint8Array | Response => {
    try {
      return hexField("tx_hash", c.req.param("tx_hash"), 32);
    } catch (e) {
      return fail(c, 400, "INVALID_REQUEST", (e as Error).message);
    }
  };

  app.get("/api/v1/tx/:tx_hash", async (c) => {
    const txHash = txHashParam(c);
    if (txHash instanceof Response) return txHash;
    const record = await lifecycle.get(txHash);
    if (!record) return fail(c, 404, "NOT_FOUND", `tx ${bytesToHex(txHash)} is not known`);
    return c.json(txJson(record));
  });

  app.get("/api/v1/qc/:tx_hash", async (c) => {
    const txHash = txHashParam(c);
    if (txHash instanceof Response) return txHash;
    const record = await lifecycle.get(txHash);
    if (!record?.qc) {
      return fail(
        c,
        404,
        "NOT_FOUND",
        record
          ? `tx ${bytesToHex(txHash)} has no QC (stage ${record.stage})`
          : `tx ${bytesToHex(txHash)} is not known`,
      );
    }
    return c.json(qcJson(record.qc));
  });

  app.get("/api/v1/chain/head", (c) => {
    const head = chain.head;
    if (!head) return fail(c, 503, "TEMPORARY_UNAVAILABLE", "the chain has not answered recently");
    return c.json(headJson(head));
  });

  app.get("/api/v1/validators", (c) =>
    c.json({
      chain_id: committee.chainId.toString(),
      epoch: committee.epoch.toString(),
      threshold: committee.threshold,
      validators: health.snapshot().map(validatorJson),
    }));

  app.get("/api/v1/accounts/:address", async (c) => {
    const address = c.req.param("address");
    if (!isAddress(address, { strict: false })) {
      return fail(c, 400, "INVALID_REQUEST", `address must be 20 bytes of hex, got "${address}"`);
    }
    const asked = (c.req.queries("token") ?? []).flatMap((t) => t.split(",")).map((t) => t.trim())
      .filter(Boolean);
    for (const t of asked) {
      if (!isAddress(t, { strict: false })) {
        return fail(c, 400, "INVALID_REQUEST", `token must be an address, got "${t}"`);
      }
    }
    if (asked.length > 16) return fail(c, 400, "INVALID_REQUEST", "at most 16 tokens");
    const tokens = (asked.length ? asked : deps.tokens).map((t) => t.toLowerCase() as Hex);
    const head = chain.head;
    let balances: bigint[];
    try {
      balances = await chain.balances(getAddress(address), tokens);
    } catch (e) {
      return fail(
        c,
        503,
        "TEMPORARY_UNAVAILABLE",
        `balances could not be read: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    const me = address.toLowerCase();
    const pending = await deps.store.pendingOf(address as Hex, 1000);
    const recent = await deps.store.recentOf(address as Hex, 20);
    const summary = (r: (typeof pending)[number]) => ({
      tx_hash: bytesToHex(r.txHash),
      stage: r.stage,
      sender: r.payment.sender,
      recipient: r.payment.recipient,
      amount: r.payment.amount.toString(),
      asset: r.payment.asset,
      direction: r.payment.sender.toLowerCase() === me ? "out" : "in",
      qc_hash: r.qc ? bytesToHex(r.qc.qcHash) : null,
      first_seen_unix_millis: r.firstSeenMillis.toString(),
    });
    return c.json({
      address: getAddress(address),
      head_height: head?.height.toString() ?? null,
      tokens: tokens.map((token, i) => {
        let debit = 0n;
        let credit = 0n;
        for (const r of pending) {
          if (r.payment.asset.toLowerCase() !== token) continue;
          if (r.payment.sender.toLowerCase() === me) debit += r.payment.amount;
          if (r.payment.recipient.toLowerCase() === me) credit += r.payment.amount;
        }
        return {
          token: getAddress(token),
          symbol: SYMBOLS[token] ?? null,
          balance: balances[i].toString(),
          pending_debit: debit.toString(),
          pending_credit: credit.toString(),
          available: (balances[i] - debit + credit).toString(),
        };
      }),
      pending: pending.map(summary),
      recent: recent.map(summary),
    });
  });

  app.get("/api/v1/events", (c) => {
    const typesParam = c.req.query("types");
    let types: Set<BackendEvent["type"]> | undefined;
    if (typesParam) {
      types = new Set();
      for (const t of typesParam.split(",").map((s) => s.trim())) {
        if (!EVENT_TYPES.has(t as BackendEvent["type"])) {
          return fail(c, 400, "INVALID_REQUEST", `types: unknown event type "${t}"`);
        }
        types.add(t as BackendEvent["type"]);
      }
    }
    let txHash: string | undefined;
    let address: string | undefined;
    try {
      const tx = c.req.query("tx_hash");
      if (tx) txHash = bytesToHex(hexField("tx_hash", tx, 32));
      const a = c.req.query("address");
      if (a) address = bytesToHex(hexField("address", a, 20));
    } catch (e) {
      return fail(c, 400, "INVALID_REQUEST", (e as Error).message);
    }
    const last = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    if (last !== undefined && !/^\d{1,15}$/.test(last)) {
      return fail(c, 400, "INVALID_REQUEST", `last event id must be a number, got "${last}"`);
    }
    const sub = events.subscribe(
      {
        ...(types ? { types } : {}),
        ...(txHash ? { txHash } : {}),
        ...(address ? { address } : {}),
      },
      last === undefined ? undefined : Number(last),
    );
    if (!sub) return fail(c, 503, "TOO_MANY_STREAMS", "too many open event streams; retry later");
    c.header("x-accel-buffering", "no");
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      const abort = () => stop.abort();
      stream.onAbort(abort);
      deps.closing.addEventListener("abort", abort, { once: true });
      const deadline = Date.now() + deps.watchMaxMillis;
      try {
        await stream.writeSSE({
          event: "ready",
          data: JSON.stringify({ last_event_id: events.lastId }),
          retry: 1000,
        });
        while (!stop.signal.aborted && Date.now() < deadline) {
          const next = await sub.next(
            Math.min(KEEPALIVE_MILLIS, deadline - Date.now()),
            stop.signal,
          );
          if (next === undefined) break;
          if (next === "idle") {
            await stream.write(": keep-alive\n\n");
            continue;
          }
          await stream.writeSSE({
            event: next.event.type,
            id: String(next.id),
            data: JSON.stringify(next.event),
          });
        }
      } finally {
        sub.close();
        deps.closing.removeEventListener("abort", abort);
      }
    }, (e) => {
      log.warn("event stream failed", { error: e.message });
      sub.close();
      return Promise.resolve();
    });
  });

  app.get("/api/v1/demo/accounts", (c) => {
    if (!deps.demoAccounts) {
      return fail(
        c,
        404,
        "NOT_FOUND",
        "no demo accounts: only a local development network (deno task net) serves them",
      );
    }
    return c.json({
      note: "local development network only: never use these keys for real money",
      accounts: deps.demoAccounts.map((a) => ({
        name: a.name,
        address: a.address,
        private_key: a.privateKey,
      })),
    });
  });

  app.get("/api/v1/openapi.json", (c) => c.json(OPENAPI));
  app.all(
    "/api/*",
    (c) =>
      c.req.method === "GET" || c.req.method === "POST"
        ? fail(c, 404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`)
        : fail(c, 405, "METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}`),
  );

  // --- Operations ------------------------------------------------------------------------------
  app.get("/healthz", (c) => {
    const head = chain.head;
    const up = health.snapshot().filter((v) => v.status === "up").length;
    const ok = head !== undefined;
    return c.json({
      status: ok ? "ok" : "unavailable",
      head: head ? head.height.toString() : null,
      validators_up: up,
      threshold: committee.threshold,
    }, ok ? 200 : 503);
  });
  app.get(
    "/metrics",
    (c) => c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );

  // --- Web UI ----------------------------------------------------------------------------------
  app.get("*", async (c) => {
    const served = deps.assets ? await deps.assets(c.req.path) : undefined;
    if (served) return served;
    if (c.req.path === "/") {
      return c.json({
        name: "Allegro backend",
        api: "/api/v1",
        openapi: "/api/v1/openapi.json",
        events: "/api/v1/events",
        connect: "allegro.v1.FastPayAggregator",
      });
    }
    return fail(c, 404, "NOT_FOUND", `no route for GET ${c.req.path}`);
  });

  return app;
}

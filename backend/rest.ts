/**
 * The backend's HTTP routes on one Hono app: the REST API and SSE under `/api/v1` (JSON, errors
 * `{"error":{"code","message","details"?}}`), the OpenAPI document, `/healthz`, `/metrics` and
 * the web UI's static files at `/`. The Connect services and CORS are the listener's
 * (`serveConnect`); this app is its fallback. Malformed input is always a 4xx naming the field
 * and the value; request metrics are labelled with the matched route, never the path.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { streamSSE } from "hono/streaming";
import { type Address, bytesToHex, getAddress, isAddress } from "viem";
import { type Committee, isTip20Address } from "@allegro/client";
import type { DemoAccount } from "@allegro/server/demo-accounts";
import type { Logger } from "@allegro/server/log";
import { type AccountDeps, accountJson } from "./accounts.ts";
import { type Aggregator, SubmitError } from "./aggregator.ts";
import type { BackendEvent, EventHub } from "./events.ts";
import type { HealthMonitor } from "./health.ts";
import {
  certifiedOrderJson,
  headJson,
  hexField,
  InputError,
  submissionJson,
  submitRequestFromJson,
  txJson,
  validatorJson,
} from "./json.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { BackendMetrics } from "./metrics.ts";
import { OPENAPI } from "./openapi.ts";
import { staticFiles } from "./static.ts";
import type { Head } from "./tracker.ts";

/** What the HTTP routes need. */
export interface HttpDeps {
  readonly committee: Committee;
  readonly aggregator: Aggregator;
  readonly lifecycle: Lifecycle;
  readonly accounts: AccountDeps;
  readonly head: () => Head | undefined;
  /** Whether the chain view is current (`/healthz`). */
  readonly fresh: () => boolean;
  readonly health: HealthMonitor;
  readonly events: EventHub;
  readonly metrics: BackendMetrics;
  readonly log: Logger;
  readonly maxBodyBytes: number;
  readonly tokens: readonly Address[];
  readonly watchMaxMillis: number;
  /** Aborted at shutdown: open event streams end. */
  readonly closing: AbortSignal;
  /** Folder of the web UI's static files. */
  readonly webDir?: string;
  /** Accounts (with keys) of a local dev network, for the web UI; unset anywhere else. */
  readonly demoAccounts?: readonly DemoAccount[];
  /** What `GET /api/v1/config` tells clients such as the web UI. */
  readonly clientConfig: ClientConfig;
}

/** What clients are told of this backend's setup (`GET /api/v1/config`). */
export interface ClientConfig {
  /** The chain's JSON-RPC URL as browsers reach it (`--public-rpc-url`). */
  readonly publicRpcUrl?: string;
  readonly blockIntervalMillis: number;
  readonly confirmations: number;
  /** The vault's W (ms) and forced-exit delay (s). */
  readonly maxValidityMillis: bigint;
  readonly exitDelaySeconds: bigint;
  /** The account that settles each QC this backend forms, if any. */
  readonly settler?: Address;
}

type ErrorStatus = 400 | 404 | 405 | 413 | 415 | 422 | 500 | 503;

/** An error answer. */
function fail(
  c: Context,
  status: ErrorStatus,
  code: string,
  message: string,
  details?: unknown,
): Response {
  return c.json(
    { error: { code, message, ...(details !== undefined ? { details } : {}) } },
    status,
  );
}

/** The routes whose pattern labels the request metrics; anything else counts as `other`. */
const ROUTES = new Set([
  "/api/v1/payments",
  "/api/v1/tx/:tx_hash",
  "/api/v1/qc/:tx_hash",
  "/api/v1/chain/head",
  "/api/v1/validators",
  "/api/v1/accounts/:address",
  "/api/v1/events",
  "/api/v1/demo/accounts",
  "/api/v1/config",
  "/api/v1/openapi.json",
  "/healthz",
  "/metrics",
]);

const EVENT_TYPES = new Set<BackendEvent["type"]>(["head", "certificate", "stage", "validator"]);

/** Most tokens one `GET /accounts` may ask about. */
const MAX_TOKENS = 16;

const KEEPALIVE_MILLIS = 15_000;

/**
 * The app; use `app.fetch` as the listener's fallback.
 *
 * @example
 * ```ts ignore
 * const app = httpApp(deps);
 * serveConnect({ ..., fallback: (request) => app.fetch(request) });
 * ```
 */
export function httpApp(deps: HttpDeps): Hono {
  const { committee, aggregator, lifecycle, health, events, metrics, log } = deps;
  const app = new Hono();

  app.notFound((c) => fail(c, 404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));

  app.use("*", async (c, next) => {
    await next();
    const route = routePath(c);
    metrics.request(ROUTES.has(route) ? route : "other", c.req.method, c.res.status);
  });

  // --- REST ------------------------------------------------------------------------------------
  app.post(
    "/api/v1/payments",
    async (c, next) => {
      const type = c.req.header("content-type") ?? "";
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        return fail(
          c,
          415,
          "UNSUPPORTED_MEDIA_TYPE",
          `content-type must be application/json, got ${JSON.stringify(type)}`,
        );
      }
      await next();
    },
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
      let result;
      try {
        result = await aggregator.submit(submitRequestFromJson(body));
      } catch (e) {
        if (e instanceof InputError) return fail(c, 400, "INVALID_FORMAT", e.message);
        if (e instanceof SubmitError) {
          return fail(c, e.code === "INVALID_FORMAT" ? 400 : 422, e.code, e.message);
        }
        throw e;
      }
      const answer = submissionJson(result, {
        threshold: committee.threshold,
        validators: committee.validators.length,
      });
      if (result.outcome === "certified" || result.outcome === "confirmed") {
        return c.json(answer, 200);
      }
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

  const txHashParam = (c: Context) => bytesToHex(hexField("tx_hash", c.req.param("tx_hash"), 32));

  app.get("/api/v1/tx/:tx_hash", async (c) => {
    const txHash = txHashParam(c);
    const record = await lifecycle.get(txHash);
    if (!record) return fail(c, 404, "NOT_FOUND", `tx_hash ${txHash} is not known`);
    return c.json(txJson(record));
  });

  app.get("/api/v1/qc/:tx_hash", async (c) => {
    const txHash = txHashParam(c);
    const record = await lifecycle.get(txHash);
    if (!record?.qc) {
      return fail(
        c,
        404,
        "NOT_FOUND",
        record
          ? `tx_hash ${txHash} has no QC (stage ${record.stage})`
          : `tx_hash ${txHash} is not known`,
      );
    }
    return c.json(certifiedOrderJson(record.txHash, record.signed, record.qc));
  });

  app.get("/api/v1/chain/head", (c) => {
    const head = deps.head();
    if (!head) return fail(c, 503, "TEMPORARY_UNAVAILABLE", "no vault block processed yet");
    return c.json(headJson(head));
  });

  app.get("/api/v1/validators", (c) =>
    c.json({
      chain_id: committee.chainId.toString(),
      epoch: committee.epoch.toString(),
      vault: committee.vault,
      threshold: committee.threshold,
      validators: health.snapshot().map(validatorJson),
    }));

  app.get("/api/v1/accounts/:address", async (c) => {
    const address = c.req.param("address");
    if (!isAddress(address, { strict: false })) {
      throw new InputError(`address must be 20 bytes of 0x hex, got ${JSON.stringify(address)}`);
    }
    const asked = (c.req.queries("token") ?? []).flatMap((t) => t.split(","))
      .map((t) => t.trim()).filter(Boolean);
    for (const t of asked) {
      if (!isTip20Address(t)) {
        throw new InputError(`token must be a TIP-20 address (0x20c0…), got ${JSON.stringify(t)}`);
      }
    }
    if (asked.length > MAX_TOKENS) {
      throw new InputError(`token: at most ${MAX_TOKENS} tokens, got ${asked.length}`);
    }
    const tokens = asked.length ? [...new Set(asked.map((t) => getAddress(t)))] : deps.tokens;
    try {
      return c.json(await accountJson(deps.accounts, getAddress(address), tokens));
    } catch (e) {
      log.warn("account read failed", { address, error: (e as Error).message.split("\n")[0] });
      return fail(c, 503, "TEMPORARY_UNAVAILABLE", "balances could not be read from the chain");
    }
  });

  app.get("/api/v1/events", (c) => {
    let types: Set<BackendEvent["type"]> | undefined;
    const typesParam = c.req.query("types");
    if (typesParam) {
      types = new Set();
      for (const t of typesParam.split(",").map((s) => s.trim())) {
        if (!EVENT_TYPES.has(t as BackendEvent["type"])) {
          throw new InputError(`types: unknown event type ${JSON.stringify(t)}`);
        }
        types.add(t as BackendEvent["type"]);
      }
    }
    const tx = c.req.query("tx_hash");
    const txHash = tx ? bytesToHex(hexField("tx_hash", tx, 32)) : undefined;
    const a = c.req.query("address");
    const address = a ? bytesToHex(hexField("address", a, 20)) : undefined;
    const last = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    if (last !== undefined && !/^\d{1,15}$/.test(last)) {
      throw new InputError(`last event id must be a decimal number, got ${JSON.stringify(last)}`);
    }
    // A HEAD request reads no body: it must not hold a stream slot.
    if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" });
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
      const stop = AbortSignal.any([deps.closing, AbortSignal.timeout(deps.watchMaxMillis)]);
      stream.onAbort(() => sub.close());
      try {
        await stream.writeSSE({
          event: "ready",
          data: JSON.stringify({ last_event_id: events.lastId }),
          retry: 1000,
        });
        while (!stop.aborted) {
          const next = await sub.next(KEEPALIVE_MILLIS, stop);
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
        "no demo accounts: only a local development network serves them",
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

  app.get("/api/v1/config", (c) => {
    const config = deps.clientConfig;
    return c.json({
      chain_id: committee.chainId.toString(),
      vault: committee.vault,
      public_rpc_url: config.publicRpcUrl ?? null,
      block_interval_ms: config.blockIntervalMillis,
      confirmations: config.confirmations,
      max_validity_ms: config.maxValidityMillis.toString(),
      exit_delay_seconds: config.exitDelaySeconds.toString(),
      settler: config.settler ?? null,
    });
  });

  app.get("/api/v1/openapi.json", (c) => c.json(OPENAPI));

  app.all(
    "/api/*",
    (c) =>
      c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "POST"
        ? fail(c, 404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`)
        : fail(c, 405, "METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}`),
  );

  // --- Operations ------------------------------------------------------------------------------
  app.get("/healthz", (c) => {
    const head = deps.head();
    const ok = head !== undefined && deps.fresh();
    return c.json({
      status: ok ? "ok" : "unavailable",
      head: head?.height.toString() ?? null,
      validators_up: health.up,
      threshold: committee.threshold,
    }, ok ? 200 : 503);
  });
  app.get(
    "/metrics",
    async (c) => c.body(await metrics.render(), 200, { "content-type": metrics.contentType }),
  );

  // --- Web UI ----------------------------------------------------------------------------------
  if (deps.webDir) {
    app.route("/", staticFiles(deps.webDir));
  } else {
    app.get("/", (c) =>
      c.json({
        name: "Allegro backend",
        api: "/api/v1",
        openapi: "/api/v1/openapi.json",
        events: "/api/v1/events",
        connect: "allegro.v1.FastPayAggregator",
      }));
  }

  // An InputError thrown by a route is the client's: 400 naming the field; anything else is ours.
  app.onError((e, c) => {
    if (e instanceof InputError) return fail(c, 400, "INVALID_ARGUMENT", e.message);
    log.error("request failed", { route: routePath(c), error: (e as Error).message });
    return fail(c, 500, "INTERNAL", "internal error; see the backend log");
  });

  return app;
}

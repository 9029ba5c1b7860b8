/**
 * The backend's Prometheus metrics (`GET /metrics`), on `prom-client` with the process metrics:
 * HTTP answers by matched route, submissions by outcome, fan-out latency, QCs and confirmation
 * QCs (counted apart), settlements sent / settled / failed, certified orders that expired
 * unsettled (must stay 0), the chain head and lag, open streams and validators up. Every metric
 * has `# HELP`; every label value comes from a fixed set, so no request can add a series.
 *
 * @module
 */
import { METRICS_CONTENT_TYPE, metricsRegistry, prometheus } from "@allegro/server/metrics";

const LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];

/** Outcomes of a submission. */
export const SUBMISSION_OUTCOMES = [
  "certified",
  "confirmed",
  "rejected",
  "unavailable",
  "refused",
] as const;

/** How a submission ended: a QC, a confirmation QC, refused by validators or by the backend. */
export type SubmissionOutcome = typeof SUBMISSION_OUTCOMES[number];

const METHODS = new Set(["GET", "HEAD", "POST", "OPTIONS"]);

/**
 * The backend's metrics.
 *
 * @example
 * ```ts
 * import { BackendMetrics } from "./metrics.ts";
 *
 * const metrics = new BackendMetrics();
 * metrics.settlement("sent", 2);
 * console.log((await metrics.render()).includes('allegro_backend_settlements_total{outcome="sent"} 2')); // true
 * ```
 */
export class BackendMetrics {
  readonly #registry = metricsRegistry();
  readonly #requests = new prometheus.Counter({
    name: "allegro_backend_http_requests_total",
    help:
      "HTTP answers of the REST API and the operational routes, by matched route, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.#registry],
  });
  readonly #submissions = new prometheus.Counter({
    name: "allegro_backend_submissions_total",
    help:
      "Submissions answered, by outcome (certified, confirmed, rejected, unavailable, refused by the backend).",
    labelNames: ["outcome"] as const,
    registers: [this.#registry],
  });
  readonly #fanOut = new prometheus.Histogram({
    name: "allegro_backend_fanout_seconds",
    help: "Time from sending a submission to every sidecar until its outcome was decided.",
    buckets: LATENCY_BUCKETS,
    registers: [this.#registry],
  });
  readonly #qcs = new prometheus.Counter({
    name: "allegro_backend_qcs_total",
    help: "Settleable QCs the backend holds, formed from its fan-outs or its board pulls.",
    registers: [this.#registry],
  });
  readonly #confirmations = new prometheus.Counter({
    name: "allegro_backend_confirmations_total",
    help:
      "Confirmation QCs: orders already past validBefore when certified (they never settle; no alert).",
    registers: [this.#registry],
  });
  readonly #settlements = new prometheus.Counter({
    name: "allegro_backend_settlements_total",
    help:
      "Orders the backend's settler sent in a settlement, saw settled by it, or failed to settle.",
    labelNames: ["outcome"] as const,
    registers: [this.#registry],
  });
  readonly #failed = new prometheus.Counter({
    name: "allegro_backend_certified_failed_total",
    help: "Certified orders whose settlement was skipped or reverted (stage FAILED); must stay 0.",
    registers: [this.#registry],
  });
  readonly #expired = new prometheus.Counter({
    name: "allegro_backend_certified_expired_unsettled_total",
    help: "Certified orders (settleable QCs) that passed validBefore unsettled; must stay 0.",
    registers: [this.#registry],
  });
  readonly #head = new prometheus.Gauge({
    name: "allegro_backend_chain_head_height",
    help: "Height of the last vault block the backend processed.",
    registers: [this.#registry],
  });
  readonly #lag = new prometheus.Gauge({
    name: "allegro_backend_chain_lag_seconds",
    help: "How far the last processed block's header time lags the local clock.",
    registers: [this.#registry],
  });

  constructor(sources: { streams?: () => number; validatorsUp?: () => number } = {}) {
    for (const outcome of SUBMISSION_OUTCOMES) this.#submissions.inc({ outcome }, 0);
    for (const outcome of ["sent", "settled", "failed"] as const) {
      this.#settlements.inc({ outcome }, 0);
    }
    const { streams, validatorsUp } = sources;
    new prometheus.Gauge({
      name: "allegro_backend_event_streams",
      help: "Open GET /api/v1/events, WatchTx and WatchHeads streams.",
      registers: [this.#registry],
      collect() {
        this.set(streams?.() ?? 0);
      },
    });
    new prometheus.Gauge({
      name: "allegro_backend_validators_up",
      help: "Validators whose sidecar answered the last health probe with a chain head.",
      registers: [this.#registry],
      collect() {
        this.set(validatorsUp?.() ?? 0);
      },
    });
  }

  /**
   * Counts one HTTP answer. `route` must be a route pattern the app registered (never the
   * request's path); unknown methods count as `OTHER`.
   */
  request(route: string, method: string, status: number): void {
    this.#requests.inc({
      route,
      method: METHODS.has(method) ? method : "OTHER",
      status: String(status),
    });
  }

  /** Counts one answered submission; `fanOutMillis` when the sidecars were asked. */
  submission(outcome: SubmissionOutcome, fanOutMillis?: number): void {
    this.#submissions.inc({ outcome });
    if (fanOutMillis !== undefined) this.#fanOut.observe(fanOutMillis / 1000);
  }

  /** Counts a QC that formed: settleable, or a confirmation. */
  qc(confirmation: boolean): void {
    (confirmation ? this.#confirmations : this.#qcs).inc();
  }

  /** Counts orders the settler sent, saw settle, or failed to settle. */
  settlement(outcome: "sent" | "settled" | "failed", n = 1): void {
    this.#settlements.inc({ outcome }, n);
  }

  /** Counts a certified order that went `FAILED`. */
  certifiedFailed(): void {
    this.#failed.inc();
  }

  /** Counts a certified order that expired unsettled. */
  certifiedExpired(): void {
    this.#expired.inc();
  }

  /** Records the chain view: height and how far its header time lags the local clock. */
  head(height: bigint, lagSeconds: number): void {
    this.#head.set(Number(height));
    this.#lag.set(lagSeconds);
  }

  /** The exposition text. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The content type of {@linkcode BackendMetrics.render}. */
  get contentType(): string {
    return METRICS_CONTENT_TYPE;
  }
}

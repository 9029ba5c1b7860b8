/**
 * The sidecar's Prometheus metrics (`GET /metrics`): submissions and rejects by code, latency,
 * KV commit time, the chain view, gossip, and settlement — sent, settled, failed, and certified
 * orders that expired unsettled (which must stay 0; confirmation certificates are counted apart
 * and never alert). Every metric has `# HELP`; labels come from fixed sets only.
 *
 * @module
 */
import { REJECT_CODES, type RejectCode } from "@allegro/client";
import { METRICS_CONTENT_TYPE, metricsRegistry, prometheus } from "@allegro/server/metrics";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5];

/**
 * The sidecar's metrics.
 *
 * @example
 * ```ts
 * import { SidecarMetrics } from "./metrics.ts";
 *
 * const metrics = new SidecarMetrics();
 * metrics.submission(1.2, "EXPIRED", false);
 * console.log((await metrics.render()).includes('allegro_rejects_total{code="EXPIRED"} 1')); // true
 * ```
 */
export class SidecarMetrics {
  readonly #registry = metricsRegistry();
  readonly #submissions = new prometheus.Counter({
    name: "allegro_submissions_total",
    help: "Submissions answered, by outcome (certified, confirmed, rejected).",
    labelNames: ["outcome"] as const,
    registers: [this.#registry],
  });
  readonly #rejects = new prometheus.Counter({
    name: "allegro_rejects_total",
    help: "Submissions rejected, by reject code.",
    labelNames: ["code"] as const,
    registers: [this.#registry],
  });
  readonly #latency = new prometheus.Histogram({
    name: "allegro_submission_seconds",
    help: "Time from receiving a submission to answering it.",
    buckets: LATENCY_BUCKETS,
    registers: [this.#registry],
  });
  readonly #commit = new prometheus.Histogram({
    name: "allegro_kv_commit_seconds",
    help: "Duration of the KV commits that make certificates and blocks durable.",
    buckets: LATENCY_BUCKETS,
    registers: [this.#registry],
  });
  readonly #head = new prometheus.Gauge({
    name: "allegro_chain_head_height",
    help: "Height of the last block the sidecar processed.",
    registers: [this.#registry],
  });
  readonly #lag = new prometheus.Gauge({
    name: "allegro_chain_lag_seconds",
    help: "How far the last processed block's header time lags the local clock.",
    registers: [this.#registry],
  });
  readonly #gossip = new prometheus.Counter({
    name: "allegro_gossip_entries_total",
    help: "Certificates and QCs taken from peers' boards.",
    registers: [this.#registry],
  });
  readonly #settlements = new prometheus.Counter({
    name: "allegro_settlements_total",
    help: "Orders this sidecar's settler handled, by outcome (sent, settled, failed).",
    labelNames: ["outcome"] as const,
    registers: [this.#registry],
  });
  readonly #expired = new prometheus.Counter({
    name: "allegro_certified_expired_unsettled_total",
    help:
      "Orders whose QC was known more than S before validBefore that expired unsettled; must stay 0.",
    registers: [this.#registry],
  });

  constructor() {
    for (const code of REJECT_CODES) this.#rejects.inc({ code }, 0);
    for (const outcome of ["certified", "confirmed", "rejected"] as const) {
      this.#submissions.inc({ outcome }, 0);
    }
    for (const outcome of ["sent", "settled", "failed"] as const) {
      this.#settlements.inc({ outcome }, 0);
    }
  }

  /** Counts one answered submission and its latency; `code` for a reject. */
  submission(ms: number, code: RejectCode | undefined, confirmation: boolean): void {
    this.#latency.observe(ms / 1000);
    this.#submissions.inc({
      outcome: code ? "rejected" : confirmation ? "confirmed" : "certified",
    });
    if (code) this.#rejects.inc({ code });
  }

  /** Records KV commit durations. */
  commits(ms: readonly number[]): void {
    for (const m of ms) this.#commit.observe(m / 1000);
  }

  /** Records the chain view: height and how far its header time lags the local clock. */
  head(height: bigint, lagSeconds: number): void {
    this.#head.set(Number(height));
    this.#lag.set(lagSeconds);
  }

  /** Counts entries taken from peers. */
  gossip(added: number): void {
    this.#gossip.inc(added);
  }

  /** Counts orders the settler sent, saw settle, or failed to settle. */
  settlement(outcome: "sent" | "settled" | "failed", n = 1): void {
    this.#settlements.inc({ outcome }, n);
  }

  /** Counts a certified order (a settleable QC) that expired unsettled. */
  expiredUnsettled(): void {
    this.#expired.inc();
  }

  /** The exposition text. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The content type of {@linkcode SidecarMetrics.render}. */
  get contentType(): string {
    return METRICS_CONTENT_TYPE;
  }
}

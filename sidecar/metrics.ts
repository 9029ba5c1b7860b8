/**
 * Prometheus metrics of a sidecar: counters with labels and histograms, rendered in the text
 * exposition format for `GET /metrics`.
 *
 * @module
 */

const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000];

/** A histogram with fixed buckets (milliseconds). */
class Histogram {
  readonly counts = LATENCY_BUCKETS_MS.map(() => 0);
  sum = 0;
  count = 0;

  observe(ms: number) {
    for (const [i, bound] of LATENCY_BUCKETS_MS.entries()) if (ms <= bound) this.counts[i]++;
    this.sum += ms;
    this.count++;
  }

  render(name: string): string[] {
    const lines = LATENCY_BUCKETS_MS.map((b, i) =>
      `${name}_bucket{le="${b / 1000}"} ${this.counts[i]}`
    );
    lines.push(`${name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${name}_sum ${this.sum / 1000}`, `${name}_count ${this.count}`);
    return lines;
  }
}

/**
 * The sidecar's metrics.
 *
 * @example
 * ```ts
 * import { SidecarMetrics } from "./metrics.ts";
 *
 * const metrics = new SidecarMetrics();
 * metrics.submission(1.2, "EXPIRED");
 * console.log(metrics.render().includes('allegro_rejects_total{code="EXPIRED"} 1')); // true
 * ```
 */
export class SidecarMetrics {
  #submissions = 0;
  readonly #rejects = new Map<string, number>();
  readonly #latency = new Histogram();
  readonly #commit = new Histogram();
  #chainLagSeconds = 0;
  #headHeight = 0n;
  #gossipAdded = 0;

  /** Counts one answered submission and its latency; `code` for a reject. */
  submission(ms: number, code?: string) {
    this.#submissions++;
    this.#latency.observe(ms);
    if (code) this.#rejects.set(code, (this.#rejects.get(code) ?? 0) + 1);
  }

  /** Records KV commit durations. */
  commits(ms: readonly number[]) {
    for (const m of ms) this.#commit.observe(m);
  }

  /** Records the chain head and how far its time lags the wall clock. */
  head(height: bigint, lagSeconds: number) {
    this.#headHeight = height;
    this.#chainLagSeconds = lagSeconds;
  }

  /** Counts certificates stored from peers. */
  gossip(added: number) {
    this.#gossipAdded += added;
  }

  /** The exposition text. */
  render(): string {
    const lines = [
      "# TYPE allegro_submissions_total counter",
      `allegro_submissions_total ${this.#submissions}`,
      "# TYPE allegro_rejects_total counter",
      ...[...this.#rejects].map(([code, n]) => `allegro_rejects_total{code="${code}"} ${n}`),
      "# TYPE allegro_submission_seconds histogram",
      ...this.#latency.render("allegro_submission_seconds"),
      "# TYPE allegro_kv_commit_seconds histogram",
      ...this.#commit.render("allegro_kv_commit_seconds"),
      "# TYPE allegro_chain_head_height gauge",
      `allegro_chain_head_height ${this.#headHeight}`,
      "# TYPE allegro_chain_lag_seconds gauge",
      `allegro_chain_lag_seconds ${this.#chainLagSeconds}`,
      "# TYPE allegro_gossip_certificates_total counter",
      `allegro_gossip_certificates_total ${this.#gossipAdded}`,
    ];
    return lines.join("\n") + "\n";
  }
}

/**
 * Prometheus metrics of the backend, rendered for `GET /metrics`.
 *
 * @module
 */

const BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2000, 5000];

/**
 * Counters and a fan-out latency histogram.
 *
 * @example
 * ```ts
 * import { BackendMetrics } from "./metrics.ts";
 *
 * const metrics = new BackendMetrics();
 * metrics.fanOut(12, true);
 * console.log(metrics.render().includes("allegro_backend_qcs_total 1")); // true
 * ```
 */
export class BackendMetrics {
  readonly #counts = BUCKETS_MS.map(() => 0);
  #sum = 0;
  #fanOuts = 0;
  #qcs = 0;
  readonly #requests = new Map<string, number>();
  #head = 0n;
  #subscribers = () => 0;

  /** One decided fan-out and its latency. */
  fanOut(ms: number, qc: boolean): void {
    this.#fanOuts++;
    if (qc) this.#qcs++;
    this.#sum += ms;
    for (const [i, b] of BUCKETS_MS.entries()) if (ms <= b) this.#counts[i]++;
  }

  /** One REST answer with its status. */
  request(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  head(height: bigint): void {
    this.#head = height;
  }

  /** Where the number of open event streams comes from. */
  subscribersFrom(fn: () => number): void {
    this.#subscribers = fn;
  }

  render(): string {
    const lines = [
      "# TYPE allegro_backend_fanouts_total counter",
      `allegro_backend_fanouts_total ${this.#fanOuts}`,
      "# TYPE allegro_backend_qcs_total counter",
      `allegro_backend_qcs_total ${this.#qcs}`,
      "# TYPE allegro_backend_fanout_seconds histogram",
      ...BUCKETS_MS.map((b, i) =>
        `allegro_backend_fanout_seconds_bucket{le="${b / 1000}"} ${this.#counts[i]}`
      ),
      `allegro_backend_fanout_seconds_bucket{le="+Inf"} ${this.#fanOuts}`,
      `allegro_backend_fanout_seconds_sum ${this.#sum / 1000}`,
      `allegro_backend_fanout_seconds_count ${this.#fanOuts}`,
      "# TYPE allegro_backend_http_requests_total counter",
      ...[...this.#requests].map(([k, n]) => `allegro_backend_http_requests_total{${k}} ${n}`),
      "# TYPE allegro_backend_chain_head_height gauge",
      `allegro_backend_chain_head_height ${this.#head}`,
      "# TYPE allegro_backend_event_streams gauge",
      `allegro_backend_event_streams ${this.#subscribers()}`,
    ];
    return lines.join("\n") + "\n";
  }
}

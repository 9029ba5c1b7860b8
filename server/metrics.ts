/**
 * The Prometheus registry every server component exposes on `GET /metrics`, through
 * `prom-client`: the process metrics (CPU, memory, open files, start time) plus each
 * component's own. Labels come only from fixed sets (reject codes, stages, matched routes), so a
 * client cannot add series.
 *
 * @module
 */
import client from "prom-client";

export { client as prometheus };

/** The text exposition content type `GET /metrics` answers with. */
export const METRICS_CONTENT_TYPE: string = client.Registry.PROMETHEUS_CONTENT_TYPE;

/**
 * A registry with the process metrics registered. Node's event-loop-lag gauges are left out:
 * Deno does not measure them and they would only read `NaN`.
 *
 * @example
 * ```ts
 * import { metricsRegistry, prometheus } from "@allegro/server/metrics";
 *
 * const registry = metricsRegistry();
 * new prometheus.Counter({ name: "demo_total", help: "Demo events.", registers: [registry] }).inc();
 * console.log((await registry.metrics()).includes("# HELP demo_total Demo events.")); // true
 * ```
 */
export function metricsRegistry(): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  for (const metric of registry.getMetricsAsArray()) {
    const name = (metric as unknown as { name: string }).name;
    if (name.startsWith("nodejs_eventloop_lag")) registry.removeSingleMetric(name);
  }
  return registry;
}

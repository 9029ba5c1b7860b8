/**
 * The Markdown table of a benchmark run.
 *
 * @module
 */
import type { RunStats } from "./load.ts";
import type { ProcUsage } from "./proc.ts";

/** What a table row needs. */
export interface ReportRow {
  readonly scenario: string;
  readonly mode: string;
  readonly stats: RunStats;
  readonly processes: readonly ProcUsage[];
}

/** One measured row of a benchmark run, as written to the results. */
export interface BenchRow extends ReportRow {
  readonly processes: ProcUsage[];
  /** Group commits of the in-process sidecar during the run. */
  readonly commits?: {
    readonly count: number;
    readonly perCommit: number;
    readonly meanMillis: number;
    readonly p99Millis: number;
    readonly maxMillis: number;
  };
}

/**
 * One line per run: throughput, latency quantiles, rejects by code, CPU (cores busy) and peak
 * memory per process.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./report.ts";
 *
 * console.log(markdownTable([]).split("\n").length); // 2
 * ```
 */
export function markdownTable(rows: readonly ReportRow[]): string {
  const header =
    "| scenario | mode | certified/s | p50 ms | p90 ms | p99 ms | max ms | certified / sent | rejects | CPU (cores) | peak RSS (MiB) |";
  const rule = "|---|---|--:|--:|--:|--:|--:|--:|---|---|---|";
  const lines = rows.map((r) => {
    const s = r.stats;
    const rejects = Object.entries(s.rejects).map(([k, v]) => `${k} ${v}`).join(", ") || "–";
    const cpu = r.processes.map((p) => `${p.name} ${p.cpuCores.toFixed(2)}`)
      .join(", ");
    const mem = r.processes.map((p) => `${p.name} ${p.peakRssMiB}`).join(", ");
    const l = s.latencyMillis;
    return `| ${r.scenario} | ${r.mode} | ${s.throughput} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${s.certified} / ${s.sent} | ${rejects} | ${cpu} | ${mem} |`;
  });
  return [header, rule, ...lines].join("\n");
}

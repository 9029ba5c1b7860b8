/**
 * The load driver: sends prepared items closed-loop (a fixed number in flight) or open-loop at a
 * fixed rate (latency counted from each request's scheduled time, so a stalled server cannot hide
 * queueing), bounded in count and in time; and the statistics of a run.
 *
 * @module
 */

/** What one request ended in: a certificate, or a reject / error code. */
export type Outcome = { readonly ok: true } | {
  readonly ok: false;
  readonly code: string;
};

/** How to drive. */
export interface DriveOptions {
  /** Closed loop: requests in flight at once. Ignored when `rate` is set. */
  readonly concurrency?: number;
  /** Open loop: requests per second. */
  readonly rate?: number;
  /** Stop issuing after this long (items left over are not sent). */
  readonly durationMillis: number;
}

/** Statistics of one run. */
export interface RunStats {
  readonly sent: number;
  readonly certified: number;
  readonly rejects: Record<string, number>;
  readonly elapsedMillis: number;
  /** Certified payments per second over the run. */
  readonly throughput: number;
  readonly latencyMillis: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
    readonly mean: number;
  };
}

/** The `q` quantile of sorted `values` (nearest rank). */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil(q * sorted.length) - 1),
  );
  return sorted[rank];
}

/** Statistics from latencies and outcomes. */
export function summarize(
  latencies: Float64Array,
  outcomes: readonly Outcome[],
  elapsedMillis: number,
): RunStats {
  const sorted = latencies.slice().sort();
  const rejects: Record<string, number> = {};
  let certified = 0;
  for (const o of outcomes) {
    if (o.ok) certified++;
    else rejects[o.code] = (rejects[o.code] ?? 0) + 1;
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    sent: outcomes.length,
    certified,
    rejects,
    elapsedMillis: round(elapsedMillis),
    throughput: Math.round(certified / (elapsedMillis / 1000)),
    latencyMillis: {
      p50: round(quantile(sorted, 0.5)),
      p90: round(quantile(sorted, 0.9)),
      p99: round(quantile(sorted, 0.99)),
      max: round(sorted.length ? sorted[sorted.length - 1] : NaN),
      mean: round(
        sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
      ),
    },
  };
}

const errorCode = (e: unknown) =>
  `ERROR:${(e as Error)?.name ?? "unknown"}:${String((e as Error)?.message ?? e).slice(0, 60)}`;

/**
 * Sends `items` with `send` and measures. Resolves once every issued request has answered.
 *
 * @example
 * ```ts
 * import { drive } from "./load.ts";
 *
 * const stats = await drive([1, 2, 3], () => Promise.resolve({ ok: true }), {
 *   concurrency: 2,
 *   durationMillis: 1000,
 * });
 * console.log(stats.certified); // 3
 * ```
 */
export async function drive<T>(
  items: readonly T[],
  send: (item: T) => Promise<Outcome>,
  options: DriveOptions,
): Promise<RunStats> {
  const latencies = new Float64Array(items.length);
  const outcomes: Outcome[] = [];
  const started = performance.now();
  const deadline = started + options.durationMillis;
  let next = 0;

  const one = async (i: number, scheduled: number) => {
    let outcome: Outcome;
    try {
      outcome = await send(items[i]);
    } catch (e) {
      outcome = { ok: false, code: errorCode(e) };
    }
    latencies[outcomes.length] = performance.now() - scheduled;
    outcomes.push(outcome);
  };

  if (options.rate !== undefined) {
    const interval = 1000 / options.rate;
    const inflight = new Set<Promise<void>>();
    while (next < items.length) {
      const now = performance.now();
      if (now >= deadline) break;
      // Issue everything due by now; each keeps its scheduled time.
      while (next < items.length && started + next * interval <= now) {
        const p = one(next, started + next * interval);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
        next++;
      }
      const wait = started + next * interval - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(wait, 50))));
    }
    await Promise.all(inflight);
  } else {
    const concurrency = Math.max(1, options.concurrency ?? 1);
    const worker = async () => {
      while (next < items.length && performance.now() < deadline) {
        const i = next++;
        await one(i, performance.now());
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  const elapsed = performance.now() - started;
  return summarize(latencies.subarray(0, outcomes.length), outcomes, elapsed);
}

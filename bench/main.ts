/**
 * `deno task bench`: the Allegro load generator. Scenarios (`--scenarios`, comma-separated):
 *
 * - `primitives`: what each building block of a certification costs alone (`primitives.ts`);
 * - `inproc-single` / `inproc-chained`: one sidecar in isolation (its real authority, certifier,
 *   store on disk with durable group commits and certificate signer; a synthetic chain view that
 *   funds the lanes a run spends), driven in-process;
 * - `http-single` / `http-chained`: the same sidecar in its own process behind its Connect
 *   service on `Deno.serve` (binary `SubmitFastPay` fast path), driven over loopback HTTP/1.1;
 * - `qc4`: anvil, the vault and 4 sidecar processes; each payment's QC through the client's own
 *   fan-out, then through the backend if it starts and answers; then the platform floor: the
 *   same fan-out to 4 processes that only make one durable Deno KV commit and answer (`qc4.ts`).
 *
 * Isolated scenarios run closed-loop (`--concurrency` in flight) to find the throughput, then
 * open-loop at `--load` (default 80%; a list for a curve) of it to measure latency. Every order is
 * seq 0 of a lane of its own, funded before the run (untimed); a chained order spends a parent
 * certified just before (untimed) with the parent's 3-of-4 QC attached. Results go to
 * `bench-results/` (JSON and Markdown) and the table is printed. Loopback only; every run is
 * bounded by `--duration` and by the orders built for it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FastPaySidecar, RejectCode } from "@allegro/proto";
import type { Answer } from "@allegro/sidecar/bench";
import { benchCommittee, MAX_VALIDITY, startIsolated } from "./isolated.ts";
import { DEPOSIT_PATH } from "./isolated_server.ts";
import { drive, type Outcome, quantile, type RunStats } from "./load.ts";
import {
  benchAccounts,
  type BenchOrder,
  chainedOrders,
  LanePool,
  type LaneRef,
  orderPlan,
  singleOrders,
  submission,
  wireRequest,
} from "./orders.ts";
import { measurePrimitives, type PrimitiveCost, primitivesTable } from "./primitives.ts";
import { loadAverage, measureProcesses, type ReadyChild, spawnReady } from "./proc.ts";
import { qc4Scenario } from "./qc4.ts";
import { type BenchRow, markdownTable } from "./report.ts";

interface Options {
  readonly scenarios: string[];
  readonly durationMillis: number;
  readonly concurrency: number;
  /** Open-loop rates, as fractions of the closed-loop throughput. */
  readonly loads: number[];
  readonly accounts: number;
  readonly warmup: number;
  readonly maxPayments: number;
  readonly qcRate: number;
  /** Iterations of the primitives, as a fraction of the default. */
  readonly primitivesScale: number;
  readonly out: string;
  readonly label: string;
  /** Where the databases go (default: the system's temp folder). */
  readonly kvDir?: string;
  /** Write a V8 CPU profile of the sidecar process (http scenarios) into this folder. */
  readonly profile?: string;
}

const ALL = [
  "primitives",
  "inproc-single",
  "inproc-chained",
  "http-single",
  "http-chained",
  "qc4",
];
const DEFAULT = ["primitives", "inproc-single", "inproc-chained", "http-single", "qc4"];

const HELP = `deno task bench [options]

  --scenarios LIST    comma-separated, from: ${ALL.join(", ")}
                      (default: ${DEFAULT.join(",")}; "all" for every one)
  --duration S        seconds per measured run (default 5)
  --concurrency N     requests in flight in the closed-loop runs (default 64); blocks wait in
                      the same queue as orders, so a queue longer than the staleness bound
                      (4 s) makes the sidecar answer TEMPORARY_UNAVAILABLE
  --load F[,F…]       open-loop rates as fractions of the closed-loop throughput (default 0.8;
                      e.g. 0.2,0.4,0.6,0.8 for the latency curve)
  --accounts N        distinct payers (default 2000); each order is seq 0 of a lane
                      (payer, token) of its own, the tokens numbered as needed
  --warmup N          orders sent before the measured runs, not reported (default 1000)
  --max-payments N    most orders built for one closed-loop run (default 60000)
  --qc-rate R         payments per second in the qc4 scenario (default 5: at 20/s the four
                      sidecars' signature checks alone take most of a 2-core machine)
  --primitives-scale F
                      iterations of each primitive, as a fraction of the default (default 1)
  --kv-dir DIR        where the sidecars' databases go (default: the temp folder; a RAM disk to
                      take the disk out, e.g. a tmpfs mount: a diagnostic only, nothing is durable there)
  --label TEXT        name of this run in the results (default: a timestamp)
  --out DIR           results folder (default bench-results)
  --profile DIR       write a CPU profile of the sidecar process (http-* scenarios) to DIR`;

function parseOptions(args: string[]): Options | undefined {
  const { values } = parseArgs({
    args,
    options: {
      scenarios: { type: "string" },
      duration: { type: "string", default: "5" },
      concurrency: { type: "string", default: "64" },
      load: { type: "string", default: "0.8" },
      accounts: { type: "string", default: "2000" },
      warmup: { type: "string", default: "1000" },
      "max-payments": { type: "string", default: "60000" },
      "qc-rate": { type: "string", default: "5" },
      "primitives-scale": { type: "string", default: "1" },
      label: { type: "string" },
      out: { type: "string", default: "bench-results" },
      profile: { type: "string" },
      "kv-dir": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return undefined;
  const scenarios = values.scenarios === "all"
    ? ALL
    : (values.scenarios?.split(",").filter(Boolean) ?? DEFAULT);
  for (const s of scenarios) {
    if (!ALL.includes(s)) throw new Error(`unknown scenario ${s}`);
  }
  const num = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!(n >= min && n <= max)) {
      throw new Error(`--${name} must be within ${min} … ${max}`);
    }
    return n;
  };
  return {
    scenarios,
    durationMillis: num("duration", values.duration, 1, 120) * 1000,
    concurrency: num("concurrency", values.concurrency, 1, 10_000),
    loads: values.load.split(",").map((f) => num("load", f, 0.05, 1.5)),
    accounts: num("accounts", values.accounts, 1, 100_000),
    warmup: num("warmup", values.warmup, 1, 100_000),
    maxPayments: num("max-payments", values["max-payments"], 100, 1_000_000),
    qcRate: num("qc-rate", values["qc-rate"], 1, 5_000),
    primitivesScale: num("primitives-scale", values["primitives-scale"], 0.01, 10),
    out: values.out,
    label: values.label ?? new Date().toISOString().replace(/[:.]/g, "-"),
    ...(values["kv-dir"] ? { kvDir: values["kv-dir"] } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
  };
}

const log = (message: string) => console.error(`[bench] ${message}`);

function outcomeOf(answer: Answer): Outcome {
  return "certificate" in answer ? { ok: true } : { ok: false, code: answer.reject.code };
}

async function timed<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  const out = await f();
  log(`${what} in ${Math.round(performance.now() - started)} ms`);
  return out;
}

/** Closed loop to find the throughput, then open loop at each of `o.loads` of it. */
async function throughputAndLatency(
  scenario: string,
  o: Options,
  source: (count: number) => Promise<BenchOrder[]>,
  send: (order: BenchOrder) => Promise<Outcome>,
  processes: { name: string; pid: number | "self" }[],
  commits?: () => number[],
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Orders built but not sent (a run ends on time): sent first next time.
  let leftover: BenchOrder[] = [];
  const take = async (count: number) => {
    const fresh = count - leftover.length;
    if (fresh <= 0) return leftover.splice(0, count);
    const items = [...leftover, ...await source(fresh)];
    leftover = [];
    return items;
  };
  const run = async (
    mode: string,
    count: number,
    drive_: (items: BenchOrder[]) => Promise<RunStats>,
  ) => {
    const items = await take(count);
    commits?.();
    const window = measureProcesses(processes);
    const stats = await drive_(items);
    const usage = window.stop();
    const millis = commits?.();
    leftover = [...items.slice(stats.sent), ...leftover];
    log(
      `${scenario} ${mode}: ${stats.certified}/${stats.sent} certified, ${stats.throughput}/s, p50 ${stats.latencyMillis.p50} ms, p99 ${stats.latencyMillis.p99} ms, rejects ${
        JSON.stringify(stats.rejects)
      }`,
    );
    const groups = millis?.length ? commitStats(millis, stats.certified) : undefined;
    rows.push({ scenario, mode, stats, processes: usage, ...(groups ? { commits: groups } : {}) });
    if (groups) {
      log(
        `  ${groups.count} KV commits, ${groups.perCommit} per commit, ${groups.meanMillis} ms mean, p99 ${groups.p99Millis} ms, max ${groups.maxMillis} ms`,
      );
    }
    return stats;
  };
  // Warm-up (JIT, KV file growth): not reported.
  const warm = await take(o.warmup);
  const probe = await drive(warm, send, { concurrency: o.concurrency, durationMillis: 30_000 });
  leftover = warm.slice(probe.sent);
  if (probe.certified === 0) {
    throw new Error(`warm-up certified nothing: ${JSON.stringify(probe.rejects)}`);
  }
  // Enough orders for the closed-loop run at up to twice the warm-up's throughput.
  const closedCount = Math.min(
    o.maxPayments,
    Math.ceil(probe.throughput * 2 * o.durationMillis / 1000) + 1000,
  );
  const closed = await run(
    `closed c=${o.concurrency}`,
    closedCount,
    (items) => drive(items, send, { concurrency: o.concurrency, durationMillis: o.durationMillis }),
  );
  for (const load of o.loads) {
    const rate = Math.max(1, Math.round(closed.throughput * load));
    const count = Math.ceil(rate * (o.durationMillis / 1000)) + 1;
    await run(
      `rate ${rate}/s (${Math.round(load * 100)}%)`,
      count,
      (items) => drive(items, send, { rate, durationMillis: o.durationMillis + 1000 }),
    );
  }
  return rows;
}

/** Where an isolated scenario's orders go, and how lanes are funded there. */
interface Target {
  send(order: BenchOrder): Promise<Outcome>;
  deposit(lanes: readonly LaneRef[]): Promise<void>;
  readonly processes: { name: string; pid: number | "self" }[];
  /** Durations of the group commits since the last call (in-process only). */
  readonly commits?: () => number[];
  close(): Promise<void>;
}

async function inProcessTarget(dir: string): Promise<Target> {
  const sidecar = await startIsolated(join(dir, "sidecar.kv"));
  return {
    send: async (order) => outcomeOf(await sidecar.certifier.submit(submission(order))),
    deposit: (lanes) => sidecar.chain.deposit(lanes),
    processes: [{ name: "bench+sidecar", pid: "self" }],
    commits: () => sidecar.store.drainCommitMillis(),
    close: () => Promise.resolve(sidecar.close()),
  };
}

async function httpTarget(dir: string, o: Options): Promise<Target> {
  const child: ReadyChild<{ url: string; pid: number }> = await spawnReady([
    ...(o.profile ? ["--cpu-prof", `--cpu-prof-dir=${o.profile}`] : []),
    new URL("./isolated_server.ts", import.meta.url).href,
    join(dir, "sidecar.kv"),
  ]);
  const { url, pid } = child.info;
  const client = createClient(
    FastPaySidecar,
    createConnectTransport({ baseUrl: url, useBinaryFormat: true }),
  );
  return {
    send: async (order) => {
      const r = await client.submitFastPay(wireRequest(order));
      return r.result.case === "certificate"
        ? { ok: true }
        : { ok: false, code: RejectCode[r.result.value?.code ?? 0] ?? "NONE" };
    },
    deposit: async (lanes) => {
      const r = await fetch(`${url}${DEPOSIT_PATH}`, {
        method: "POST",
        body: JSON.stringify(lanes.map((l) => [l.payer, l.token])),
        signal: AbortSignal.timeout(120_000),
      });
      await r.body?.cancel();
      if (!r.ok) throw new Error(`deposit: HTTP ${r.status}`);
    },
    processes: [{ name: "bench", pid: "self" }, { name: "sidecar", pid }],
    close: () => child.stop(),
  };
}

async function isolatedScenario(scenario: string, o: Options): Promise<BenchRow[]> {
  const chained = scenario.endsWith("chained");
  const dir = await Deno.makeTempDir({ prefix: "allegro-bench-", dir: o.kvDir });
  const payers = benchAccounts("payer", o.accounts);
  const payees = chained ? benchAccounts("payee", o.accounts) : [];
  // The sidecar's committee keys, here to sign the parents' QCs.
  const { committee, signers } = benchCommittee();
  const plan = orderPlan(committee, 1_000_000n, MAX_VALIDITY / 2n);
  const lanes = new LanePool(payers.length);
  let target: Target | undefined;
  try {
    target = scenario.startsWith("http") ? await httpTarget(dir, o) : await inProcessTarget(dir);
    const t = target;
    const source = chained
      ? async (count: number) => {
        const { parents, children } = await timed(
          `${scenario}: built ${count} parent/child pairs`,
          () => chainedOrders(payers, payees, plan, lanes, count, committee, signers),
        );
        await t.deposit(parents.deposits);
        // The parents are certified first, untimed: a sidecar has normally seen the parent.
        const certified = await drive(parents.orders, t.send, {
          concurrency: o.concurrency,
          durationMillis: 120_000,
        });
        if (certified.certified !== count) {
          throw new Error(`parents: ${JSON.stringify(certified.rejects)}`);
        }
        return children;
      }
      : async (count: number) => {
        const { orders, deposits } = await timed(
          `${scenario}: built ${count} orders`,
          () => singleOrders(payers, plan, lanes, count),
        );
        await t.deposit(deposits);
        return orders;
      };
    return await throughputAndLatency(scenario, o, source, t.send, t.processes, t.commits);
  } finally {
    await target?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The in-process sidecar's group commits during a run: how many, how full, how long. */
function commitStats(
  millis: readonly number[],
  certified: number,
): NonNullable<BenchRow["commits"]> {
  const sorted = Float64Array.from(millis).sort();
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    count: millis.length,
    perCommit: Math.round(certified / millis.length * 10) / 10,
    meanMillis: round(millis.reduce((a, b) => a + b, 0) / millis.length),
    p99Millis: round(quantile(sorted, 0.99)),
    maxMillis: round(sorted[sorted.length - 1]),
  };
}

/**
 * Runs the benchmark; returns the process exit code. Results go to
 * `OUT/bench-LABEL.json` and `.md`.
 *
 * @example
 * ```ts ignore
 * await main(["--scenarios", "inproc-single", "--duration", "1"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let o: Options | undefined;
  try {
    o = parseOptions(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (o === undefined) {
    console.log(HELP);
    return 0;
  }
  const loadBefore = loadAverage();
  log(`load average ${loadBefore}`);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  let primitives: PrimitiveCost[] | undefined;
  for (const scenario of o.scenarios) {
    log(`--- ${scenario}`);
    if (scenario === "primitives") {
      const dir = await Deno.makeTempDir({ prefix: "allegro-bench-primitives-", dir: o.kvDir });
      try {
        primitives = await measurePrimitives(dir, o.primitivesScale);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } else if (scenario === "qc4") {
      const r = await qc4Scenario(o);
      rows.push(...r.rows);
      notes.push(...r.notes);
    } else {
      rows.push(...await isolatedScenario(scenario, o));
    }
  }
  const result = {
    label: o.label,
    date: new Date().toISOString(),
    machine: {
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      os: Deno.build.os,
      arch: Deno.build.arch,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAverage(),
    },
    options: { ...o },
    ...(primitives ? { primitives } : {}),
    rows,
    notes,
  };
  const table = [
    ...(primitives ? [primitivesTable(primitives)] : []),
    ...(rows.length > 0 ? [markdownTable(rows)] : []),
    ...notes.map((n) => `- ${n}`),
  ].join("\n\n");
  await Deno.mkdir(o.out, { recursive: true });
  const base = join(o.out, `bench-${o.label}`);
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(result, null, 2) + "\n");
  await Deno.writeTextFile(`${base}.md`, table + "\n");
  console.log(table);
  log(`results: ${base}.json, ${base}.md`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

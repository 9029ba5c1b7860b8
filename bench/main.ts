/**
 * `deno task bench`: the Allegro load generator. Scenarios (`--scenarios`, comma-separated):
 *
 * - `inproc-single` / `inproc-chained`: one sidecar in isolation (real certifier, ledger, store on
 *   disk with fsync'd group commits, signer; an in-process chain view), driven in-process;
 * - `http-single` / `http-chained`: the same sidecar in its own process behind its Connect service
 *   on `Deno.serve`, driven over loopback HTTP/1.1 (Connect binary protocol);
 * - `qc4`: anvil, 4 sidecar processes and the backend; each payment goes to the backend, which
 *   fans it out and returns the 3-of-4 QC, then from the client's own fan-out; then the platform
 *   floor: the same fan-out to 4 processes that only make one durable Deno KV commit and answer.
 *
 * Isolated scenarios run closed-loop (`--concurrency` in flight) to find the throughput, then
 * open-loop at `--load` (default 80%; a list for a curve) of it to measure latency. Chained payments spend a parent
 * certified just before (untimed) with the parent's 3-of-4 QC attached. Results go to
 * `bench-results/` (JSON and Markdown) and the table is printed. Loopback only; every run is
 * bounded by `--duration` and by the payments built for it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type Address, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  FastPayAggregator,
  FastPaySidecar,
  RejectCode,
  type SubmitFastPayRequest,
  SubmitFastPayRequestSchema,
} from "@allegro/proto";
import {
  allegroNonceKey,
  assembleQuorumCertificate,
  type Certificate,
  certificateFromProto,
  certificateProblem,
  loadCommittee,
  qcToProto,
  signPaymentTransaction,
} from "@allegro/client";
import { pathToFileURL } from "node:url";
import { FUNDER_KEYS, startAnvil } from "@allegro/server/anvil";
import { spawnBackend, spawnSidecars, writeCommittee } from "@allegro/server/network";
import { CHAIN_ID, type IsolatedSidecar, startIsolated } from "./isolated.ts";
import { drive, type Outcome, quantile, type RunStats } from "./load.ts";
import {
  benchAccounts,
  chainedPayments,
  Lanes,
  PATH_USD,
  type PayloadSigner,
  payloadSigner,
  type PaymentPlan,
  type PreparedPayment,
  singlePayments,
} from "./payments.ts";
import {
  loadAverage,
  measureProcesses,
  type ProcUsage,
  type ReadyChild,
  spawnReady,
} from "./proc.ts";
import { markdownTable } from "./report.ts";
import { measurePrimitives, type PrimitiveCost, primitivesTable } from "./primitives.ts";

/** One measured row. */
export interface BenchRow {
  readonly scenario: string;
  /** `closed c=128` or `rate 8000/s`. */
  readonly mode: string;
  readonly stats: RunStats;
  readonly processes: ProcUsage[];
  /** Group commits of the in-process sidecar during the run. */
  readonly commits?: {
    count: number;
    perCommit: number;
    meanMillis: number;
    p99Millis: number;
    maxMillis: number;
  };
}

interface Options {
  readonly scenarios: string[];
  readonly durationMillis: number;
  readonly concurrency: number;
  /** Open-loop rates, as fractions of the closed-loop throughput. */
  readonly loads: number[];
  readonly accounts: number;
  readonly maxPayments: number;
  readonly qcRate: number;
  readonly secp256k1: "auto" | "ffi" | "wasm" | "js";
  readonly out: string;
  readonly label: string;
  /** Where the databases go (default: the system's temp folder). */
  readonly kvDir?: string;
  /** A fresh lane for every payment (every one a store lookup) instead of wallet-like nonces. */
  readonly cold: boolean;
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
  --concurrency N     requests in flight in the closed-loop runs (default 256)
  --load F[,F…]       open-loop rates as fractions of the closed-loop throughput (default 0.8;
                      e.g. 0.2,0.4,0.6,0.8 for the latency curve)
  --accounts N        distinct payers (default 2000)
  --max-payments N    most payments built for one closed-loop run (default 60000)
  --qc-rate R         payments per second in the qc4 scenario (default 20)
  --secp256k1 B       sender recovery in the isolated sidecar: auto|ffi|wasm|js (default auto)
  --cold              a fresh nonce lane for every payment (default: one lane per account,
                      sequential nonces, as a wallet does; with --cold every payment is a
                      store lookup in the sidecar)
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
      concurrency: { type: "string", default: "256" },
      load: { type: "string", default: "0.8" },
      accounts: { type: "string", default: "2000" },
      "max-payments": { type: "string", default: "60000" },
      "qc-rate": { type: "string", default: "20" },
      secp256k1: { type: "string", default: "auto" },
      label: { type: "string" },
      out: { type: "string", default: "bench-results" },
      profile: { type: "string" },
      cold: { type: "boolean", default: false },
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
    maxPayments: num("max-payments", values["max-payments"], 100, 1_000_000),
    qcRate: num("qc-rate", values["qc-rate"], 1, 5_000),
    secp256k1: values.secp256k1 as Options["secp256k1"],
    out: values.out,
    label: values.label ?? new Date().toISOString().replace(/[:.]/g, "-"),
    cold: values.cold ?? false,
    ...(values["kv-dir"] ? { kvDir: values["kv-dir"] } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
  };
}

const log = (message: string) => console.error(`[bench] ${message}`);

function outcomeOf(
  answer: { certificate?: unknown; reject?: { code: string } },
): Outcome {
  return "certificate" in answer ? { ok: true } : { ok: false, code: answer.reject!.code };
}

/** A source of fresh payments for an isolated sidecar: each call builds new contention keys. */
class PaymentSource {
  #start = 0;
  readonly #lanes: Lanes;
  constructor(
    readonly signer: PayloadSigner,
    readonly payers: ReturnType<typeof benchAccounts>,
    readonly payees: ReturnType<typeof benchAccounts>,
    readonly plan: PaymentPlan,
    readonly sidecar: Pick<IsolatedSidecar, "committee" | "signers">,
    cold: boolean,
  ) {
    this.#lanes = new Lanes(cold);
  }

  single(count: number): PreparedPayment[] {
    const out = singlePayments(
      this.signer,
      this.payers,
      this.plan,
      count,
      this.#lanes,
      this.#start,
    );
    this.#start += count;
    return out;
  }

  async chained(count: number) {
    const out = await chainedPayments(
      this.signer,
      this.payers,
      this.payees,
      this.plan,
      this.sidecar.committee,
      this.sidecar.signers,
      count,
      this.#lanes,
      this.#start,
    );
    this.#start += count;
    return out;
  }
}

async function timed<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  const out = await f();
  log(`${what} in ${Math.round(performance.now() - started)} ms`);
  return out;
}

/** Closed loop to find the throughput, then open loop at `load` of it. */
async function throughputAndLatency(
  scenario: string,
  o: Options,
  build: (count: number) => Promise<PreparedPayment[]>,
  send: (p: PreparedPayment) => Promise<Outcome>,
  processes: { name: string; pid: number | "self" }[],
  certifyFirst?: (count: number) => Promise<void>,
  commits?: () => number[],
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Payments built but not sent (a run ends on time): sent first next time, so that no account's
  // nonce sequence has a gap.
  let leftover: PreparedPayment[] = [];
  const take = async (count: number) => {
    const fresh = count - leftover.length;
    if (fresh <= 0) return leftover.splice(0, count);
    await certifyFirst?.(fresh);
    const built = await timed(`${scenario}: built ${fresh} payments`, () => build(fresh));
    const items = [...leftover, ...built];
    leftover = [];
    return items;
  };
  const run = async (
    mode: string,
    count: number,
    drive_: (items: PreparedPayment[]) => Promise<RunStats>,
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
  // Warm-up (JIT, caches, KV file growth): not reported.
  const warm = await take(1000);
  const probe = await drive(warm, send, { concurrency: o.concurrency, durationMillis: 30_000 });
  leftover = warm.slice(probe.sent);
  if (probe.certified === 0) {
    throw new Error(`warm-up certified nothing: ${JSON.stringify(probe.rejects)}`);
  }
  // Enough payments for the closed-loop run at up to twice the warm-up's throughput.
  const closedCount = Math.min(
    o.maxPayments,
    Math.ceil(probe.throughput * 2 * o.durationMillis / 1000) + 1000,
  );
  const closed = await run(
    `closed c=${o.concurrency}`,
    closedCount,
    (items) =>
      drive(items, send, {
        concurrency: o.concurrency,
        durationMillis: o.durationMillis,
      }),
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

async function isolatedScenario(
  scenario: string,
  o: Options,
  signer: PayloadSigner,
): Promise<{ rows: BenchRow[]; secp256k1: string }> {
  const chained = scenario.endsWith("chained");
  const http = scenario.startsWith("http");
  const dir = await Deno.makeTempDir({ prefix: "allegro-bench-", dir: o.kvDir });
  const payers = benchAccounts("payer", o.accounts);
  const payees = chained ? benchAccounts("payee", o.accounts) : [];
  const plan: PaymentPlan = {
    chainId: CHAIN_ID,
    validBefore: BigInt(Math.floor(Date.now() / 1000)) + 1800n,
    recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    amount: 1_000_000n,
  };
  const empty = payees.map((p) => p.address.toLowerCase());
  let sidecar: IsolatedSidecar | undefined;
  let child: ReadyChild<{ url: string; pid: number; secp256k1: string }> | undefined;
  try {
    let send: (p: PreparedPayment) => Promise<Outcome>;
    let processes: { name: string; pid: number | "self" }[];
    let secp256k1: string;
    let committeeSource: Pick<IsolatedSidecar, "committee" | "signers">;
    if (!http) {
      sidecar = await startIsolated({
        kvPath: join(dir, "sidecar.kv"),
        secp256k1: o.secp256k1,
        emptyAccounts: new Set(empty),
      });
      const certifier = sidecar.certifier;
      send = async (p) => outcomeOf(await certifier.submit(p.request));
      processes = [{ name: "bench+sidecar", pid: "self" }];
      secp256k1 = sidecar.secp256k1;
      committeeSource = sidecar;
    } else {
      const emptyFile = join(dir, "empty.json");
      await Deno.writeTextFile(emptyFile, JSON.stringify(empty));
      child = await spawnReady<{ url: string; pid: number; secp256k1: string }>([
        ...(o.profile ? ["--cpu-prof", `--cpu-prof-dir=${o.profile}`] : []),
        new URL("./isolated_server.ts", import.meta.url).href,
        join(dir, "sidecar.kv"),
        emptyFile,
        o.secp256k1,
      ]);
      const info = child.info;
      const client = createClient(
        FastPaySidecar,
        createConnectTransport({ baseUrl: info.url, useBinaryFormat: true }),
      );
      send = async (p) => {
        const r = await client.submitFastPay(toProto(p));
        return r.result.case === "certificate" ? { ok: true } : {
          ok: false,
          code: RejectCode[r.result.value?.code ?? 0] ?? "NONE",
        };
      };
      processes = [{ name: "bench", pid: "self" }, {
        name: "sidecar",
        pid: info.pid,
      }];
      secp256k1 = info.secp256k1;
      // The same deterministic committee, for signing the parents' QCs.
      sidecar = await startIsolated({ kvPath: ":memory:" });
      committeeSource = sidecar;
    }
    const source = new PaymentSource(signer, payers, payees, plan, committeeSource, o.cold);
    let children: PreparedPayment[] = [];
    const rows = await throughputAndLatency(
      scenario,
      o,
      (count) =>
        Promise.resolve(
          chained ? children.splice(0, count) : source.single(count),
        ),
      send,
      processes,
      chained
        ? async (count) => {
          const pairs = await timed(
            `${scenario}: built ${count} parent/child pairs`,
            () => source.chained(count),
          );
          // The parents are certified first, untimed: a sidecar has normally seen the parent.
          const warm = await drive(pairs.parents, send, {
            concurrency: o.concurrency,
            durationMillis: 120_000,
          });
          if (warm.certified !== pairs.parents.length) {
            throw new Error(`parents: ${JSON.stringify(warm.rejects)}`);
          }
          children = pairs.children;
        }
        : undefined,
      http ? undefined : () => sidecar!.store.drainCommitMillis(),
    );
    return { rows, secp256k1 };
  } finally {
    sidecar?.close();
    await child?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function toProto(p: PreparedPayment): SubmitFastPayRequest {
  return create(SubmitFastPayRequestSchema, {
    signedTx: p.request.signedTx,
    parentQcHash: p.request.parentQcHash,
    parents: p.request.parents.map((parent) => ({
      ...(parent.qc ? { qc: qcToProto(parent.qc) } : {}),
      signedTx: parent.signedTx,
      parentQcHash: parent.parentQcHash,
    })),
    clientRequestId: p.request.clientRequestId,
  });
}

/** Anvil, 4 sidecars and the backend; payments through the backend at a fixed low rate. */
async function qc4Scenario(o: Options): Promise<BenchRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "allegro-bench-qc4-", dir: o.kvDir });
  const anvil = await startAnvil({ blockTimeSeconds: 1 });
  const started: { stop(): Promise<void>; name: string; pid: number }[] = [];
  try {
    const names = ["v0", "v1", "v2", "v3"];
    const committee = await writeCommittee(dir, names, {
      chainId: anvil.chainId,
    });
    const sidecars = await spawnSidecars({ committee, rpcUrl: anvil.wsUrl, dir });
    started.push(...sidecars);
    const backend = await spawnBackend({
      committee,
      rpcUrl: anvil.wsUrl,
      kvPath: join(dir, "backend.kv"),
      logPath: join(dir, "backend.log"),
    });
    started.push(backend);
    const client = createClient(
      FastPayAggregator,
      createConnectTransport({ baseUrl: backend.url, useBinaryFormat: true }),
    );
    const payers = FUNDER_KEYS.map((k) => privateKeyToAccount(k));
    const recipient: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    const validBefore = BigInt(Math.floor(Date.now() / 1000)) + 1800n;
    const nonces = payers.map(() => 0n);
    // One lane per payer and run, sequential nonces: at a low rate each payer's previous payment
    // is certified long before its next one is sent.
    const build = async (count: number, lane: bigint) => {
      const out: SubmitFastPayRequest[] = [];
      for (let i = 0; i < count; i++) {
        const k = i % payers.length;
        const signedTx = await signPaymentTransaction(payers[k], {
          chainId: anvil.chainId,
          token: PATH_USD,
          recipient,
          amount: 1000n,
          nonceKey: allegroNonceKey(lane),
          nonce: nonces[k]++,
          validBefore,
          gas: 100_000n,
          maxFeePerGas: 20_000_000_000n,
          maxPriorityFeePerGas: 0n,
          feeToken: PATH_USD,
        });
        out.push(create(SubmitFastPayRequestSchema, {
          signedTx: hexToBytes(signedTx),
        }));
      }
      return out;
    };
    const send = async (req: SubmitFastPayRequest): Promise<Outcome> => {
      const r = await client.submitFastPay(req);
      if (r.qc !== undefined && r.qc.certificates.length >= 3) {
        return { ok: true };
      }
      const code = r.rejects[0]?.reject?.code;
      return {
        ok: false,
        code: code === undefined ? "NO_QC" : RejectCode[code],
      };
    };
    // The client's own fan-out: every sidecar at once, each certificate verified, QC assembled
    // from the first threshold of valid ones.
    const parsed = await loadCommittee(pathToFileURL(committee.path));
    const direct = committee.validators.map((v) =>
      createClient(
        FastPaySidecar,
        createConnectTransport({ baseUrl: v.url, useBinaryFormat: true }),
      )
    );
    const sendDirect = (req: SubmitFastPayRequest): Promise<Outcome> =>
      new Promise((resolve) => {
        const certs: Certificate[] = [];
        let answered = 0;
        let code = "NO_QC";
        const settle = () => {
          if (++answered === direct.length) resolve({ ok: false, code });
        };
        for (const client of direct) {
          client.submitFastPay(req).then(async (r) => {
            if (r.result.case === "certificate") {
              const cert = certificateFromProto(r.result.value);
              if (await certificateProblem(parsed, cert) === undefined) {
                certs.push(cert);
                if (assembleQuorumCertificate(parsed, certs)) resolve({ ok: true });
              }
            } else if (r.result.case === "reject") code = RejectCode[r.result.value.code];
          }).catch(() => {}).finally(settle);
        }
      });
    const rows: BenchRow[] = [];
    let lane = BigInt(Date.now());
    for (const [mode, submit] of [["via backend", send], ["client fan-out", sendDirect]] as const) {
      if (mode === "client fan-out") {
        // The client's own fan-out needs no backend: stop it, so that it takes no CPU from the
        // sidecars (it follows the chain and the boards on its own).
        await backend.stop();
      }
      lane += 1n;
      nonces.fill(0n);
      // Warm-up: every payer's lane is tracked once (a chain read) before measuring.
      const warm = await build(payers.length * 3, lane);
      await drive(warm, submit, { concurrency: 1, durationMillis: 30_000 });
      const count = Math.ceil(o.qcRate * o.durationMillis / 1000);
      const items = await timed(`qc4: built ${count} payments`, () => build(count, lane));
      const window = measureProcesses([
        { name: "bench", pid: "self" },
        ...sidecars.map((s) => ({ name: s.name, pid: s.pid })),
        ...(mode === "via backend" ? [{ name: "backend", pid: backend.pid }] : []),
      ]);
      const stats = await drive(items, submit, {
        rate: o.qcRate,
        durationMillis: o.durationMillis + 5000,
      });
      const usage = window.stop();
      log(
        `qc4 ${mode} rate ${o.qcRate}/s: ${stats.certified}/${stats.sent} QCs, p50 ${stats.latencyMillis.p50} ms, p99 ${stats.latencyMillis.p99} ms, rejects ${
          JSON.stringify(stats.rejects)
        }`,
      );
      rows.push({ scenario: "qc4", mode: `${mode}, rate ${o.qcRate}/s`, stats, processes: usage });
    }
    return rows;
  } finally {
    await Promise.all(started.map((p) => p.stop()));
    await anvil.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The least a QC can take here: the client's fan-out, at the qc4 rate, to four processes that
 * only read the request, make one durable Deno KV commit and answer (`floor_server.ts`); the
 * third answer ends the request, as a QC needs three of four.
 */
async function qcFloor(o: Options): Promise<BenchRow> {
  const dir = await Deno.makeTempDir({ prefix: "allegro-bench-floor-", dir: o.kvDir });
  const servers: ReadyChild<{ url: string; pid: number }>[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      servers.push(
        await spawnReady([
          new URL("./floor_server.ts", import.meta.url).href,
          join(dir, `v${i}.kv`),
        ]),
      );
    }
    const body = new Uint8Array(400).fill(7); // about a signed payment
    const send = (): Promise<Outcome> =>
      new Promise((resolve) => {
        let answered = 0;
        for (const { info } of servers) {
          fetch(info.url, { method: "POST", body }).then(async (r) => {
            await r.arrayBuffer();
            if (++answered === 3) resolve({ ok: true });
          }, () => resolve({ ok: false, code: "HTTP" }));
        }
      });
    const count = Math.ceil(o.qcRate * o.durationMillis / 1000);
    await drive(Array.from({ length: o.qcRate }, () => 0), send, {
      concurrency: 1,
      durationMillis: 10_000,
    });
    const window = measureProcesses([
      { name: "bench", pid: "self" },
      ...servers.map((s, i) => ({ name: `f${i}`, pid: s.info.pid })),
    ]);
    const stats = await drive(Array.from({ length: count }, () => 0), send, {
      rate: o.qcRate,
      durationMillis: o.durationMillis + 5000,
    });
    const mode = `platform floor, rate ${o.qcRate}/s`;
    log(`qc4 ${mode}: p50 ${stats.latencyMillis.p50} ms, p99 ${stats.latencyMillis.p99} ms`);
    return { scenario: "qc4", mode, stats, processes: window.stop() };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
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

/** Runs the benchmark; returns the process exit code. */
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
  const signer = await payloadSigner();
  log(
    `payments signed with ${signer.name} secp256k1; load average ${loadBefore}`,
  );
  const rows: BenchRow[] = [];
  const recovery: Record<string, string> = {};
  let primitives: PrimitiveCost[] | undefined;
  for (const scenario of o.scenarios) {
    log(`--- ${scenario}`);
    if (scenario === "primitives") {
      const dir = await Deno.makeTempDir({ prefix: "allegro-bench-primitives-" });
      try {
        primitives = await measurePrimitives(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } else if (scenario === "qc4") {
      rows.push(...await qc4Scenario(o));
      rows.push(await qcFloor(o));
    } else {
      const r = await isolatedScenario(scenario, o, signer);
      rows.push(...r.rows);
      recovery[scenario] = r.secp256k1;
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
    secp256k1: recovery,
    ...(primitives ? { primitives } : {}),
    rows,
  };
  const table = (primitives ? primitivesTable(primitives) + "\n\n" : "") + markdownTable(rows);
  await Deno.mkdir(o.out, { recursive: true });
  const base = join(o.out, `bench-${o.label}`);
  await Deno.writeTextFile(
    `${base}.json`,
    JSON.stringify(result, null, 2) + "\n",
  );
  await Deno.writeTextFile(`${base}.md`, table + "\n");
  console.log(table);
  log(`results: ${base}.json, ${base}.md`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

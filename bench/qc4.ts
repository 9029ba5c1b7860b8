/**
 * The `qc4` scenario: anvil (1 s blocks) with the vault deployed, four sidecar processes gossiping
 * and settling as `./denow task net` starts them, and payers that deposited into the vault. Each
 * payment is the payer's next order in its pathUSD lane, sent at a fixed rate with the QC of its
 * previous order (as a wallet sends it), and is timed until a verified 3-of-4 QC is in hand:
 * first through the client's own fan-out (`fanOut` of `@allegro/client`: every sidecar at once,
 * each certificate verified), then through the backend when it starts and answers. Then the
 * platform floor: the same fan-out, at the same rate, to four processes that only read the
 * request, make one durable Deno KV commit and answer (`floor_server.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { RejectCode } from "@allegro/proto";
import {
  type Committee,
  connectBackend,
  connectSidecars,
  fanOut,
  loadCommittee,
  qcFromProto,
  type QuorumCertificate,
  type SignedOrder,
} from "@allegro/client";
import { FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
import { fundAndDeposit } from "@allegro/server/local-network";
import {
  type ComponentProcess,
  type LocalCommittee,
  spawnBackend,
  spawnSidecars,
  writeCommittee,
} from "@allegro/server/network";
import { drive, type Outcome } from "./load.ts";
import { orderPlan, signBenchOrder, wireRequest } from "./orders.ts";
import { measureProcesses, type ReadyChild, spawnReady } from "./proc.ts";
import type { BenchRow } from "./report.ts";

/** What the scenario takes from the benchmark's options. */
export interface Qc4Options {
  readonly durationMillis: number;
  /** Payments per second. */
  readonly qcRate: number;
  /** Where the databases go (default: the system's temp folder). */
  readonly kvDir?: string;
}

/** Rows, and what could not be measured. */
export interface Qc4Result {
  readonly rows: BenchRow[];
  readonly notes: string[];
}

/** Payers per mode: each pays every `PAYERS / rate` seconds, its previous QC long in hand. */
const PAYERS = 16;
/** The vault's W here (ms): orders built before a run stay valid through it. */
const MAX_VALIDITY = 600_000n;
/** Each payer's deposit: 100 USD. */
const DEPOSIT = 100_000_000n;
const TIMEOUT_MILLIS = 5000;

const log = (message: string) => console.error(`[bench] ${message}`);

/** One payment: the payer's index and its signed order. */
interface Payment {
  readonly payer: number;
  readonly signed: SignedOrder;
}

/** Submits a request and says whether a QC formed, with the QC. */
type Submit = (
  request: ReturnType<typeof wireRequest>,
) => Promise<{ qc?: QuorumCertificate; code?: string }>;

/**
 * Runs the network and measures each mode; stops everything it started.
 *
 * @example
 * ```ts ignore
 * const { rows, notes } = await qc4Scenario({ durationMillis: 5000, qcRate: 20 });
 * ```
 */
export async function qc4Scenario(o: Qc4Options): Promise<Qc4Result> {
  const dir = await Deno.makeTempDir({ prefix: "allegro-bench-qc4-", dir: o.kvDir });
  const anvil = await startAnvil({ blockTimeSeconds: 1 });
  const started: ComponentProcess[] = [];
  try {
    const local = await writeCommittee(dir, ["v0", "v1", "v2", "v3"], {
      chainId: anvil.chainId,
      rpcUrl: anvil.rpcUrl,
      adminKey: FUNDER_KEYS[0],
      funderKey: FUNDER_KEYS[1],
      maxValidity: MAX_VALIDITY,
    });
    const sidecars = await spawnSidecars({ committee: local, rpcUrl: anvil.rpcUrl, dir });
    started.push(...sidecars);
    const committee = await loadCommittee(pathToFileURL(local.path));
    const net = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId, committee: local };
    const processes = sidecars.map((s) => ({ name: s.name, pid: s.pid }));
    const connections = connectSidecars(committee);
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    rows.push(
      await qcRun("client fan-out", net, committee, o, processes, async (request) => {
        const decided = await fanOut(committee, connections, request, {
          timeoutMillis: TIMEOUT_MILLIS,
        }).decided;
        return decided.qc ? { qc: decided.qc } : { code: decided.rejects[0]?.code ?? "NO_QC" };
      }),
    );
    let backend: ComponentProcess | undefined;
    try {
      backend = await spawnBackend({
        committee: local,
        rpcUrl: anvil.rpcUrl,
        kvPath: join(dir, "backend.kv"),
        logPath: join(dir, "backend.log"),
      });
      started.push(backend);
    } catch (e) {
      notes.push(`qc4 via backend: not measured, the backend did not start (${firstLine(e)})`);
    }
    if (backend) {
      const client = connectBackend(backend.url);
      const row = await qcRun(
        "via backend",
        net,
        committee,
        o,
        [...processes, { name: "backend", pid: backend.pid }],
        async (request) => {
          const r = await client.submitFastPay(request, { timeoutMs: TIMEOUT_MILLIS });
          if (r.qc && r.qc.certificates.length >= committee.threshold) {
            return { qc: qcFromProto(r.qc) };
          }
          const code = r.rejects[0]?.reject?.code;
          return { code: code === undefined ? "NO_QC" : RejectCode[code] };
        },
      ).catch((e) => {
        notes.push(`qc4 via backend: not measured (${firstLine(e)})`);
        return undefined;
      });
      if (row) rows.push(row);
    }
    return { rows: [...rows, await qcFloor(o)], notes };
  } finally {
    await Promise.all(started.map((p) => p.stop()));
    await anvil.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0].slice(0, 200);

/**
 * One mode: fresh payers deposit, each pays its first order until it has a QC (the warm-up),
 * then the measured payments go at `o.qcRate`, each with its payer's previous QC.
 */
async function qcRun(
  mode: string,
  net: { rpcUrl: string; chainId: bigint; committee: LocalCommittee },
  committee: Committee,
  o: Qc4Options,
  processes: { name: string; pid: number }[],
  submit: Submit,
): Promise<BenchRow> {
  const keys = Array.from({ length: PAYERS }, () => generatePrivateKey());
  await Promise.all(
    keys.map((key) =>
      fundAndDeposit(net, key, { wallet: DEPOSIT + 10_000_000n, deposit: DEPOSIT })
    ),
  );
  const payers = keys.map((key) => privateKeyToAccount(key));
  const plan = orderPlan(committee, 1000n, MAX_VALIDITY / 2n);
  const count = Math.ceil(o.qcRate * o.durationMillis / 1000);
  const rounds = 1 + Math.ceil(count / PAYERS);
  const payments: Payment[] = [];
  for (let seq = 0; seq < rounds; seq++) {
    for (const [payer, account] of payers.entries()) {
      const signed = await signBenchOrder(account, plan, { token: PATH_USD, seq: BigInt(seq) });
      payments.push({ payer, signed });
    }
  }
  const last: ({ signed: SignedOrder; qc: QuorumCertificate } | undefined)[] = payers.map(
    () => undefined,
  );
  // A payer sends its next order once its previous one is decided, as a wallet does; a payment
  // that waits for it counts the wait.
  const decided: Promise<unknown>[] = payers.map(() => Promise.resolve());
  const send = (p: Payment): Promise<Outcome> => {
    const outcome = decided[p.payer].then(async (): Promise<Outcome> => {
      const previous = last[p.payer];
      const r = await submit(wireRequest({ signed: p.signed }, previous ? [previous] : []));
      if (r.qc === undefined) return { ok: false, code: r.code ?? "NO_QC" };
      last[p.payer] = { signed: p.signed, qc: r.qc };
      return { ok: true };
    });
    decided[p.payer] = outcome.catch(() => {});
    return outcome;
  };
  // Warm-up: each payer's seq 0, retried until its sidecars have seen the deposit (bounded).
  const first = payments.slice(0, PAYERS);
  for (let attempt = 0; attempt < 10 && last.some((l) => l === undefined); attempt++) {
    await drive(first.filter((p) => last[p.payer] === undefined), send, {
      concurrency: PAYERS,
      durationMillis: 10_000,
    });
    if (last.some((l) => l === undefined)) await new Promise((r) => setTimeout(r, 500));
  }
  if (last.some((l) => l === undefined)) throw new Error(`${mode}: no QC in the warm-up`);
  const window = measureProcesses([{ name: "bench", pid: "self" }, ...processes]);
  const stats = await drive(payments.slice(PAYERS), send, {
    rate: o.qcRate,
    durationMillis: o.durationMillis + 5000,
  });
  const usage = window.stop();
  log(
    `qc4 ${mode} rate ${o.qcRate}/s: ${stats.certified}/${stats.sent} QCs, p50 ${stats.latencyMillis.p50} ms, p99 ${stats.latencyMillis.p99} ms, rejects ${
      JSON.stringify(stats.rejects)
    }`,
  );
  return { scenario: "qc4", mode: `${mode}, rate ${o.qcRate}/s`, stats, processes: usage };
}

/**
 * The least a QC can take here: the client's fan-out, at the qc4 rate, to four processes that
 * only read the request, make one durable Deno KV commit and answer (`floor_server.ts`); the
 * third answer ends the request, as a QC needs three of four.
 */
async function qcFloor(o: Qc4Options): Promise<BenchRow> {
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
    const body = new Uint8Array(1337).fill(7); // a signed order with its previous QC, as sent
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

/**
 * The load generator end to end on a small scale — every scenario once, short, with its numbers
 * checked for sanity (the full runs are `deno task bench`) — and its parts: statistics, the
 * orders it builds, the platform-floor server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { orderTxHash, verifyCertifiedOrder, verifySignedOrder } from "@allegro/client";
import { benchCommittee } from "./isolated.ts";
import { quantile, type RunStats, summarize } from "./load.ts";
import { main } from "./main.ts";
import { benchAccounts, chainedOrders, LanePool, orderPlan, singleOrders } from "./orders.ts";
import type { PrimitiveCost } from "./primitives.ts";
import { spawnReady } from "./proc.ts";
import { type BenchRow, markdownTable } from "./report.ts";

Deno.test("statistics: nearest-rank quantiles, rejects by code, throughput", () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(sorted, 0.5), 50);
  assert.equal(quantile(sorted, 0.99), 99);
  const stats = summarize(sorted, [
    ...Array.from({ length: 98 }, () => ({ ok: true as const })),
    { ok: false, code: "EXPIRED" },
    { ok: false, code: "EXPIRED" },
  ], 1000);
  assert.equal(stats.certified, 98);
  assert.deepEqual(stats.rejects, { EXPIRED: 2 });
  assert.equal(stats.throughput, 98);
  assert.match(
    markdownTable([{ scenario: "s", mode: "m", stats, processes: [] }]),
    /\| s \| m \| 98 \|/,
  );
});

Deno.test("orders: each is seq 0 of a lane of its own and verifies; a child cites its parent, whose QC verifies", async () => {
  const { committee, signers } = benchCommittee();
  const plan = orderPlan(committee, 1_000n, 60_000n);
  const payers = benchAccounts("test", 3);
  const lanes = new LanePool(payers.length);
  const single = await singleOrders(payers, plan, lanes, 7);
  const pairs = await chainedOrders(
    payers,
    benchAccounts("test-payee", 3),
    plan,
    lanes,
    2,
    committee,
    signers,
  );
  const orders = [...single.orders, ...pairs.parents.orders, ...pairs.children];
  const ids = new Set(orders.map((o) => `${o.signed.order.payer}|${o.signed.order.token}`));
  assert.equal(ids.size, orders.length);
  for (const o of orders) {
    assert.equal(o.signed.order.seq, 0n);
    assert.deepEqual(await verifySignedOrder(o.signed), o.signed);
  }
  assert.equal(single.deposits.length, 7);
  assert.equal(single.orders[3].signed.order.payer, payers[0].address);
  assert.notEqual(single.orders[3].signed.order.token, single.orders[0].signed.order.token);
  for (const [i, child] of pairs.children.entries()) {
    const parent = await verifyCertifiedOrder(committee, child.parent!);
    assert.equal(child.signed.order.parent, parent.txHash);
    assert.deepEqual(orderTxHash(pairs.parents.orders[i].signed.order), parent.qc.txHash);
    assert.equal(parent.signed.order.recipient, child.signed.order.payer);
  }
});

/** Runs `main` with `args` into a temporary folder and returns its JSON results. */
async function bench(args: string[]): Promise<{
  rows: BenchRow[];
  notes: string[];
  primitives?: PrimitiveCost[];
}> {
  const out = await Deno.makeTempDir({ prefix: "allegro-bench-test-" });
  try {
    assert.equal(await main([...args, "--out", out, "--label", "t"]), 0);
    return JSON.parse(await Deno.readTextFile(join(out, "bench-t.json")));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** Numbers a run must have: something sent and certified, ordered quantiles, CPU measured. */
function assertSane(stats: RunStats, what: string): void {
  const l = stats.latencyMillis;
  assert.ok(stats.sent > 0 && stats.certified === stats.sent, `${what}: ${JSON.stringify(stats)}`);
  assert.deepEqual(stats.rejects, {}, what);
  assert.ok(stats.throughput > 0, what);
  assert.ok(0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, what);
  assert.ok(l.max < 60_000, what);
}

Deno.test("the isolated scenarios certify every order, closed loop and at a rate, in-process and over HTTP", async () => {
  const scenarios = ["inproc-single", "inproc-chained", "http-single", "http-chained"];
  const { rows } = await bench([
    "--scenarios",
    scenarios.join(","),
    "--duration",
    "1",
    "--accounts",
    "20",
    "--concurrency",
    "8",
    "--warmup",
    "20",
    "--max-payments",
    "150",
  ]);
  assert.deepEqual(rows.map((r) => r.scenario), scenarios.flatMap((s) => [s, s]));
  for (const row of rows) {
    assertSane(row.stats, `${row.scenario} ${row.mode}`);
    assert.ok(row.processes.every((p) => p.cpuCores >= 0 && p.peakRssMiB > 0));
    if (row.scenario.startsWith("inproc")) assert.ok(row.commits && row.commits.count > 0);
  }
  assert.match(rows[1].mode, /^rate \d+\/s \(80%\)$/);
});

Deno.test("primitives: every cost is measured", async () => {
  const { primitives } = await bench(["--scenarios", "primitives", "--primitives-scale", "0.02"]);
  assert.ok(primitives !== undefined && primitives.length >= 12);
  for (const p of primitives) assert.ok(p.micros > 0 && p.micros < 1_000_000, p.name);
});

Deno.test("qc4: QCs through the client's fan-out on anvil and 4 sidecars, and the platform floor", async () => {
  const { rows, notes } = await bench(["--scenarios", "qc4", "--duration", "1", "--qc-rate", "5"]);
  const fanOut = rows.find((r) => r.mode.startsWith("client fan-out"));
  const floor = rows.find((r) => r.mode.startsWith("platform floor"));
  assert.ok(fanOut && floor, JSON.stringify(rows.map((r) => r.mode)));
  assertSane(fanOut.stats, fanOut.mode);
  assertSane(floor.stats, floor.mode);
  assert.deepEqual(fanOut.processes.map((p) => p.name), ["bench", "v0", "v1", "v2", "v3"]);
  // The backend is measured when it works, and said not to be otherwise.
  const backend = rows.find((r) => r.mode.startsWith("via backend"));
  assert.ok(backend !== undefined || notes.some((n) => n.includes("backend")));
});

Deno.test("the platform-floor server commits each request durably, answers, and exits with its stdin", async () => {
  const dir = await Deno.makeTempDir();
  const server = await spawnReady<{ url: string; pid: number }>([
    new URL("./floor_server.ts", import.meta.url).href,
    join(dir, "floor.kv"),
  ]);
  const body = new Uint8Array(300).map((_, i) => i % 256);
  const answer = new Uint8Array(
    await (await fetch(server.info.url, { method: "POST", body })).arrayBuffer(),
  );
  assert.deepEqual(answer, body.subarray(0, 200));
  await server.stop();
  assert.equal((await server.child.status).success, true);
  const kv = await Deno.openKv(join(dir, "floor.kv"));
  assert.deepEqual((await kv.get(["request", 1n])).value, body);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

/**
 * Unit tests of the backend's small parts: config, LRU, event hub, stage rules, static files.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, DEFAULT_TOKENS, parseRunConfig, runHelp } from "./config.ts";
import { EventHub } from "./events.ts";
import { Lru } from "./lru.ts";
import { canMove } from "./record.ts";
import { dirAssets } from "./static.ts";

const REQUIRED = ["--committee", "c.json", "--kv", "b.kv", "--rpc-url", "http://127.0.0.1:8545"];

Deno.test("config: defaults, flags, config file, errors, help", async () => {
  const config = await parseRunConfig(REQUIRED);
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 8080 });
  assert.equal(config.confirmations, 2);
  assert.equal(config.forward, true);
  assert.deepEqual(config.tokens, DEFAULT_TOKENS);
  assert.deepEqual(config.corsOrigins, []);
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "backend.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        committee: "x.json",
        kv: "x.kv",
        "rpc-url": "ws://127.0.0.1:1",
        "cors-origin": ["http://a.test", "http://b.test"],
        forward: false,
        confirmations: 5,
      }),
    );
    const fromFile = await parseRunConfig(["--config", file, "--confirmations", "7"]);
    assert.equal(fromFile.committee, "x.json");
    assert.equal(fromFile.confirmations, 7, "flags win");
    assert.equal(fromFile.forward, false);
    assert.deepEqual(fromFile.corsOrigins, ["http://a.test", "http://b.test"]);
    await Deno.writeTextFile(file, JSON.stringify({ nope: 1 }));
    await assert.rejects(parseRunConfig(["--config", file]), /unknown option "nope"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(parseRunConfig([]), ConfigError);
  await assert.rejects(parseRunConfig([...REQUIRED, "--listen", "nope"]), /HOST:PORT/);
  await assert.rejects(parseRunConfig([...REQUIRED, "--confirmations", "-1"]), ConfigError);
  await assert.rejects(parseRunConfig([...REQUIRED, "--forward", "yes"]), /true or false/);
  await assert.rejects(parseRunConfig([...REQUIRED, "--tokens", "0x12"]), /addresses/);
  await assert.rejects(parseRunConfig([...REQUIRED, "--bogus", "1"]), ConfigError);
  for (const flag of ["--committee", "--rpc-url", "--cors-origin", "--web-dir", "--kv"]) {
    assert.ok(runHelp().includes(flag), flag);
  }
});

Deno.test("LRU keeps the most recently used entries", () => {
  const lru = new Lru<number, number>(3);
  for (let i = 0; i < 5; i++) lru.set(i, i);
  assert.equal(lru.size, 3);
  assert.equal(lru.has(1), false);
  lru.get(2);
  lru.set(5, 5);
  assert.equal(lru.has(2), true);
  assert.equal(lru.has(3), false);
  assert.throws(() => new Lru(0), RangeError);
});

Deno.test("event hub: filters, resumption, bounded queues and subscribers", async () => {
  const hub = new EventHub({ ringSize: 4, queueSize: 2, maxSubscribers: 2 });
  const head = (h: number) => ({
    type: "head" as const,
    height: String(h),
    hash: "0x00",
    timestamp_unix_millis: "0",
    received_unix_millis: "0",
  });
  const stage = (tx: string) => ({
    type: "stage" as const,
    tx_hash: tx,
    stage: "ACCEPTED",
    previous: null,
    at_unix_millis: "0",
    sender: "0xaa",
    recipient: "0xbb",
  });
  const txOnly = hub.subscribe({ txHash: "0x01", types: new Set(["stage"]) })!;
  hub.emit(head(1));
  hub.emit(stage("0x02"));
  hub.emit(stage("0x01"));
  const got = await txOnly.next(10);
  assert.ok(got !== "idle" && got?.event.type === "stage" && got.event.tx_hash === "0x01");
  assert.equal(await txOnly.next(10), "idle");
  txOnly.close();
  // Resume after id 1: the ring still holds 2 and 3.
  const resumed = hub.subscribe({}, 1)!;
  const ids = [];
  for (let i = 0; i < 2; i++) {
    const e = await resumed.next(10);
    if (e && e !== "idle") ids.push(e.id);
  }
  assert.deepEqual(ids, [2, 3]);
  // A subscriber that does not read is closed once its queue is full.
  hub.emit(head(2));
  hub.emit(head(3));
  hub.emit(head(4));
  assert.equal(resumed.overflowed, true);
  assert.equal(resumed.closed, true);
  const a = hub.subscribe({})!;
  const b = hub.subscribe({})!;
  assert.equal(hub.subscribe({}), undefined, "subscriber limit");
  const abort = new AbortController();
  const waiting = a.next(10_000, abort.signal);
  abort.abort();
  assert.equal(await waiting, undefined);
  hub.closeAll();
  assert.equal(b.closed, true);
  assert.equal(hub.subscribers, 0);
});

Deno.test("stages move forward only (REJECTED may be retried)", () => {
  assert.ok(canMove(undefined, "ACCEPTED"));
  assert.ok(canMove("ACCEPTED", "CERTIFIED"));
  assert.ok(canMove("CERTIFIED", "INCLUDED"));
  assert.ok(canMove("INCLUDED", "FINALIZED"));
  assert.ok(canMove("CERTIFIED", "EXPIRED"));
  assert.ok(canMove("REJECTED", "CERTIFIED"));
  assert.ok(!canMove("CERTIFIED", "ACCEPTED"));
  assert.ok(!canMove("CERTIFIED", "REJECTED"));
  assert.ok(!canMove("FINALIZED", "FAILED"));
  assert.ok(!canMove("EXPIRED", "INCLUDED"));
});

Deno.test("static files stay inside their folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "web"));
    await Deno.writeTextFile(join(dir, "web", "index.html"), "index");
    await Deno.writeTextFile(join(dir, "secret.txt"), "secret");
    const assets = dirAssets(join(dir, "web"));
    assert.equal(await (await assets("/"))!.text(), "index");
    assert.equal(await (await assets("/some/route"))!.text(), "index");
    assert.equal(await assets("/../secret.txt"), undefined);
    assert.equal(await assets("/%2e%2e/secret.txt"), undefined);
    assert.equal(await assets("/missing.js"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The demo as people run it: `demo --json` in a child process, asserting its summary.
 */
import assert from "node:assert/strict";

const MAIN = new URL("./main.ts", import.meta.url).href;

interface Run {
  readonly code: number;
  readonly events: Record<string, unknown>[];
  readonly summary: Record<string, unknown>;
  readonly stderr: string;
}

async function runDemo(...args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env=ANVIL_BIN,PATH",
      MAIN,
      "--json",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const events = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const summary = events.find((e) => e.event === "summary");
  assert.ok(summary, `no summary; stdout:\n${stdout}\nstderr:\n${stderr}`);
  for (const e of events) assert.equal(typeof e.t_ms, "number");
  return { code: out.code, events, summary, stderr };
}

function assertSucceeded(run: Run) {
  const s = run.summary;
  assert.equal(run.code, 0, JSON.stringify(s));
  assert.equal(s.ok, true);
  assert.equal(s.qc1_height, s.start_height);
  assert.equal(s.qc2_height, s.start_height);
  assert.ok(BigInt(s.payment2_block as string) >= BigInt(s.payment1_block as string));
  const balances = s.balances as Record<string, string>;
  const fees = s.fees as Record<string, string>;
  assert.equal(balances.carol, "15.000000");
  const sum = (a: string, b: string) => (Number(a) + Number(b)).toFixed(6);
  assert.equal(sum(balances.alice, fees.alice), "5.000000");
  assert.equal(sum(balances.bob, fees.bob), "5.000000");
  const dataDir = run.events.find((e) => e.event === "network")?.data_dir as string;
  assert.throws(() => Deno.statSync(dataDir), Deno.errors.NotFound, "its folder (keys) is removed");
  const kinds = run.events.map((e) => e.event);
  for (
    const kind of ["network", "funded", "certificate", "qc", "incoming", "included", "balances"]
  ) {
    assert.ok(kinds.includes(kind), `no ${kind} event`);
  }
}

Deno.test({
  name: "the default demo succeeds, twice in a row",
  sanitizeResources: false,
}, async () => {
  assertSucceeded(await runDemo());
  assertSucceeded(await runDemo());
});

Deno.test("--validators 4 --faulty 1 still succeeds", async () => {
  const run = await runDemo("--validators", "4", "--faulty", "1", "--block-time", "1");
  assertSucceeded(run);
  assert.ok(run.events.some((e) => e.event === "validator_crashed"));
});

Deno.test("--validators 4 --faulty 2 fails: the quorum is unreachable", async () => {
  const run = await runDemo("--validators", "4", "--faulty", "2", "--block-time", "1");
  assert.equal(run.code, 1);
  assert.equal(run.summary.ok, false);
  assert.match(
    String(run.summary.reason),
    /quorum unreachable: 2 of 4 validators are up, 3 certificates needed/,
  );
  const kept = run.stderr.match(/logs kept in (\S+)/)?.[1];
  assert.ok(kept, run.stderr);
  assert.ok(Deno.statSync(`${kept}/committee.json`).isFile);
  await Deno.remove(kept, { recursive: true });
});

Deno.test("bad options are refused with exit code 2 and the option named", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--validators", "0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /--validators must be an integer in 1 … 10, got "0"/,
  );
});

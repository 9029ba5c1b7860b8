/**
 * The demo as people run it: `demo --json` in a child process, asserting its summary; the default
 * run prints the lines the README's pasted run shows.
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
  assert.equal(s.qc1_height, s.start_height, "QC1 before the next block");
  assert.equal(s.qc2_height, s.start_height, "QC2 before the next block");
  const heights = s.settle_heights as Record<string, string>;
  assert.ok(
    BigInt(heights.payment1) > BigInt(s.start_height as string),
    "settled in a later block",
  );
  assert.ok(BigInt(heights.payment2) >= BigInt(heights.payment1), "the parent settles first");
  assert.deepEqual(s.vault_balances, { alice: "5.000000", bob: "5.000000", carol: "15.000000" });
  assert.equal(s.conserved, true);
  const carol = s.carol_wallet as Record<string, string>;
  assert.equal((Number(carol.after) - Number(carol.before)).toFixed(6), "15.000000");
  const dataDir = run.events.find((e) => e.event === "network")?.data_dir as string;
  assert.throws(() => Deno.statSync(dataDir), Deno.errors.NotFound, "its folder (keys) is removed");
  const kinds = run.events.map((e) => e.event);
  for (
    const kind of [
      "network",
      "deposited",
      "certificate",
      "qc",
      "incoming",
      "settled",
      "conservation",
      "exited",
    ]
  ) {
    assert.ok(kinds.includes(kind), `no ${kind} event`);
  }
  const settled = run.events.filter((e) => e.event === "settled");
  assert.ok(settled.every((e) => Number(e.gas) > 0), "each settlement's gas is shown");
}

/** A timeline line with what differs between runs (numbers, hashes, addresses, paths) masked. */
const shape = (text: string) =>
  text.replace(/0x[0-9a-fA-F]+/g, "0x…").replace(/\/tmp\/\S+/g, "/tmp/…").replace(/\d+/g, "N");

/** The README's pasted demo run, one entry per event (continuation lines joined), shaped. */
async function readmeRun(): Promise<string[]> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const block = readme.split("\n## Quick start\n")[1].split("```text\n")[1].split("\n```")[0];
  const events: string[] = [];
  for (const line of block.split("\n")) {
    const start = /^\+ *\d+ ms {2}(.*)$/.exec(line);
    if (start) events.push(start[1]);
    else events[events.length - 1] += `\n${line}`;
  }
  return events.map(shape);
}

Deno.test({
  name: "the default demo succeeds and prints what the README shows",
  sanitizeResources: false,
}, async () => {
  const first = await runDemo();
  assertSucceeded(first);
  // Blocks come at their own pace and certificates in any order: the same lines, as a multiset.
  const lines = (texts: string[]) => texts.filter((t) => t !== "block N").sort();
  assert.deepEqual(
    lines(
      first.events.filter((e) => typeof e.text === "string").map((e) => shape(e.text as string)),
    ),
    lines(await readmeRun()),
  );
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
  const said = run.events.filter((e) => JSON.stringify(e).includes("quorum unreachable"));
  assert.equal(said.length, 1, "said once, in the summary");
  const kept = run.stderr.match(/logs kept in (\S+)/)?.[1];
  assert.ok(kept, run.stderr);
  assert.ok(Deno.statSync(`${kept}/committee.json`).isFile);
  await Deno.remove(kept, { recursive: true });
});

Deno.test("--attack: each of Alice's attempts fails while both payments settle", async () => {
  const run = await runDemo("--attack", "--block-time", "1");
  assertSucceeded(run);
  const attacks = run.summary.attacks as Record<string, string>;
  assert.deepEqual(Object.keys(attacks).sort(), ["empty_wallet", "forced_exit", "second_order"]);
  for (const [name, outcome] of Object.entries(attacks)) assert.match(outcome, /^failed/, name);
  assert.match(
    attacks.second_order,
    /the vault refuses it \((AttestationsBelowThreshold|KeySettledOtherwise)/,
  );
  assert.ok(run.events.filter((e) => e.event === "attack").length >= 4);
});

Deno.test("bad options are refused with exit code 2 and the option named; net has its own help", async () => {
  const demo = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  const zero = await demo("--validators", "0");
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--validators must be an integer in 1 … 10, got "0"/);
  const negative = await demo("--faulty", "-1");
  assert.equal(negative.code, 2);
  assert.match(negative.stderr, /--faulty must be an integer in 0 … 2, got "-1"/);
  const netHelp = await demo("net", "--help");
  assert.equal(netHelp.code, 0);
  assert.match(netHelp.stdout, /^Allegro local network/);
  assert.doesNotMatch(netHelp.stdout, /--faulty/);
});

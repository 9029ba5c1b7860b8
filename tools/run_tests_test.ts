/**
 * The test runner against real `deno test` runs of `testdata/hangs.ts`: a test past its deadline,
 * or a run past the overall one, is stopped together with the processes it started, named, and
 * counted in a summary line; a run within its deadlines is `deno test`'s own.
 */
import assert from "node:assert/strict";
import { parseRunTestsArgs, runTests } from "./run_tests.ts";

const HANGS = "tools/testdata/hangs.ts";

/** Runs the tests with their output collected; resolves with the exit code and the output. */
async function run(options: Parameters<typeof runTests>[0]) {
  Deno.env.set("NO_COLOR", "1"); // plain text to match; test_progress_test.ts reads colours
  let raw = "";
  const sink = () => {
    const decoder = new TextDecoder();
    return new WritableStream<Uint8Array>({ write: (c) => void (raw += decoder.decode(c)) });
  };
  const code = await runTests({ ...options, stdout: sink(), stderr: sink() });
  return { code, text: raw, lastLine: raw.trimEnd().split("\n").at(-1) };
}

/** Runs `hangs.ts`; resolves with the run and whether the child process it started is gone. */
async function runHangs(options: Parameters<typeof runTests>[0]) {
  const pidFile = await Deno.makeTempFile();
  Deno.env.set("HANGS_PID_FILE", pidFile);
  try {
    const result = await run({ args: [HANGS], ...options });
    const pid = Number(await Deno.readTextFile(pidFile));
    return { ...result, childGone: await gone(pid) };
  } finally {
    await Deno.remove(pidFile);
  }
}

/** Whether process `pid` has exited (or is a zombie) within a second. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
    if (stat === undefined || / Z /.test(stat)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

Deno.test("a test past its deadline is named, stopped with its children, and counted", async () => {
  const { code, text, lastLine, childGone } = await runHangs({ testTimeoutMillis: 2000 });
  assert.equal(code, 1);
  assert.match(
    text,
    /\nrun_tests: "hangs with a child process" \(\.\/tools\/testdata\/hangs\.ts\) has run for over 2 s \(--test-timeout\); stopping the test run\n/,
  );
  assert.match(text, /^passes \.\.\. ok /m);
  assert.match(lastLine!, /^FAILED \| 1 passed \| 1 failed \(run_tests: "hangs with a child/);
  assert.ok(childGone, "the sleep the test started is gone with it");
});

Deno.test("a run past the overall deadline is stopped, naming the test it was in", async () => {
  const { code, text, lastLine, childGone } = await runHangs({
    testTimeoutMillis: 60_000,
    runTimeoutMillis: 4000,
  });
  assert.equal(code, 1);
  assert.match(
    text,
    /run_tests: the whole run has taken over 4 s \(--run-timeout\); "hangs with a child process" \(\.\/tools\/testdata\/hangs\.ts\) was running; stopping the test run/,
  );
  assert.match(lastLine!, /^FAILED \| 1 passed \| 1 failed /);
  assert.ok(childGone);
});

Deno.test("a run within its deadlines is deno test's own: output and exit code", async () => {
  const { code, text, lastLine } = await run({ args: ["--filter", "passes", HANGS] });
  assert.equal(code, 0);
  assert.doesNotMatch(text, /run_tests:/);
  assert.match(lastLine!, /^ok \| 1 passed \| 0 failed \| 1 filtered out /);
});

Deno.test("--test-timeout and --run-timeout are read as seconds; the rest goes to deno test", () => {
  assert.deepEqual(
    parseRunTestsArgs(["--test-timeout=30", "a_test.ts", "--run-timeout", "600", "--filter", "x"]),
    { args: ["a_test.ts", "--filter", "x"], testTimeoutMillis: 30_000, runTimeoutMillis: 600_000 },
  );
  assert.throws(
    () => parseRunTestsArgs(["--test-timeout"]),
    new Error('--test-timeout takes a number of seconds, got ""'),
  );
});

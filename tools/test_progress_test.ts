import assert from "node:assert/strict";
import { TestProgress } from "./test_progress.ts";

/** A real report (colours included) of tests that pass, print, have steps, fail, are ignored. */
const REPORT = await Deno.readTextFile(new URL("./testdata/report.txt", import.meta.url));

const state = (p: TestProgress) => ({
  running: p.running?.name,
  file: p.file,
  lastEnded: p.lastEnded,
  passed: p.passed,
  failed: p.failed,
  finished: p.finished,
});

Deno.test("a whole report: counts, last test, summary seen, nothing left running", () => {
  const progress = new TestProgress();
  progress.feed(REPORT);
  assert.deepEqual(state(progress), {
    running: undefined,
    file: "./b_test.ts",
    lastEnded: "ignored",
    passed: 3,
    failed: 1,
    finished: true,
  });
});

Deno.test("fed a character at a time, the report reads the same", () => {
  const whole = new TestProgress();
  whole.feed(REPORT);
  const bytewise = new TestProgress();
  for (const c of REPORT) bytewise.feed(c);
  assert.deepEqual(state(bytewise), state(whole));
});

Deno.test("a test is running from its unfinished line until its result", () => {
  const progress = new TestProgress();
  assert.equal(progress.started, false);
  const at = REPORT.indexOf("steps ...") + "steps ...".length;
  progress.feed(REPORT.slice(0, at));
  assert.equal(progress.started, true);
  assert.equal(progress.running?.name, "steps");
  assert.equal(progress.running?.file, "./b_test.ts");
  assert.equal(progress.lastEnded, "prints ... ok (not a result)");
  progress.feed(REPORT.slice(at, REPORT.indexOf("fails ...")));
  assert.equal(progress.running, undefined, "a step's result does not end the test; its own does");
  assert.equal(progress.lastEnded, "steps");
});

Deno.test("what a test prints is not taken for Deno's report", () => {
  const progress = new TestProgress();
  progress.feed(REPORT.slice(0, REPORT.indexOf("fake start ...") + "fake start ...".length));
  assert.equal(progress.running?.name, "prints ... ok (not a result)");
  assert.equal(progress.passed, 1);
});

Deno.test("a test failed by its steps counts as failed", () => {
  const progress = new TestProgress();
  progress.feed(
    "running 1 test from ./s_test.ts\nsteps fail ...\n  inner ... FAILED (2ms)\n" +
      "steps fail ... FAILED (due to 1 failed step) (3ms)\n",
  );
  assert.deepEqual([progress.passed, progress.failed, progress.running], [0, 1, undefined]);
});

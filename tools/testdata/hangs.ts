/**
 * Tests for `run_tests_test.ts` to stop: one passes; the next starts a child process (whose pid
 * it writes to `$HANGS_PID_FILE`) and waits for it for ten minutes.
 */
Deno.test("passes", () => {});

Deno.test("hangs with a child process", async () => {
  const child = new Deno.Command("sleep", { args: ["600"] }).spawn();
  await Deno.writeTextFile(Deno.env.get("HANGS_PID_FILE")!, String(child.pid));
  await child.status;
});

/**
 * The test step of `deno task test`: runs `deno test --allow-all --doc [ARGS…]` in a process group
 * of its own, streams its output, and stops the whole group — the anvil, sidecars and browsers the
 * tests started included — when one test runs longer than the per-test deadline or the whole run
 * longer than the overall one, naming the test that was running. A run stopped so ends with a
 * summary line in Deno's format (`FAILED | N passed | N failed …`), which `.ci/run` reads.
 *
 * ```sh
 * deno run --allow-all tools/run_tests.ts [--test-timeout S] [--run-timeout S] [deno test args…]
 * ```
 *
 * @module
 */
import { TestProgress } from "./test_progress.ts";

/** Longest a single test may run, by default: 240 s. */
export const TEST_TIMEOUT_MILLIS = 240_000;
/** Longest the whole run may take, by default: 20 min. */
export const RUN_TIMEOUT_MILLIS = 20 * 60_000;
/** How long the group has between SIGTERM and SIGKILL. */
const KILL_GRACE_MILLIS = 5000;

/** How to run the tests. */
export interface RunTestsOptions {
  /** Arguments after `deno test --allow-all --doc`: files, `--filter`… */
  readonly args?: readonly string[];
  readonly testTimeoutMillis?: number;
  readonly runTimeoutMillis?: number;
  /** Where the output goes; default this process's standard output and error. */
  readonly stdout?: WritableStream<Uint8Array>;
  readonly stderr?: WritableStream<Uint8Array>;
  /** Stops the run as a timeout does (this program aborts it on SIGINT and SIGTERM). */
  readonly signal?: AbortSignal;
}

/** Signals the process group `pid` leads; it may be gone already. */
function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // nothing left in the group
  }
}

const seconds = (millis: number) => `${Math.round(millis / 1000)} s`;

/**
 * Runs the tests; resolves with the exit code (`deno test`'s own, or 1 when a deadline stopped
 * the run).
 *
 * @example
 * ```ts ignore
 * import { runTests } from "./run_tests.ts";
 *
 * const code = await runTests({ args: ["client/watch_test.ts"], testTimeoutMillis: 60_000 });
 * ```
 */
export async function runTests(options: RunTestsOptions = {}): Promise<number> {
  const testTimeout = options.testTimeoutMillis ?? TEST_TIMEOUT_MILLIS;
  const runTimeout = options.runTimeoutMillis ?? RUN_TIMEOUT_MILLIS;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--doc", ...(options.args ?? [])],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true, // a process group of its own, so that stopping it reaches every descendant
  }).spawn();
  const out = (options.stdout ?? Deno.stdout.writable).getWriter();
  const err = (options.stderr ?? Deno.stderr.writable).getWriter();
  const progress = new TestProgress();
  const decoder = new TextDecoder();
  const copied = Promise.all([
    (async () => {
      for await (const chunk of child.stdout) {
        await out.write(chunk);
        progress.feed(decoder.decode(chunk, { stream: true }));
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr) await err.write(chunk);
    })(),
  ]);

  let stopped: string | undefined;
  /** The counts when the run was stopped: a test its stopping lets end is not counted. */
  let counts = { passed: 0, failed: 0 };
  let killer: ReturnType<typeof setTimeout> | undefined;
  const stop = (reason: string) => {
    if (stopped !== undefined) return;
    stopped = reason;
    counts = { passed: progress.passed, failed: progress.failed };
    out.write(new TextEncoder().encode(`\nrun_tests: ${reason}; stopping the test run\n`))
      .catch(() => {});
    killGroup(child.pid, "SIGTERM");
    killer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MILLIS);
  };
  const onAbort = () => stop("interrupted");
  options.signal?.addEventListener("abort", onAbort);
  const start = performance.now();
  const watch = setInterval(() => {
    const now = performance.now();
    const running = progress.running;
    const where = running ? `"${running.name}" (${running.file})` : undefined;
    if (now - start > runTimeout) {
      stop(
        `the whole run has taken over ${seconds(runTimeout)} (--run-timeout)` +
          (where ? `; ${where} was running` : ""),
      );
    } else if (progress.started && !progress.finished && now - progress.lastEvent > testTimeout) {
      stop(
        where
          ? `${where} has run for over ${seconds(testTimeout)} (--test-timeout)`
          : `no test started for ${seconds(testTimeout)} (--test-timeout) after ` +
            `"${progress.lastEnded}" ended in ${progress.file}`,
      );
    }
  }, Math.min(1000, testTimeout / 4));

  const status = await child.status;
  // Whatever the tests left running in the group would hold the output pipes open.
  killGroup(child.pid, "SIGKILL");
  await copied;
  clearInterval(watch);
  clearTimeout(killer);
  options.signal?.removeEventListener("abort", onAbort);
  if (stopped !== undefined) {
    await out.write(
      new TextEncoder().encode(
        `FAILED | ${counts.passed} passed | ${counts.failed + 1} failed ` +
          `(run_tests: ${stopped})\n`,
      ),
    );
  }
  out.releaseLock();
  err.releaseLock();
  return stopped === undefined ? status.code : 1;
}

/**
 * Reads `--test-timeout S` and `--run-timeout S` (seconds, also `--flag=S`); the other arguments
 * go to `deno test`.
 *
 * @example
 * ```ts
 * import { parseRunTestsArgs } from "./run_tests.ts";
 *
 * const options = parseRunTestsArgs(["--test-timeout", "60", "client/watch_test.ts"]);
 * console.log(options.testTimeoutMillis, options.args); // 60000 [ "client/watch_test.ts" ]
 * ```
 */
export function parseRunTestsArgs(args: readonly string[]): RunTestsOptions {
  const rest: string[] = [];
  const millis: Record<string, number> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag !== "--test-timeout" && flag !== "--run-timeout") {
      rest.push(args[i]);
      continue;
    }
    const value = inline ?? args[++i];
    const n = Number(value);
    if (!(n > 0)) throw new Error(`${flag} takes a number of seconds, got "${value ?? ""}"`);
    millis[flag] = n * 1000;
  }
  return {
    args: rest,
    ...(millis["--test-timeout"] ? { testTimeoutMillis: millis["--test-timeout"] } : {}),
    ...(millis["--run-timeout"] ? { runTimeoutMillis: millis["--run-timeout"] } : {}),
  };
}

if (import.meta.main) {
  let options: RunTestsOptions;
  try {
    options = parseRunTestsArgs(Deno.args);
  } catch (e) {
    console.error(`run_tests: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const interrupt = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => interrupt.abort());
  }
  Deno.exit(await runTests({ ...options, signal: interrupt.signal }));
}

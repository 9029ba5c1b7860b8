/**
 * Follows `deno test`'s report as it streams: which file and test are running (Deno prints
 * `name ...` when a test starts and `name ... ok (12ms)` when it ends), when anything last
 * happened, and how many tests passed and failed so far.
 *
 * @module
 */

// deno-lint-ignore no-control-regex -- Deno colours its report with ESC sequences
const ANSI = /\x1b\[[0-9;]*m/g;
const FILE = /^running \d+ tests? from (.+)$/;
/** A top-level test (steps are indented) that has ended: its result, then how long it took. */
const ENDED = /^(\S.*) \.\.\. (ok|FAILED|ignored)(?: \(due to [^)]*\))? \(\d[^)]*\)$/;
/** A top-level test that has started: its line has nothing after the dots yet. */
const STARTED = /^(\S.*) \.\.\.\s*$/;
/** What a test prints is framed by these lines; nothing inside is Deno's report. */
const OUTPUT_START = /^-{7} (?:(?:pre|post)-test )?output -{7}$/;
const OUTPUT_END = /^-{5} (?:(?:pre|post)-test )?output end -{5}$/;
const SUMMARY = /^(ok|FAILED) \| \d+ passed/;

/** A test that has started and not ended. */
export interface RunningTest {
  readonly name: string;
  /** The module it is in, as Deno names it (`./client/watch_test.ts`). */
  readonly file: string | undefined;
  /** `performance.now()` when it started. */
  readonly since: number;
}

/**
 * The state of a `deno test` run, fed its standard output as it arrives.
 *
 * @example
 * ```ts
 * import { TestProgress } from "./test_progress.ts";
 *
 * const progress = new TestProgress();
 * progress.feed("running 2 tests from ./a_test.ts\nfirst ... ok (1ms)\nsecond ...");
 * console.log(progress.running?.name, progress.passed); // second 1
 * ```
 */
export class TestProgress {
  /** The test running now, if any. */
  running: RunningTest | undefined;
  /** The last test that ended. */
  lastEnded: string | undefined;
  /** The module whose tests run now. */
  file: string | undefined;
  passed = 0;
  failed = 0;
  /** Whether the first test module has started (before that, Deno loads and type-checks). */
  started = false;
  /** Whether Deno has printed its summary line. */
  finished = false;
  /** `performance.now()` when a test or module last started or ended. */
  lastEvent: number = performance.now();
  #partial = "";
  #inOutput = false;

  /** Takes the next piece of the report (any split; colours allowed). */
  feed(text: string): void {
    // Colour codes are removed per line: a piece may end inside one.
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop()!;
    for (const line of lines) this.#line(line.replace(ANSI, ""));
    // A test's start line stays unfinished until it ends, unless the test prints.
    if (!this.#inOutput) this.#started(this.#partial.replace(ANSI, ""));
  }

  #line(line: string): void {
    if (this.#inOutput) {
      if (OUTPUT_END.test(line)) this.#inOutput = false;
      return;
    }
    if (OUTPUT_START.test(line)) {
      this.#inOutput = true;
      return;
    }
    const file = FILE.exec(line);
    if (file) {
      this.file = file[1];
      this.started = true;
      this.lastEvent = performance.now();
      return;
    }
    if (SUMMARY.test(line)) {
      this.finished = true;
      return;
    }
    const ended = ENDED.exec(line);
    if (ended) {
      if (ended[2] === "ok") this.passed++;
      if (ended[2] === "FAILED") this.failed++;
      this.running = undefined;
      this.lastEnded = ended[1];
      this.lastEvent = performance.now();
      return;
    }
    this.#started(line);
  }

  #started(line: string): void {
    const started = STARTED.exec(line);
    if (!started || this.running?.name === started[1]) return;
    this.lastEvent = performance.now();
    this.running = { name: started[1], file: this.file, since: this.lastEvent };
  }
}

/**
 * CPU time and peak memory of processes, from Linux's `/proc` (elsewhere: `undefined`).
 *
 * @module
 */

/** CPU seconds used so far and the peak resident set size in MiB. */
export interface ProcSample {
  readonly cpuSeconds: number;
  readonly peakRssMiB: number;
  readonly rssMiB: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Reads `/proc/PID/stat` and `/proc/PID/status` (`"self"` for this process).
 *
 * @example
 * ```ts
 * import { sampleProcess } from "./proc.ts";
 *
 * const sample = sampleProcess("self");
 * console.log(sample === undefined || sample.cpuSeconds >= 0); // true
 * ```
 */
export function sampleProcess(pid: number | "self"): ProcSample | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) /
      TICKS_PER_SECOND;
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = (name: string) => Number(status.match(new RegExp(`${name}:\\s+(\\d+)`))?.[1] ?? 0);
    return {
      cpuSeconds,
      peakRssMiB: Math.round(kib("VmHWM") / 1024),
      rssMiB: Math.round(kib("VmRSS") / 1024),
    };
  } catch {
    return undefined;
  }
}

/** CPU use of one process over a measured window, and its peak memory at the end. */
export interface ProcUsage {
  readonly name: string;
  /** CPU seconds per wall second (1.0 = one core busy). */
  readonly cpuCores: number;
  readonly peakRssMiB: number;
}

/** Measures processes over a window: call `stop()` at its end. */
export function measureProcesses(
  processes: readonly { name: string; pid: number | "self" }[],
): { stop(): ProcUsage[] } {
  const started = performance.now();
  const before = processes.map((p) => sampleProcess(p.pid));
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      return processes.flatMap((p, i) => {
        const after = sampleProcess(p.pid);
        const b = before[i];
        if (after === undefined || b === undefined) return [];
        return [{
          name: p.name,
          cpuCores: Math.round(((after.cpuSeconds - b.cpuSeconds) / seconds) * 100) /
            100,
          peakRssMiB: after.peakRssMiB,
        }];
      });
    },
  };
}

/** The 1-minute load average, if known. */
export function loadAverage(): number | undefined {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** A benchmark child process and the JSON line it printed when ready. */
export interface ReadyChild<T> {
  readonly child: Deno.ChildProcess;
  readonly info: T;
  /** Closes its standard input (it exits; after 10 s it is killed) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Runs `deno run --allow-all …args` and waits (at most a minute) for the one JSON line the child
 * prints when it is ready; the child exits when its standard input closes.
 *
 * @example
 * ```ts ignore
 * const floor = await spawnReady<{ url: string; pid: number }>([serverUrl, kvPath]);
 * await floor.stop();
 * ```
 */
export async function spawnReady<T>(args: readonly string[]): Promise<ReadyChild<T>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  const deadline = Date.now() + 60_000;
  while (!line.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    line += value;
  }
  reader.releaseLock();
  let info: T;
  try {
    info = JSON.parse(line) as T;
  } catch {
    child.kill();
    await child.status;
    throw new Error(`${args[0]} did not start (printed ${JSON.stringify(line)})`);
  }
  return {
    child,
    info,
    async stop() {
      await child.stdin.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

/**
 * Background loops: run a step, pause, again, until stopped.
 *
 * @module
 */

/**
 * Runs `step` every `intervalMillis` (measured from the end of one step to the start of the
 * next) until `signal` aborts; a step that throws is handed to `onError` and the loop goes on.
 * Resolves once the loop has stopped.
 *
 * @example
 * ```ts
 * import { repeat } from "./repeat.ts";
 *
 * const stop = new AbortController();
 * let steps = 0;
 * await repeat(stop.signal, 1, () => {
 *   if (++steps === 3) stop.abort();
 *   return Promise.resolve();
 * });
 * console.log(steps); // 3
 * ```
 */
export async function repeat(
  signal: AbortSignal,
  intervalMillis: number,
  step: () => Promise<void>,
  onError: (error: unknown) => void = () => {},
): Promise<void> {
  while (!signal.aborted) {
    try {
      await step();
    } catch (e) {
      onError(e);
    }
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, intervalMillis);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

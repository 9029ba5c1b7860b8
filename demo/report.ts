/**
 * The demo's timeline: every event with milliseconds since the start, printed as readable lines
 * or as one JSON object per line (`--json`).
 *
 * @module
 */

/** One timeline event; `fields` are printed after the event name. */
export interface TimelineEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** Receives timeline events. */
export interface Reporter {
  /** Milliseconds since the reporter started. */
  elapsed(): number;
  emit(event: TimelineEvent): void;
}

const toJson = (value: unknown) =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));

/**
 * Writes `{"event": …, "t_ms": …, …}` lines.
 *
 * @example
 * ```ts
 * import { jsonReporter } from "./report.ts";
 *
 * const lines: string[] = [];
 * const report = jsonReporter((l) => lines.push(l));
 * report.emit({ event: "start", validators: 2 });
 * console.log(JSON.parse(lines[0]).event); // start
 * ```
 */
export function jsonReporter(write: (line: string) => void = console.log): Reporter {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return {
    elapsed,
    emit: ({ event, ...fields }) => write(toJson({ event, t_ms: elapsed(), ...fields })),
  };
}

/**
 * Writes aligned, readable lines: `+  123 ms  event  key=value …`, or the event's `text` field.
 *
 * @example
 * ```ts
 * import { textReporter } from "./report.ts";
 *
 * const lines: string[] = [];
 * const report = textReporter((l) => lines.push(l));
 * report.emit({ event: "qc", text: "QC1 formed" });
 * console.log(lines[0].includes("QC1 formed")); // true
 * ```
 */
export function textReporter(write: (line: string) => void = console.log): Reporter {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return {
    elapsed,
    emit: (e) => {
      const { event, text, ...fields } = e;
      const body = typeof text === "string"
        ? text
        : `${event} ${
          Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : toJson(v)}`)
            .join(" ")
        }`;
      write(`+${String(elapsed()).padStart(6)} ms  ${body}`);
    },
  };
}

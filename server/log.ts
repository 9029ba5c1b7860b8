/**
 * JSON-lines logging: one object per line on stderr with time, level, component and message.
 *
 * @module
 */

/** The logging surface every sidecar and backend module takes. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const json = (value: unknown) =>
  JSON.stringify(
    value,
    (_, v) =>
      typeof v === "bigint"
        ? v.toString()
        : v instanceof Uint8Array
        ? `0x${Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("")}`
        : v,
  );

/**
 * A logger writing JSON lines through `write` (stderr by default).
 *
 * @example
 * ```ts
 * import { jsonLogger } from "@allegro/server/log";
 *
 * const lines: string[] = [];
 * const log = jsonLogger("dave", (line) => lines.push(line));
 * log.info("listening", { port: 7001 });
 * console.log(JSON.parse(lines[0]).msg); // listening
 * ```
 */
export function jsonLogger(
  component: string,
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) =>
    write(json({ t: new Date().toISOString(), level, component, msg, ...fields }));
  return { info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * How the UI writes amounts, hashes, times, durations and names.
 *
 * @module
 */

/** One USD in TIP-20 base units (6 decimals). */
export const USD = 1_000_000n;

/** `units` as USD: at least 2 decimals, up to 6 when they matter (`94.999492`, `10.00`). */
export function usd(units: bigint | string): string {
  const v = BigInt(units);
  const abs = v < 0n ? -v : v;
  const fraction = (abs % USD).toString().padStart(6, "0").replace(/0{1,4}$/, "");
  const whole = (abs / USD).toLocaleString("en-US");
  return `${v < 0n ? "−" : ""}${whole}.${fraction.padEnd(2, "0")}`;
}

/** A USD amount typed by a person (`10`, `2.5`, `0.000001`) as base units; throws in words. */
export function parseUsd(text: string): bigint {
  const m = /^\s*(\d{1,12})(?:\.(\d{0,6}))?\s*$/.exec(text);
  if (!m) throw new Error("Enter an amount like 10 or 2.50 (at most 6 decimals).");
  const units = BigInt(m[1]) * USD + BigInt((m[2] ?? "").padEnd(6, "0"));
  if (units === 0n) throw new Error("The amount must be more than zero.");
  return units;
}

/** `0x1234…abcd`. */
export function short(hex: string, keep = 4): string {
  return hex.length <= 2 + keep * 2 + 1 ? hex : `${hex.slice(0, 2 + keep)}…${hex.slice(-keep)}`;
}

/** A duration: `143 ms`, `1.85 s`. */
export function duration(millis: number): string {
  const abs = Math.abs(millis);
  return abs < 1000 ? `${Math.round(millis)} ms` : `${(millis / 1000).toFixed(2)} s`;
}

/** A time of day, `14:03:27`, of unix milliseconds. */
export function clock(millis: number): string {
  return new Date(millis).toLocaleTimeString("en-GB");
}

/** `alice` → `Alice`. */
export function title(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * Byte helpers shared by the client modules: exact-size validation at the boundary and equality.
 * Hex conversion comes from viem (`bytesToHex`, `hexToBytes`).
 *
 * @module
 */
import { bytesToHex } from "viem";
import { AllegroError } from "./errors.ts";

/**
 * Returns `value` if it is a `Uint8Array` of exactly `size` bytes; otherwise throws an
 * `INVALID_FORMAT` {@linkcode AllegroError} naming `field`.
 *
 * @example
 * ```ts
 * import { expectBytes } from "@allegro/client";
 *
 * const txHash = expectBytes("tx_hash", new Uint8Array(32), 32);
 * ```
 */
export function expectBytes(field: string, value: unknown, size: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `${field} must be ${size} bytes, got ${typeof value}`,
      {
        field,
      },
    );
  }
  if (value.length !== size) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `${field} must be ${size} bytes, got ${value.length} (${bytesToHex(value.subarray(0, 40))})`,
      { field, size: value.length },
    );
  }
  return value;
}

/**
 * Whether two byte arrays hold the same bytes.
 *
 * @example
 * ```ts
 * import { bytesEqual } from "@allegro/client";
 *
 * bytesEqual(new Uint8Array([1, 2]), Uint8Array.of(1, 2)); // true
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Orders byte arrays lexicographically (shorter first on a common prefix); for `Array.sort`.
 *
 * @example
 * ```ts
 * import { compareBytes } from "@allegro/client";
 *
 * [Uint8Array.of(2), Uint8Array.of(1)].sort(compareBytes); // [[1], [2]]
 * ```
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

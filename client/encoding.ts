/**
 * The canonical encoding of SPEC §4, byte-compatible with the Rust prototype: fixed-width
 * big-endian integers, `bytes(x) = u32 len || x`, fixed-size fields written raw.
 *
 * @module
 */
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { AllegroError } from "./errors.ts";
import { expectBytes } from "./bytes.ts";

const U64_MAX = (1n << 64n) - 1n;
const UINT_MAX = { 8: 0xffn, 16: 0xffffn, 32: 0xffff_ffffn, 64: U64_MAX } as const;

/**
 * Appends canonical fields and returns the concatenation. Every method validates its input and
 * throws an `INVALID_FORMAT` {@linkcode AllegroError} naming the field.
 *
 * @example
 * ```ts
 * import { CanonicalWriter } from "@allegro/client";
 *
 * const bytes = new CanonicalWriter().tag("demo").u64("amount", 10n).finish();
 * ```
 */
export class CanonicalWriter {
  #parts: Uint8Array[] = [];

  /** Writes a domain-separation tag as raw UTF-8, without a length prefix. */
  tag(text: string): this {
    this.#parts.push(utf8ToBytes(text));
    return this;
  }

  /** Writes an unsigned integer of `bits` width, big-endian. */
  #uint(field: string, value: number | bigint, bits: 8 | 16 | 32 | 64): this {
    const v = BigInt(value);
    if (v < 0n || v > UINT_MAX[bits]) {
      throw new AllegroError("INVALID_FORMAT", `${field} must be a u${bits}, got ${v}`, { field });
    }
    const out = new Uint8Array(bits / 8);
    const view = new DataView(out.buffer);
    if (bits === 64) view.setBigUint64(0, v);
    else if (bits === 32) view.setUint32(0, Number(v));
    else if (bits === 16) view.setUint16(0, Number(v));
    else out[0] = Number(v);
    this.#parts.push(out);
    return this;
  }

  /** Writes a u8. */
  u8(field: string, value: number): this {
    return this.#uint(field, value, 8);
  }

  /** Writes a big-endian u16. */
  u16(field: string, value: number): this {
    return this.#uint(field, value, 16);
  }

  /** Writes a big-endian u32. */
  u32(field: string, value: number): this {
    return this.#uint(field, value, 32);
  }

  /** Writes a big-endian u64; `value` must be a bigint in `[0, 2^64)`. */
  u64(field: string, value: bigint): this {
    if (typeof value !== "bigint" || value > U64_MAX) {
      throw new AllegroError("INVALID_FORMAT", `${field} must be a u64 bigint, got ${value}`, {
        field,
      });
    }
    return this.#uint(field, value, 64);
  }

  /** Writes exactly `size` raw bytes. */
  fixed(field: string, value: Uint8Array, size: number): this {
    this.#parts.push(expectBytes(field, value, size));
    return this;
  }

  /** Writes `u32 len || value`. */
  bytes(field: string, value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) {
      throw new AllegroError("INVALID_FORMAT", `${field} must be bytes, got ${typeof value}`, {
        field,
      });
    }
    this.u32(`${field}.length`, value.length);
    this.#parts.push(value);
    return this;
  }

  /** The encoded bytes. */
  finish(): Uint8Array {
    return concatBytes(...this.#parts);
  }
}

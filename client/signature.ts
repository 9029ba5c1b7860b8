/**
 * Canonical secp256k1 signatures (SPEC §4): 65 bytes `r || s || v`, `0 < r, s`, `s ≤ n/2`,
 * `v ∈ {27, 28}`, recovering to a non-zero address. Payer signatures over orders and validator
 * attestations over `cert_digest` both go through {@linkcode recoverCanonical}, as the vault's
 * `_recoverCanonical` does on chain: a signature one verifier takes, every verifier takes.
 *
 * @module
 */
import { bytesToHex, hexToBytes, isHex, recoverAddress } from "viem";
import type { Address, Hex } from "./deps.ts";
import { AllegroError } from "./errors.ts";

/** The order of the secp256k1 group. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/**
 * Why `signature` is not canonical, or `undefined` when it is. Accepts hex or bytes.
 *
 * @example
 * ```ts
 * import { signatureProblem } from "@allegro/client";
 *
 * signatureProblem("0x1234"); // "must be 65 bytes, got 2"
 * ```
 */
export function signatureProblem(signature: Hex | Uint8Array): string | undefined {
  let bytes: Uint8Array;
  if (signature instanceof Uint8Array) bytes = signature;
  else if (typeof signature === "string" && isHex(signature, { strict: true })) {
    bytes = hexToBytes(signature);
  } else return "must be hex or bytes";
  if (bytes.length !== 65) return `must be 65 bytes, got ${bytes.length}`;
  const r = BigInt(bytesToHex(bytes.subarray(0, 32)));
  const s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  const v = bytes[64];
  if (v !== 27 && v !== 28) return `v must be 27 or 28, got ${v}`;
  if (r === 0n || r >= N) return "r is out of range";
  if (s === 0n || s > HALF_N) return "s must be in the lower half of the curve order";
  return undefined;
}

/**
 * The address that signed the 32-byte `digest`, for a canonical signature only; throws an
 * `INVALID_FORMAT` {@linkcode AllegroError} naming `field` otherwise (not canonical, not a
 * signature, or recovering to address 0).
 *
 * @example
 * ```ts
 * import { sign } from "viem/accounts";
 * import { serializeSignature } from "viem";
 * import { recoverCanonical } from "@allegro/client";
 *
 * const hash = `0x${"ab".repeat(32)}` as const;
 * const signature = serializeSignature(await sign({
 *   hash,
 *   privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 * }));
 * console.log(await recoverCanonical(hash, signature, "signature")); // 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
 * ```
 */
export async function recoverCanonical(
  digest: Hex | Uint8Array,
  signature: Hex | Uint8Array,
  field: string,
): Promise<Address> {
  const problem = signatureProblem(signature);
  if (problem !== undefined) {
    throw new AllegroError("INVALID_FORMAT", `${field} ${problem}`, { field });
  }
  const hash = digest instanceof Uint8Array ? bytesToHex(digest) : digest;
  const sig = signature instanceof Uint8Array ? bytesToHex(signature) : signature;
  let signer: Address;
  try {
    signer = await recoverAddress({ hash, signature: sig });
  } catch (e) {
    throw new AllegroError("INVALID_FORMAT", `${field} does not recover: ${(e as Error).message}`, {
      field,
    });
  }
  if (signer === ZERO_ADDRESS) {
    throw new AllegroError("INVALID_FORMAT", `${field} recovers to address 0`, { field });
  }
  return signer;
}

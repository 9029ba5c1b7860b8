/**
 * Settlement attestations (SPEC §4): a validator's secp256k1 signature, with its settlement key,
 * over the raw 32-byte `cert_digest` — what the vault checks on chain, since it cannot check
 * Ed25519. A settlement key signs nothing else.
 *
 * @module
 */
import { bytesToHex, hexToBytes, serializeSignature } from "viem";
import type { Address, Hex } from "./deps.ts";
import { sign } from "viem/accounts";
import { expectBytes } from "./bytes.ts";
import { recoverCanonical } from "./signature.ts";

/**
 * Signs `certDigest` with the settlement key `privateKey`: 65 bytes `r || s || v`, low `s`,
 * `v` 27 or 28.
 *
 * @example
 * ```ts
 * import { signAttestation } from "@allegro/client";
 *
 * const attestation = await signAttestation(
 *   "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 *   new Uint8Array(32).fill(7),
 * );
 * console.log(attestation.length); // 65
 * ```
 */
export async function signAttestation(
  privateKey: Hex,
  certDigest: Uint8Array,
): Promise<Uint8Array> {
  const hash = bytesToHex(expectBytes("cert_digest", certDigest, 32));
  return hexToBytes(serializeSignature(await sign({ hash, privateKey })));
}

/**
 * The settlement address that produced `attestation` over `certDigest`; throws an
 * `INVALID_FORMAT` `AllegroError` for a signature that is not canonical (SPEC §4).
 *
 * @example
 * ```ts
 * import { attestationSigner, signAttestation } from "@allegro/client";
 *
 * const digest = new Uint8Array(32).fill(7);
 * const attestation = await signAttestation(
 *   "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 *   digest,
 * );
 * console.log(await attestationSigner(digest, attestation)); // 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
 * ```
 */
export function attestationSigner(
  certDigest: Uint8Array,
  attestation: Uint8Array,
): Promise<Address> {
  return recoverCanonical(expectBytes("cert_digest", certDigest, 32), attestation, "attestation");
}

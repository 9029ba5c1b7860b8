/**
 * Validator certificates (SPEC §4): a committee member's Ed25519 signature over
 * `cert_digest(chain_id, epoch, tx_hash, effects_hash)` and its settlement attestation — a
 * secp256k1 signature by its settlement key over the same digest, which is what the vault checks.
 * A certificate counts only when both verify.
 *
 * @module
 */
import { ed25519 as nobleEd25519 } from "@noble/curves/ed25519";
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex, hexToBytes } from "viem";
import type { Address, Hex } from "./deps.ts";
import { privateKeyToAddress } from "viem/accounts";
import { attestationSigner } from "./attestation.ts";
import { expectBytes } from "./bytes.ts";
import type { Committee } from "./committee.ts";
import { ed25519, type Ed25519Backend } from "./ed25519.ts";
import { certDigest } from "./hashes.ts";

/** One validator's certificate over an order's hashes. */
export interface Certificate {
  /** The validator id (Ed25519 public key), 32 bytes. */
  readonly signer: Uint8Array;
  /** The order's `tx_hash`, 32 bytes. */
  readonly txHash: Uint8Array;
  /** The order's `effects_hash`, 32 bytes. */
  readonly effectsHash: Uint8Array;
  /** Ed25519, 64 bytes. */
  readonly signature: Uint8Array;
  /** secp256k1 by the settlement key, 65 bytes `r || s || v`. */
  readonly attestation: Uint8Array;
  /** When the validator signed, unix milliseconds by its clock; part of `qc_hash`. */
  readonly createdUnixMillis: bigint;
  /** The committee epoch whose `cert_digest` was signed. */
  readonly epoch: bigint;
}

/**
 * Signs certificates for one validator in one chain and epoch, synchronously (noble's Ed25519
 * and secp256k1): a sidecar's decision signs without awaiting anything.
 *
 * @example
 * ```ts
 * import { CertificateSigner } from "@allegro/client";
 *
 * const signer = CertificateSigner.create(
 *   new Uint8Array(32).fill(1),
 *   "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 *   { chainId: 1337n, epoch: 1n },
 * );
 * const cert = signer.sign(new Uint8Array(32), new Uint8Array(32), 1000n);
 * console.log(cert.signature.length, cert.attestation.length); // 64 65
 * ```
 */
export class CertificateSigner {
  /** The validator id. */
  readonly publicKey: Uint8Array;
  /** The address of the settlement key. */
  readonly settlementAddress: Address;
  /** The chain id signed into every `cert_digest`. */
  readonly chainId: bigint;
  /** The committee epoch signed into every `cert_digest`. */
  readonly epoch: bigint;
  readonly #seed: Uint8Array;
  readonly #settlementKey: Uint8Array;

  private constructor(
    seed: Uint8Array,
    settlementKey: Hex,
    scope: { chainId: bigint; epoch: bigint },
  ) {
    this.#seed = seed;
    this.#settlementKey = hexToBytes(settlementKey);
    this.publicKey = nobleEd25519.getPublicKey(seed);
    this.settlementAddress = privateKeyToAddress(settlementKey);
    this.chainId = scope.chainId;
    this.epoch = scope.epoch;
  }

  /** A signer for the 32-byte Ed25519 seed and the secp256k1 settlement key (hex). */
  static create(
    seed: Uint8Array,
    settlementKey: Hex,
    scope: { chainId: bigint; epoch: bigint },
  ): CertificateSigner {
    return new CertificateSigner(
      expectBytes("validator key", seed, 32).slice(),
      settlementKey,
      scope,
    );
  }

  /** Signs and attests `cert_digest` for `txHash` and `effectsHash`, stamped `createdUnixMillis`. */
  sign(txHash: Uint8Array, effectsHash: Uint8Array, createdUnixMillis: bigint): Certificate {
    const digest = certDigest({ chainId: this.chainId, epoch: this.epoch, txHash, effectsHash });
    const signature = nobleEd25519.sign(digest, this.#seed);
    const attested = secp256k1.sign(digest, this.#settlementKey, { lowS: true });
    const attestation = new Uint8Array(65);
    attestation.set(attested.toCompactRawBytes());
    attestation[64] = 27 + attested.recovery;
    return {
      signer: this.publicKey,
      txHash,
      effectsHash,
      signature,
      attestation,
      createdUnixMillis,
      epoch: this.epoch,
    };
  }
}

/**
 * Why `certificate` does not count for `committee`, or `undefined` when it does: wrong sizes, an
 * epoch or signer outside the committee, an Ed25519 signature that does not verify against
 * `cert_digest` for the committee's chain and epoch, or an attestation that is not canonical or
 * does not recover to the member's settlement address.
 *
 * @example
 * ```ts
 * import { certificateProblem } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const certificate = signers[0].sign(txHash, effectsHash, 1000n);
 * console.log(await certificateProblem(committee, certificate)); // undefined: it counts
 * const claimed = { ...certificate, signer: signers[1].publicKey };
 * console.log(await certificateProblem(committee, claimed)); // certificate signature of v1 does not verify …
 * ```
 */
export async function certificateProblem(
  committee: Committee,
  certificate: Certificate,
  backend?: Ed25519Backend,
): Promise<string | undefined> {
  const { signer, txHash, effectsHash, signature, attestation } = certificate;
  const sizes: [string, Uint8Array, number][] = [
    ["signer", signer, 32],
    ["tx_hash", txHash, 32],
    ["effects_hash", effectsHash, 32],
    ["signature", signature, 64],
    ["attestation", attestation, 65],
  ];
  for (const [field, value, size] of sizes) {
    if (!(value instanceof Uint8Array) || value.length !== size) {
      return `certificate ${field} must be ${size} bytes`;
    }
  }
  if (certificate.epoch !== committee.epoch) {
    return `certificate is of epoch ${certificate.epoch}, the committee's is ${committee.epoch}`;
  }
  const member = committee.member(signer);
  if (member === undefined) {
    return `certificate signer ${bytesToHex(signer)} is not in the committee`;
  }
  const digest = certDigest({
    chainId: committee.chainId,
    epoch: committee.epoch,
    txHash,
    effectsHash,
  });
  if (!await (backend ?? await ed25519()).verify(signature, digest, signer)) {
    return `certificate signature of ${member.name} does not verify for tx_hash ${
      bytesToHex(txHash)
    } (chain ${committee.chainId}, epoch ${committee.epoch})`;
  }
  let attester: Address;
  try {
    attester = await attestationSigner(digest, attestation);
  } catch (e) {
    return `attestation of ${member.name}: ${(e as Error).message}`;
  }
  if (attester !== member.settlementAddress) {
    return `attestation of ${member.name} recovers to ${attester}, not its settlement address ${member.settlementAddress}`;
  }
  return undefined;
}

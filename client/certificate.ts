/**
 * Validator certificates: an Ed25519 signature by a committee member over
 * `cert_digest(chain_id, epoch, tx_hash, effects_hash)`.
 *
 * @module
 */
import { bytesToHex } from "viem";
import { expectBytes } from "./bytes.ts";
import type { Committee } from "./committee.ts";
import { ed25519, type Ed25519Backend } from "./ed25519.ts";
import { certDigest } from "./hashes.ts";

/** One validator's certificate over a transaction and its effects. */
export interface Certificate {
  /** The validator id (Ed25519 public key), 32 bytes. */
  readonly signer: Uint8Array;
  readonly txHash: Uint8Array;
  readonly effectsHash: Uint8Array;
  /** 64 bytes. */
  readonly signature: Uint8Array;
  readonly createdUnixMillis: bigint;
}

/**
 * Signs certificates for one validator key in one chain and epoch.
 *
 * @example
 * ```ts
 * import { CertificateSigner } from "@allegro/client";
 *
 * const seed = crypto.getRandomValues(new Uint8Array(32));
 * const signer = await CertificateSigner.create(seed, { chainId: 1337n, epoch: 1n });
 * const cert = await signer.sign(new Uint8Array(32), new Uint8Array(32), 1000n);
 * ```
 */
export class CertificateSigner {
  /** The validator id. */
  readonly publicKey: Uint8Array;
  readonly chainId: bigint;
  readonly epoch: bigint;
  readonly #secretKey: Uint8Array;
  readonly #backend: Ed25519Backend;

  private constructor(
    secretKey: Uint8Array,
    publicKey: Uint8Array,
    scope: { chainId: bigint; epoch: bigint },
    backend: Ed25519Backend,
  ) {
    this.#secretKey = secretKey;
    this.publicKey = publicKey;
    this.chainId = scope.chainId;
    this.epoch = scope.epoch;
    this.#backend = backend;
  }

  /** A signer for the 32-byte Ed25519 seed `secretKey`; `backend` defaults to the fastest. */
  static async create(
    secretKey: Uint8Array,
    scope: { chainId: bigint; epoch: bigint },
    backend?: Ed25519Backend,
  ): Promise<CertificateSigner> {
    const b = backend ?? await ed25519();
    const seed = expectBytes("secret key", secretKey, 32).slice();
    return new CertificateSigner(seed, await b.getPublicKey(seed), scope, b);
  }

  /** Signs `cert_digest` for `txHash` and `effectsHash`, stamped `createdUnixMillis`. */
  async sign(
    txHash: Uint8Array,
    effectsHash: Uint8Array,
    createdUnixMillis: bigint,
  ): Promise<Certificate> {
    const digest = certDigest({ chainId: this.chainId, epoch: this.epoch, txHash, effectsHash });
    const signature = await this.#backend.sign(this.#secretKey, digest);
    return { signer: this.publicKey, txHash, effectsHash, signature, createdUnixMillis };
  }
}

/**
 * Why `certificate` does not count for `committee`, or `undefined` when it does: wrong sizes, a
 * signer outside the committee, or a signature that does not verify against `cert_digest` for
 * the committee's chain id and epoch.
 *
 * @example
 * ```ts
 * import { CertificateSigner, certificateProblem, parseCommittee } from "@allegro/client";
 * import { bytesToHex } from "viem";
 *
 * const signer = await CertificateSigner.create(new Uint8Array(32).fill(1), {
 *   chainId: 1337n,
 *   epoch: 1n,
 * });
 * const committee = parseCommittee({ chain_id: 1337, epoch: 1, validators: [
 *   { name: "dave", pubkey: bytesToHex(signer.publicKey), endpoint: "http://127.0.0.1:7001" },
 * ] });
 * const cert = await signer.sign(new Uint8Array(32), new Uint8Array(32), 1n);
 * console.log(await certificateProblem(committee, cert)); // undefined
 * ```
 */
export async function certificateProblem(
  committee: Committee,
  certificate: Certificate,
  backend?: Ed25519Backend,
): Promise<string | undefined> {
  const { signer, txHash, effectsHash, signature } = certificate;
  const sizes: [string, Uint8Array, number][] = [
    ["signer", signer, 32],
    ["tx_hash", txHash, 32],
    ["effects_hash", effectsHash, 32],
    ["signature", signature, 64],
  ];
  for (const [field, value, size] of sizes) {
    if (!(value instanceof Uint8Array) || value.length !== size) {
      return `certificate ${field} must be ${size} bytes`;
    }
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
  return undefined;
}

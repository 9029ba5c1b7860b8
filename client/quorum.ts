/**
 * Quorum certificates: at least `threshold` valid certificates (Ed25519 and attestation) from
 * distinct committee members over one `(tx_hash, effects_hash)` in one epoch, identified by
 * `qc_hash` (SPEC §4: a *full* QC).
 *
 * @module
 */
import { bytesToHex } from "viem";
import { bytesEqual } from "./bytes.ts";
import { type Certificate, certificateProblem } from "./certificate.ts";
import type { Committee } from "./committee.ts";
import type { Ed25519Backend } from "./ed25519.ts";
import { AllegroError } from "./errors.ts";
import { qcHash } from "./hashes.ts";

/** A quorum certificate. */
export interface QuorumCertificate {
  /** The order's `tx_hash`, 32 bytes. */
  readonly txHash: Uint8Array;
  /** The order's `effects_hash`, 32 bytes. */
  readonly effectsHash: Uint8Array;
  /** The committee's threshold `n - f`. */
  readonly threshold: number;
  /** At least `threshold` certificates from distinct members over these hashes. */
  readonly certificates: readonly Certificate[];
  /** `qc_hash` over the hashes, threshold and certificates, 32 bytes. */
  readonly qcHash: Uint8Array;
  /** The committee epoch of every certificate in it. */
  readonly epoch: bigint;
}

const invalid = (message: string, details: Record<string, unknown> = {}): never => {
  throw new AllegroError("INVALID_PARENT_QC", message, details);
};

/**
 * Checks every rule of SPEC §4 and returns `qc` unchanged: the committee's threshold and epoch,
 * each certificate over the QC's own hashes from a distinct committee member with a valid
 * signature and attestation, at least `threshold` of them, and a `qc_hash` that recomputes. Throws an
 * `INVALID_PARENT_QC` {@linkcode AllegroError} (the code a sidecar answers for a bad parent)
 * naming the first failure.
 *
 * @example
 * ```ts
 * import { assembleQuorumCertificate, verifyQuorumCertificate } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const certificates = signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n));
 * const qc = assembleQuorumCertificate(committee, certificates)!;
 * await verifyQuorumCertificate(committee, qc); // resolves: 3 of 4, qc_hash recomputes
 * const short = { ...qc, certificates: certificates.slice(0, 2) };
 * await verifyQuorumCertificate(committee, short).catch((e) => console.log(e.code)); // INVALID_PARENT_QC
 * ```
 */
export async function verifyQuorumCertificate(
  committee: Committee,
  qc: QuorumCertificate,
  backend?: Ed25519Backend,
): Promise<QuorumCertificate> {
  if (qc.threshold !== committee.threshold) {
    invalid(`QC threshold ${qc.threshold} differs from the committee's ${committee.threshold}`);
  }
  if (qc.epoch !== committee.epoch) {
    invalid(`QC is of epoch ${qc.epoch}, the committee's is ${committee.epoch}`);
  }
  const seen = new Set<string>();
  for (const [i, cert] of qc.certificates.entries()) {
    const signer = bytesToHex(cert.signer);
    if (seen.has(signer)) invalid(`QC certificates[${i}] repeats signer ${signer}`);
    seen.add(signer);
    if (!bytesEqual(cert.txHash, qc.txHash) || !bytesEqual(cert.effectsHash, qc.effectsHash)) {
      invalid(`QC certificates[${i}] by ${signer} is over other hashes than the QC`);
    }
  }
  if (qc.certificates.length < committee.threshold) {
    invalid(`QC has ${qc.certificates.length} certificates, threshold is ${committee.threshold}`);
  }
  const problems = await Promise.all(
    qc.certificates.map((cert) => certificateProblem(committee, cert, backend)),
  );
  const bad = problems.findIndex((p) => p !== undefined);
  if (bad >= 0) invalid(`QC certificates[${bad}]: ${problems[bad]}`);
  const recomputed = qcHash(qc);
  if (!bytesEqual(recomputed, qc.qcHash)) {
    invalid(
      `QC qc_hash ${bytesToHex(qc.qcHash)} does not match its contents (${bytesToHex(recomputed)})`,
    );
  }
  return qc;
}

/**
 * Builds a QC from `certificates` that already passed {@linkcode certificateProblem} (so all are
 * of the committee's epoch): keeps those over the `(tx_hash, effects_hash)` pair with the most
 * distinct signers, one per signer, and returns the QC if they reach the committee's threshold,
 * else `undefined`.
 *
 * @example
 * ```ts
 * import { assembleQuorumCertificate } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * const [txHash, effectsHash] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
 * const certificates = signers.map((s) => s.sign(txHash, effectsHash, 1000n));
 * console.log(assembleQuorumCertificate(committee, certificates.slice(0, 2))); // undefined: 2 < 3
 * const qc = assembleQuorumCertificate(committee, certificates);
 * console.log(qc?.certificates.length, qc?.threshold); // 4 3
 * ```
 */
export function assembleQuorumCertificate(
  committee: Committee,
  certificates: readonly Certificate[],
): QuorumCertificate | undefined {
  const groups = new Map<string, Map<string, Certificate>>();
  for (const cert of certificates) {
    const key = bytesToHex(cert.txHash) + bytesToHex(cert.effectsHash).slice(2);
    const group = groups.get(key) ?? new Map<string, Certificate>();
    groups.set(key, group);
    const signer = bytesToHex(cert.signer);
    if (!group.has(signer)) group.set(signer, cert);
  }
  let best: Certificate[] = [];
  for (const group of groups.values()) if (group.size > best.length) best = [...group.values()];
  if (best.length < committee.threshold) return undefined;
  const body = {
    txHash: best[0].txHash,
    effectsHash: best[0].effectsHash,
    threshold: committee.threshold,
    certificates: best,
  };
  return { ...body, qcHash: qcHash(body), epoch: committee.epoch };
}

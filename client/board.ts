/**
 * Bulletin-board entries (SPEC §6): a certificate or a QC with the signed order it is over.
 * Anyone who reads a board — gossiping sidecars, the backend, a recipient — checks an entry
 * here before using it: the payer's signature, the committee's chain and vault, the order's
 * hashes against the certificate's or QC's, and the certificate or QC against the committee.
 *
 * @module
 */
import { bytesToHex } from "viem";
import type { Hex } from "./deps.ts";
import type { BulletinEntry } from "@allegro/proto";
import { bytesEqual } from "./bytes.ts";
import { type Certificate, certificateProblem } from "./certificate.ts";
import type { Committee } from "./committee.ts";
import type { Ed25519Backend } from "./ed25519.ts";
import { AllegroError } from "./errors.ts";
import { orderEffectsHash, orderTxHash, type SignedOrder, verifySignedOrder } from "./order.ts";
import { type QuorumCertificate, verifyQuorumCertificate } from "./quorum.ts";
import { certificateFromProto, qcFromProto, signedOrderFromProto } from "./wire.ts";

/** A bulletin-board entry that passed {@linkcode verifyBoardEntry}. */
export type VerifiedEntry =
  & { readonly sequence: bigint; readonly signed: SignedOrder; readonly txHash: Hex }
  & (
    | { readonly certificate: Certificate; readonly qc?: undefined }
    | { readonly qc: QuorumCertificate; readonly certificate?: undefined }
  );

/**
 * Checks one board entry against the committee; throws an `INVALID_FORMAT`
 * {@linkcode AllegroError} saying what is wrong.
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { privateKeyToAccount } from "viem/accounts";
 * import { BulletinEntrySchema } from "@allegro/proto";
 * import {
 *   certificateToProto,
 *   NO_PARENT,
 *   orderEffectsHash,
 *   orderTxHash,
 *   PATH_USD,
 *   signedOrderInit,
 *   signOrder,
 *   verifyBoardEntry,
 * } from "@allegro/client";
 * import { TEST_VAULT, testCommittee } from "@allegro/client/testing";
 *
 * const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
 * const signed = await signOrder(alice, {
 *   chainId: 1337n, vault: TEST_VAULT, payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", token: PATH_USD, amount: 1_000_000n,
 *   fee: 0n, seq: 0n, validBefore: 1_900_000_000_000n, parent: NO_PARENT, exit: false, memo: NO_PARENT,
 * });
 * const { committee, signers } = testCommittee(4);
 * const certificate = signers[0].sign(orderTxHash(signed.order), orderEffectsHash(signed.order), 1n);
 * const entry = create(BulletinEntrySchema, {
 *   sequence: 1n,
 *   order: signedOrderInit(signed),
 *   certificate: certificateToProto(certificate),
 * });
 * const verified = await verifyBoardEntry(committee, entry);
 * console.log(verified.signed.order.recipient, verified.qc ? "QC" : "certificate");
 * // 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC certificate
 * ```
 */
export async function verifyBoardEntry(
  committee: Committee,
  entry: BulletinEntry,
  backend?: Ed25519Backend,
): Promise<VerifiedEntry> {
  const fail = (message: string): never => {
    throw new AllegroError("INVALID_FORMAT", `board entry ${entry.sequence}: ${message}`);
  };
  let signed: SignedOrder;
  try {
    signed = await verifySignedOrder(signedOrderFromProto(entry.order));
  } catch (e) {
    return fail((e as Error).message);
  }
  const o = signed.order;
  if (o.chainId !== committee.chainId || o.vault !== committee.vault) {
    fail(`order is for chain ${o.chainId} vault ${o.vault}, not this committee's`);
  }
  const txHash = orderTxHash(o);
  const effectsHash = orderEffectsHash(o);
  const over = (hashes: { txHash: Uint8Array; effectsHash: Uint8Array }, what: string) => {
    if (!bytesEqual(hashes.txHash, txHash) || !bytesEqual(hashes.effectsHash, effectsHash)) {
      fail(`the ${what} is over other hashes than its order (tx_hash ${bytesToHex(txHash)})`);
    }
  };
  const base = { sequence: entry.sequence, signed, txHash: bytesToHex(txHash) };
  if (entry.certificate !== undefined && entry.qc === undefined) {
    const certificate = certificateFromProto(entry.certificate);
    over(certificate, "certificate");
    const problem = await certificateProblem(committee, certificate, backend);
    if (problem !== undefined) fail(problem);
    return { ...base, certificate };
  }
  if (entry.qc !== undefined && entry.certificate === undefined) {
    const qc = qcFromProto(entry.qc);
    over(qc, "QC");
    try {
      await verifyQuorumCertificate(committee, qc, backend);
    } catch (e) {
      fail((e as Error).message);
    }
    return { ...base, qc };
  }
  return fail("must hold exactly one of a certificate and a QC");
}

/**
 * A certified order: a payer-signed order with a verified QC over it — what `AllegroClient.pay`
 * returns to the payer and `AllegroClient.incoming` yields to the recipient, what a recipient
 * cites as `parent` to spend the money at once, what a wallet attaches to its next order in the
 * lane, and what anyone can settle on the vault.
 *
 * @module
 */
import { bytesToHex } from "viem";
import type { Hex } from "./deps.ts";
import { bytesEqual } from "./bytes.ts";
import type { Committee } from "./committee.ts";
import { AllegroError } from "./errors.ts";
import { orderEffectsHash, orderTxHash, type SignedOrder, verifySignedOrder } from "./order.ts";
import { type QuorumCertificate, verifyQuorumCertificate } from "./quorum.ts";

/** A signed order with a QC over its `tx_hash` and `effects_hash`. */
export interface CertifiedOrder {
  /** The payer-signed order. */
  readonly signed: SignedOrder;
  /** The order's `tx_hash` (the QC's), as hex. */
  readonly txHash: Hex;
  /** The QC over the order's `tx_hash` and `effects_hash`. */
  readonly qc: QuorumCertificate;
}

/**
 * Checks an order and its QC against the committee, as a sidecar checks a parent or a lane QC:
 * the payer's canonical signature, the committee's chain and vault, the order's own hashes equal
 * the QC's, and the QC verifies (SPEC §4). Returns it with its `tx_hash`; throws an
 * `INVALID_PARENT_QC` {@linkcode AllegroError} naming the first failure.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import {
 *   assembleQuorumCertificate,
 *   NO_PARENT,
 *   orderEffectsHash,
 *   orderTxHash,
 *   PATH_USD,
 *   signOrder,
 *   verifyCertifiedOrder,
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
 * const [txHash, effectsHash] = [orderTxHash(signed.order), orderEffectsHash(signed.order)];
 * const qc = assembleQuorumCertificate(
 *   committee,
 *   signers.slice(0, 3).map((s) => s.sign(txHash, effectsHash, 1000n)),
 * )!;
 * const parent = await verifyCertifiedOrder(committee, { signed, qc });
 * console.log(parent.txHash.length, parent.signed.order.amount); // 66 1000000n
 * ```
 */
export async function verifyCertifiedOrder(
  committee: Committee,
  certified: { readonly signed: SignedOrder; readonly qc: QuorumCertificate },
): Promise<CertifiedOrder> {
  const invalid = (message: string): never => {
    throw new AllegroError("INVALID_PARENT_QC", message);
  };
  let signed: SignedOrder;
  try {
    signed = await verifySignedOrder(certified.signed);
  } catch (e) {
    return invalid(`certified order: ${(e as Error).message}`);
  }
  const o = signed.order;
  if (o.chainId !== committee.chainId || o.vault !== committee.vault) {
    invalid(`certified order is for chain ${o.chainId} vault ${o.vault}, not this committee's`);
  }
  const txHash = orderTxHash(o);
  if (!bytesEqual(txHash, certified.qc.txHash)) {
    invalid(
      `order hashes to tx_hash ${bytesToHex(txHash)}, the QC certifies ${
        bytesToHex(certified.qc.txHash)
      }`,
    );
  }
  if (!bytesEqual(orderEffectsHash(o), certified.qc.effectsHash)) {
    invalid("order does not match the QC's effects_hash");
  }
  const qc = await verifyQuorumCertificate(committee, certified.qc);
  return { signed, txHash: bytesToHex(txHash), qc };
}

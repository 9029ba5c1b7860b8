/**
 * The sidecar's decision: rules 4 to 10 of SPEC §5 as one pure function of the ledger and a
 * prepared submission (rules 1 to 3 are checked when preparing it). One guard per rule, first
 * failure wins. It returns what to do; it changes nothing.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import { bytesEqual, type Certificate, type RejectCode } from "@allegro/client";
import { contentionId, laneId, type Ledger, type Posting, requestId } from "./ledger.ts";
import type { Submission } from "./submission.ts";

/** Configured limits the decision applies. */
export interface DecisionPolicy {
  /** How far past the chain head's time `validBefore` may lie. */
  readonly expiryWindowMillis: bigint;
  /** How far past the head's time `validBefore` must at least lie, so the chain can include it. */
  readonly minValidityMillis: bigint;
}

/** A refusal with the code and a message naming the field and values. */
export interface Reject {
  readonly kind: "reject";
  readonly code: RejectCode;
  readonly message: string;
}

/** The same answer as before: the stored certificate of this very transaction. */
export interface Replay {
  readonly kind: "replay";
  readonly certificate: Promise<Certificate>;
}

/** Everything certifying changes, for the ledger and the store to apply atomically. */
export interface Certify {
  readonly kind: "certify";
  readonly sender: Hex;
  /** The next local nonce of the lane after this one. */
  readonly nextNonce: bigint;
  readonly debits: readonly Posting[];
  /** The parent credit this payment consumes. */
  readonly credit?: Posting & {
    readonly parentTxHash: Uint8Array;
    readonly parentChainTxHash: Hex;
  };
}

/** The outcome of {@linkcode decide}. */
export type Decision = Reject | Replay | Certify;

const reject = (code: RejectCode, message: string): Reject => ({ kind: "reject", code, message });

/** Debits of amount and fee, merged when the fee is paid in the transferred token. */
function debitsOf(s: Submission, sender: Hex, asset: Hex): Posting[] {
  if (s.maxFee.token === asset) {
    return [{ account: sender, token: asset, amount: s.payment.amount + s.maxFee.amount }];
  }
  return [
    { account: sender, token: asset, amount: s.payment.amount },
    { account: sender, token: s.maxFee.token, amount: s.maxFee.amount },
  ];
}

/**
 * Decides a prepared submission against the ledger: a reject, a replay of the stored
 * certificate, or the changes that certifying makes. Pure: reads `ledger`, changes nothing.
 *
 * The chain view is needed from rule 6 on, so an unready view answers `TEMPORARY_UNAVAILABLE`
 * there, after the replay rules 4 and 5 that the store alone can answer.
 *
 * @example
 * ```ts ignore
 * const decision = decide(ledger, submission, { expiryWindowMillis: 3_600_000n, minValidityMillis: 2_000n });
 * if (decision.kind === "reject") console.log(decision.code, decision.message);
 * ```
 */
export function decide(ledger: Ledger, s: Submission, policy: DecisionPolicy): Decision {
  const p = s.payment;
  const sender = p.sender.toLowerCase() as Hex;
  const asset = p.asset.toLowerCase() as Hex;
  const tx = bytesToHex(s.txHash);

  // 4. client_request_id: same tx → stored answer; other tx → INVALID_FORMAT.
  if (s.clientRequestId !== undefined) {
    const prior = ledger.requests.get(requestId(sender, s.clientRequestId));
    if (prior) {
      if (!bytesEqual(prior.txHash, s.txHash)) {
        return reject(
          "INVALID_FORMAT",
          `client_request_id ${JSON.stringify(s.clientRequestId)} of ${sender} was used for tx ${
            bytesToHex(prior.txHash)
          }, not ${tx}`,
        );
      }
      if ("reject" in prior) return reject(prior.reject.code, prior.reject.message);
      return { kind: "replay", certificate: prior.certificate };
    }
  }

  // 5. contention key already signed: same tx → stored certificate; other → EQUIVOCATION.
  const lock = ledger.locks.get(contentionId(sender, p.nonceKey, p.nonceSeq));
  if (lock) {
    if (bytesEqual(lock.txHash, s.txHash)) return { kind: "replay", certificate: lock.certificate };
    return reject(
      "EQUIVOCATION",
      `contention key (${sender}, nonce_key ${
        bytesToHex(p.nonceKey)
      }, nonce_seq ${p.nonceSeq}) is signed for tx ${bytesToHex(lock.txHash)}, not ${tx}`,
    );
  }

  const head = ledger.head;
  if (head === undefined) return reject("TEMPORARY_UNAVAILABLE", "chain view is not ready");

  // 6. expiry against the chain head's time.
  if (p.validBeforeMillis < head.timestampMillis + policy.minValidityMillis) {
    return reject(
      "EXPIRED",
      `validBefore ${
        p.validBeforeMillis / 1000n
      } is not at least ${policy.minValidityMillis} ms after the head's time ${
        head.timestampMillis / 1000n
      } (block ${head.height})`,
    );
  }
  if (p.validBeforeMillis > head.timestampMillis + policy.expiryWindowMillis) {
    return reject(
      "EXPIRED",
      `validBefore ${
        p.validBeforeMillis / 1000n
      } is more than ${policy.expiryWindowMillis} ms after the head's time ${
        head.timestampMillis / 1000n
      }`,
    );
  }
  if (p.validAfterSeconds !== undefined && p.validAfterSeconds * 1000n > head.timestampMillis) {
    return reject(
      "EXPIRED",
      `validAfter ${p.validAfterSeconds} is not yet reached (head time ${
        head.timestampMillis / 1000n
      })`,
    );
  }

  // 7. nonce_seq against max(chain nonce, next local nonce).
  const expected = ledger.expectedNonce(sender, p.nonceKey);
  if (expected === undefined) {
    return reject("TEMPORARY_UNAVAILABLE", `nonce of ${sender} is not known yet`);
  }
  if (p.nonceSeq < expected) {
    return reject(
      "NONCE_SEQ_TOO_LOW",
      `nonce_seq ${p.nonceSeq} of ${sender} is below the next expected ${expected}`,
    );
  }
  if (p.nonceSeq > expected) {
    return reject(
      "NONCE_SEQ_TOO_HIGH",
      `nonce_seq ${p.nonceSeq} of ${sender} is above the next expected ${expected}`,
    );
  }

  // 8. parent: supplied, valid, paying this sender in this asset, not consumed by another child.
  let credit: Certify["credit"];
  if (s.parent !== undefined) {
    if (!s.parent.ok) return reject(s.parent.code, s.parent.message);
    const parent = s.parent.credit;
    const consumer = ledger.consumed.get(bytesToHex(parent.txHash));
    if (consumer && !bytesEqual(consumer, s.txHash)) {
      return reject(
        "INVALID_PARENT_QC",
        `parent tx ${bytesToHex(parent.txHash)} was already spent by tx ${bytesToHex(consumer)}`,
      );
    }
    // Once the parent's nonce is used on chain, the balance at this head already holds the
    // parent's payment (or never will, if something else used the nonce): no credit then.
    const parentLaneNonce = ledger.chainNonces.get(laneId(parent.sender, parent.nonceKey));
    if (parentLaneNonce === undefined) {
      return reject(
        "TEMPORARY_UNAVAILABLE",
        `nonce of parent sender ${parent.sender} is not known yet`,
      );
    }
    credit = {
      account: sender,
      token: asset,
      amount: parentLaneNonce > parent.nonceSeq ? 0n : parent.amount,
      parentTxHash: parent.txHash,
      parentChainTxHash: parent.chainTxHash,
    };
  }

  // 9. available balance covers amount plus the maximum fee, per token.
  const debits = debitsOf(s, sender, asset);
  for (const debit of debits) {
    const available = ledger.available(sender, debit.token);
    if (available === undefined) {
      return reject(
        "TEMPORARY_UNAVAILABLE",
        `balance of ${sender} in ${debit.token} is not known yet`,
      );
    }
    const withCredit = available + (credit && credit.token === debit.token ? credit.amount : 0n);
    if (withCredit < debit.amount) {
      const what = debit.token === asset
        ? `amount ${p.amount} + max fee ${s.maxFee.token === asset ? s.maxFee.amount : 0n}`
        : `max fee ${s.maxFee.amount}`;
      return reject(
        "INSUFFICIENT_FUNDS",
        `${sender} has ${withCredit} of ${debit.token} available, needs ${what} = ${debit.amount}`,
      );
    }
  }

  return {
    kind: "certify",
    sender,
    nextNonce: p.nonceSeq + 1n,
    debits,
    ...(credit ? { credit } : {}),
  };
}

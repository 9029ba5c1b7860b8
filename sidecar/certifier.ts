/**
 * The certifier: the thin shell around {@linkcode decide}. It prepares a submission, loads the
 * sender's state from the store and the chain, decides under the sender's lock, reserves the
 * outcome in the ledger, signs, and returns the certificate only once the store committed it.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import {
  AllegroError,
  type Certificate,
  type CertificateSigner,
  type RejectCode,
} from "@allegro/client";
import { type Certify, decide, type DecisionPolicy } from "./decide.ts";
import { KeyedMutex } from "@allegro/server/keyed-mutex";
import {
  contentionId,
  laneId,
  type Ledger,
  type PendingTx,
  type RequestAnswer,
  requestId,
} from "./ledger.ts";
import type { Store } from "./store.ts";
import {
  type PrepareContext,
  prepareSubmission,
  type Submission,
  type SubmissionRequest,
} from "./submission.ts";

/** What the chain side must provide: fetch an account's balances and lane nonce into the ledger. */
export interface AccountTracker {
  /** Makes `ledger` hold the chain balances of `tokens` and the nonce of the lane; may throw. */
  track(account: Hex, tokens: readonly Hex[], nonceKey: Uint8Array): Promise<void>;
}

/** The answer to one submission. */
export type Answer =
  | {
    readonly txHash?: Uint8Array;
    readonly effectsHash?: Uint8Array;
    readonly certificate: Certificate;
  }
  | {
    readonly txHash?: Uint8Array;
    readonly effectsHash?: Uint8Array;
    readonly reject: { readonly code: RejectCode; readonly message: string };
  };

/** Everything the certifier works with. */
export interface CertifierOptions {
  readonly ledger: Ledger;
  readonly store: Store;
  readonly signer: CertificateSigner;
  readonly tracker: AccountTracker;
  readonly prepare: PrepareContext;
  readonly policy: DecisionPolicy;
  /** Wall clock for certificate timestamps. */
  readonly now?: () => bigint;
  /** Most entries kept per ledger cache (locks, nonces, consumed parents, requests). */
  readonly maxCachedEntries?: number;
}

const DEFAULT_CACHE_LIMIT = 100_000;

const unavailable = (message: string) => new AllegroError("TEMPORARY_UNAVAILABLE", message);

/**
 * Certifies payments, at most one per contention key, ever.
 *
 * @example
 * ```ts ignore
 * const certifier = new Certifier({ ledger, store, signer, tracker, prepare, policy });
 * const answer = await certifier.submit(request);
 * ```
 */
export class Certifier {
  readonly #o: CertifierOptions;
  readonly #senders = new KeyedMutex();
  readonly #now: () => bigint;

  constructor(options: CertifierOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => BigInt(Date.now()));
  }

  /** Decides one submission; never throws for a reject, only answers it. */
  async submit(request: SubmissionRequest): Promise<Answer> {
    let s: Submission;
    try {
      s = await prepareSubmission(request, this.#o.prepare);
    } catch (e) {
      return rejectAnswer(e);
    }
    const hashes = { txHash: s.txHash, effectsHash: s.effectsHash };
    try {
      const { certificate } = await this.#decide(s);
      return { ...hashes, certificate: await certificate };
    } catch (e) {
      return { ...hashes, ...rejectAnswer(e) };
    }
  }

  /**
   * Loads, decides and reserves under the sender's lock; returns the certificate to await
   * (wrapped, so the lock is released before the commit and the sender's next request can be
   * decided while this one is being stored).
   */
  #decide(s: Submission): Promise<{ certificate: Promise<Certificate> }> {
    const sender = s.payment.sender.toLowerCase() as Hex;
    return this.#senders.run(sender, async () => {
      await this.#load(s, sender);
      const decision = decide(this.#o.ledger, s, this.#o.policy);
      if (decision.kind === "replay") return { certificate: decision.certificate };
      if (decision.kind === "reject") {
        await this.#rememberReject(s, sender, decision.code, decision.message);
        throw new AllegroError(decision.code, decision.message);
      }
      return { certificate: this.#certify(s, decision) };
    });
  }

  /** Fills the ledger's caches for this submission from the store and the chain. */
  async #load(s: Submission, sender: Hex): Promise<void> {
    const { ledger, store, tracker } = this.#o;
    const p = s.payment;
    try {
      const lockId = contentionId(sender, p.nonceKey, p.nonceSeq);
      const lane = laneId(sender, p.nonceKey);
      const parentTxHash = s.parent?.ok ? s.parent.credit.txHash : undefined;
      const parent = parentTxHash && bytesToHex(parentTxHash);
      const request = s.clientRequestId === undefined
        ? undefined
        : requestId(sender, s.clientRequestId);
      const [nonce, consumed, stored] = await Promise.all([
        ledger.localNonces.has(lane) ? undefined : store.getNonce(sender, p.nonceKey),
        parentTxHash === undefined || ledger.consumed.has(parent!)
          ? undefined
          : store.getConsumed(parentTxHash),
        request === undefined || ledger.requests.has(request)
          ? undefined
          : store.getRequest(sender, s.clientRequestId!),
      ]);
      if (nonce !== undefined && !ledger.localNonces.has(lane)) ledger.localNonces.set(lane, nonce);
      if (!ledger.locks.has(lockId)) {
        // A lock is only ever written with its lane's next nonce past it, in one commit: below
        // the next nonce there may be a lock to read, at or above it there is none.
        const next = ledger.localNonces.get(lane);
        const lock = next == null || next <= p.nonceSeq
          ? null
          : await store.getLock(sender, p.nonceKey, p.nonceSeq);
        if (!ledger.locks.has(lockId)) {
          ledger.locks.set(
            lockId,
            lock && { txHash: lock.txHash, certificate: Promise.resolve(lock.certificate) },
          );
        }
      }
      if (parent && consumed !== undefined && !ledger.consumed.has(parent)) {
        ledger.consumed.set(parent, consumed);
      }
      if (request !== undefined && stored !== undefined && !ledger.requests.has(request)) {
        ledger.requests.set(request, stored && this.#requestAnswer(stored, sender, s));
      }
    } catch (e) {
      throw unavailable(`store is not ready: ${(e as Error).message}`);
    }
    if (ledger.head !== undefined) {
      const tokens = [...new Set([p.asset.toLowerCase() as Hex, s.maxFee.token])];
      await tracker.track(sender, tokens, p.nonceKey);
      if (s.parent?.ok) await tracker.track(s.parent.credit.sender, [], s.parent.credit.nonceKey);
    }
  }

  /** A stored request answer: a reject, or the certificate behind the contention lock. */
  #requestAnswer(
    stored: { txHash: Uint8Array; reject?: { code: RejectCode; message: string } },
    sender: Hex,
    s: Submission,
  ): RequestAnswer {
    if (stored.reject) return { txHash: stored.txHash, reject: stored.reject };
    const p = s.payment;
    const certificate = this.#o.store.getLock(sender, p.nonceKey, p.nonceSeq).then((lock) => {
      if (lock === null) throw unavailable("stored request answer lost its certificate");
      return lock.certificate;
    });
    return { txHash: stored.txHash, certificate };
  }

  async #rememberReject(s: Submission, sender: Hex, code: RejectCode, message: string) {
    if (s.clientRequestId === undefined || code === "TEMPORARY_UNAVAILABLE") return;
    const id = requestId(sender, s.clientRequestId);
    if (this.#o.ledger.requests.get(id)) return;
    const reject = { code, message };
    this.#o.ledger.requests.set(id, { txHash: s.txHash, reject });
    await this.#o.store.rememberReject({
      kind: "reject",
      sender,
      clientRequestId: s.clientRequestId,
      txHash: s.txHash,
      ...reject,
    });
  }

  /**
   * Reserves the certification in the ledger at once (so the next decision for this sender sees
   * it), then signs and commits; the returned promise settles only after the commit.
   */
  #certify(s: Submission, plan: Certify): Promise<Certificate> {
    const { ledger, store, signer } = this.#o;
    const p = s.payment;
    const lockId = contentionId(plan.sender, p.nonceKey, p.nonceSeq);
    const lane = laneId(plan.sender, p.nonceKey);
    const request = s.clientRequestId === undefined
      ? undefined
      : requestId(plan.sender, s.clientRequestId);
    const pending: PendingTx = {
      txHash: s.txHash,
      chainTxHash: s.chainTxHash,
      rawTx: p.rawTx,
      sender: plan.sender,
      nonceKey: p.nonceKey,
      nonceSeq: p.nonceSeq,
      validBeforeMillis: p.validBeforeMillis,
      debits: plan.debits,
      ...(plan.credit ? { credit: plan.credit } : {}),
      ...(s.parent?.ok ? { parentRawTx: s.parent.credit.rawTx } : {}),
    };

    const certificate = (async () => {
      const cert = await signer.sign(s.txHash, s.effectsHash, this.#now());
      await store.certify({
        kind: "certify",
        certificate: cert,
        sender: plan.sender,
        nonceKey: p.nonceKey,
        nonceSeq: p.nonceSeq,
        pending,
        ...(s.clientRequestId === undefined ? {} : { clientRequestId: s.clientRequestId }),
        entry: {
          certificate: cert,
          signedTx: p.rawTx,
          parentQcHash: s.parentQcHash ?? new Uint8Array(),
          sender: plan.sender,
          recipient: p.recipient.toLowerCase() as Hex,
          amount: p.amount,
          asset: p.asset.toLowerCase() as Hex,
          nonceKey: p.nonceKey,
          nonceSeq: p.nonceSeq,
          validBeforeMillis: p.validBeforeMillis,
        },
      });
      return cert;
    })();

    const parent = plan.credit && bytesToHex(plan.credit.parentTxHash);
    ledger.locks.set(lockId, { txHash: s.txHash, certificate });
    ledger.localNonces.set(lane, plan.nextNonce);
    ledger.addPending(pending);
    if (parent) ledger.consumed.set(parent, s.txHash);
    if (request !== undefined) ledger.requests.set(request, { txHash: s.txHash, certificate });
    // Not durable yet: these entries must stay in memory until the commit settles.
    const pins = () => {
      ledger.locks.pin(lockId);
      ledger.localNonces.pin(lane);
      if (parent) ledger.consumed.pin(parent);
      if (request !== undefined) ledger.requests.pin(request);
    };
    const unpin = () => {
      ledger.locks.unpin(lockId);
      ledger.localNonces.unpin(lane);
      if (parent) ledger.consumed.unpin(parent);
      if (request !== undefined) ledger.requests.unpin(request);
      ledger.trimCaches(this.#o.maxCachedEntries ?? DEFAULT_CACHE_LIMIT);
    };
    pins();
    certificate.then(unpin, unpin);

    return certificate.catch((e) => {
      // Never durable, never returned: undo the reservation so the key stays free.
      ledger.locks.delete(lockId);
      const next = ledger.localNonces.get(lane);
      if (next != null && next > p.nonceSeq) ledger.localNonces.set(lane, p.nonceSeq);
      ledger.removePending(bytesToHex(s.txHash));
      if (parent) ledger.consumed.delete(parent);
      if (request !== undefined) ledger.requests.delete(request);
      throw unavailable(`certificate could not be stored: ${(e as Error).message}`);
    });
  }
}

function rejectAnswer(e: unknown): { reject: { code: RejectCode; message: string } } {
  if (e instanceof AllegroError) return { reject: { code: e.code, message: e.message } };
  throw e;
}

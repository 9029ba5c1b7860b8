/**
 * The certifier: the driver around the {@linkcode Authority}. It verifies what the authority
 * must not verify itself (the payer's signature — rule 1 —, every QC and foreign certificate
 * against the committee), runs one authority step at a time (loading the keys it asks for from
 * the store), queues the step's writes for commit in decision order, and answers only once they
 * are durable. When a commit fails, the store has the authority forget its memory before anything
 * else is decided, and every step queued after it fails too.
 *
 * @module
 */
import { type Address, bytesToHex, type Hex } from "viem";
import {
  AllegroError,
  type Certificate,
  type CertifiedOrder,
  type Committee,
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  parentProblem,
  type QuorumCertificate,
  type RejectCode,
  type SignedOrder,
  verifyCertifiedOrder,
  verifySignedOrder,
} from "@allegro/client";
import type { VaultBlock } from "@allegro/server/vault-follower";
import { type Authority, type Key, type LaneView, type Submission, Writes } from "./authority.ts";
import type { Store } from "./store.ts";

/** What a submission carries, decoded from the wire but not yet verified. */
export interface SubmissionRequest {
  readonly signed: SignedOrder;
  readonly laneQcs: readonly { signed: SignedOrder; qc: QuorumCertificate }[];
  readonly parent?: { signed: SignedOrder; qc: QuorumCertificate };
}

/** The answer to one submission. */
export type Answer =
  & { readonly txHash?: Uint8Array; readonly effectsHash?: Uint8Array }
  & (
    | { readonly certificate: Certificate; readonly confirmation: boolean }
    | { readonly reject: { readonly code: RejectCode; readonly message: string } }
  );

/** What the certifier tells the rest of the sidecar about. */
export interface CertifierHooks {
  /** A certificate this sidecar issued (once durable), or a verified QC it was sent. */
  readonly seen?: (
    entry:
      & { signed: SignedOrder; txHash: Hex }
      & (
        | { certificate: Certificate; qc?: undefined }
        | { qc: QuorumCertificate; certificate?: undefined }
      ),
  ) => void;
  /** A block was applied and stored. */
  readonly applied?: (block: VaultBlock) => void;
}

/** Most lane QCs one submission may carry; more are ignored. */
const MAX_LANE_QCS = 32;

/**
 * The driver.
 *
 * @example
 * ```ts ignore
 * const certifier = new Certifier(authority, store, committee);
 * const answer = await certifier.submit(request);
 * ```
 */
export class Certifier {
  readonly #authority: Authority;
  readonly #store: Store;
  readonly #committee: Committee;
  readonly #hooks: CertifierHooks;
  readonly #maxCached: number;
  /** Authority steps run one at a time (their loads included); commits are pipelined. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(
    authority: Authority,
    store: Store,
    committee: Committee,
    options: { hooks?: CertifierHooks; maxCachedLanes?: number } = {},
  ) {
    this.#authority = authority;
    this.#store = store;
    this.#committee = committee;
    this.#hooks = options.hooks ?? {};
    this.#maxCached = options.maxCachedLanes ?? 100_000;
    store.onFailure = (durable) => authority.reset(durable);
  }

  /** Decides one submission; a reject is an answer, never an exception. */
  async submit(request: SubmissionRequest): Promise<Answer> {
    let signed: SignedOrder;
    try {
      signed = await verifySignedOrder(request.signed);
    } catch (e) {
      return rejectOf(e);
    }
    const o = signed.order;
    const txHash = orderTxHash(o);
    const hashes = { txHash, effectsHash: orderEffectsHash(o) };
    const submission: Submission = {
      signed,
      txHash: bytesToHex(txHash),
      effectsHash: hashes.effectsHash,
      laneQcs: await this.#verifiedLaneQcs(request.laneQcs, signed),
      ...(request.parent && o.parent !== NO_PARENT
        ? { parent: await this.#verifiedParent(request.parent, signed) }
        : {}),
    };
    let decision;
    try {
      decision = await this.#step((now) => this.#authority.handle(submission, now));
    } catch (e) {
      return { ...hashes, ...rejectOf(e) };
    }
    for (const qc of submission.laneQcs) this.#hooks.seen?.(qc);
    if (submission.parent?.ok) this.#hooks.seen?.(submission.parent.certified);
    if (decision.kind === "reject") return { ...hashes, reject: decision };
    const { confirmation } = decision;
    if (decision.kind === "certify" && !confirmation) {
      this.#hooks.seen?.({ signed, txHash: submission.txHash, certificate: decision.certificate });
    }
    return { ...hashes, certificate: decision.certificate, confirmation };
  }

  /** Applies blocks in order, each stored before the next. */
  async applyBlocks(blocks: readonly VaultBlock[]): Promise<void> {
    for (const block of blocks) {
      await this.#step((now) => this.#authority.apply(block, now));
      this.#hooks.applied?.(block);
    }
  }

  /** Takes another validator's certificate (verified here) as a lock; whether it was kept. */
  async observe(signed: SignedOrder, certificate: Certificate): Promise<boolean> {
    const txHash = bytesToHex(certificate.txHash);
    const result = await this.#step(() => this.#authority.observe({ signed, txHash, certificate }));
    return result.kept;
  }

  /** Applies a QC'd order already verified against the committee. */
  async confirm(certified: CertifiedOrder): Promise<void> {
    await this.#step(() => this.#authority.confirm(certified));
  }

  /** Store loss was found (a peer holds a certificate of this key the store lacks). */
  storeLossDetected(reason: string, restartClock: bigint): void {
    this.#authority.storeLossDetected(reason, restartClock);
  }

  /** The lane as `GetLane` reports it. */
  async lane(payer: Address, token: Address): Promise<LaneView> {
    const result = await this.#step(() => this.#authority.laneView(payer, token));
    return result.view;
  }

  /** Whether this store lacks its own certificate for an order (found on a peer's board). */
  async lacksOwn(signed: SignedOrder, txHash: Hex): Promise<boolean> {
    return (await this.#step(() => this.#authority.lacksOwn(signed, txHash))).lacks;
  }

  /** A peer's board was read to its end; persists what opening the gate writes. */
  async boardPulled(peer: string): Promise<void> {
    await this.#step(() => ({ kind: "done" as const, writes: this.#authority.boardPulled(peer) }));
  }

  /**
   * Runs one authority step after every earlier one: loads the keys it asks for, queues its
   * writes, then waits for them outside the turn, so the next step need not wait for the disk.
   */
  async #step<T extends { kind: string; writes?: Writes }>(
    run: (now: bigint) => T,
  ): Promise<Exclude<T, { kind: "need" }>> {
    let commit: Promise<void> = Promise.resolve();
    const turn = this.#turn.then(async () => {
      for (let round = 0; round < 8; round++) {
        const result = run(BigInt(Date.now()));
        if (result.kind !== "need") {
          // Even a step that writes nothing waits for the commits before it: a certificate
          // replayed from memory leaves only once the commit that stored it succeeded.
          commit = this.#store.commit(result.writes ?? new Writes());
          this.#trim();
          return result as Exclude<T, { kind: "need" }>;
        }
        const keys = (result as unknown as { keys: readonly Key[] }).keys;
        const values = await Promise.all(keys.map((key) => this.#store.read(key))).catch((e) => {
          throw new AllegroError(
            "TEMPORARY_UNAVAILABLE",
            `store is not available: ${(e as Error).message}`,
          );
        });
        keys.forEach((key, i) => this.#authority.load(key, values[i]));
      }
      throw new AllegroError("TEMPORARY_UNAVAILABLE", "state kept changing while it was loaded");
    });
    this.#turn = turn.catch(() => {});
    const result = await turn;
    await commit.catch((e) => {
      throw new AllegroError(
        "TEMPORARY_UNAVAILABLE",
        `store is not available: ${(e as Error).message}`,
      );
    });
    return result;
  }

  #trim(): void {
    const a = this.#authority;
    if (a.cachedLanes > this.#maxCached || a.cachedParents > this.#maxCached) {
      this.#authority.trim(this.#maxCached, (key) => this.#store.pending(key));
    }
  }

  async #verifiedLaneQcs(
    laneQcs: SubmissionRequest["laneQcs"],
    signed: SignedOrder,
  ): Promise<CertifiedOrder[]> {
    const o = signed.order;
    const mine = laneQcs.slice(0, MAX_LANE_QCS).filter((q) =>
      q.signed.order.payer === o.payer && q.signed.order.token === o.token &&
      q.signed.order.seq < o.seq
    );
    const verified = await Promise.all(
      mine.map((q) => verifyCertifiedOrder(this.#committee, q).catch(() => undefined)),
    );
    return verified.filter((q) => q !== undefined);
  }

  async #verifiedParent(
    parent: NonNullable<SubmissionRequest["parent"]>,
    signed: SignedOrder,
  ): Promise<Submission["parent"]> {
    // Neither the QC's failures nor parentProblem's say which field and parent: name both.
    const invalid = (message: string) => ({
      ok: false as const,
      message: `order.parent ${signed.order.parent}: ${message}`,
    });
    try {
      const certified = await verifyCertifiedOrder(this.#committee, parent);
      const problem = parentProblem(signed.order, certified.signed.order);
      return problem === undefined ? { ok: true, certified } : invalid(problem);
    } catch (e) {
      return invalid((e as Error).message);
    }
  }
}

function rejectOf(e: unknown): { reject: { code: RejectCode; message: string } } {
  if (e instanceof AllegroError) return { reject: { code: e.code, message: e.message } };
  throw e;
}

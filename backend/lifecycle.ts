/**
 * Payment lifecycles: every change to a record goes through here, serialized per `tx_hash`,
 * written to the {@linkcode Store} and only then announced (certificate and stage events), counted
 * and, for `FAILED` and `EXPIRED` of a settleable QC, alerted. The QC is assembled here from
 * verified certificates (or taken verified from a sidecar's board) and then frozen, so a
 * record's `qc_hash` never changes; whether it is a settleable QC (`CERTIFIED`) or a confirmation
 * QC (`CONFIRMED`: the order was already past its `validBefore` in chain time) is decided here,
 * once, against a fresh chain time.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import { LRUCache } from "lru-cache";
import {
  assembleQuorumCertificate,
  bytesEqual,
  type Certificate,
  type Committee,
  type QuorumCertificate,
  type SignedOrder,
} from "@allegro/client";
import { KeyedMutex } from "@allegro/server/keyed-mutex";
import type { Logger } from "@allegro/server/log";
import type { EventHub } from "./events.ts";
import type { BackendMetrics } from "./metrics.ts";
import {
  canMove,
  MAX_REJECT_MESSAGE,
  type RecordCertificate,
  type RecordReject,
  type StageName,
  type TxRecord,
  withStage,
} from "./record.ts";
import type { Store } from "./store.ts";

/** What a record is made from when the backend first meets a payment (its order verified). */
export interface TxSeed {
  readonly signed: SignedOrder;
  readonly txHash: Hex;
  readonly effectsHash: Hex;
  readonly source: TxRecord["source"];
}

/** A record section holding the payment's lock. */
export interface LockedTx {
  /** The stored record, if any. */
  readonly record: TxRecord | undefined;
  /** Stores `after` (then announces what changed); returns what was stored. */
  commit(after: TxRecord): Promise<TxRecord>;
}

/** What {@linkcode Lifecycle} needs. */
export interface LifecycleDeps {
  readonly store: Store;
  readonly committee: Committee;
  readonly events: EventHub;
  readonly log: Logger;
  readonly metrics: BackendMetrics;
  /** The chain time now (ms), read fresh; `undefined` when the chain does not answer. */
  readonly chainTime: () => Promise<bigint | undefined>;
}

/** Told of every stored change of a record (the vault tracker and the settler are). */
export type ChangeListener = (before: TxRecord | undefined, after: TxRecord) => void;

const now = () => BigInt(Date.now());

/** A new record for `seed`, at `ACCEPTED` with no history yet. */
function fresh(seed: TxSeed): TxRecord {
  return {
    txHash: seed.txHash,
    effectsHash: seed.effectsHash,
    signed: seed.signed,
    stage: "ACCEPTED",
    certificates: [],
    rejects: [],
    history: [],
    firstSeenMillis: now(),
    source: seed.source,
  };
}

/**
 * Adds verified certificates and rejects to a record (or makes a new one from `seed`): one
 * certificate per validator, a validator's newest reject replaces its older one, and a
 * certificate drops that validator's reject. Certificates over other hashes than the record's
 * are ignored (callers pass only verified certificates over the seed's hashes).
 *
 * @example
 * ```ts ignore
 * const record = mergeAnswers(undefined, seed, [{ validator: "dave", certificate, receivedMillis }], []);
 * ```
 */
export function mergeAnswers(
  base: TxRecord | undefined,
  seed: TxSeed,
  certificates: readonly RecordCertificate[],
  rejects: readonly RecordReject[],
): TxRecord {
  const record = base ?? fresh(seed);
  const certs = [...record.certificates];
  for (const c of certificates) {
    if (
      bytesToHex(c.certificate.txHash) !== record.txHash ||
      bytesToHex(c.certificate.effectsHash) !== record.effectsHash
    ) continue;
    if (certs.some((x) => bytesEqual(x.certificate.signer, c.certificate.signer))) continue;
    certs.push(c);
  }
  const certified = (signer: Uint8Array) =>
    certs.some((x) => bytesEqual(x.certificate.signer, signer));
  const byValidator = new Map(record.rejects.map((r) => [bytesToHex(r.signer), r]));
  for (const r of rejects) {
    byValidator.set(bytesToHex(r.signer), {
      ...r,
      message: r.message.length > MAX_REJECT_MESSAGE
        ? `${r.message.slice(0, MAX_REJECT_MESSAGE)}…`
        : r.message,
    });
  }
  const kept = [...byValidator.values()].filter((r) => !certified(r.signer));
  return { ...record, certificates: certs, rejects: kept };
}

/**
 * A record holding `qc` (verified by the caller), unless it already has one: a frozen QC is
 * never replaced.
 *
 * @example
 * ```ts ignore
 * await lifecycle.update(parent.txHash, (r) => withQc(r, seed, parent.qc));
 * ```
 */
export function withQc(
  base: TxRecord | undefined,
  seed: TxSeed,
  qc: QuorumCertificate,
): TxRecord | undefined {
  if (base?.qc) return undefined;
  return { ...(base ?? fresh(seed)), qc };
}

/**
 * Whether a reject is a validator's lasting refusal of the order itself (not a failure to answer,
 * an invalid answer, or `TEMPORARY_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * import { isPermanent } from "./lifecycle.ts";
 *
 * console.log(isPermanent({ validator: "dave", signer: new Uint8Array(32),
 *   code: "INSUFFICIENT_FUNDS", message: "", kind: "rejected", atMillis: 0n })); // true
 * ```
 */
export function isPermanent(r: RecordReject): boolean {
  return r.kind === "rejected" && r.code !== "TEMPORARY_UNAVAILABLE";
}

/**
 * Whether no QC can form any more: more validators refused the order for good than the
 * committee can spare. Unreachable validators and invalid answers do not count: retrying may
 * still succeed.
 *
 * @example
 * ```ts ignore
 * if (!record.qc && quorumImpossible(committee, record)) console.log("REJECTED");
 * ```
 */
export function quorumImpossible(
  committee: Committee,
  record: Pick<TxRecord, "rejects">,
): boolean {
  return record.rejects.filter(isPermanent).length >
    committee.validators.length - committee.threshold;
}

/**
 * The lifecycle store with its announcements.
 *
 * @example
 * ```ts ignore
 * const lifecycle = new Lifecycle({ store, committee, events, log, metrics, chainTime });
 * await lifecycle.update(txHash, (r) => r && withStage(r, "INCLUDED", BigInt(Date.now())));
 * ```
 */
export class Lifecycle {
  readonly #deps: LifecycleDeps;
  readonly #mutex = new KeyedMutex();
  /** `tx:signer` of certificates already announced. */
  readonly #announced = new LRUCache<string, true>({ max: 100_000 });
  readonly #listeners: ChangeListener[] = [];

  constructor(deps: LifecycleDeps) {
    this.#deps = deps;
  }

  /** Tells `listener` of every change stored from now on. */
  listen(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  /** The stored record of `txHash`. */
  get(txHash: Hex): Promise<TxRecord | undefined> {
    return this.#deps.store.tx(txHash);
  }

  /** Runs `fn` holding `txHash`'s lock; `fn` may commit one or more new versions. */
  locked<T>(txHash: Hex, fn: (tx: LockedTx) => Promise<T>): Promise<T> {
    return this.#mutex.run(txHash, async () => {
      let current = await this.#deps.store.tx(txHash);
      return await fn({
        get record() {
          return current;
        },
        commit: async (after) => {
          current = await this.#commit(current, after);
          return current;
        },
      });
    });
  }

  /**
   * Read-modify-write of one record: `mutate` returns the new version, or `undefined` (or the
   * same object) to leave it.
   */
  update(
    txHash: Hex,
    mutate: (record: TxRecord | undefined) => TxRecord | undefined,
  ): Promise<TxRecord | undefined> {
    return this.locked(txHash, async (tx) => {
      const after = mutate(tx.record);
      if (after === undefined || after === tx.record) return tx.record;
      return await tx.commit(after);
    });
  }

  /** Moves `txHash` to `stage` if it may (see `canMove`), with `extra` fields. */
  move(
    txHash: Hex,
    stage: StageName,
    extra: Partial<Pick<TxRecord, "settlement" | "failure">> & { blockHeight?: bigint } = {},
  ): Promise<TxRecord | undefined> {
    return this.update(txHash, (r) => {
      if (r === undefined || !canMove(r.stage, stage)) return undefined;
      const { blockHeight, ...fields } = extra;
      return withStage({ ...r, ...fields }, stage, now(), { blockHeight });
    });
  }

  /**
   * Announces a verified certificate as soon as it arrives (before the record is stored); the
   * later commit does not announce it again.
   */
  announceCertificate(
    signed: SignedOrder,
    validator: string,
    certificate: Certificate,
    receivedMillis: bigint,
  ): void {
    const txHash = bytesToHex(certificate.txHash);
    const key = `${txHash}:${bytesToHex(certificate.signer)}`;
    if (this.#announced.has(key)) return;
    this.#announced.set(key, true);
    this.#deps.events.emit({
      type: "certificate",
      tx_hash: txHash,
      validator,
      signer: bytesToHex(certificate.signer),
      created_unix_millis: certificate.createdUnixMillis.toString(),
      received_unix_millis: receivedMillis.toString(),
      payer: signed.order.payer.toLowerCase(),
      recipient: signed.order.recipient.toLowerCase(),
    });
  }

  async #commit(before: TxRecord | undefined, proposed: TxRecord): Promise<TxRecord> {
    const after = await this.#classify(proposed);
    await this.#deps.store.write(before, after);
    const known = new Set((before?.certificates ?? []).map((c) => c.certificate));
    for (const c of after.certificates) {
      if (!known.has(c.certificate)) {
        this.announceCertificate(after.signed, c.validator, c.certificate, c.receivedMillis);
      }
    }
    const old = new Set(before?.history ?? []);
    let previous: StageName | null = before?.stage ?? null;
    for (const change of after.history) {
      if (old.has(change)) continue;
      this.#announceStage(after, change.stage, previous, change.atMillis, change.blockHeight);
      previous = change.stage;
    }
    for (const listener of this.#listeners) {
      try {
        listener(before, after);
      } catch (e) {
        this.#deps.log.error("lifecycle listener failed", { error: (e as Error).message });
      }
    }
    return after;
  }

  /**
   * Forms the QC once enough verified certificates are in, and gives a record its stage: a new
   * one with a certificate starts `ACCEPTED`; one that just got a QC is `CONFIRMED` when its
   * order is at or past `validBefore` in chain time, else `CERTIFIED`; one below the quorum
   * whose validators refused too often is `REJECTED`, and `ACCEPTED` again once that changes.
   */
  async #classify(record: TxRecord): Promise<TxRecord> {
    const { committee } = this.#deps;
    let r = record;
    if (r.qc === undefined && r.certificates.length >= committee.threshold) {
      const qc = assembleQuorumCertificate(committee, r.certificates.map((c) => c.certificate));
      if (qc) r = { ...r, qc };
    }
    const at = now();
    if (r.history.length === 0 && (r.certificates.length > 0 || r.qc)) {
      const first = r.certificates.reduce(
        (m, c) => c.receivedMillis < m ? c.receivedMillis : m,
        at,
      );
      r = withStage(r, "ACCEPTED", first);
    }
    if (r.stage !== "ACCEPTED" && r.stage !== "REJECTED") return r;
    if (r.qc) {
      const chainTime = await this.#deps.chainTime();
      const confirmation = chainTime !== undefined && r.signed.order.validBefore <= chainTime;
      return withStage(r, confirmation ? "CONFIRMED" : "CERTIFIED", at);
    }
    if (r.stage === "ACCEPTED" && quorumImpossible(committee, r)) {
      return withStage(r, "REJECTED", at);
    }
    if (r.stage === "REJECTED" && r.certificates.length > 0 && !quorumImpossible(committee, r)) {
      return withStage(r, "ACCEPTED", at);
    }
    return r;
  }

  #announceStage(
    r: TxRecord,
    stage: StageName,
    previous: StageName | null,
    atMillis: bigint,
    blockHeight: bigint | undefined,
  ): void {
    const { events, log, metrics } = this.#deps;
    const o = r.signed.order;
    const fields = { tx_hash: r.txHash, payer: o.payer, seq: o.seq, token: o.token };
    if (stage === "CERTIFIED" || stage === "CONFIRMED") metrics.qc(stage === "CONFIRMED");
    if (stage === "FAILED") {
      metrics.certifiedFailed();
      log.error("ALERT: a certified order's settlement failed", {
        ...fields,
        failure: r.failure ?? null,
      });
    }
    if (stage === "EXPIRED" && r.qc) {
      metrics.certifiedExpired();
      log.error("ALERT: a certified order expired unsettled", {
        ...fields,
        valid_before: o.validBefore,
      });
    }
    events.emit({
      type: "stage",
      tx_hash: r.txHash,
      stage,
      previous,
      at_unix_millis: atMillis.toString(),
      ...(blockHeight !== undefined ? { block_height: blockHeight.toString() } : {}),
      ...(r.qc && (stage === "CERTIFIED" || stage === "CONFIRMED")
        ? { qc_hash: bytesToHex(r.qc.qcHash) }
        : {}),
      ...(stage === "FAILED" && r.failure ? { failure: r.failure } : {}),
      payer: o.payer.toLowerCase(),
      recipient: o.recipient.toLowerCase(),
    });
  }
}

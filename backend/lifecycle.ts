/**
 * Tx lifecycles: every change to a record goes through here, serialized per transaction, written
 * to the {@linkcode Store} and only then announced (certificate and stage events, derived from
 * the difference between the stored record and the new one). A QC is assembled here, verified,
 * and frozen: once a record has a QC it never gets another, so its `qc_hash` is stable.
 *
 * @module
 */
import { bytesToHex, type Hex, keccak256 } from "viem";
import {
  assembleQuorumCertificate,
  bytesEqual,
  type Certificate,
  type Committee,
  type Payment,
  verifyQuorumCertificate,
} from "@allegro/client";
import { KeyedMutex } from "@allegro/server/keyed-mutex";
import type { Logger } from "@allegro/server/log";
import type { EventHub } from "./events.ts";
import { Lru } from "./lru.ts";
import {
  canMove,
  MAX_REJECT_MESSAGE,
  type RecordCertificate,
  type RecordPayment,
  type RecordReject,
  type StageName,
  type TxRecord,
  withStage,
} from "./record.ts";
import type { Store } from "./store.ts";

/** What a record is made from when the backend first meets a payment. */
export interface TxSeed {
  readonly txHash: Uint8Array;
  readonly effectsHash: Uint8Array;
  readonly signedTx: Uint8Array;
  readonly parentQcHash: Uint8Array;
  readonly payment: RecordPayment;
  readonly source: TxRecord["source"];
}

/** The payment fields the backend keeps, from a decoded payment. */
export function recordPayment(p: Payment): RecordPayment {
  return {
    sender: p.sender,
    recipient: p.recipient,
    amount: p.amount,
    asset: p.asset,
    feeToken: p.feeToken,
    chainId: p.chainId,
    nonceKey: p.nonceKey,
    nonceSeq: p.nonceSeq,
    validBeforeMillis: p.validBeforeMillis,
    ...(p.memo ? { memo: p.memo } : {}),
    gas: p.gas,
    maxFeePerGas: p.maxFeePerGas,
  };
}

/** A record section holding the transaction's lock. */
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
  /** Most certificate events remembered as already announced. */
  readonly cacheSize: number;
  /** Called after every stored change (the chain follower forwards and tracks from here). */
  readonly onChange?: (before: TxRecord | undefined, after: TxRecord) => void;
}

const now = () => BigInt(Date.now());

/**
 * Adds verified certificates and rejects to a record (or makes a new one from `seed`): one
 * certificate per validator, a validator's newest reject replaces its older one, and a
 * certificate drops that validator's reject. Certificates over other hashes than the record's
 * are ignored (callers pass only verified certificates over the seed's hashes).
 */
export function mergeAnswers(
  base: TxRecord | undefined,
  seed: TxSeed,
  certificates: readonly RecordCertificate[],
  rejects: readonly RecordReject[],
): TxRecord {
  const record: TxRecord = base ?? {
    txHash: seed.txHash,
    effectsHash: seed.effectsHash,
    chainTxHash: keccak256(seed.signedTx),
    signedTx: seed.signedTx,
    parentQcHash: seed.parentQcHash,
    payment: seed.payment,
    stage: "ACCEPTED",
    certificates: [],
    rejects: [],
    history: [],
    firstSeenMillis: now(),
    source: seed.source,
  };
  const certs = [...record.certificates];
  for (const c of certificates) {
    if (
      !bytesEqual(c.certificate.txHash, record.txHash) ||
      !bytesEqual(c.certificate.effectsHash, record.effectsHash)
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
  const merged = { ...record, certificates: certs, rejects: kept };
  // A new record starts at ACCEPTED when it has a certificate (stage set by the caller otherwise).
  if (base === undefined && certs.length > 0) {
    const first = certs.reduce((a, c) => (c.receivedMillis < a ? c.receivedMillis : a), now());
    return withStage({ ...merged, history: [] }, "ACCEPTED", first);
  }
  return merged;
}

/** Whether a reject is a validator's lasting refusal of the payment itself. */
export function isPermanent(r: RecordReject): boolean {
  return r.kind === "rejected" && r.code !== "TEMPORARY_UNAVAILABLE";
}

/**
 * How many validators refused the payment for good. Unreachable validators and validators that
 * answered with an invalid certificate (faulty ones) do not count: retrying may still succeed.
 */
export function permanentRejects(record: Pick<TxRecord, "rejects">): number {
  return record.rejects.filter(isPermanent).length;
}

/**
 * The lifecycle store with its announcements.
 *
 * @example
 * ```ts ignore
 * const lifecycle = new Lifecycle({ store, committee, events, log, cacheSize: 100_000 });
 * await lifecycle.update(txHash, (record) => record && withStage(record, "INCLUDED", now));
 * ```
 */
export class Lifecycle {
  readonly #deps: LifecycleDeps;
  readonly #mutex = new KeyedMutex();
  /** `tx:signer` of certificates already announced (bounded). */
  readonly #announced: Lru<string, true>;

  constructor(deps: LifecycleDeps) {
    this.#deps = deps;
    this.#announced = new Lru(deps.cacheSize);
  }

  /** The stored record of `txHash`. */
  get(txHash: Uint8Array): Promise<TxRecord | undefined> {
    return this.#deps.store.tx(txHash);
  }

  /** Runs `fn` holding `txHash`'s lock; `fn` may commit one or more new versions. */
  locked<T>(txHash: Uint8Array, fn: (tx: LockedTx) => Promise<T>): Promise<T> {
    return this.#mutex.run(bytesToHex(txHash), async () => {
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
    txHash: Uint8Array,
    mutate: (record: TxRecord | undefined) => TxRecord | undefined,
  ): Promise<TxRecord | undefined> {
    return this.locked(txHash, async (tx) => {
      const after = mutate(tx.record);
      if (after === undefined || after === tx.record) return tx.record;
      return await tx.commit(after);
    });
  }

  /**
   * Announces a verified certificate as soon as it arrives (before the record is stored); the
   * later commit does not announce it again.
   */
  announceCertificate(
    seed: Pick<TxSeed, "payment" | "effectsHash">,
    validator: string,
    certificate: Certificate,
    receivedMillis: bigint,
  ): void {
    const key = `${bytesToHex(certificate.txHash)}:${bytesToHex(certificate.signer)}`;
    if (this.#announced.has(key)) return;
    this.#announced.set(key, true);
    this.#deps.events.emit({
      type: "certificate",
      tx_hash: bytesToHex(certificate.txHash),
      effects_hash: bytesToHex(certificate.effectsHash),
      validator,
      signer: bytesToHex(certificate.signer),
      signature: bytesToHex(certificate.signature),
      created_unix_millis: certificate.createdUnixMillis.toString(),
      received_unix_millis: receivedMillis.toString(),
      sender: seed.payment.sender.toLowerCase(),
      recipient: seed.payment.recipient.toLowerCase(),
    });
  }

  async #commit(before: TxRecord | undefined, proposed: TxRecord): Promise<TxRecord> {
    const after = await this.#withQc(proposed);
    const known = new Set(
      (before?.certificates ?? []).map((c) => bytesToHex(c.certificate.signer)),
    );
    const added = after.certificates.filter((c) => !known.has(bytesToHex(c.certificate.signer)));
    await this.#deps.store.write(before, after, added.map((c) => c.certificate));
    for (const c of added) {
      this.announceCertificate(after, c.validator, c.certificate, c.receivedMillis);
    }
    const old = new Set(before?.history ?? []);
    let previous: StageName | null = before?.stage ?? null;
    for (const change of after.history) {
      if (old.has(change)) continue;
      this.#deps.events.emit({
        type: "stage",
        tx_hash: bytesToHex(after.txHash),
        stage: change.stage,
        previous,
        at_unix_millis: change.atMillis.toString(),
        ...(change.blockHeight !== undefined
          ? { block_height: change.blockHeight.toString() }
          : {}),
        ...(change.stage === "CERTIFIED" && after.qc
          ? { qc_hash: bytesToHex(after.qc.qcHash) }
          : {}),
        sender: after.payment.sender.toLowerCase(),
        recipient: after.payment.recipient.toLowerCase(),
      });
      previous = change.stage;
    }
    try {
      this.#deps.onChange?.(before, after);
    } catch (e) {
      this.#deps.log.error("lifecycle listener failed", { error: (e as Error).message });
    }
    return after;
  }

  /** Assembles, verifies and freezes the QC once enough certificates are in. */
  async #withQc(record: TxRecord): Promise<TxRecord> {
    const { committee, log } = this.#deps;
    if (record.qc || record.certificates.length < committee.threshold) return record;
    const qc = assembleQuorumCertificate(committee, record.certificates.map((c) => c.certificate));
    if (qc === undefined) return record;
    try {
      await verifyQuorumCertificate(committee, qc);
    } catch (e) {
      log.error("assembled QC does not verify; not using it", {
        tx_hash: bytesToHex(record.txHash),
        error: (e as Error).message,
      });
      return record;
    }
    const withQc = { ...record, qc };
    return canMove(record.stage, "CERTIFIED") ? withStage(withQc, "CERTIFIED", now()) : withQc;
  }
}

/** Lowercase hex of an address. */
export const lowerHex = (a: string): Hex => a.toLowerCase() as Hex;

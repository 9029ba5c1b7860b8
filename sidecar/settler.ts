/**
 * The sidecar's settler (SPEC §6 settlement). It tracks every order this sidecar knows a
 * certificate or QC of — its own certificates, verified QCs from the wire, gossip — until the
 * order settles or expires. With a settler account (`--settler-key`), it settles in one
 * `settleBatch`, parents first, every order that has a QC (or whose certificates form one) and
 * is still unsettled `delay` after it was first seen, while the order can still settle: nothing
 * waits on the backend alone. With or without an account, an order with a settleable QC that
 * expires unsettled is counted and alerted — that must never happen. Settleable means the QC was
 * known on a current view more than `alertMarginMillis` before `validBefore`: a QC completed by
 * confirmation certificates (signed once chain time passed `validBefore`) can never settle, and
 * may reach a sidecar whose view lags the signers' by up to the staleness bound.
 *
 * @module
 */
import { bytesToHex, type Hex, type PublicClient } from "viem";
import { LRUCache } from "lru-cache";
import {
  assembleQuorumCertificate,
  type Certificate,
  type CertifiedOrder,
  type Committee,
  NO_PARENT,
  type QuorumCertificate,
  settleOrders,
  type SignedOrder,
  type TempoSigner,
  verifyQuorumCertificate,
} from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import type { VaultBlock } from "@allegro/server/vault-follower";
import type { TxEvents } from "./events.ts";
import type { SidecarMetrics } from "./metrics.ts";

/** An order the settler follows. */
interface Candidate {
  readonly signed: SignedOrder;
  readonly txHash: Hex;
  readonly certificates: Map<string, Certificate>;
  qc?: QuorumCertificate;
  /** Local time it was first seen. */
  readonly since: number;
  /** Its QC was known while it could still settle: its expiry unsettled is an alert. */
  settleable: boolean;
  /** Local time a settlement including it was last sent. */
  sent?: number;
}

/** How a {@linkcode Settler} works. */
export interface SettlerOptions {
  readonly committee: Committee;
  readonly log: Logger;
  readonly metrics: SidecarMetrics;
  readonly events: TxEvents;
  /** Chain time of the last processed block. */
  readonly chainTime: () => bigint | undefined;
  /** Whether that view is current (not stale). */
  readonly viewCurrent: () => boolean;
  /** A QC known later than this before `validBefore` (chain time) is not alerted on (S). */
  readonly alertMarginMillis: number;
  /** Sending settlements: the chain and the settler account; absent, it only tracks. */
  readonly send?: {
    readonly client: PublicClient;
    readonly account: TempoSigner;
    readonly feeToken: `0x${string}`;
  };
  /** How long an order stays unsettled before this sidecar settles it (D). */
  readonly delayMillis: number;
  /** Between settlement rounds. */
  readonly intervalMillis: number;
  /** Least time left before `validBefore` (chain time) for a settlement to be sent. */
  readonly minRemainingMillis: number;
  /** Most orders tracked (oldest dropped first). */
  readonly maxTracked?: number;
  /** Most orders in one settlement. */
  readonly maxBatch?: number;
}

/**
 * The settler.
 *
 * @example
 * ```ts ignore
 * const settler = new Settler({ committee, log, metrics, events, chainTime, viewCurrent,
 *   alertMarginMillis: 4000, delayMillis: 1500, intervalMillis: 250, minRemainingMillis: 2000 });
 * settler.start();
 * ```
 */
export class Settler {
  readonly #o: SettlerOptions;
  readonly #tracked: LRUCache<Hex, Candidate>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SettlerOptions) {
    this.#o = options;
    this.#tracked = new LRUCache({ max: options.maxTracked ?? 50_000 });
  }

  /** Follows an order of which a certificate or a verified QC was seen. */
  track(
    entry:
      & { signed: SignedOrder; txHash: Hex }
      & (
        | { certificate: Certificate; qc?: undefined }
        | { qc: QuorumCertificate; certificate?: undefined }
      ),
  ): void {
    let c = this.#tracked.get(entry.txHash);
    if (c === undefined) {
      c = {
        signed: entry.signed,
        txHash: entry.txHash,
        certificates: new Map(),
        since: Date.now(),
        settleable: false,
      };
      this.#tracked.set(entry.txHash, c);
    }
    if (entry.qc) c.qc ??= entry.qc;
    else c.certificates.set(bytesToHex(entry.certificate.signer), entry.certificate);
    const chainTime = this.#o.chainTime();
    c.settleable ||= this.#hasQc(c) && chainTime !== undefined && this.#o.viewCurrent() &&
      c.signed.order.validBefore > chainTime + BigInt(this.#o.alertMarginMillis);
  }

  /** Takes an applied block: settled orders leave, expired ones are counted and leave. */
  applied(block: VaultBlock): void {
    for (const e of block.events) {
      if (e.kind === "Settled") {
        this.#o.events.emit({ kind: "included", txHash: e.txHash, blockHeight: block.height });
        const c = this.#tracked.get(e.txHash);
        if (c?.sent !== undefined) this.#o.metrics.settlement("settled");
        this.#tracked.delete(e.txHash);
      }
    }
    for (const [txHash, c] of this.#tracked.entries()) {
      if (c.signed.order.validBefore > block.time) continue;
      this.#tracked.delete(txHash);
      this.#o.events.emit({ kind: "expired", txHash });
      if (c.settleable) {
        this.#o.metrics.expiredUnsettled();
        this.#o.log.error("ALERT: a certified order expired unsettled", {
          tx_hash: txHash,
          payer: c.signed.order.payer,
          seq: c.signed.order.seq,
          valid_before: c.signed.order.validBefore,
        });
      }
    }
  }

  /** Starts settling (only with a settler account). */
  start(): void {
    if (this.#o.send === undefined) return;
    const tick = async () => {
      this.#round = this.settle().catch((e) => {
        this.#o.log.warn("settlement round failed", { error: String(e) });
      });
      await this.#round;
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.intervalMillis);
    };
    this.#timer = setTimeout(tick, this.#o.intervalMillis);
  }

  /** Stops and waits for a round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  /** One round: settles what is due; returns once its transaction is mined (or failed). */
  async settle(): Promise<void> {
    const send = this.#o.send;
    const chainTime = this.#o.chainTime();
    if (send === undefined || chainTime === undefined) return;
    const now = Date.now();
    const due: CertifiedOrder[] = [];
    for (const c of this.#tracked.values()) {
      if (due.length >= (this.#o.maxBatch ?? 50)) break;
      if (now - c.since < this.#o.delayMillis) continue;
      if (c.sent !== undefined && now - c.sent < 4 * this.#o.delayMillis) continue;
      if (c.signed.order.validBefore <= chainTime + BigInt(this.#o.minRemainingMillis)) continue;
      const qc = await this.#qc(c);
      if (qc === undefined) continue;
      due.push({ signed: c.signed, txHash: c.txHash, qc });
    }
    if (due.length === 0) return;
    // A parent this sidecar knows goes first, in the same batch.
    for (const child of [...due]) {
      const parent = child.signed.order.parent;
      if (parent === NO_PARENT || due.some((d) => d.txHash === parent)) continue;
      const p = this.#tracked.get(parent);
      const qc = p && await this.#qc(p);
      if (p && qc) due.push({ signed: p.signed, txHash: p.txHash, qc });
    }
    for (const d of due) this.#tracked.get(d.txHash)!.sent = now;
    this.#o.metrics.settlement("sent", due.length);
    for (const d of due) this.#o.events.emit({ kind: "queued", txHash: d.txHash });
    try {
      const { hash, outcomes } = await settleOrders(
        send.client,
        send.account,
        this.#o.committee,
        due,
        {
          feeToken: send.feeToken,
        },
      );
      const skipped = outcomes.filter((o) => o.status === "skipped");
      if (skipped.length > 0) {
        this.#o.metrics.settlement("failed", skipped.length);
        this.#o.log.warn("settlement skipped orders", {
          transaction: hash,
          skipped: skipped.map((s) => ({ tx_hash: s.txHash, reason: s.reason })),
        });
      }
    } catch (e) {
      this.#o.metrics.settlement("failed", due.length);
      this.#o.log.warn("settlement failed", { orders: due.length, error: String(e) });
    }
  }

  #hasQc(c: Candidate): boolean {
    return c.qc !== undefined || c.certificates.size >= this.#o.committee.threshold;
  }

  /** The candidate's QC: the one seen, or one its certificates form (verified). */
  async #qc(c: Candidate): Promise<QuorumCertificate | undefined> {
    if (c.qc) return c.qc;
    if (c.certificates.size < this.#o.committee.threshold) return undefined;
    const qc = assembleQuorumCertificate(this.#o.committee, [...c.certificates.values()]);
    if (qc === undefined) return undefined;
    try {
      c.qc = await verifyQuorumCertificate(this.#o.committee, qc);
      return c.qc;
    } catch {
      return undefined;
    }
  }
}

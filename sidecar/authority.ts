/**
 * The sidecar's authority (SPEC §6), in the shape of FastPay's `AuthorityState`: one synchronous
 * object that owns the sidecar's state in memory and decides. No I/O, no promises, no clock of
 * its own:
 *
 * - {@linkcode Authority.handle} decides one submission — a certificate, a replay of the stored
 *   one, a reject, or the keys a driver must load first — and returns the writes to persist;
 * - {@linkcode Authority.apply} folds one block of vault events into balances, settled keys,
 *   exits and the chain view;
 * - {@linkcode Authority.confirm} applies a verified QC'd order (from the wire or gossip);
 * - {@linkcode Authority.observe} takes another validator's verified certificate as a lock.
 *
 * Signatures (payer, certificates, QCs) are verified by the driver before they reach it; what
 * comes in is already checked against the committee. The driver persists every returned write
 * in one atomic commit before it answers, and evicts what it loaded if that commit fails.
 *
 * The two safety rules live here: at most one order signed per contention key, ever (rules 3
 * and 6, with the locks of every certificate and QC seen); and `seq k` signed only once every seq
 * below it is applied (rule 8), with the balance checked against every QC'd order not yet settled
 * or expired (rule 10).
 *
 * @module
 */
import { type Address, bytesToHex, type Hex, zeroAddress } from "viem";
import {
  type Certificate,
  type CertifiedOrder,
  isTip20Address,
  NO_PARENT,
  type QuorumCertificate,
  type RejectCode,
  type SignedOrder,
  type VaultEvent,
} from "@allegro/client";
import {
  available,
  counts,
  debitOf,
  emptyLane,
  isApplied,
  type Lane,
  laneId,
  type OrderRecord,
  type Slot,
  unsettledCount,
} from "./lane.ts";

/** What the authority is configured with; `maxValidity` is the vault's immutable W. */
export interface AuthorityConfig {
  readonly chainId: bigint;
  readonly vault: Address;
  /** The committee epoch this sidecar signs in. */
  readonly epoch: bigint;
  /** This validator's id (Ed25519 public key, lowercase hex). */
  readonly self: Hex;
  /** W (ms): how far past chain time `validBefore` may lie. */
  readonly maxValidity: bigint;
  /** M (ms): how far past chain time `validBefore` must lie, so the order can still settle. */
  readonly margin: bigint;
  /** S (ms): a chain view whose newest header is older than this by the local clock is stale. */
  readonly staleAfter: bigint;
  /** Most orders of one lane counting against its balance; more waits for settlement. */
  readonly maxUnsettledPerLane: number;
  /** Seqs past a lane's applied prefix whose foreign certificates are kept as locks. */
  readonly gossipWindow: bigint;
  /**
   * Peers' boards to read after a restart before signing: `min(2f, n − 1)`, the rest of a quorum,
   * so that a restart while f validators are down does not halt the committee.
   */
  readonly boardsToCheck: number;
  /** Peers' boards a store-loss recovery reads before signing: `min(2f + 1, n − 1)` (SPEC §6). */
  readonly boardsToRecover: number;
  /** Signs `cert_digest` (Ed25519 and the settlement attestation) for this validator. */
  readonly sign: (
    txHash: Uint8Array,
    effectsHash: Uint8Array,
    createdUnixMillis: bigint,
  ) => Certificate;
}

/** A key a driver loads from the store before the authority can decide. */
export type Key =
  | { readonly kind: "lane"; readonly payer: Address; readonly token: Address }
  | { readonly kind: "parent"; readonly txHash: Hex };

/** What is known of an order as a parent: the child that consumed its credit, its settlement. */
export interface ParentInfo {
  /** The parent's own `validBefore`: after it, the record no longer matters. */
  readonly validBefore: bigint;
  consumedBy?: { readonly txHash: Hex; readonly seq: bigint; readonly validBefore: bigint };
  settled?: boolean;
}

/** The last processed block. */
export interface ChainView {
  readonly height: bigint;
  readonly hash: Hex;
  /** Chain time: `block.timestamp · 1000` (ms), what expiry is judged by. */
  readonly time: bigint;
  /** The header's timestamp with its milliseconds where present: what staleness is judged by. */
  readonly headerMillis: bigint;
}

/** The vault's committee epochs, as the processed blocks set them. */
export interface VaultEpoch {
  readonly epoch: bigint;
  /** Chain time (ms) before which the epoch's own sidecars sign nothing. */
  readonly graceEnd: bigint;
}

/** A submission whose payer signature (rule 1) and QCs the driver already verified. */
export interface Submission {
  readonly signed: SignedOrder;
  readonly txHash: Hex;
  readonly effectsHash: Uint8Array;
  /** The payer's earlier QC'd orders in this lane, from the wire; verified ones only. */
  readonly laneQcs: readonly CertifiedOrder[];
  /** The parent with its QC when the order names one: verified, or why it is invalid. */
  readonly parent?:
    | { readonly ok: true; readonly certified: CertifiedOrder }
    | { readonly ok: false; readonly message: string };
}

/** Another validator's certificate, verified (Ed25519 and attestation), with its order. */
export interface ObservedCertificate {
  readonly signed: SignedOrder;
  readonly txHash: Hex;
  readonly certificate: Certificate;
}

/** One bulletin-board entry to append. */
export type BoardItem =
  | {
    readonly kind: "certificate";
    readonly signed: SignedOrder;
    readonly certificate: Certificate;
  }
  | { readonly kind: "qc"; readonly signed: SignedOrder; readonly qc: QuorumCertificate };

/** Everything one step changed, to persist in one atomic commit. */
export class Writes {
  /** Lanes whose header changed, by lane id. */
  readonly lanes: Map<string, Lane> = new Map();
  /** Slots written (`slot` set) or deleted (`slot` undefined), by lane id and seq. */
  readonly slots: Map<string, { lane: Lane; seq: bigint; slot?: Slot }> = new Map();
  /** Parent records written, by the parent's `tx_hash`. */
  readonly parents: Map<Hex, ParentInfo> = new Map();
  readonly board: BoardItem[] = [];
  /** Orders whose board entries go: their key settled. */
  readonly boardDrops: Hex[] = [];
  chain?: ChainView;
  vault?: VaultEpoch;
  /** The store-loss marker: this store now holds everything its key signed. */
  marker = false;

  /** Whether nothing changed. */
  get empty(): boolean {
    return this.lanes.size === 0 && this.slots.size === 0 && this.parents.size === 0 &&
      this.board.length === 0 && this.boardDrops.length === 0 && this.chain === undefined &&
      this.vault === undefined && !this.marker;
  }

  lane(lane: Lane): void {
    this.lanes.set(laneId(lane.payer, lane.token), lane);
  }

  slot(lane: Lane, seq: bigint): void {
    this.slots.set(`${laneId(lane.payer, lane.token)}|${seq}`, {
      lane,
      seq,
      slot: lane.slots.get(seq),
    });
  }
}

/** A lane as `GetLane` reports it. */
export interface LaneView {
  readonly appliedPrefix: bigint;
  /** The order a certificate or QC locks the next seq to. */
  readonly locked?: Hex;
  /** This sidecar's certificate at the next seq. */
  readonly own?: Certificate;
  readonly chainTime: bigint;
  readonly balance: bigint;
  readonly available: bigint;
}

/** The outcome of {@linkcode Authority.handle}. */
export type Decision =
  | { readonly kind: "need"; readonly keys: readonly Key[] }
  | {
    readonly kind: "reject";
    readonly code: RejectCode;
    readonly message: string;
    readonly writes: Writes;
  }
  | {
    readonly kind: "replay";
    readonly certificate: Certificate;
    /** The stored certificate only confirmed a seq (rule 7's exception). */
    readonly confirmation: boolean;
    readonly writes: Writes;
  }
  | {
    readonly kind: "certify";
    readonly certificate: Certificate;
    /** Rule 7's exception: the certificate only confirms the seq of an expired order. */
    readonly confirmation: boolean;
    readonly writes: Writes;
  };

/** A block of vault events, decoded (a `VaultBlock` of the follower). */
export interface Block extends ChainView {
  readonly events: readonly VaultEvent[];
}

/**
 * Whether the sidecar may sign: open, checking peers' boards after a restart, or recovering
 * from store loss (SPEC §6 persistence).
 */
export type Gate =
  | { readonly kind: "open" }
  | { readonly kind: "checking" }
  | {
    readonly kind: "recovering";
    readonly reason: string;
    /** The local clock (ms) when this process started. */
    readonly restartClock: bigint;
  };

/** Where the authority starts: what the store held. */
export interface AuthorityStart {
  readonly chain?: ChainView;
  readonly vault?: VaultEpoch;
  readonly gate: Gate;
}

const reject = (code: RejectCode, message: string, writes: Writes): Decision => ({
  kind: "reject",
  code,
  message,
  writes,
});

/**
 * The state machine. Calls must not interleave with their own I/O: a driver calls a method,
 * persists what it returns, and only then answers.
 *
 * @example
 * ```ts ignore
 * const authority = new Authority(config, { gate: { kind: "open" } });
 * let decision = authority.handle(submission, BigInt(Date.now()));
 * while (decision.kind === "need") {
 *   for (const key of decision.keys) authority.load(key, await store.read(key));
 *   decision = authority.handle(submission, BigInt(Date.now()));
 * }
 * await store.commit(decision.writes);
 * ```
 */
export class Authority {
  readonly #c: AuthorityConfig;
  readonly #lanes = new Map<string, Lane>();
  readonly #parents = new Map<Hex, ParentInfo | null>();
  #chain: ChainView | undefined;
  #vault: VaultEpoch | undefined;
  #connected = true;
  #gate: Gate;
  readonly #pulled = new Set<string>();
  /** Chain time of the first block processed fresh after this start (store-loss recovery). */
  #firstFreshTime: bigint | undefined;

  constructor(config: AuthorityConfig, start: AuthorityStart) {
    this.#c = config;
    this.#chain = start.chain;
    this.#vault = start.vault;
    this.#gate = start.gate;
  }

  /** The last processed block, if any. */
  get chain(): ChainView | undefined {
    return this.#chain;
  }

  /** The vault's current epoch and grace end, as processed. */
  get vault(): VaultEpoch | undefined {
    return this.#vault;
  }

  /** Whether the sidecar may sign, and why not. */
  get gate(): Gate {
    return this.#gate;
  }

  /** How many lanes are in memory. */
  get cachedLanes(): number {
    return this.#lanes.size;
  }

  /** How many parent records (present or known absent) are in memory. */
  get cachedParents(): number {
    return this.#parents.size;
  }

  // ---- loading ------------------------------------------------------------------------------

  /** The keys among `keys` that are not in memory. */
  missing(keys: readonly Key[]): Key[] {
    const out: Key[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      const id = keyId(key);
      if (seen.has(id)) continue;
      seen.add(id);
      const loaded = key.kind === "lane" ? this.#lanes.has(id) : this.#parents.has(key.txHash);
      if (!loaded) out.push(key);
    }
    return out;
  }

  /** Puts what the store holds for `key` in memory (`undefined`: nothing stored). */
  load(key: Key, value: Lane | ParentInfo | undefined): void {
    if (key.kind === "lane") {
      const id = keyId(key);
      if (!this.#lanes.has(id)) {
        this.#lanes.set(id, (value as Lane | undefined) ?? emptyLane(key.payer, key.token));
      }
    } else if (!this.#parents.has(key.txHash)) {
      this.#parents.set(key.txHash, (value as ParentInfo | undefined) ?? null);
    }
  }

  /** Forgets what is in memory for these keys (a failed commit): the store is read again. */
  evict(keys: Iterable<Key>): void {
    for (const key of keys) {
      if (key.kind === "lane") this.#lanes.delete(keyId(key));
      else this.#parents.delete(key.txHash);
    }
  }

  /**
   * Forgets every lane and parent in memory and takes the chain view and vault epoch the store
   * holds: what a driver does when a commit failed (memory may be ahead of the store).
   */
  reset(start: Omit<AuthorityStart, "gate">): void {
    this.#lanes.clear();
    this.#parents.clear();
    this.#chain = start.chain;
    this.#vault = start.vault;
  }

  /** Keeps at most `limit` lanes and parents in memory, never one `pinned` says to keep. */
  trim(limit: number, pinned: (key: Key) => boolean): void {
    for (const [id, lane] of this.#lanes) {
      if (this.#lanes.size <= limit) break;
      if (!pinned({ kind: "lane", payer: lane.payer, token: lane.token })) this.#lanes.delete(id);
    }
    for (const txHash of this.#parents.keys()) {
      if (this.#parents.size <= limit) break;
      if (!pinned({ kind: "parent", txHash })) this.#parents.delete(txHash);
    }
  }

  // ---- the chain view -----------------------------------------------------------------------

  /** Whether the chain connection is up (a driver sets it; down means stale). */
  set connected(up: boolean) {
    this.#connected = up;
  }

  /** The keys a block touches. */
  blockKeys(block: Block): Key[] {
    const keys: Key[] = [];
    const lane = (payer: Address, token: Address) => keys.push({ kind: "lane", payer, token });
    for (const e of block.events) {
      switch (e.kind) {
        case "Deposited":
        case "ExitRequested":
        case "ExitCancelled":
        case "Exited":
          lane(e.account, e.token);
          break;
        case "Settled":
          lane(e.payer, e.token);
          if (!e.exit) lane(e.recipient, e.token);
          if (e.fee > 0n) lane(e.settler, e.token);
          keys.push({ kind: "parent", txHash: e.txHash });
          break;
        case "ExitFallback":
          lane(e.recipient, e.token);
          break;
      }
    }
    return keys;
  }

  /**
   * Folds one block of vault events into the lanes and moves chain time to it. Blocks come in
   * order; each lane remembers the last block applied to it and never takes one twice.
   */
  apply(
    block: Block,
    now: bigint,
  ): { kind: "need"; keys: Key[] } | { kind: "applied"; writes: Writes } {
    if (this.#chain !== undefined && block.height <= this.#chain.height) {
      return { kind: "applied", writes: new Writes() };
    }
    const need = this.missing(this.blockKeys(block));
    if (need.length > 0) return { kind: "need", keys: need };
    const w = new Writes();
    const fresh = new Set<string>();
    for (const key of this.blockKeys(block)) {
      if (key.kind !== "lane") continue;
      const lane = this.#lane(key.payer, key.token);
      if (lane.header.height < block.height) fresh.add(keyId(key));
    }
    const touch = (account: Address, token: Address, change: (lane: Lane) => void) => {
      if (!fresh.has(laneId(account, token))) return;
      const lane = this.#lane(account, token);
      change(lane);
      w.lane(lane);
    };
    for (const e of block.events) {
      switch (e.kind) {
        case "Deposited":
          touch(e.account, e.token, (l) => (l.header.balance += e.amount));
          break;
        case "Settled":
          touch(
            e.payer,
            e.token,
            (l) => this.#settleKey(l, e.seq, e.txHash, e.amount + e.fee, block.time, w),
          );
          if (!e.exit) {
            touch(e.recipient, e.token, (l) => (l.header.balance += e.amount));
            this.#parentSettled(e.txHash, e.validBefore, this.#lane(e.recipient, e.token), w);
          }
          if (e.fee > 0n) touch(e.settler, e.token, (l) => (l.header.balance += e.fee));
          break;
        case "ExitFallback":
          touch(e.recipient, e.token, (l) => (l.header.balance += e.amount));
          break;
        case "ExitRequested":
          touch(
            e.account,
            e.token,
            (l) => (l.header.exit = { amount: e.amount, readyAt: e.readyAt }),
          );
          break;
        case "ExitCancelled":
          touch(e.account, e.token, (l) => delete l.header.exit);
          break;
        case "Exited":
          touch(e.account, e.token, (l) => {
            delete l.header.exit;
            l.header.balance -= e.amount;
          });
          break;
        case "CommitteeSet":
          this.#vault = { epoch: e.epoch, graceEnd: e.graceEnd };
          w.vault = this.#vault;
          break;
      }
    }
    this.#chain = {
      height: block.height,
      hash: block.hash,
      time: block.time,
      headerMillis: block.headerMillis,
    };
    w.chain = this.#chain;
    const age = now - block.headerMillis;
    if (
      this.#firstFreshTime === undefined && age <= this.#c.staleAfter && -age <= this.#c.staleAfter
    ) {
      this.#firstFreshTime = block.time;
    }
    for (const id of fresh) {
      const lane = this.#lanes.get(id)!;
      lane.header.height = block.height;
      this.#tidy(lane, w);
      w.lane(lane);
    }
    this.#openGate(w);
    return { kind: "applied", writes: w };
  }

  #settleKey(
    lane: Lane,
    seq: bigint,
    txHash: Hex,
    debit: bigint,
    time: bigint,
    w: Writes,
  ): void {
    lane.header.balance -= debit;
    const slot = lane.slots.get(seq) ?? { seq, orders: [] };
    for (const record of slot.orders) w.boardDrops.push(record.txHash);
    if (!slot.orders.some((r) => r.txHash === txHash)) w.boardDrops.push(txHash);
    slot.orders = [];
    slot.settled = txHash;
    slot.settledAt = time;
    lane.slots.set(seq, slot);
    w.slot(lane, seq);
  }

  /** A settled payment credits its recipient: the child that consumed it now debits in full. */
  #parentSettled(txHash: Hex, validBefore: bigint, recipientLane: Lane, w: Writes): void {
    const info = this.#parents.get(txHash) ?? { validBefore };
    info.settled = true;
    this.#parents.set(txHash, info);
    w.parents.set(txHash, info);
    const child = info.consumedBy;
    if (child === undefined) return;
    const slot = recipientLane.slots.get(child.seq);
    const record = slot?.orders.find((r) => r.txHash === child.txHash);
    if (record?.credit && !record.credit.settled) {
      record.credit.settled = true;
      w.slot(recipientLane, child.seq);
    }
  }

  // ---- deciding -----------------------------------------------------------------------------

  /**
   * Decides one submission (SPEC §6, rules 2 to 10; rule 1 is the driver's verification). The
   * verified QCs on the wire are applied first, whatever the outcome; nothing else changes on a
   * reject, and no reject is remembered.
   */
  handle(s: Submission, now: bigint): Decision {
    const o = s.signed.order;
    const w = new Writes();
    if (o.chainId !== this.#c.chainId || o.vault !== this.#c.vault) {
      return reject(
        "WRONG_CHAIN",
        `order is for chain ${o.chainId} vault ${o.vault}; this sidecar serves chain ${this.#c.chainId} vault ${this.#c.vault}`,
        w,
      );
    }
    const keys: Key[] = [{ kind: "lane", payer: o.payer, token: o.token }];
    if (o.parent !== NO_PARENT) keys.push({ kind: "parent", txHash: o.parent });
    const need = this.missing(keys);
    if (need.length > 0) return { kind: "need", keys: need };

    const lane = this.#lane(o.payer, o.token);
    for (const qc of s.laneQcs) {
      if (laneId(qc.signed.order.payer, qc.signed.order.token) === laneId(o.payer, o.token)) {
        this.#confirmIn(lane, qc, w);
      }
    }
    this.#tidy(lane, w); // chain time may have passed what a gap waited for since its last block

    // 3. this very order already signed here: the stored certificate, whatever else holds.
    const slot = lane.slots.get(o.seq);
    const signedHere = slot?.orders.find((r) => r.txHash === s.txHash);
    const mine = signedHere?.own;
    if (mine?.epoch === this.#c.epoch) {
      const confirmation = signedHere!.confirmOnly === true;
      return { kind: "replay", certificate: mine, confirmation, writes: w };
    }

    // 4. a view or a gate this sidecar cannot sign on.
    const unavailable = this.#unavailable(now, w) ??
      (unsettledCount(lane, this.#chain!.time) >= this.#c.maxUnsettledPerLane
        ? `lane (${o.payer}, ${o.token}) has ${this.#c.maxUnsettledPerLane} unsettled orders; retry once some settle`
        : undefined);
    if (unavailable !== undefined) return reject("TEMPORARY_UNAVAILABLE", unavailable, w);
    const chainTime = this.#chain!.time;

    // 5. not a payment this vault can make.
    const shape = paymentProblem(o.token, o.recipient, this.#c.vault);
    if (shape !== undefined) return reject("NOT_PAYMENT_TX", shape, w);

    // 6. the key is locked to another order.
    const other = lockedOther(slot, s.txHash);
    if (other !== undefined) {
      return reject(
        "EQUIVOCATION",
        `contention key (${o.payer}, ${o.token}, seq ${o.seq}) is locked to order ${other}, not ${s.txHash}`,
        w,
      );
    }

    // 7. expiry, with the exception that keeps lanes live.
    const confirmation = o.validBefore <= chainTime;
    if (!confirmation) {
      const expiry = expiryProblem(o.validBefore, chainTime, this.#c.margin, this.#c.maxValidity);
      if (expiry !== undefined) return reject("EXPIRED", expiry, w);
      if (s.parent?.ok && o.validBefore > s.parent.certified.signed.order.validBefore) {
        return reject(
          "EXPIRED",
          `validBefore ${o.validBefore} is later than the parent's ${s.parent.certified.signed.order.validBefore}`,
          w,
        );
      }
    }

    // A confirmation signs without a balance check: only in a lane that ever held anything here,
    // or for an order funded by a verified parent, so strangers cannot fill the store for free.
    if (confirmation && !hasState(lane) && !s.parent?.ok) {
      return reject(
        "INSUFFICIENT_FUNDS",
        `lane (${o.payer}, ${o.token}) never held funds here; an expired order is confirmed only in a funded lane`,
        w,
      );
    }

    // 8. the seq must be the lane's first one not applied.
    const prefix = lane.header.prefix;
    if (o.seq < prefix || slot?.settled !== undefined) {
      return reject(
        "NONCE_SEQ_TOO_LOW",
        `seq ${o.seq} of lane (${o.payer}, ${o.token}) is ${
          slot?.settled ? `settled as ${slot.settled}` : `below the applied prefix ${prefix}`
        }`,
        w,
      );
    }
    if (o.seq > prefix) {
      return reject(
        "NONCE_SEQ_TOO_HIGH",
        `seq ${o.seq} of lane (${o.payer}, ${o.token}) needs seq ${prefix} applied first: send its QC with the order`,
        w,
      );
    }

    let credit: OrderRecord["credit"];
    let funding: CertifiedOrder | undefined;
    if (!confirmation) {
      // 9. the parent: supplied, valid, alive, not consumed by another order.
      if (o.parent !== NO_PARENT) {
        if (s.parent === undefined) {
          return reject(
            "MISSING_PARENT_QC",
            `order.parent ${o.parent} is set but the parent order and its QC were not supplied`,
            w,
          );
        }
        if (!s.parent.ok) return reject("INVALID_PARENT_QC", s.parent.message, w);
        funding = s.parent.certified;
        const parent = funding.signed.order;
        if (parent.validBefore <= chainTime) {
          return reject(
            "INVALID_PARENT_QC",
            `parent ${o.parent} expired at ${parent.validBefore}, chain time is ${chainTime}`,
            w,
          );
        }
        const info = this.#parents.get(o.parent);
        const consumer = info?.consumedBy;
        if (consumer && consumer.txHash !== s.txHash && consumer.validBefore > chainTime) {
          return reject(
            "INVALID_PARENT_QC",
            `parent ${o.parent} already funds order ${consumer.txHash}`,
            w,
          );
        }
        credit = { parent: o.parent, amount: parent.amount, settled: info?.settled ?? false };
      }

      // 10. the balance covers this order's debit.
      const debit = debitOf({ signed: s.signed, credit });
      const spendable = available(lane, chainTime);
      if (spendable < debit) {
        // What makes up `available`, so that a pending forced exit is named when it is the cause.
        const { balance, exit } = lane.header;
        const owed = balance - (exit?.amount ?? 0n) - spendable;
        return reject(
          "INSUFFICIENT_FUNDS",
          `lane (${o.payer}, ${o.token}) has ${spendable} available (balance ${balance} - ${owed} owed to orders${
            exit ? ` - pending exit ${exit.amount}` : ""
          }), the order needs amount ${o.amount} + fee ${o.fee}${
            credit && !credit.settled ? ` - the parent's ${credit.amount}` : ""
          } = ${debit}`,
          w,
        );
      }
    }

    const certificate = this.#c.sign(hexBytes(s.txHash), s.effectsHash, now);
    const target = slot ?? { seq: o.seq, orders: [] };
    lane.slots.set(o.seq, target);
    const record = this.#record(target, s.signed, s.txHash, this.#c.epoch);
    record.own = certificate;
    if (confirmation) record.confirmOnly = true;
    if (credit && funding) {
      record.credit = credit;
      const info: ParentInfo = {
        ...(this.#parents.get(o.parent) ?? { validBefore: funding.signed.order.validBefore }),
        consumedBy: { txHash: s.txHash, seq: o.seq, validBefore: o.validBefore },
      };
      this.#parents.set(o.parent, info);
      w.parents.set(o.parent, info);
      w.board.push({ kind: "qc", signed: funding.signed, qc: funding.qc });
    }
    w.board.push({ kind: "certificate", signed: s.signed, certificate });
    w.slot(lane, o.seq);
    return { kind: "certify", certificate, confirmation, writes: w };
  }

  /**
   * Applies a verified QC'd order of this sidecar's epoch: its seq is applied, its debit counts
   * until it settles or expires, and it locks its key. Returns `need` until its lane is loaded.
   */
  confirm(qc: CertifiedOrder): { kind: "need"; keys: Key[] } | { kind: "done"; writes: Writes } {
    const o = qc.signed.order;
    const need = this.missing([{ kind: "lane", payer: o.payer, token: o.token }]);
    if (need.length > 0) return { kind: "need", keys: need };
    const w = new Writes();
    this.#confirmIn(this.#lane(o.payer, o.token), qc, w);
    return { kind: "done", writes: w };
  }

  #confirmIn(lane: Lane, qc: CertifiedOrder, w: Writes): void {
    const o = qc.signed.order;
    if (
      qc.qc.epoch !== this.#c.epoch || o.chainId !== this.#c.chainId || o.vault !== this.#c.vault
    ) {
      return;
    }
    const slot = lane.slots.get(o.seq);
    if (slot?.settled !== undefined) return;
    if (slot === undefined && o.seq < lane.header.prefix) return;
    const target = slot ?? { seq: o.seq, orders: [] };
    lane.slots.set(o.seq, target);
    const record = this.#record(target, qc.signed, qc.txHash, qc.qc.epoch);
    if (record.qc !== undefined) return;
    record.qc = qc.qc;
    w.board.push({ kind: "qc", signed: qc.signed, qc: qc.qc });
    this.#tidy(lane, w);
    w.slot(lane, o.seq);
    w.lane(lane);
  }

  /**
   * Takes another validator's verified certificate (gossip, a board, the wire) as a lock on its
   * key, if its order passes rules 2 and 5, its seq lies within the gossip window past the
   * lane's applied prefix, and its `validBefore` is at most chain time + W. Returns whether it
   * was new and kept.
   */
  observe(
    c: ObservedCertificate,
  ): { kind: "need"; keys: Key[] } | { kind: "done"; kept: boolean; writes: Writes } {
    const o = c.signed.order;
    const w = new Writes();
    const chainTime = this.#chain?.time;
    const signer = bytesToHex(c.certificate.signer);
    if (
      chainTime === undefined || c.certificate.epoch !== this.#c.epoch || signer === this.#c.self ||
      o.chainId !== this.#c.chainId || o.vault !== this.#c.vault ||
      paymentProblem(o.token, o.recipient, this.#c.vault) !== undefined ||
      o.validBefore <= chainTime || o.validBefore > chainTime + this.#c.maxValidity
    ) {
      return { kind: "done", kept: false, writes: w };
    }
    const need = this.missing([{ kind: "lane", payer: o.payer, token: o.token }]);
    if (need.length > 0) return { kind: "need", keys: need };
    const lane = this.#lane(o.payer, o.token);
    const prefix = lane.header.prefix;
    const slot = lane.slots.get(o.seq);
    if (o.seq < prefix || o.seq >= prefix + this.#c.gossipWindow || slot?.settled !== undefined) {
      return { kind: "done", kept: false, writes: w };
    }
    // Two orders at a key already prove the payer equivocated; more would only fill the store.
    const known = slot?.orders.some((r) => r.txHash === c.txHash) ?? false;
    if (!known && (slot?.orders.length ?? 0) >= MAX_ORDERS_PER_SLOT) {
      return { kind: "done", kept: false, writes: w };
    }
    const target = slot ?? { seq: o.seq, orders: [] };
    lane.slots.set(o.seq, target);
    const record = this.#record(target, c.signed, c.txHash, c.certificate.epoch);
    if (record.signers.includes(signer)) return { kind: "done", kept: false, writes: w };
    record.signers.push(signer);
    w.board.push({ kind: "certificate", signed: c.signed, certificate: c.certificate });
    w.slot(lane, o.seq);
    return { kind: "done", kept: true, writes: w };
  }

  /** A lane as `GetLane` reports it: what the next order there will be judged against. */
  laneView(
    payer: Address,
    token: Address,
  ): { kind: "need"; keys: Key[] } | { kind: "lane"; view: LaneView } {
    const need = this.missing([{ kind: "lane", payer, token }]);
    if (need.length > 0) return { kind: "need", keys: need };
    const lane = this.#lane(payer, token);
    const chainTime = this.#chain?.time ?? 0n;
    const slot = lane.slots.get(lane.header.prefix);
    const own = slot?.orders.find((r) => r.own?.epoch === this.#c.epoch)?.own;
    const locked = lockedOther(slot, NO_PARENT);
    return {
      kind: "lane",
      view: {
        appliedPrefix: lane.header.prefix,
        ...(locked ? { locked } : {}),
        ...(own ? { own } : {}),
        chainTime,
        balance: lane.header.balance,
        available: available(lane, chainTime),
      },
    };
  }

  /**
   * Whether this store may have lost a certificate of this key for `txHash` (found on a peer's
   * board): its lane shows neither that certificate nor a reason it went (the key applied or
   * settled).
   */
  lacksOwn(
    signed: SignedOrder,
    txHash: Hex,
  ): { kind: "need"; keys: Key[] } | { kind: "done"; lacks: boolean } {
    const o = signed.order;
    const need = this.missing([{ kind: "lane", payer: o.payer, token: o.token }]);
    if (need.length > 0) return { kind: "need", keys: need };
    const lane = this.#lane(o.payer, o.token);
    const slot = lane.slots.get(o.seq);
    if (o.seq < lane.header.prefix || slot?.settled !== undefined) {
      return { kind: "done", lacks: false };
    }
    return { kind: "done", lacks: !slot?.orders.some((r) => r.txHash === txHash && r.own) };
  }

  // ---- the gate -----------------------------------------------------------------------------

  /** A peer's board was read to its end (start-up check and store-loss recovery count these). */
  boardPulled(peer: string): Writes {
    this.#pulled.add(peer);
    const w = new Writes();
    this.#openGate(w);
    return w;
  }

  /** A certificate of this key on a peer's board that the store lacks: the store lost data. */
  storeLossDetected(reason: string, restartClock: bigint): void {
    if (this.#gate.kind === "recovering") return;
    this.#gate = { kind: "recovering", reason, restartClock };
  }

  #boardsNeeded(gate: Gate): number {
    return gate.kind === "recovering" ? this.#c.boardsToRecover : this.#c.boardsToCheck;
  }

  #openGate(w: Writes): void {
    const gate = this.#gate;
    if (gate.kind === "open" || this.#pulled.size < this.#boardsNeeded(gate)) return;
    if (gate.kind === "recovering") {
      const since = this.#firstFreshTime === undefined
        ? undefined
        : (this.#firstFreshTime > gate.restartClock ? this.#firstFreshTime : gate.restartClock);
      const chainTime = this.#chain?.time;
      if (
        since === undefined || chainTime === undefined ||
        chainTime < since + this.#c.maxValidity + this.#c.staleAfter
      ) return;
      w.marker = true;
    }
    this.#gate = { kind: "open" };
  }

  /**
   * Why the chain view cannot be trusted at local time `now` — no block processed yet, the RPC
   * connection down, or the newest header older than S — or `undefined` when it is current.
   */
  viewProblem(now: bigint): string | undefined {
    const chain = this.#chain;
    if (chain === undefined) return "chain view is not ready: no block processed yet";
    if (!this.#connected) return "chain view is not current: the RPC connection is down";
    const age = now - chain.headerMillis;
    if (age > this.#c.staleAfter) {
      return `chain view is stale: block ${chain.height} is ${age} ms old (bound ${this.#c.staleAfter} ms)`;
    }
    return undefined;
  }

  #unavailable(now: bigint, w: Writes): string | undefined {
    const view = this.viewProblem(now);
    if (view !== undefined) return view;
    this.#openGate(w);
    const gate = this.#gate;
    if (gate.kind === "checking") {
      return `checking peers' boards after a restart (${this.#pulled.size} of ${
        this.#boardsNeeded(gate)
      } read)`;
    }
    if (gate.kind === "recovering") {
      return `recovering from store loss (${gate.reason}): ${this.#pulled.size} of ${
        this.#boardsNeeded(gate)
      } boards read, signing resumes W + S after the restart in chain time`;
    }
    const vault = this.#vault;
    if (vault === undefined || vault.epoch !== this.#c.epoch) {
      return `the vault's current epoch is ${
        vault?.epoch ?? "unknown"
      }; this sidecar signs in epoch ${this.#c.epoch}`;
    }
    const time = this.#chain!.time;
    if (time < vault.graceEnd) {
      return `epoch ${vault.epoch} starts signing at chain time ${vault.graceEnd} (the previous epoch's grace period), now ${time}`;
    }
    return undefined;
  }

  // ---- lanes --------------------------------------------------------------------------------

  #lane(payer: Address, token: Address): Lane {
    const lane = this.#lanes.get(laneId(payer, token));
    if (lane === undefined) throw new Error(`lane ${laneId(payer, token)} is not loaded`);
    return lane;
  }

  #record(slot: Slot, signed: SignedOrder, txHash: Hex, epoch: bigint): OrderRecord {
    let record = slot.orders.find((r) => r.txHash === txHash);
    if (record === undefined) {
      record = { txHash, signed, epoch, signers: [] };
      slot.orders.push(record);
    }
    return record;
  }

  /**
   * Advances the applied prefix, then drops what no longer matters: settled slots below it,
   * records below it that no longer count against the balance, and other validators'
   * certificates of expired orders.
   */
  #tidy(lane: Lane, w: Writes): void {
    const before = lane.header.prefix;
    const chainTime = this.#chain?.time ?? 0n;
    // A key settled above a gap proves that every seq below it had a QC (its honest signers
    // applied them), each of an order valid at most W past the settling block's time. Once that
    // passed, none of them can settle or count against the balance: the gap is skipped. (A store
    // rebuilt after a loss may never see those QCs: boards drop them after expiry.) SPEC §6 rule 8
    // keeps the gap instead, which halts the lane for good. Across an epoch change the next
    // committee may certify a gap seq anew, valid later than this; still no overspend: a QC above
    // the gap shares an honest signer with that order's QC, and that signer counts it.
    for (const slot of lane.slots.values()) {
      const expired = slot.settledAt !== undefined &&
        slot.settledAt + this.#c.maxValidity < chainTime;
      if (expired && slot.seq > lane.header.prefix) lane.header.prefix = slot.seq;
    }
    while (isApplied(lane.slots.get(lane.header.prefix), this.#c.epoch)) lane.header.prefix++;
    if (lane.header.prefix !== before) w.lane(lane);
    for (const slot of [...lane.slots.values()]) {
      if (slot.settled !== undefined) {
        // A settled key stays as long as it is above a gap: it is applied, and locked.
        if (slot.seq < lane.header.prefix) {
          lane.slots.delete(slot.seq);
          w.slot(lane, slot.seq);
        }
        continue;
      }
      // Below the prefix only what counts against the balance matters; at or above it every
      // record locks its key, except another validator's certificate of an expired order: an
      // order certified in its place now could only be a confirmation, or one that gets no QC
      // where that order got one (its honest signers hold their own locks).
      const kept = slot.seq < lane.header.prefix
        ? slot.orders.filter((r) => counts(slot, r, chainTime))
        : slot.orders.filter((r) => r.own || r.qc || r.signed.order.validBefore > chainTime);
      if (kept.length === slot.orders.length) continue;
      if (kept.length === 0) lane.slots.delete(slot.seq);
      else slot.orders = kept;
      w.slot(lane, slot.seq);
    }
  }
}

/** Distinct orders one slot records (a second one already proves an equivocating payer). */
const MAX_ORDERS_PER_SLOT = 2;

/** Whether the lane ever held anything at this sidecar. */
function hasState(lane: Lane): boolean {
  return lane.header.balance > 0n || lane.header.prefix > 0n || lane.slots.size > 0 ||
    lane.header.exit !== undefined;
}

function keyId(key: Key): string {
  return key.kind === "lane" ? laneId(key.payer, key.token) : key.txHash;
}

function hexBytes(hex: Hex): Uint8Array {
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

/** Rule 5: the token must be a TIP-20; the recipient not 0, the vault, or a TIP-20 address. */
function paymentProblem(token: Address, recipient: Address, vault: Address): string | undefined {
  if (!isTip20Address(token)) return `token ${token} is not a TIP-20 (prefix 0x20c0…)`;
  if (recipient === zeroAddress) return "recipient is address 0";
  if (recipient === vault) return `recipient ${recipient} is the vault itself`;
  if (isTip20Address(recipient)) return `recipient ${recipient} is a TIP-20 token address`;
  return undefined;
}

/** Rule 6: another order a certificate, a QC or a settlement locks the key to. */
function lockedOther(slot: Slot | undefined, txHash: Hex): Hex | undefined {
  if (slot === undefined) return undefined;
  if (slot.settled !== undefined && slot.settled !== txHash) return slot.settled;
  return slot.orders.find((r) => r.txHash !== txHash && (r.own || r.qc || r.signers.length > 0))
    ?.txHash;
}

/** Rule 7 for an order not yet expired: at least M and at most W past chain time. */
function expiryProblem(
  validBefore: bigint,
  chainTime: bigint,
  margin: bigint,
  maxValidity: bigint,
): string | undefined {
  if (validBefore <= chainTime + margin) {
    return `validBefore ${validBefore} is less than ${margin} ms after chain time ${chainTime}: too late to settle`;
  }
  if (validBefore > chainTime + maxValidity) {
    return `validBefore ${validBefore} is more than the vault's maxValidity ${maxValidity} ms after chain time ${chainTime}`;
  }
  return undefined;
}

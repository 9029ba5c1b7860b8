/**
 * A model of the vault (SPEC §5) for the conservation test: balances per account and token,
 * wallets, settled contention keys, pending exits — and, for each call, the outcome the contract
 * must produce (success, a quiet no-op, or the named error), checked in the contract's order.
 * It knows an item's QC only through the flaw the test gave it.
 *
 * @module
 */
import { type Address, type Hex, zeroHash } from "viem";
import type { PaymentOrder } from "@allegro/client";

/** What is wrong with a settle item, if anything, and the error the vault names for it. */
export const FLAWS = {
  none: "",
  unknownEpoch: "UnknownEpoch",
  otherPayerSigner: "InvalidPayerSignature",
  payerHighS: "NonCanonicalSignature",
  belowThreshold: "AttestationsBelowThreshold",
  unsorted: "AttestationIndicesNotIncreasing",
  foreignMember: "InvalidAttestation",
} as const;

/** A flaw of a settle item. */
export type Flaw = keyof typeof FLAWS;

/** An order as the model sees it: its fields, its tx_hash, and what its QC gets wrong. */
export interface ModelItem {
  readonly order: PaymentOrder;
  readonly txHash: Hex;
  readonly flaw: Flaw;
}

/** What a settle of one item does: settles, does nothing (already settled), or fails. */
export type SettleOutcome =
  | { readonly kind: "settled" }
  | { readonly kind: "noop" }
  | { readonly kind: "failed"; readonly error: string };

/** What any other call does: `error` undefined on success. `"token"` is a TIP-20's refusal. */
export interface CallOutcome {
  readonly error?: string;
}

const key = (...parts: (string | bigint)[]) => parts.join("|");

/** The vault's state as the test expects it, and the rules that change it. */
export class VaultModel {
  /** Vault balances, `account|token`. Every account that ever held one stays here. */
  readonly balances = new Map<string, bigint>();
  /** Wallet balances of the accounts the test follows, `account|token`. */
  readonly wallets = new Map<string, bigint>();
  /** Settled tx_hash per contention key `payer|token|seq`. */
  readonly settled = new Map<string, Hex>();
  readonly settledHashes = new Set<Hex>();
  /** Pending forced exits, `account|token`. */
  readonly exits = new Map<string, { amount: bigint; readyAt: bigint }>();

  constructor(readonly exitDelay: bigint) {}

  balance(account: Address, token: Address): bigint {
    return this.balances.get(key(account, token)) ?? 0n;
  }

  wallet(account: Address, token: Address): bigint {
    return this.wallets.get(key(account, token)) ?? 0n;
  }

  #addBalance(account: Address, token: Address, delta: bigint): void {
    this.balances.set(key(account, token), this.balance(account, token) + delta);
  }

  #addWallet(account: Address, token: Address, delta: bigint): void {
    this.wallets.set(key(account, token), this.wallet(account, token) + delta);
  }

  /** Starts following a wallet at its current balance. */
  follow(account: Address, token: Address, walletBalance: bigint): void {
    this.wallets.set(key(account, token), walletBalance);
    this.#addBalance(account, token, 0n);
  }

  /** approve + deposit(For) of `amount` from `from`'s wallet to `account`'s vault balance. */
  deposit(from: Address, account: Address, token: Address, amount: bigint): CallOutcome {
    if (amount === 0n) return { error: "ZeroAmount" };
    if (this.wallet(from, token) < amount) return { error: "token" };
    this.#addWallet(from, token, -amount);
    this.#addBalance(account, token, amount);
    return {};
  }

  /** The settled tx_hash at `order`'s contention key, if any. */
  settledAt(order: PaymentOrder): Hex | undefined {
    return this.settled.get(key(order.payer, order.token, order.seq));
  }

  /** `settle` (or one `settleBatch` item) by `settler` in a block at `nowSeconds`. */
  settle(item: ModelItem, settler: Address, nowSeconds: bigint): SettleOutcome {
    const o = item.order;
    const prior = this.settledAt(o);
    if (prior === item.txHash) return { kind: "noop" };
    if (prior !== undefined) return { kind: "failed", error: "KeySettledOtherwise" };
    if (nowSeconds * 1000n >= o.validBefore) return { kind: "failed", error: "OrderExpired" };
    for (const stage of ["unknownEpoch", "otherPayerSigner", "payerHighS"] as const) {
      if (item.flaw === stage) return { kind: "failed", error: FLAWS[stage] };
    }
    if (o.parent !== zeroHash && !this.settledHashes.has(o.parent)) {
      return { kind: "failed", error: "ParentNotSettled" };
    }
    if (item.flaw !== "none") return { kind: "failed", error: FLAWS[item.flaw] };
    const debit = o.amount + o.fee;
    if (this.balance(o.payer, o.token) < debit) {
      return { kind: "failed", error: "InsufficientBalance" };
    }
    this.#addBalance(o.payer, o.token, -debit);
    this.settled.set(key(o.payer, o.token, o.seq), item.txHash);
    this.settledHashes.add(item.txHash);
    this.#addBalance(settler, o.token, o.fee);
    if (o.exit) this.#addWallet(o.recipient, o.token, o.amount);
    else this.#addBalance(o.recipient, o.token, o.amount);
    return { kind: "settled" };
  }

  requestExit(account: Address, token: Address, amount: bigint, nowSeconds: bigint): CallOutcome {
    if (amount === 0n) return { error: "ZeroAmount" };
    this.exits.set(key(account, token), { amount, readyAt: nowSeconds + this.exitDelay });
    return {};
  }

  cancelExit(account: Address, token: Address): CallOutcome {
    if (!this.exits.delete(key(account, token))) return { error: "NoExitRequested" };
    return {};
  }

  /** `exit`: the amount paid on success. */
  exit(account: Address, token: Address, nowSeconds: bigint): CallOutcome & { paid?: bigint } {
    const request = this.exits.get(key(account, token));
    if (request === undefined) return { error: "NoExitRequested" };
    if (nowSeconds < request.readyAt) return { error: "ExitNotReady" };
    const balance = this.balance(account, token);
    const paid = request.amount < balance ? request.amount : balance;
    this.exits.delete(key(account, token));
    this.#addBalance(account, token, -paid);
    this.#addWallet(account, token, paid);
    return { paid };
  }

  /** Sum of all vault balances in `token`: what the vault must hold of it. */
  total(token: Address): bigint {
    let sum = 0n;
    for (const [k, v] of this.balances) if (k.endsWith(`|${token}`)) sum += v;
    return sum;
  }

  /** Every account with a vault balance entry in `token`. */
  accounts(token: Address): Address[] {
    return [...this.balances.keys()]
      .filter((k) => k.endsWith(`|${token}`))
      .map((k) => k.split("|")[0] as Address);
  }
}

/**
 * The high-level payment client: pay with a QC before the next block, spend a received QC at
 * once, follow a payment's lifecycle, and learn of incoming payments.
 *
 * @example
 * ```ts ignore
 * import { privateKeyToAccount } from "viem/accounts";
 * import { AllegroClient, loadCommittee, Wallet } from "@allegro/client";
 *
 * const committee = await loadCommittee("https://example.org/committee.json");
 * const alice = new AllegroClient({ committee, wallet: new Wallet(privateKeyToAccount(key)) });
 * const receipt = await alice.pay({ to: bob, amount: 10_000_000n }); // 10 USD, QC verified
 * // Bob, on his side, sees it arrive and spends it at once:
 * for await (const received of bobClient.incoming()) {
 *   await bobClient.pay({ to: carol, amount: 10_000_000n, parent: received });
 *   break;
 * }
 * ```
 *
 * @module
 */
import type { Client } from "@connectrpc/connect";
import { type Address, bytesToHex, type Hex, hexToBytes } from "viem";
import type { FastPayAggregator } from "@allegro/proto";
import type { Certificate } from "./certificate.ts";
import { type CertifiedPayment, parentPaymentInit, verifyCertifiedPayment } from "./certified.ts";
import type { Committee, Validator } from "./committee.ts";
import { AllegroError, REJECT_CODES, type RejectCode } from "./errors.ts";
import { fanOut, type FanOutOptions, type FanOutResult, type ValidatorReject } from "./fanout.ts";
import { type IncomingOptions, watchIncoming } from "./incoming.ts";
import { verifyQuorumCertificate } from "./quorum.ts";
import { signPaymentTransaction } from "./tempo.ts";
import { connectBackend, connectSidecars, type SidecarConnection } from "./transport.ts";
import type { NonceReservation, Wallet } from "./wallet.ts";
import { type TxLifecycleEvent, watchTx } from "./watch.ts";

/**
 * pathUSD, Tempo's first TIP-20 stablecoin (id 0): the default asset and fee token.
 *
 * @example
 * ```ts
 * import { PATH_USD } from "@allegro/client";
 *
 * console.log(PATH_USD); // 0x20c0000000000000000000000000000000000000
 * ```
 */
export const PATH_USD: Address = "0x20c0000000000000000000000000000000000000";

/**
 * How an {@linkcode AllegroClient} is set up. Only `committee` and `wallet` are required.
 *
 * @example
 * ```ts ignore
 * const options: AllegroClientOptions = {
 *   committee,
 *   wallet,
 *   backendUrl: "http://127.0.0.1:8080",
 *   asset: "0x20c0000000000000000000000000000000000001",
 *   validForSeconds: 60,
 * };
 * ```
 */
export interface AllegroClientOptions {
  /** The validators; the chain id comes from here. */
  readonly committee: Committee;
  /** The payer: keys and nonce reservation. */
  readonly wallet: Wallet;
  /** Connections to the sidecars; default {@linkcode connectSidecars}(committee). */
  readonly sidecars?: readonly SidecarConnection[];
  /** URL of the aggregator backend (needed by {@linkcode AllegroClient.watch}). */
  readonly backendUrl?: string;
  /** A ready backend client instead of `backendUrl`. */
  readonly backend?: Client<typeof FastPayAggregator>;
  /** TIP-20 token paid when `pay` names none; default {@linkcode PATH_USD}. */
  readonly asset?: Address;
  /** TIP-20 token the fee is paid in; default the asset of each payment. */
  readonly feeToken?: Address;
  /** Gas limit of each payment; default 100000 (sidecars refuse less, see `--min-gas`). */
  readonly gas?: bigint;
  /** Maximum fee per gas; default 20 gwei. The fee is at most `gas × this / 10^12` units. */
  readonly maxFeePerGas?: bigint;
  /** Maximum priority fee per gas; default 0. */
  readonly maxPriorityFeePerGas?: bigint;
  /** How long a payment stays valid (`validBefore = now + this`); default 120 s. */
  readonly validForSeconds?: number;
  /** Per-sidecar timeout of a submission; default 5000 ms. */
  readonly timeoutMillis?: number;
}

/**
 * What to pay.
 *
 * @example
 * ```ts ignore
 * const request: PayRequest = { to: carol, amount: 10_000_000n, parent: receivedFromAlice };
 * ```
 */
export interface PayRequest {
  /** The recipient. */
  readonly to: Address;
  /** Amount in base units of the asset (6 decimals for Tempo stablecoins), 1 … 2^64 − 1. */
  readonly amount: bigint;
  /** TIP-20 token; default the parent's asset, else the client's. */
  readonly asset?: Address;
  /**
   * A certified payment to this wallet that funds this one (from `pay` of the payer, or from
   * {@linkcode AllegroClient.incoming}): the sidecars credit it before it lands on chain.
   */
  readonly parent?: CertifiedPayment;
  /**
   * Idempotency key, scoped to the sender. It names one signed transaction: use a fresh one per
   * `pay` call (a retried `pay` signs a new transaction, which sidecars would refuse under an
   * id they saw before).
   */
  readonly clientRequestId?: string;
  /** Nonce lane; default the wallet's. */
  readonly nonceKey?: bigint;
  /** Aborts the submission (sidecars not yet answered count as unreachable). */
  readonly signal?: AbortSignal;
  /** Called with each verified certificate as it arrives (e.g. to draw a timeline). */
  readonly onCertificate?: FanOutOptions["onCertificate"];
  /** Called with each validator's reject or failure as it arrives. */
  readonly onReject?: FanOutOptions["onReject"];
}

/** A payment the committee certified: {@linkcode CertifiedPayment} plus how it went. */
export interface PaymentReceipt extends CertifiedPayment {
  /** The verified certificates in hand when the QC formed, in arrival order. */
  readonly certificates: readonly { validator: Validator; certificate: Certificate }[];
  /** The validators that had refused or failed by then. */
  readonly rejects: readonly ValidatorReject[];
  /** The nonce lane and nonce the payment used. */
  readonly nonceKey: bigint;
  readonly nonce: bigint;
}

/**
 * A payment that did not get a QC. The message names every validator's answer; `released` tells
 * whether its nonce was given back to the wallet (only when no validator can have signed it).
 *
 * @example
 * ```ts ignore
 * try {
 *   await client.pay({ to, amount });
 * } catch (e) {
 *   if (e instanceof PaymentError) for (const r of e.rejects) console.log(r.validator.name, r.code);
 * }
 * ```
 */
export class PaymentError extends AllegroError {
  /** The payment's `tx_hash`. */
  readonly txHash: Uint8Array;
  /** The signed transaction that was submitted. */
  readonly signedTx: Uint8Array;
  /** Every validator's refusal or failure. */
  readonly rejects: readonly ValidatorReject[];
  /** The verified certificates that did come back (too few for a QC). */
  readonly certificates: readonly { validator: Validator; certificate: Certificate }[];
  /** Whether the nonce went back to the wallet. */
  readonly released: boolean;

  constructor(result: FanOutResult, committee: Committee, released: boolean) {
    super(
      dominantCode(result.rejects),
      `payment ${
        bytesToHex(result.txHash)
      } was not certified: ${result.certificates.length} of ${committee.validators.length} validators signed, ${committee.threshold} needed; ${
        result.rejects.map((r) => `${r.validator.name}: ${r.code} ${r.message}`).join("; ")
      }${released ? "" : " (nonce kept: a validator may have signed it)"}`,
      { txHash: bytesToHex(result.txHash) },
    );
    this.name = "PaymentError";
    this.txHash = result.txHash;
    this.signedTx = result.payment.rawTx;
    this.rejects = result.rejects;
    this.certificates = result.certificates;
    this.released = released;
  }
}

/**
 * Pays through the Allegro committee and watches payments.
 *
 * @example
 * ```ts ignore
 * import { privateKeyToAccount } from "viem/accounts";
 * import { AllegroClient, loadCommittee, Wallet } from "@allegro/client";
 * import { KvNonceStore } from "@allegro/client/deno";
 *
 * const client = new AllegroClient({
 *   committee: await loadCommittee(new URL("file:///etc/allegro/committee.json")),
 *   wallet: new Wallet(privateKeyToAccount(key), { store: await KvNonceStore.open("wallet.kv") }),
 *   backendUrl: "http://127.0.0.1:8080",
 * });
 * const receipt = await client.pay({ to: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", amount: 1n });
 * for await (const event of client.watch(receipt.txHash)) console.log(event.stage);
 * ```
 */
export class AllegroClient {
  /** The committee. */
  readonly committee: Committee;
  /** The payer. */
  readonly wallet: Wallet;
  /** The sidecar connections used for payments and incoming payments. */
  readonly sidecars: readonly SidecarConnection[];
  readonly #backend?: Client<typeof FastPayAggregator>;
  readonly #settings: Required<
    Pick<
      AllegroClientOptions,
      | "asset"
      | "gas"
      | "maxFeePerGas"
      | "maxPriorityFeePerGas"
      | "validForSeconds"
      | "timeoutMillis"
    >
  >;
  readonly #feeToken?: Address;
  readonly #lanes = new Map<bigint, Promise<unknown>>();

  /** A client for `options.wallet` paying through `options.committee`; nothing is contacted yet. */
  constructor(options: AllegroClientOptions) {
    this.committee = options.committee;
    this.wallet = options.wallet;
    this.sidecars = options.sidecars ?? connectSidecars(options.committee);
    const backend = options.backend ??
      (options.backendUrl ? connectBackend(options.backendUrl) : undefined);
    if (backend) this.#backend = backend;
    if (options.feeToken) this.#feeToken = options.feeToken;
    this.#settings = {
      asset: options.asset ?? PATH_USD,
      gas: options.gas ?? 100_000n,
      maxFeePerGas: options.maxFeePerGas ?? 20_000_000_000n,
      maxPriorityFeePerGas: options.maxPriorityFeePerGas ?? 0n,
      validForSeconds: options.validForSeconds ?? 120,
      timeoutMillis: options.timeoutMillis ?? 5000,
    };
  }

  /**
   * Pays `amount` of `asset` to `to` and returns once a QC over the payment verifies. With a
   * `parent`, the payment is a `transferWithMemo` whose memo is the parent's QC hash and the
   * request carries the parent, so the sidecars credit the received money before it settles.
   *
   * Payments of one nonce lane go out one after the other. On failure, throws a
   * {@linkcode PaymentError} listing every validator's answer, after releasing the nonce if
   * every validator refused it (the next payment reuses it); a parent that does not verify or
   * does not pay this wallet throws `INVALID_PARENT_QC` before anything is signed.
   *
   * @example
   * ```ts ignore
   * const qc1 = await alice.pay({ to: bob.wallet.address, amount: 10_000_000n });
   * const qc2 = await bob.pay({ to: carol, amount: 10_000_000n, parent: qc1 });
   * ```
   */
  pay(request: PayRequest): Promise<PaymentReceipt> {
    const nonceKey = request.nonceKey ?? this.wallet.nonceKey;
    const before = this.#lanes.get(nonceKey) ?? Promise.resolve();
    const run = before.then(() => this.#pay(request, nonceKey));
    const tail = run.catch(() => {});
    this.#lanes.set(nonceKey, tail);
    tail.then(() => {
      if (this.#lanes.get(nonceKey) === tail) this.#lanes.delete(nonceKey);
    });
    return run;
  }

  async #pay(request: PayRequest, nonceKey: bigint): Promise<PaymentReceipt> {
    const parent = request.parent ? await this.#checkParent(request.parent) : undefined;
    const asset = request.asset ?? parent?.payment.asset ?? this.#settings.asset;
    if (parent && parent.payment.asset.toLowerCase() !== asset.toLowerCase()) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent pays in ${parent.payment.asset}, this payment spends ${asset}`,
      );
    }
    const reservation = await this.wallet.reserve(nonceKey);
    let sent = false;
    try {
      const signedTx = await signPaymentTransaction(this.wallet.account, {
        chainId: this.committee.chainId,
        token: asset,
        recipient: request.to,
        amount: request.amount,
        ...(parent ? { memo: parent.qc.qcHash } : {}),
        nonceKey: reservation.nonceKey,
        nonce: reservation.nonce,
        validBefore: BigInt(Math.floor(Date.now() / 1000) + this.#settings.validForSeconds),
        gas: this.#settings.gas,
        maxFeePerGas: this.#settings.maxFeePerGas,
        maxPriorityFeePerGas: this.#settings.maxPriorityFeePerGas,
        feeToken: this.#feeToken ?? asset,
      });
      const fan = fanOut(this.committee, this.sidecars, {
        signedTx: hexToBytes(signedTx),
        ...(parent ? { parentQcHash: parent.qc.qcHash, parents: [parentPaymentInit(parent)] } : {}),
        ...(request.clientRequestId ? { clientRequestId: request.clientRequestId } : {}),
      }, {
        timeoutMillis: this.#settings.timeoutMillis,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.onCertificate ? { onCertificate: request.onCertificate } : {}),
        ...(request.onReject ? { onReject: request.onReject } : {}),
      });
      sent = true;
      const decided = await fan.decided;
      const result = decided.qc ? decided : await fan.complete;
      if (result.qc) return await this.#receipt(result, reservation, parent);
      const released = nobodySigned(result);
      if (released) await this.wallet.release(reservation);
      throw new PaymentError(result, this.committee, released);
    } catch (e) {
      // Never sent: nobody can have signed it. A failing store must not hide the cause.
      if (!sent) await this.wallet.release(reservation).catch(() => {});
      throw e;
    }
  }

  async #checkParent(parent: CertifiedPayment): Promise<CertifiedPayment> {
    const checked = await verifyCertifiedPayment(this.committee, parent);
    if (checked.payment.recipient !== this.wallet.address) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent pays ${checked.payment.recipient}, not this wallet ${this.wallet.address}`,
      );
    }
    return checked;
  }

  async #receipt(
    result: FanOutResult,
    reservation: NonceReservation,
    parent: CertifiedPayment | undefined,
  ): Promise<PaymentReceipt> {
    const qc = await verifyQuorumCertificate(this.committee, result.qc!);
    return {
      txHash: result.txHash,
      payment: result.payment,
      signedTx: result.payment.rawTx,
      ...(parent ? { parentQcHash: parent.qc.qcHash } : {}),
      qc,
      certificates: result.certificates,
      rejects: result.rejects,
      nonceKey: reservation.nonceKey,
      nonce: reservation.nonce,
    };
  }

  /**
   * The lifecycle of a payment as the backend sees it (`ACCEPTED` → `CERTIFIED` →
   * `QUEUED_ONCHAIN` → `INCLUDED` → `FINALIZED`, or `REJECTED` / `EXPIRED` / `FAILED`), with
   * certificates and QCs verified. Needs `backendUrl` (or `backend`); throws at once otherwise.
   *
   * @example
   * ```ts ignore
   * for await (const event of client.watch(receipt.txHash)) {
   *   console.log(event.stage, event.blockHeight ?? "");
   * }
   * ```
   */
  watch(
    txHash: Uint8Array | Hex,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<TxLifecycleEvent, void, undefined> {
    if (this.#backend === undefined) {
      throw new Error(
        "AllegroClient.watch needs the aggregator backend: pass backendUrl (or backend) to the client",
      );
    }
    return watchTx(this.#backend, this.committee, txHash, options);
  }

  /**
   * Payments to `address` (default this wallet) as they appear on the sidecars' bulletin
   * boards, each with a verified QC, each once — what a recipient spends with `pay({ parent })`.
   * Ends when `options.signal` aborts. See {@linkcode watchIncoming}.
   *
   * @example
   * ```ts ignore
   * const stop = new AbortController();
   * for await (const received of bob.incoming(undefined, { signal: stop.signal })) {
   *   console.log("got", received.payment.amount, "from", received.payment.sender);
   * }
   * ```
   */
  incoming(
    address: Address = this.wallet.address,
    options: IncomingOptions = {},
  ): AsyncGenerator<CertifiedPayment, void, undefined> {
    return watchIncoming(this.committee, this.sidecars, address, options);
  }
}

/** No validator can have signed: every one that answered refused, none timed out or lied. */
function nobodySigned(result: FanOutResult): boolean {
  return result.certificates.length === 0 &&
    result.rejects.every((r) =>
      r.kind === "rejected" && r.code !== "EQUIVOCATION" && r.code !== "NONCE_SEQ_TOO_LOW"
    );
}

/** The most frequent reject code (ties: the earliest in validation order). */
function dominantCode(rejects: readonly ValidatorReject[]): RejectCode {
  let best: RejectCode = "TEMPORARY_UNAVAILABLE";
  let count = 0;
  for (const code of REJECT_CODES) {
    const n = rejects.filter((r) => r.code === code).length;
    if (n > count) [best, count] = [code, n];
  }
  return best;
}

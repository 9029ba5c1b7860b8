/**
 * The high-level payment client: pay with a QC before the next block, spend a received payment
 * at once by citing it as parent, follow a payment's lifecycle, learn of incoming payments, and
 * settle certified orders on the vault.
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
import type { Address, Hex, PublicClient } from "./deps.ts";
import { bytesToHex, getAddress } from "viem";
import type { Certificate } from "./certificate.ts";
import { type CertifiedOrder, verifyCertifiedOrder } from "./certified.ts";
import type { Committee, Validator } from "./committee.ts";
import { AllegroError, REJECT_CODES, type RejectCode } from "./errors.ts";
import { fanOut, type FanOutOptions, type FanOutResult, type ValidatorReject } from "./fanout.ts";
import { type IncomingOptions, watchIncoming } from "./incoming.ts";
import { laneStatuses, resyncLane, vouchedPrefix } from "./lane_sync.ts";
import { NO_PARENT } from "./order.ts";
import { verifyQuorumCertificate } from "./quorum.ts";
import { type SettlementReceipt, settleOrders } from "./settle.ts";
import type { TempoSigner } from "./tempo_tx.ts";
import {
  type BackendClient,
  connectBackend,
  connectSidecars,
  type SidecarConnection,
} from "./transport.ts";
import type { LaneOrder, Wallet } from "./wallet.ts";
import { type TxLifecycleEvent, watchTx } from "./watch.ts";
import { certifiedOrderInit, signedOrderInit } from "./wire.ts";

/**
 * pathUSD, Tempo's first TIP-20 stablecoin (id 0): the default token.
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
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { AllegroClient, type AllegroClientOptions, Wallet } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const options: AllegroClientOptions = {
 *   committee: testCommittee(4).committee,
 *   wallet: new Wallet(privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")),
 *   backendUrl: "http://127.0.0.1:8080",
 *   token: "0x20c0000000000000000000000000000000000001",
 *   validForMillis: 30_000,
 * };
 * const client = new AllegroClient(options); // nothing is contacted yet
 * console.log(client.sidecars.length); // 4
 * ```
 */
export interface AllegroClientOptions {
  /** The validators, the chain and the vault. */
  readonly committee: Committee;
  /** The payer: keys and lanes. */
  readonly wallet: Wallet;
  /** Connections to the sidecars; default {@linkcode connectSidecars}(committee). */
  readonly sidecars?: readonly SidecarConnection[];
  /**
   * URL of the aggregator backend: `watch` needs it, and `pay` hands each QC's submission to it
   * so that it settles the payment at once.
   */
  readonly backendUrl?: string;
  /** A ready backend client instead of `backendUrl`. */
  readonly backend?: BackendClient;
  /** TIP-20 token paid when `pay` names none; default {@linkcode PATH_USD}. */
  readonly token?: Address;
  /** How long an order stays valid (`validBefore = now + this`); default 30 s (≤ the vault's W). */
  readonly validForMillis?: number;
  /** Per-sidecar timeout of a submission; default 5000 ms. */
  readonly timeoutMillis?: number;
  /** Called with a warning a person should read (e.g. a lane rebuilt after the store was lost). */
  readonly onWarning?: (message: string) => void;
}

/**
 * What to pay.
 *
 * @example
 * ```ts
 * import type { PayRequest } from "@allegro/client";
 *
 * const request: PayRequest = {
 *   to: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *   amount: 10_000_000n, // 10 USD
 *   memo: `0x${"00".repeat(31)}2a`, // invoice 42
 *   // parent: a payment to this wallet, from client.incoming(), to spend it before it settles
 * };
 * ```
 */
export interface PayRequest {
  /** The recipient. */
  readonly to: Address;
  /** Amount in base units of the token (6 decimals for Tempo stablecoins), 1 … 2^64 − 1. */
  readonly amount: bigint;
  /** TIP-20 token; default the parent's, else the client's. */
  readonly token?: Address;
  /** Paid to whoever settles the order; default 0. */
  readonly fee?: bigint;
  /** Pay `to`'s wallet (out of the vault) instead of its vault balance; default false. */
  readonly exit?: boolean;
  /** Free 32 bytes (an invoice id); default zero. */
  readonly memo?: Hex;
  /**
   * A certified payment to this wallet that funds this one (from `pay` of the payer, or from
   * {@linkcode AllegroClient.incoming}): the sidecars credit it before it settles.
   */
  readonly parent?: CertifiedOrder;
  /** Sent with the request for the sidecars' logs only. */
  readonly clientRequestId?: string;
  /** Aborts the submission (sidecars not yet answered count as unreachable). */
  readonly signal?: AbortSignal;
  /** Called with each verified certificate as it arrives (e.g. to draw a timeline). */
  readonly onCertificate?: FanOutOptions["onCertificate"];
  /** Called with each validator's reject or failure as it arrives. */
  readonly onReject?: FanOutOptions["onReject"];
}

/** A payment the committee certified: the {@linkcode CertifiedOrder} plus how it went. */
export interface PaymentReceipt extends CertifiedOrder {
  /** The verified certificates in hand when the QC formed, in arrival order. */
  readonly certificates: readonly { validator: Validator; certificate: Certificate }[];
  /** The validators that had refused or failed by then. */
  readonly rejects: readonly ValidatorReject[];
}

/**
 * An order that did not get a QC. The message names every validator's answer. The order stays
 * in the wallet: the next `pay` in its lane resubmits it first (after its `validBefore`, to
 * confirm its seq), since another order must never be signed for the same seq.
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
  /** The order's `tx_hash`. */
  readonly txHash: Uint8Array;
  /** Every validator's refusal or failure. */
  readonly rejects: readonly ValidatorReject[];
  /** The verified certificates that did come back (too few for a QC). */
  readonly certificates: readonly { validator: Validator; certificate: Certificate }[];

  /** A payment error for the fan-out's `result`, naming every validator's answer. */
  constructor(result: FanOutResult, committee: Committee) {
    super(
      dominantCode(result.rejects),
      `order seq ${result.signed.order.seq} (tx ${
        bytesToHex(result.txHash)
      }) was not certified: ${result.certificates.length} of ${committee.validators.length} validators signed, ${committee.threshold} needed; ${
        result.rejects.map((r) => `${r.validator.name}: ${r.code} ${r.message}`).join("; ")
      }`,
      { txHash: bytesToHex(result.txHash) },
    );
    this.name = "PaymentError";
    this.txHash = result.txHash;
    this.rejects = result.rejects;
    this.certificates = result.certificates;
  }
}

/**
 * Pays through the Allegro committee and watches payments.
 *
 * @example
 * ```ts ignore
 * import { privateKeyToAccount } from "viem/accounts";
 * import { AllegroClient, loadCommittee, Wallet } from "@allegro/client";
 * import { KvWalletStore } from "@allegro/client/deno";
 *
 * const client = new AllegroClient({
 *   committee: await loadCommittee(new URL("file:///etc/allegro/committee.json")),
 *   wallet: new Wallet(privateKeyToAccount(key), { store: await KvWalletStore.open("wallet.kv") }),
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
  readonly #backend?: BackendClient;
  readonly #token: Address;
  readonly #validFor: bigint;
  readonly #timeout: number;
  readonly #warn: (message: string) => void;

  /** A client for `options.wallet` paying through `options.committee`; nothing is contacted yet. */
  constructor(options: AllegroClientOptions) {
    this.committee = options.committee;
    this.wallet = options.wallet;
    this.sidecars = options.sidecars ?? connectSidecars(options.committee);
    const backend = options.backend ??
      (options.backendUrl ? connectBackend(options.backendUrl) : undefined);
    if (backend) this.#backend = backend;
    this.#token = getAddress(options.token ?? PATH_USD);
    this.#validFor = BigInt(options.validForMillis ?? 30_000);
    this.#timeout = options.timeoutMillis ?? 5000;
    this.#warn = options.onWarning ?? ((message) => console.warn(message));
  }

  /**
   * Pays `amount` of `token` to `to` and returns once a QC over the order verifies. With a
   * `parent`, the order cites it (its `tx_hash`) and the request carries it with its QC, so the
   * sidecars credit the received money before it settles.
   *
   * The lane's earlier QCs travel with the order (each sidecar applies the seqs below it
   * first); an earlier order still without a QC is resubmitted first. On failure, throws a
   * {@linkcode PaymentError} listing every validator's answer; a parent that does not verify or
   * does not pay this wallet throws `INVALID_PARENT_QC` before anything is signed.
   *
   * @example
   * ```ts ignore
   * const qc1 = await alice.pay({ to: bob.wallet.address, amount: 10_000_000n });
   * const qc2 = await bob.pay({ to: carol, amount: 10_000_000n, parent: qc1 });
   * ```
   */
  async pay(request: PayRequest): Promise<PaymentReceipt> {
    const parent = request.parent ? await this.#checkParent(request.parent) : undefined;
    const token = getAddress(request.token ?? parent?.signed.order.token ?? this.#token);
    if (parent && parent.signed.order.token !== token) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent pays in ${parent.signed.order.token}, this payment spends ${token}`,
      );
    }
    await this.#ready(token);
    const now = BigInt(Date.now());
    let validBefore = now + this.#validFor;
    if (parent && parent.signed.order.validBefore < validBefore) {
      validBefore = parent.signed.order.validBefore;
    }
    const outcome = await this.wallet.sign({
      chainId: this.committee.chainId,
      vault: this.committee.vault,
      recipient: getAddress(request.to),
      token,
      amount: request.amount,
      fee: request.fee ?? 0n,
      validBefore,
      parent: parent?.txHash ?? NO_PARENT,
      exit: request.exit ?? false,
      memo: request.memo ?? NO_PARENT,
    }, parent && { signed: parent.signed, qc: parent.qc });
    if (outcome.kind === "pending") {
      throw new AllegroError(
        "TEMPORARY_UNAVAILABLE",
        `lane ${token} still waits for order seq ${outcome.order.signed.order.seq} to be certified; retry`,
      );
    }
    return await this.#submit({ signed: outcome.signed, txHash: outcome.txHash }, request);
  }

  /**
   * Makes the lane ready for a new order: rebuilds it from the sidecars when the wallet's store
   * knows nothing of it, and resubmits its last order while that has no QC — unless f + 1
   * sidecars have applied its seq already (it settled, or was confirmed, and this wallet missed
   * its QC): then the order is forgotten.
   */
  async #ready(token: Address): Promise<void> {
    let record = await this.wallet.lane(token);
    if (record === undefined) {
      const rebuilt = await resyncLane(this.committee, this.sidecars, this.wallet.address, token, {
        timeoutMillis: this.#timeout,
      });
      record = await this.wallet.restore(token, rebuilt);
      if (record === rebuilt && record.next > 0n) {
        this.#warn(
          `wallet store had no record of lane ${this.wallet.address}/${token}: rebuilt from the sidecars' boards, next seq ${record.next}. An order sent earlier but found on no board may still hold a seq; the vault's forced exit (requestExit) always gets the money out.`,
        );
      }
    }
    const last = record.orders.at(-1);
    if (last === undefined || last.qc !== undefined) return;
    try {
      await this.#submit(last, {});
    } catch (e) {
      const statuses = await laneStatuses(this.sidecars, this.wallet.address, token, this.#timeout);
      const applied = vouchedPrefix(statuses, this.committee.faultTolerance + 1);
      if (applied === undefined || applied <= last.signed.order.seq) throw e;
      await this.wallet.forgetOrder(token, last.txHash);
    }
  }

  /** Sends one order of the wallet's lane with the lane's QCs and its parent, until decided. */
  async #submit(
    order: LaneOrder,
    request: Pick<PayRequest, "clientRequestId" | "signal" | "onCertificate" | "onReject">,
  ): Promise<PaymentReceipt> {
    const o = order.signed.order;
    const record = await this.wallet.lane(o.token);
    const laneQcs = (record?.orders ?? []).filter((e) => e.qc && e.signed.order.seq < o.seq);
    const parent = order.parent ?? record?.orders.find((e) => e.txHash === order.txHash)?.parent;
    const submission = {
      order: signedOrderInit(order.signed),
      laneQcs: laneQcs.map((e) => certifiedOrderInit({ signed: e.signed, qc: e.qc! })),
      ...(parent ? { parent: certifiedOrderInit(parent) } : {}),
      ...(request.clientRequestId ? { clientRequestId: request.clientRequestId } : {}),
    };
    const fan = fanOut(this.committee, this.sidecars, submission, {
      timeoutMillis: this.#timeout,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onCertificate ? { onCertificate: request.onCertificate } : {}),
      ...(request.onReject ? { onReject: request.onReject } : {}),
    });
    const decided = await fan.decided;
    const result = decided.qc ? decided : await fan.complete;
    if (result.qc === undefined) throw new PaymentError(result, this.committee);
    const qc = await verifyQuorumCertificate(this.committee, result.qc);
    // The backend settles each QC it forms at once: hand it the same submission (the sidecars
    // replay their certificates), so the payment settles in the next block. Its answer changes
    // nothing here; the sidecars' settlers settle it anyway should the backend be away.
    this.#backend?.submitFastPay(submission, { timeoutMs: this.#timeout }).catch(() => {});
    await this.wallet.certify(o.token, order.txHash, qc);
    await this.#trim(o.token, o.seq);
    return {
      signed: order.signed,
      txHash: order.txHash,
      qc,
      certificates: result.certificates,
      rejects: result.rejects,
    };
  }

  /**
   * Forgets the lane's QCs below the prefix a quorum (n − f) of sidecars has applied, so requests
   * stay small: a validator down, or one answering 0, does not keep them forever (a sidecar that
   * lags applies them from the chain once they settle).
   */
  async #trim(token: Address, seq: bigint): Promise<void> {
    const record = await this.wallet.lane(token);
    if ((record?.orders.length ?? 0) <= KEPT_QCS) return;
    const statuses = await laneStatuses(this.sidecars, this.wallet.address, token, this.#timeout);
    const applied = vouchedPrefix(statuses, this.committee.threshold);
    if (applied === undefined) return;
    await this.wallet.forgetBelow(token, applied < seq + 1n ? applied : seq + 1n);
  }

  async #checkParent(parent: CertifiedOrder): Promise<CertifiedOrder> {
    const checked = await verifyCertifiedOrder(this.committee, parent);
    const o = checked.signed.order;
    if (o.recipient !== this.wallet.address) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        `parent pays ${o.recipient}, not this wallet ${this.wallet.address}`,
      );
    }
    if (o.exit) {
      throw new AllegroError(
        "INVALID_PARENT_QC",
        "parent is an exit: it pays a wallet, not the vault",
      );
    }
    return checked;
  }

  /**
   * The lifecycle of a payment as the backend sees it (`ACCEPTED` → `CERTIFIED` →
   * `QUEUED_ONCHAIN` → `INCLUDED` → `FINALIZED`, or `REJECTED`, `CONFIRMED`, `EXPIRED`,
   * `FAILED`), with certificates and QCs verified. Needs `backendUrl` (or `backend`); throws at
   * once otherwise.
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
   *   console.log("got", received.signed.order.amount, "from", received.signed.order.payer);
   * }
   * ```
   */
  incoming(
    address: Address = this.wallet.address,
    options: IncomingOptions = {},
  ): AsyncGenerator<CertifiedOrder, void, undefined> {
    return watchIncoming(this.committee, this.sidecars, address, options);
  }

  /**
   * Settles certified orders on the vault in one transaction sent by `settler` (a recipient
   * settling its own payment, say; it earns their fees), parents first.
   *
   * @example
   * ```ts ignore
   * const { outcomes } = await bob.settle([received], chainClient, bobAccount, PATH_USD);
   * ```
   */
  settle(
    orders: readonly CertifiedOrder[],
    chain: PublicClient,
    settler: TempoSigner,
    feeToken: Address,
  ): Promise<SettlementReceipt> {
    return settleOrders(chain, settler, this.committee, orders, { feeToken });
  }
}

/** QCs a lane keeps before asking the sidecars which ones they have all applied. */
const KEPT_QCS = 4;

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

/**
 * Paying from the browser with `@allegro/client`'s {@linkcode AllegroClient}: the order is
 * signed here (the key never leaves the page) by a `Wallet` that keeps each lane — next seq,
 * orders sent and their QCs — in IndexedDB (`IdbWalletStore`), writes every order before it is
 * sent and never signs a second order for a seq; the client fans the order out to every
 * validator's sidecar itself, verifies each certificate (signature and settlement attestation)
 * as it arrives, forms and verifies the QC here, and then hands the submission to the backend,
 * which settles the QC at once (the sidecars' settlers settle it should the backend be away).
 *
 * Why the client's own fan-out rather than `POST /api/v1/payments`: the page then trusts nothing
 * it did not check itself — certificates, QC, and the wallet's lane discipline (resubmitting an
 * order that got no QC, the lane QCs each sidecar needs, rebuilding a lane from the boards) are
 * the client library's own, not a second copy; it sees every certificate arrive at this browser
 * and draws it against the block boundary on this browser's clock; and a payment still
 * certifies with the backend down. It needs the sidecars to answer CORS, as they do by default.
 *
 * Lanes are serialised across tabs with the Web Locks API, so two tabs of one account never
 * sign at the same seq.
 *
 * @module
 */
import { type Address, bytesToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  AllegroClient,
  type Certificate,
  type CertifiedOrder,
  type Committee,
  IdbWalletStore,
  type LaneOrder,
  PaymentError,
  type PaymentReceipt,
  type Validator,
  type ValidatorReject,
  Wallet,
} from "@allegro/client";
import type { Account } from "./accounts.ts";
import type { ConfigJson } from "./api.ts";
import { TOKEN } from "./onchain.ts";

/** What to pay. */
export interface PayOrder {
  readonly to: Address;
  readonly amount: bigint;
  /** Pay `to`'s wallet out of the vault (a cooperative exit when `to` is the payer). */
  readonly exit?: boolean;
  /** A certified, unsettled payment to the payer that funds this one (the client verifies it). */
  readonly parent?: CertifiedOrder;
  /** Called with each verified certificate as it arrives. */
  readonly onCertificate?: (validator: Validator, certificate: Certificate) => void;
  /** Called with each validator's refusal or failure as it arrives. */
  readonly onReject?: (reject: ValidatorReject) => void;
}

/** What paying needs to know. */
export interface PayContext {
  readonly committee: Committee;
  readonly config: ConfigJson;
  /** Chain time minus this browser's clock (ms), from the newest head: orders are timed by it. */
  readonly chainSkewMillis: number;
  /** Called with what a person should know (a lane rebuilt from the validators' boards). */
  readonly onWarning?: (message: string) => void;
}

/**
 * The lane's earlier order has no QC and did not get one when it was sent again first: no new
 * order can be signed in the lane until it has one (after its `validBefore`, a confirmation QC).
 */
export class LaneBlocked extends Error {
  /** The order that holds the lane. */
  readonly order: LaneOrder;
  /** Why its resubmission got no QC. */
  readonly reason: PaymentError;

  /** `order` holds the lane; `reason` is what its resubmission threw. */
  constructor(order: LaneOrder, reason: PaymentError) {
    super(`order seq ${order.signed.order.seq} (${order.txHash}) still has no QC`);
    this.name = "LaneBlocked";
    this.order = order;
    this.reason = reason;
  }
}

const store = new IdbWalletStore();
const clients = new Map<string, AllegroClient>();

function clientOf(ctx: PayContext, account: Account): AllegroClient {
  const block = ctx.config.block_interval_ms;
  // Valid for W less three blocks, on the chain's clock: every sidecar, one behind or not, takes it.
  const validForMillis = Math.floor(
    (Number(ctx.config.max_validity_ms) - 3 * block + Math.min(0, ctx.chainSkewMillis)) / 1000,
  ) * 1000;
  const key = `${account.address}/${ctx.committee.vault}/${ctx.committee.epoch}/${validForMillis}`;
  let client = clients.get(key);
  if (!client) {
    client = new AllegroClient({
      committee: ctx.committee,
      wallet: new Wallet(privateKeyToAccount(account.privateKey), { store }),
      backendUrl: location.origin,
      token: TOKEN,
      validForMillis,
      timeoutMillis: 3000,
      onWarning: (message) => ctx.onWarning?.(message),
    });
    clients.set(key, client);
  }
  return client;
}

/**
 * Opens the wallet's IndexedDB database and reads `account`'s lane ahead of its first payment,
 * which then starts sooner.
 */
export function warmUp(account: Account): void {
  store.get(account.address, TOKEN).catch(() => {}); // the payment says what is wrong, if anything
}

/** Runs `task` holding the lane's lock in every tab of this origin. */
function withLaneLock<T>(payer: Address, task: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(`allegro-lane-${payer}-${TOKEN}`, task) : task();
}

/**
 * Pays from `from` and returns the payment with its QC, verified here. An earlier order of the
 * lane still without a QC is sent again first: a {@linkcode LaneBlocked} when it still gets none.
 * Otherwise throws the client's `PaymentError` (refused, or no quorum: every validator's answer)
 * or `AllegroError` (a parent that does not verify or does not pay `from`).
 */
export function pay(ctx: PayContext, from: Account, request: PayOrder): Promise<PaymentReceipt> {
  const client = clientOf(ctx, from);
  return withLaneLock(client.wallet.address, async () => {
    const last = (await client.wallet.lane(TOKEN))?.orders.at(-1);
    const held = last?.qc === undefined ? last : undefined;
    try {
      return await client.pay({
        to: request.to,
        amount: request.amount,
        ...(request.exit ? { exit: true } : {}),
        ...(request.parent ? { parent: request.parent } : {}),
        ...(request.onCertificate ? { onCertificate: request.onCertificate } : {}),
        ...(request.onReject ? { onReject: request.onReject } : {}),
      });
    } catch (e) {
      if (held && e instanceof PaymentError && bytesToHex(e.txHash) === held.txHash) {
        throw new LaneBlocked(held, e);
      }
      throw e;
    }
  });
}

/**
 * Paying from the browser: the payment is signed here (the key never leaves the page), sent to
 * the backend (`POST /api/v1/payments`, which fans it out to every validator), and the QC that
 * comes back is verified here against the committee — the page trusts no `certified` flag.
 *
 * Nonces: each account uses its own random Allegro nonce lane per browser (so a browser never
 * collides with other payers of the same demo account), with the reservations kept in
 * `localStorage`; a lane the validators disagree with is replaced by a fresh one.
 *
 * @module
 */
import { type Address, bytesToHex, type Hex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  allegroNonceKey,
  type CertifiedPayment,
  type Committee,
  decodePayment,
  type NonceRecord,
  type NonceStore,
  PATH_USD,
  paymentTxHash,
  type QuorumCertificate,
  signPaymentTransaction,
  verifyCertifiedPayment,
  Wallet,
} from "@allegro/client";
import type { Account } from "./accounts.ts";
import { api, ApiError, type QcJson, type SubmissionJson } from "./api.ts";

/** The token the UI pays in (and pays fees in). */
export const TOKEN: Address = PATH_USD;

const GAS = 100_000n;
const MAX_FEE_PER_GAS = 20_000_000_000n;

/** The most fee a payment can cost, in token units: `ceil(gas × maxFeePerGas / 10^12)`. */
export const MAX_FEE: bigint = (GAS * MAX_FEE_PER_GAS + 10n ** 12n - 1n) / 10n ** 12n;

/** Nonce reservations in `localStorage`. */
class LocalNonceStore implements NonceStore {
  #key = (account: Address, nonceKey: bigint) =>
    `allegro.nonce.v1.${account.toLowerCase()}.${nonceKey.toString(16)}`;

  get(account: Address, nonceKey: bigint): Promise<NonceRecord | undefined> {
    const raw = localStorage.getItem(this.#key(account, nonceKey));
    if (!raw) return Promise.resolve(undefined);
    const r = JSON.parse(raw) as { next: string; released: string[] };
    return Promise.resolve({ next: BigInt(r.next), released: r.released.map(BigInt) });
  }

  put(account: Address, nonceKey: bigint, record: NonceRecord): Promise<void> {
    localStorage.setItem(
      this.#key(account, nonceKey),
      JSON.stringify({ next: String(record.next), released: record.released.map(String) }),
    );
    return Promise.resolve();
  }
}

const store = new LocalNonceStore();
const wallets = new Map<string, Wallet>();
const laneKey = (address: Address) => `allegro.lane.v1.${address.toLowerCase()}`;

/** One wallet per account and lane, so that its reservations run one at a time. */
function walletOf(account: Account): Wallet {
  let lane = localStorage.getItem(laneKey(account.address));
  if (!lane) {
    lane = bytesToHex(crypto.getRandomValues(new Uint8Array(8)));
    localStorage.setItem(laneKey(account.address), lane);
  }
  const id = `${account.address}/${lane}`;
  let wallet = wallets.get(id);
  if (!wallet) {
    wallet = new Wallet(privateKeyToAccount(account.privateKey), {
      store,
      nonceKey: allegroNonceKey(BigInt(lane)),
    });
    wallets.set(id, wallet);
  }
  return wallet;
}

/** A QC from JSON. */
export function qcFromJson(qc: QcJson): QuorumCertificate {
  return {
    txHash: hexToBytes(qc.tx_hash as Hex),
    effectsHash: hexToBytes(qc.effects_hash as Hex),
    threshold: qc.threshold,
    certificates: qc.certificates.map((c) => ({
      signer: hexToBytes(c.signer as Hex),
      txHash: hexToBytes(c.tx_hash as Hex),
      effectsHash: hexToBytes(c.effects_hash as Hex),
      signature: hexToBytes(c.signature as Hex),
      createdUnixMillis: BigInt(c.created_unix_millis),
    })),
    qcHash: hexToBytes(qc.qc_hash as Hex),
  };
}

function qcToJson(qc: QuorumCertificate): QcJson {
  return {
    tx_hash: bytesToHex(qc.txHash),
    effects_hash: bytesToHex(qc.effectsHash),
    threshold: qc.threshold,
    certificates: qc.certificates.map((c) => ({
      signer: bytesToHex(c.signer),
      tx_hash: bytesToHex(c.txHash),
      effects_hash: bytesToHex(c.effectsHash),
      signature: bytesToHex(c.signature),
      created_unix_millis: c.createdUnixMillis.toString(),
    })),
    qc_hash: bytesToHex(qc.qcHash),
  };
}

/**
 * A certified payment as the backend stores it, checked here: the signed bytes recompute the
 * QC's hashes and the QC verifies against `committee`. Throws `INVALID_PARENT_QC` otherwise.
 */
export async function fetchCertified(committee: Committee, txHash: string) {
  const tx = await api.tx(txHash);
  if (!tx.qc) throw new Error(`payment ${txHash} has no QC yet (stage ${tx.stage})`);
  return await verifyCertifiedPayment(committee, {
    signedTx: hexToBytes(tx.signed_tx as Hex),
    ...(tx.parent_qc_hash ? { parentQcHash: hexToBytes(tx.parent_qc_hash as Hex) } : {}),
    qc: qcFromJson(tx.qc),
  });
}

const SPENT = "allegro.spent.v1";

/** Whether this browser already spent the received payment `txHash` (as a parent). */
export function isSpent(txHash: string): boolean {
  return (JSON.parse(localStorage.getItem(SPENT) ?? "[]") as string[]).includes(txHash);
}

function markSpent(txHash: string): void {
  const spent = JSON.parse(localStorage.getItem(SPENT) ?? "[]") as string[];
  localStorage.setItem(SPENT, JSON.stringify([...spent, txHash].slice(-500)));
}

/** What to pay. */
export interface PayRequest {
  readonly committee: Committee;
  readonly from: Account;
  readonly to: Address;
  readonly amount: bigint;
  /** A verified payment to `from` that funds this one (spent before it settles). */
  readonly parent?: CertifiedPayment;
  /** Called once signed, with the payment's `tx_hash`, before it is sent. */
  readonly onSigned?: (txHash: string) => void;
}

/** A payment with a QC the browser verified. */
export interface PayResult {
  readonly txHash: string;
  readonly submission: SubmissionJson;
  readonly certified: CertifiedPayment;
}

/** No validator can have signed: every one that answered refused, none timed out or lied. */
function nobodySigned(s: SubmissionJson): boolean {
  return s.certificates.length === 0 &&
    s.rejects.every((r) =>
      r.kind === "rejected" && r.code !== "EQUIVOCATION" && r.code !== "NONCE_SEQ_TOO_LOW"
    );
}

const LANE_CODES = new Set(["EQUIVOCATION", "NONCE_SEQ_TOO_LOW", "NONCE_SEQ_TOO_HIGH"]);

/**
 * Signs and submits a payment and verifies its QC. Throws an `ApiError` (refused, or no quorum),
 * a `BackendUnreachable`, or an `AllegroError` (bad parent, or a QC that does not verify).
 */
export async function pay(request: PayRequest): Promise<PayResult> {
  const { committee, from, parent } = request;
  const wallet = walletOf(from);
  const reservation = await wallet.reserve();
  let sent = false;
  try {
    const parentQcHash = parent?.qc.qcHash;
    const signedTx = await signPaymentTransaction(wallet.account, {
      chainId: committee.chainId,
      token: TOKEN,
      recipient: request.to,
      amount: request.amount,
      ...(parentQcHash ? { memo: parentQcHash } : {}),
      nonceKey: reservation.nonceKey,
      nonce: reservation.nonce,
      validBefore: BigInt(Math.floor(Date.now() / 1000) + 120),
      gas: GAS,
      maxFeePerGas: MAX_FEE_PER_GAS,
      maxPriorityFeePerGas: 0n,
      feeToken: TOKEN,
    });
    const payment = decodePayment(signedTx, { chainId: committee.chainId });
    const txHash = bytesToHex(paymentTxHash(payment, parentQcHash));
    request.onSigned?.(txHash);
    sent = true;
    const submission = await api.submit({
      signed_tx: signedTx,
      ...(parent
        ? {
          parent_qc_hash: bytesToHex(parent.qc.qcHash),
          parent: {
            qc: qcToJson(parent.qc),
            signed_tx: bytesToHex(parent.signedTx),
            ...(parent.parentQcHash ? { parent_qc_hash: bytesToHex(parent.parentQcHash) } : {}),
          },
        }
        : {}),
    });
    const certified = await verifyCertifiedPayment(committee, {
      signedTx: hexToBytes(signedTx),
      ...(parentQcHash ? { parentQcHash } : {}),
      qc: qcFromJson(submission.qc!),
    });
    if (parent) markSpent(bytesToHex(parent.txHash));
    return { txHash, submission, certified };
  } catch (e) {
    const submission = e instanceof ApiError ? e.details as SubmissionJson | undefined : undefined;
    // Refused before the fan-out, or refused by everyone: nobody signed, the nonce is free.
    if (!sent || (e instanceof ApiError && (!submission?.rejects || nobodySigned(submission)))) {
      await wallet.release(reservation).catch(() => {});
    }
    if (submission?.rejects?.some((r) => LANE_CODES.has(r.code))) {
      localStorage.removeItem(laneKey(from.address));
    }
    throw e;
  }
}

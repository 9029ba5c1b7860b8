/**
 * Incoming payments: how a recipient learns it was paid. Polls every sidecar's bulletin board
 * for entries naming an address, verifies each entry, gathers the certificates of each order
 * paying that address across all boards (or takes a QC a board holds), and yields the order once
 * it has a QC that verifies — each order once.
 *
 * @module
 */
import { bytesToHex, getAddress, hexToBytes } from "viem";
import type { Address } from "./deps.ts";
import type { Certificate } from "./certificate.ts";
import type { CertifiedOrder } from "./certified.ts";
import type { Committee } from "./committee.ts";
import { type VerifiedEntry, verifyBoardEntry } from "./board.ts";
import { assembleQuorumCertificate, verifyQuorumCertificate } from "./quorum.ts";
import type { SidecarConnection } from "./transport.ts";

/**
 * How {@linkcode watchIncoming} polls.
 *
 * @example
 * ```ts
 * import type { IncomingOptions } from "@allegro/client";
 *
 * const stop = new AbortController();
 * const options: IncomingOptions = { signal: stop.signal, pollMillis: 100, afterSequence: 0n };
 * ```
 */
export interface IncomingOptions {
  /** Stops the watch: the iteration ends. */
  readonly signal?: AbortSignal;
  /** Pause between polling rounds; default 250 ms. */
  readonly pollMillis?: number;
  /** Start after this board sequence on every sidecar; default 0 (the whole history). */
  readonly afterSequence?: bigint;
  /** Timeout of one board request; default 5000 ms. */
  readonly timeoutMillis?: number;
  /** Entries asked for per page; default 500 (the sidecar may cap it). */
  readonly pageLimit?: number;
  /** Most pages read from one sidecar per round; default 20. */
  readonly maxPagesPerRound?: number;
  /**
   * Most payments tracked while their certificates are still short of a QC; default 1000. When
   * full, the oldest is dropped (this watch then misses it; a new watch from an earlier
   * `afterSequence` finds it again): spam with single certificates cannot grow memory.
   */
  readonly maxPending?: number;
  /** How many delivered payments are remembered to deliver each once; default 10000. */
  readonly maxDelivered?: number;
}

interface Pending {
  readonly entry: VerifiedEntry;
  readonly certificates: Map<string, Certificate>;
}

/**
 * Payments to `address` as they appear on the committee's bulletin boards, each with a verified
 * QC, in the order their QCs form. Unreachable sidecars are skipped for the round; entries that
 * do not verify are ignored. Ends when `options.signal` aborts.
 *
 * @example
 * ```ts ignore
 * import { connectSidecars, watchIncoming } from "@allegro/client";
 *
 * const stop = new AbortController();
 * for await (const paid of watchIncoming(committee, connectSidecars(committee), bob, {
 *   signal: stop.signal,
 * })) {
 *   console.log(paid.signed.order.payer, "paid", paid.signed.order.amount, "QC", paid.qc.qcHash);
 * }
 * ```
 */
export async function* watchIncoming(
  committee: Committee,
  sidecars: readonly SidecarConnection[],
  address: Address,
  options: IncomingOptions = {},
): AsyncGenerator<CertifiedOrder, void, undefined> {
  const recipient = getAddress(address);
  const addressBytes = hexToBytes(recipient);
  const signal = options.signal;
  const pollMillis = options.pollMillis ?? 250;
  const timeoutMillis = options.timeoutMillis ?? 5000;
  const pageLimit = options.pageLimit ?? 500;
  const maxPages = options.maxPagesPerRound ?? 20;
  const maxPending = options.maxPending ?? 1000;
  const maxDelivered = options.maxDelivered ?? 10_000;
  const cursors = sidecars.map(() => options.afterSequence ?? 0n);
  const pending = new Map<string, Pending>();
  const delivered = new Set<string>();

  const remember = (txHash: string) => {
    delivered.add(txHash);
    if (delivered.size > maxDelivered) delivered.delete(delivered.values().next().value!);
  };

  const take = async (raw: Parameters<typeof verifyBoardEntry>[1]) => {
    const claimed = raw.certificate?.txHash ?? raw.qc?.txHash;
    if (claimed && delivered.has(bytesToHex(claimed))) return;
    let entry: VerifiedEntry;
    try {
      entry = await verifyBoardEntry(committee, raw);
    } catch {
      return; // a bad entry proves nothing; honest boards hold the real certificates
    }
    if (entry.signed.order.recipient !== recipient || delivered.has(entry.txHash)) return;
    let group = pending.get(entry.txHash);
    if (group === undefined) {
      group = { entry, certificates: new Map() };
      pending.set(entry.txHash, group);
      if (pending.size > maxPending) pending.delete(pending.keys().next().value!);
    }
    const certificates = entry.qc ? entry.qc.certificates : [entry.certificate];
    for (const c of certificates) group.certificates.set(bytesToHex(c.signer), c);
  };

  const poll = async ({ client }: SidecarConnection, i: number) => {
    for (let page = 0; page < maxPages && !signal?.aborted; page++) {
      const response = await client.getBulletinBoard(
        { address: addressBytes, afterSequence: cursors[i], limit: pageLimit },
        { timeoutMs: timeoutMillis, ...(signal ? { signal } : {}) },
      );
      let last = cursors[i];
      for (const raw of response.entries) {
        if (raw.sequence <= cursors[i]) continue; // never go back, never repeat
        await take(raw);
        if (raw.sequence > last) last = raw.sequence;
      }
      if (response.nextAfterSequence > last) last = response.nextAfterSequence;
      const moved = last > cursors[i];
      cursors[i] = last;
      if (!response.hasMore || !moved) return;
    }
  };

  while (!signal?.aborted) {
    await Promise.all(sidecars.map((s, i) => poll(s, i).catch(() => {})));
    for (const [key, group] of [...pending]) {
      if (group.certificates.size < committee.threshold) continue;
      const qc = assembleQuorumCertificate(committee, [...group.certificates.values()]);
      if (qc === undefined) continue;
      pending.delete(key);
      try {
        await verifyQuorumCertificate(committee, qc);
      } catch {
        continue;
      }
      const txHash = bytesToHex(qc.txHash);
      if (delivered.has(txHash)) continue;
      remember(txHash);
      yield { signed: group.entry.signed, txHash: group.entry.txHash, qc };
      if (signal?.aborted) return;
    }
    await sleep(pollMillis, signal);
  }
}

function sleep(millis: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, millis);
    signal?.addEventListener("abort", done, { once: true });
  });
}

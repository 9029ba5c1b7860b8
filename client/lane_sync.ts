/**
 * What the sidecars know of a payer's lane: their applied prefixes (`GetLane`), and, when the
 * wallet lost its store, the lane rebuilt from their bulletin boards — the payer's own signed
 * orders with their certificates and QCs — so the wallet resumes at the right seq with the QCs
 * it must attach, and resubmits an order it had sent but forgotten instead of signing another
 * for its seq (SPEC §9).
 *
 * @module
 */
import { bytesToHex, getAddress, hexToBytes } from "viem";
import type { Address } from "./deps.ts";
import type { Certificate } from "./certificate.ts";
import type { Committee } from "./committee.ts";
import { type VerifiedEntry, verifyBoardEntry } from "./board.ts";
import { assembleQuorumCertificate, type QuorumCertificate } from "./quorum.ts";
import type { SidecarConnection } from "./transport.ts";
import type { LaneOrder, LaneRecord } from "./wallet.ts";

/** One sidecar's view of a lane. */
export interface LaneStatus {
  /** Every seq below it is applied at that sidecar. */
  readonly appliedPrefix: bigint;
  /** The chain time it judges expiry by. */
  readonly chainTime: bigint;
}

/**
 * Asks every sidecar for its view of the lane, in parallel; `undefined` where one did not
 * answer in time.
 *
 * @example
 * ```ts ignore
 * const statuses = await laneStatuses(sidecars, alice, PATH_USD, 2000);
 * ```
 */
export function laneStatuses(
  sidecars: readonly SidecarConnection[],
  payer: Address,
  token: Address,
  timeoutMillis: number,
): Promise<(LaneStatus | undefined)[]> {
  return Promise.all(sidecars.map(async ({ client }) => {
    try {
      const lane = await client.getLane(
        { payer: hexToBytes(payer), token: hexToBytes(token) },
        { timeoutMs: timeoutMillis },
      );
      return { appliedPrefix: lane.appliedPrefix, chainTime: lane.chainTimeUnixMillis };
    } catch {
      return undefined;
    }
  }));
}

/** How {@linkcode resyncLane} reads the boards. */
export interface ResyncOptions {
  /** Timeout of each sidecar request. */
  readonly timeoutMillis: number;
  /** Entries per page; default 500. */
  readonly pageLimit?: number;
  /** Most pages read from one sidecar; default 100. */
  readonly maxPages?: number;
}

/**
 * Rebuilds a lane record from the sidecars (for a wallet whose store is empty): the next seq is
 * one past the highest seq any board shows an order of the payer at, or the highest applied
 * prefix; the orders kept are those at or above the lowest prefix, each with a QC where the
 * boards' certificates form one. The payer signed every one of them, so an order without a QC
 * at the top is resubmitted, never replaced.
 *
 * @example
 * ```ts ignore
 * const record = await resyncLane(committee, sidecars, alice, PATH_USD, { timeoutMillis: 2000 });
 * ```
 */
export async function resyncLane(
  committee: Committee,
  sidecars: readonly SidecarConnection[],
  payer: Address,
  token: Address,
  options: ResyncOptions,
): Promise<LaneRecord> {
  const lane = { payer: getAddress(payer), token: getAddress(token) };
  const statuses = (await laneStatuses(sidecars, lane.payer, lane.token, options.timeoutMillis))
    .filter((s) => s !== undefined);
  const prefixes = statuses.map((s) => s.appliedPrefix);
  const lowest = prefixes.length > 0 ? prefixes.reduce((a, b) => (a < b ? a : b)) : 0n;
  let next = prefixes.reduce((a, b) => (a > b ? a : b), 0n);

  interface Found {
    entry: VerifiedEntry;
    certificates: Map<string, Certificate>;
    qc?: QuorumCertificate;
  }
  const found = new Map<string, Found>();
  await Promise.all(sidecars.map(async ({ client }) => {
    let after = 0n;
    for (let page = 0; page < (options.maxPages ?? 100); page++) {
      let response;
      try {
        response = await client.getBulletinBoard(
          {
            address: hexToBytes(lane.payer),
            afterSequence: after,
            limit: options.pageLimit ?? 500,
          },
          { timeoutMs: options.timeoutMillis },
        );
      } catch {
        return;
      }
      for (const raw of response.entries) {
        let entry: VerifiedEntry;
        try {
          entry = await verifyBoardEntry(committee, raw);
        } catch {
          continue;
        }
        const o = entry.signed.order;
        if (o.payer !== lane.payer || o.token !== lane.token || o.seq < lowest) continue;
        const group: Found = found.get(entry.txHash) ?? { entry, certificates: new Map() };
        found.set(entry.txHash, group);
        if (entry.qc) group.qc = entry.qc;
        else group.certificates.set(bytesToHex(entry.certificate.signer), entry.certificate);
      }
      if (!response.hasMore || response.nextAfterSequence <= after) return;
      after = response.nextAfterSequence;
    }
  }));

  const orders: LaneOrder[] = [];
  for (const { entry, certificates, qc } of found.values()) {
    const seq = entry.signed.order.seq;
    if (seq + 1n > next) next = seq + 1n;
    const assembled = qc ?? assembleQuorumCertificate(committee, [...certificates.values()]);
    orders.push({
      signed: entry.signed,
      txHash: entry.txHash,
      ...(assembled ? { qc: assembled } : {}),
    });
  }
  // One order per seq: a QC'd one where there is one (two orders at a seq mean the lost store
  // once equivocated; the lane may then stay blocked, and the forced exit is the way out).
  const bySeq = new Map<bigint, LaneOrder>();
  for (const o of orders.sort((a, b) => (a.signed.order.seq < b.signed.order.seq ? -1 : 1))) {
    const seen = bySeq.get(o.signed.order.seq);
    if (seen === undefined || (seen.qc === undefined && o.qc !== undefined)) {
      bySeq.set(o.signed.order.seq, o);
    }
  }
  return { next, orders: [...bySeq.values()] };
}

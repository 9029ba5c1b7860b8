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
import { AllegroError } from "./errors.ts";
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

/**
 * The highest applied prefix that `count` of the answers reach (the `count`-th highest), or
 * `undefined` when fewer than `count` answered. With `count` = f + 1 an honest sidecar vouches for
 * it: f lying sidecars can neither raise it nor, once f + 1 honest ones answer, lower it below
 * what an honest one applied.
 *
 * @example
 * ```ts
 * import { vouchedPrefix } from "@allegro/client";
 *
 * const answers = [{ appliedPrefix: 2n ** 64n - 1n, chainTime: 0n }, undefined,
 *   { appliedPrefix: 3n, chainTime: 0n }, { appliedPrefix: 4n, chainTime: 0n }];
 * console.log(vouchedPrefix(answers, 2), vouchedPrefix(answers, 4)); // 4n undefined
 * ```
 */
export function vouchedPrefix(
  statuses: readonly (LaneStatus | undefined)[],
  count: number,
): bigint | undefined {
  const prefixes = statuses.flatMap((s) => (s ? [s.appliedPrefix] : []))
    .sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return prefixes.length >= count ? prefixes[count - 1] : undefined;
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
 * one past the highest seq any board shows an order of the payer at (the payer signed those: a
 * sidecar cannot make them up), or the applied prefix f + 1 sidecars reach
 * ({@linkcode vouchedPrefix}), whichever is higher; fewer than f + 1 answers throw
 * `TEMPORARY_UNAVAILABLE`. The orders kept are those with a QC (given, or formed by the boards'
 * certificates) and those without one at or above that prefix: an order without a QC at the top
 * is resubmitted, never replaced; one below it was applied by an honest sidecar already.
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
  const statuses = await laneStatuses(sidecars, lane.payer, lane.token, options.timeoutMillis);
  const vouched = vouchedPrefix(statuses, committee.faultTolerance + 1);
  if (vouched === undefined) {
    throw new AllegroError(
      "TEMPORARY_UNAVAILABLE",
      `lane ${lane.payer}/${lane.token}: ${statuses.filter((s) => s).length} of ` +
        `${sidecars.length} sidecars answered GetLane; rebuilding it needs ` +
        `${committee.faultTolerance + 1}`,
    );
  }
  const lowest = statuses.reduce(
    (a, s) => (s && s.appliedPrefix < a ? s.appliedPrefix : a),
    vouched,
  );
  let next = vouched;

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
    if (assembled === undefined && seq < vouched) continue;
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

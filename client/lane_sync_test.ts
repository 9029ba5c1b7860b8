/**
 * Lane resynchronisation against sidecars that lie: fake connections answer `GetLane` and
 * `GetBulletinBoard` as a Byzantine or an absent sidecar would.
 */
import assert from "node:assert/strict";
import type { Committee } from "./committee.ts";
import { AllegroError } from "./errors.ts";
import { type LaneStatus, resyncLane, vouchedPrefix } from "./lane_sync.ts";
import type { SidecarConnection } from "./transport.ts";

const PAYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const TOKEN = "0x20C0000000000000000000000000000000000000";
const U64_MAX = 2n ** 64n - 1n;

const status = (appliedPrefix: bigint): LaneStatus => ({ appliedPrefix, chainTime: 0n });

Deno.test("vouchedPrefix: the count-th highest answer, or undefined when fewer answered", () => {
  const cases: [(LaneStatus | undefined)[], number, bigint | undefined][] = [
    [[status(U64_MAX), status(3n), status(5n), status(5n)], 2, 5n],
    [[status(U64_MAX), status(3n), status(5n), status(5n)], 3, 5n],
    [[status(U64_MAX), status(3n), status(5n), status(5n)], 4, 3n],
    [[status(U64_MAX), undefined, undefined, status(5n)], 2, 5n],
    [[status(U64_MAX), undefined, undefined, undefined], 2, undefined],
    [[], 1, undefined],
  ];
  for (const [statuses, count, expected] of cases) {
    assert.equal(vouchedPrefix(statuses, count), expected, `${count} of ${statuses.length}`);
  }
});

/** Four sidecars with empty boards answering these prefixes (`undefined`: no answer). */
function sidecars(prefixes: (bigint | undefined)[]): SidecarConnection[] {
  return prefixes.map((prefix) =>
    ({
      client: {
        getLane: () =>
          prefix === undefined
            ? Promise.reject(new Error("down"))
            : Promise.resolve({ appliedPrefix: prefix, chainTimeUnixMillis: 0n }),
        getBulletinBoard: () =>
          Promise.resolve({ entries: [], hasMore: false, nextAfterSequence: 0n }),
      },
    }) as unknown as SidecarConnection
  );
}

const committee = { faultTolerance: 1, threshold: 3 } as Committee;

Deno.test("resyncLane: one sidecar's huge prefix does not make the wallet skip seqs", async () => {
  const record = await resyncLane(committee, sidecars([U64_MAX, 4n, 4n, 3n]), PAYER, TOKEN, {
    timeoutMillis: 1000,
  });
  assert.equal(record.next, 4n);
  assert.deepEqual(record.orders, []);
});

Deno.test("resyncLane: one sidecar's prefix 0 does not lower what f + 1 vouch for", async () => {
  const record = await resyncLane(committee, sidecars([0n, 6n, undefined, 6n]), PAYER, TOKEN, {
    timeoutMillis: 1000,
  });
  assert.equal(record.next, 6n);
});

Deno.test("resyncLane: fewer than f + 1 answers is TEMPORARY_UNAVAILABLE, naming the count", async () => {
  await assert.rejects(
    resyncLane(committee, sidecars([9n, undefined, undefined, undefined]), PAYER, TOKEN, {
      timeoutMillis: 1000,
    }),
    (e) =>
      e instanceof AllegroError && e.code === "TEMPORARY_UNAVAILABLE" &&
      e.message.includes("1 of 4 sidecars answered GetLane; rebuilding it needs 2"),
  );
});

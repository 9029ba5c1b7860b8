/**
 * Committees: `setCommittee` refusals (non-admin, empty, zero or duplicate member, an epoch not
 * above the current one, during a grace period — at the exact millisecond), what a change
 * records (event, views, threshold `n − floor((n−1)/3)`), and which QCs settle after it: the new
 * epoch's at once, the previous epoch's until the grace end (`activation·1000 + W + 1000`) and
 * not from that millisecond on (`EpochRetired`), older ones never (`UnknownEpoch`).
 */
import assert from "node:assert/strict";
import type { Address, Hex } from "viem";
import {
  decodeVaultEvents,
  readCommittee,
  readVaultInfo,
  setCommitteeCall,
  settleCall,
} from "@allegro/client";
import {
  addressesOf,
  assertError,
  certify,
  deployTestVault,
  latestTimestamp,
  makeOrder,
  newAccount,
  newPayer,
  sendOk,
  sendReverting,
  settlementKeys,
  startChain,
  step,
  type TestVault,
  thresholdOf,
} from "./testing.ts";

/** Registers `keys` as `epoch` (in the block at `timestamp`) and remembers them for QCs. */
async function changeCommittee(
  vault: TestVault,
  epoch: bigint,
  keys: readonly Hex[],
  timestamp?: bigint,
) {
  const receipt = await sendOk(vault.chain, vault.admin, [
    setCommitteeCall(vault.address, epoch, addressesOf(keys)),
  ], { timestamp });
  vault.keys.set(epoch, keys);
  return receipt;
}

Deno.test("vault committees and epochs", async (t) => {
  await using chain = await startChain();
  const W = 60_000n;
  const vault = await deployTestVault(chain, { n: 4, maxValidity: W, exitDelay: 61n });
  const keys2 = settlementKeys("epoch 2", 4);
  const members2 = addressesOf(keys2);

  await step(t, "setCommittee refuses a non-admin, bad members, an epoch not above", async () => {
    const stranger = await newAccount(chain);
    const set = (
      epoch: bigint,
      members: Address[],
    ) => [setCommitteeCall(vault.address, epoch, members)];
    assertError(
      await sendReverting(chain, stranger, set(2n, members2)),
      "NotAdmin",
      [stranger.address],
    );
    assertError(await sendReverting(chain, vault.admin, set(2n, [])), "EmptyCommittee", []);
    assertError(
      await sendReverting(
        chain,
        vault.admin,
        set(2n, [members2[0], members2[1], `0x${"00".repeat(20)}`]),
      ),
      "ZeroMember",
      [2n],
    );
    assertError(
      await sendReverting(chain, vault.admin, set(2n, [members2[0], members2[1], members2[0]])),
      "DuplicateMember",
      [2n],
    );
    assertError(
      await sendReverting(chain, vault.admin, set(1n, members2)),
      "EpochNotIncreasing",
      [1n, 1n],
    );
    assertError(
      await sendReverting(chain, vault.admin, set(0n, members2)),
      "EpochNotIncreasing",
      [0n, 1n],
    );
    assert.equal((await readVaultInfo(chain.client, vault.address)).currentEpoch, 1n);
  });

  let activation = 0n;
  let oldItem: Awaited<ReturnType<typeof certify>>;
  let lateItem: Awaited<ReturnType<typeof certify>>;

  await step(t, "a change records the committee, its threshold and the grace end", async () => {
    const payer = await newPayer(vault, 10_000n);
    // Certified by epoch 1 before the change, valid well past the grace end.
    const validBefore = (await latestTimestamp(chain) + 200n) * 1000n;
    oldItem = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { seq: 0n, validBefore }),
      {
        epoch: 1n,
      },
    );
    lateItem = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { seq: 1n, validBefore }),
      {
        epoch: 1n,
      },
    );
    activation = await latestTimestamp(chain) + 1n;
    const receipt = await changeCommittee(vault, 2n, keys2, activation);
    const graceEnd = activation * 1000n + W + 1000n;
    const [event] = decodeVaultEvents(receipt.logs);
    assert.ok(event.kind === "CommitteeSet");
    assert.deepEqual(
      {
        epoch: event.epoch,
        members: event.members,
        threshold: event.threshold,
        graceEnd: event.graceEnd,
      },
      { epoch: 2n, members: members2, threshold: 3, graceEnd },
    );
    const info = await readVaultInfo(chain.client, vault.address);
    assert.deepEqual(
      [info.currentEpoch, info.previousEpoch, info.graceEnd],
      [2n, 1n, graceEnd],
    );
    assert.deepEqual(await readCommittee(chain.client, vault.address, 2n), {
      members: members2,
      threshold: 3,
    });
    assert.deepEqual(
      (await readCommittee(chain.client, vault.address, 1n)).members,
      addressesOf(vault.keys.get(1n)!),
    );
  });

  await step(
    t,
    "the new epoch's QCs settle at once; a QC of epoch 1 named as epoch 2 does not",
    async () => {
      const payer = await newPayer(vault, 1_000n);
      const order = await makeOrder(vault, payer.address);
      const item = await certify(vault, payer, order, { epoch: 2n });
      const stale = await certify(vault, payer, order, { epoch: 1n });
      assertError(
        await sendReverting(chain, vault.admin, [
          settleCall(vault.address, { ...stale, epoch: 2n }),
        ]),
        "InvalidAttestation",
        [0n],
      );
      await sendOk(chain, vault.admin, [settleCall(vault.address, item)]);
    },
  );

  await step(t, "during the grace period setCommittee refuses, to the millisecond", async () => {
    const graceEnd = activation * 1000n + W + 1000n;
    const keys3 = settlementKeys("epoch 3", 3);
    assertError(
      await sendReverting(chain, vault.admin, [
        setCommitteeCall(vault.address, 3n, addressesOf(keys3)),
      ], {
        timestamp: graceEnd / 1000n - 1n,
      }),
      "GracePeriodActive",
      [graceEnd],
    );
    // Epoch 1's QC still settles in the last second of the grace period.
    await sendOk(chain, vault.admin, [settleCall(vault.address, oldItem)], {
      timestamp: graceEnd / 1000n - 1n,
    });
  });

  await step(t, "from the grace end on, epoch 1's QCs are retired", async () => {
    const graceEnd = activation * 1000n + W + 1000n;
    assertError(
      await sendReverting(chain, vault.admin, [settleCall(vault.address, lateItem)], {
        timestamp: graceEnd / 1000n,
      }),
      "EpochRetired",
      [1n, graceEnd],
    );
  });

  await step(t, "after a further change, epoch 1 is unknown and epoch 2 in its grace", async () => {
    const keys5 = settlementKeys("epoch 5", 7);
    const payer = await newPayer(vault, 2_000n);
    const validBefore = (await latestTimestamp(chain) + 30n) * 1000n;
    const ofEpoch2 = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { validBefore }),
      {
        epoch: 2n,
      },
    );
    // Epochs may skip numbers; "previous" is the previously registered one.
    const receipt = await changeCommittee(vault, 5n, keys5);
    const [event] = decodeVaultEvents(receipt.logs);
    assert.ok(event.kind === "CommitteeSet" && event.threshold === 5);
    const info = await readVaultInfo(chain.client, vault.address);
    assert.deepEqual([info.currentEpoch, info.previousEpoch], [5n, 2n]);
    assertError(
      await sendReverting(chain, vault.admin, [settleCall(vault.address, { ...lateItem })]),
      "UnknownEpoch",
      [1n],
    );
    await sendOk(chain, vault.admin, [settleCall(vault.address, ofEpoch2)]);
    const ofEpoch5 = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { seq: 1n }),
      {
        epoch: 5n,
      },
    );
    // An epoch between two registered ones was never registered.
    assertError(
      await sendReverting(chain, vault.admin, [
        settleCall(vault.address, { ...ofEpoch5, epoch: 3n }),
      ]),
      "UnknownEpoch",
      [3n],
    );
    await sendOk(chain, vault.admin, [settleCall(vault.address, ofEpoch5)]);
  });

  await step(t, "the vault computes the threshold n − floor((n−1)/3) for n = 1 … 10", async () => {
    const small = await deployTestVault(chain, { n: 1, maxValidity: 0n, exitDelay: 1n });
    for (let n = 2; n <= 10; n++) {
      const at = await latestTimestamp(chain) + 1n;
      await changeCommittee(small, BigInt(n), settlementKeys(`n=${n}`, n), at);
      const { members, threshold } = await readCommittee(chain.client, small.address, BigInt(n));
      assert.equal(members.length, n);
      assert.equal(threshold, thresholdOf(n), `n = ${n}`);
    }
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 10].map(thresholdOf),
      [1, 2, 3, 3, 4, 5, 5, 7],
    );
    assert.equal((await readCommittee(chain.client, small.address, 1n)).threshold, 1);
  });
});

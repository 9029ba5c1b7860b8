/**
 * Settlement: an order moves money between vault balances with its fee to the caller; a second
 * settle of the same order is a quiet no-op; another order for a settled contention key reverts
 * `KeySettledOtherwise`; a child waits for its parent (`ParentNotSettled`); 1-of-1, 3-of-4 and
 * 5-of-7 committees; `settleBatch` in order, with a parent and its child, with bad items skipped
 * and reported (`SettleSkipped`) while the rest settle.
 */
import assert from "node:assert/strict";
import type { LocalAccount } from "viem";
import {
  decodeVaultEvents,
  readSettledTxHash,
  settleBatchCall,
  settleCall,
  type SettleItem,
  vaultAbi,
} from "@allegro/client";
import {
  ALPHA_USD,
  assertError,
  BETA_USD,
  certify,
  decodeRevert,
  deployTestVault,
  latestTimestamp,
  makeOrder,
  newAccount,
  newPayer,
  sendOk,
  sendReverting,
  startChain,
  step,
  testAccount,
  type TestVault,
  thresholdOf,
  txHashOf,
  vaultBalance,
  walletBalance,
} from "./testing.ts";

async function isSettled(vault: TestVault, item: SettleItem): Promise<boolean> {
  return await vault.chain.client.readContract({
    address: vault.address,
    abi: vaultAbi,
    functionName: "isSettled",
    args: [txHashOf(item.signed.order)],
  });
}

Deno.test("vault settles certified orders", async (t) => {
  await using chain = await startChain();
  const vault = await deployTestVault(chain, { n: 4 });
  let settler: LocalAccount;

  await step(t, "setup: a settler", async () => {
    settler = await newAccount(chain);
  });

  await step(
    t,
    "an order moves amount to the recipient's vault balance, fee to the caller",
    async () => {
      const payer = await newPayer(vault, 10_000n);
      const recipient = testAccount("recipient 1").address;
      const item = await certify(
        vault,
        payer,
        await makeOrder(vault, payer.address, {
          recipient,
          amount: 1_000n,
          fee: 25n,
          seq: 0n,
          memo: `0x${"42".repeat(32)}`,
        }),
      );
      const order = item.signed.order;
      const vaultWallet = await walletBalance(chain, ALPHA_USD, vault.address);
      const receipt = await sendOk(chain, settler, [settleCall(vault.address, item)]);
      assert.equal(await vaultBalance(vault, payer.address), 10_000n - 1_025n);
      assert.equal(await vaultBalance(vault, recipient), 1_000n);
      assert.equal(await vaultBalance(vault, settler.address), 25n);
      assert.equal(await walletBalance(chain, ALPHA_USD, vault.address), vaultWallet);
      assert.equal(await walletBalance(chain, ALPHA_USD, recipient), 0n);
      assert.equal(
        await readSettledTxHash(chain.client, vault.address, payer.address, ALPHA_USD, 0n),
        txHashOf(order),
      );
      assert.ok(await isSettled(vault, item));
      const events = decodeVaultEvents(receipt.logs);
      assert.equal(events.length, 1);
      const [settled] = events;
      assert.equal(settled.kind, "Settled");
      if (settled.kind !== "Settled") return;
      assert.deepEqual(
        {
          payer: settled.payer,
          recipient: settled.recipient,
          txHash: settled.txHash,
          token: settled.token,
          seq: settled.seq,
          amount: settled.amount,
          fee: settled.fee,
          validBefore: settled.validBefore,
          exit: settled.exit,
          parent: settled.parent,
          settler: settled.settler,
        },
        {
          payer: payer.address,
          recipient,
          txHash: txHashOf(order),
          token: ALPHA_USD,
          seq: 0n,
          amount: 1_000n,
          fee: 25n,
          validBefore: order.validBefore,
          exit: false,
          parent: order.parent,
          settler: settler.address,
        },
      );
    },
  );

  await step(
    t,
    "settling the same order again changes nothing, reverts not, emits nothing",
    async () => {
      const payer = await newPayer(vault, 5_000n);
      const recipient = testAccount("recipient 2").address;
      const item = await certify(
        vault,
        payer,
        await makeOrder(vault, payer.address, { recipient, amount: 700n, fee: 3n }),
      );
      const first = await sendOk(chain, settler, [settleCall(vault.address, item)]);
      const other = await newAccount(chain);
      const before = await Promise.all(
        [payer.address, recipient, settler.address, other.address].map((a) =>
          vaultBalance(vault, a)
        ),
      );
      const again = await sendOk(chain, other, [settleCall(vault.address, item)]);
      assert.equal(decodeVaultEvents(again.logs).length, 0);
      assert.ok(again.gasUsed < first.gasUsed, `${again.gasUsed} < ${first.gasUsed}`);
      // Checked first: even without a QC, and after the order expired.
      const validBefore = item.signed.order.validBefore;
      const late = await sendOk(chain, other, [
        settleCall(vault.address, { ...item, attestations: [] }),
      ], {
        timestamp: validBefore / 1000n + 1n,
      });
      assert.equal(decodeVaultEvents(late.logs).length, 0);
      const after = await Promise.all(
        [payer.address, recipient, settler.address, other.address].map((a) =>
          vaultBalance(vault, a)
        ),
      );
      assert.deepEqual(after, before);
    },
  );

  await step(
    t,
    "another order for a settled contention key reverts, even with its own QC",
    async () => {
      const payer = await newPayer(vault, 5_000n);
      const first = await certify(vault, payer, await makeOrder(vault, payer.address, { seq: 4n }));
      await sendOk(chain, settler, [settleCall(vault.address, first)]);
      const rival = await certify(
        vault,
        payer,
        await makeOrder(vault, payer.address, { seq: 4n, amount: 1n }),
      );
      assertError(
        await sendReverting(chain, settler, [settleCall(vault.address, rival)]),
        "KeySettledOtherwise",
        [txHashOf(first.signed.order)],
      );
      assert.equal(await vaultBalance(vault, payer.address), 4_000n);
      assert.equal(await isSettled(vault, rival), false);
      // The same seq in another token is another key.
      const otherToken = await newPayer(vault, 10n, { token: BETA_USD });
      const elsewhere = await certify(
        vault,
        otherToken,
        await makeOrder(vault, otherToken.address, {
          seq: 4n,
          amount: 10n,
          token: BETA_USD,
        }),
      );
      await sendOk(chain, settler, [settleCall(vault.address, elsewhere)]);
    },
  );

  await step(t, "a child settles only once its parent has", async () => {
    const alice = await newPayer(vault, 1_000n);
    const bob = await newAccount(chain);
    const carol = testAccount("carol").address;
    const parent = await certify(
      vault,
      alice,
      await makeOrder(vault, alice.address, { recipient: bob.address, amount: 600n }),
    );
    const child = await certify(
      vault,
      bob,
      await makeOrder(vault, bob.address, {
        recipient: carol,
        amount: 500n,
        fee: 100n,
        parent: txHashOf(parent.signed.order),
      }),
    );
    assertError(
      await sendReverting(chain, settler, [settleCall(vault.address, child)]),
      "ParentNotSettled",
      [txHashOf(parent.signed.order)],
    );
    await sendOk(chain, settler, [settleCall(vault.address, parent)]);
    const receipt = await sendOk(chain, settler, [settleCall(vault.address, child)]);
    const [settled] = decodeVaultEvents(receipt.logs);
    assert.equal(settled.kind === "Settled" && settled.parent, txHashOf(parent.signed.order));
    assert.equal(await vaultBalance(vault, bob.address), 0n);
    assert.equal(await vaultBalance(vault, carol), 500n);
  });

  for (const n of [1, 4, 7]) {
    const k = thresholdOf(n);
    await step(
      t,
      `a ${k}-of-${n} committee: any ${k} members settle, ${k - 1} do not`,
      async () => {
        const small = await deployTestVault(chain, { n });
        const payer = await newPayer(small, 10_000n);
        const all = Array.from({ length: n }, (_, i) => i);
        // The last k members (and k − 1 of them), then every member.
        const lastK = all.slice(n - k);
        const item = await certify(
          small,
          payer,
          await makeOrder(small, payer.address, { seq: 0n }),
          {
            signers: lastK,
          },
        );
        assertError(
          await sendReverting(chain, settler, [
            settleCall(small.address, { ...item, attestations: item.attestations.slice(1) }),
          ]),
          "AttestationsBelowThreshold",
          [BigInt(k - 1), BigInt(k)],
        );
        await sendOk(chain, settler, [settleCall(small.address, item)]);
        const everyone = await certify(
          small,
          payer,
          await makeOrder(small, payer.address, { seq: 1n }),
          {
            signers: all,
          },
        );
        await sendOk(chain, settler, [settleCall(small.address, everyone)]);
        assert.equal(await vaultBalance(small, payer.address), 8_000n);
      },
    );
  }

  await step(t, "settleBatch: a parent then its child, fees to the batch's caller", async () => {
    const alice = await newPayer(vault, 1_000n);
    const bob = await newAccount(chain);
    const carol = testAccount("carol 2").address;
    const batcher = await newAccount(chain);
    const parent = await certify(
      vault,
      alice,
      await makeOrder(vault, alice.address, { recipient: bob.address, amount: 900n, fee: 10n }),
    );
    const child = await certify(
      vault,
      bob,
      await makeOrder(vault, bob.address, {
        recipient: carol,
        amount: 880n,
        fee: 20n,
        parent: txHashOf(parent.signed.order),
      }),
    );
    const receipt = await sendOk(chain, batcher, [settleBatchCall(vault.address, [parent, child])]);
    const kinds = decodeVaultEvents(receipt.logs).map((e) => e.kind === "Settled" && e.txHash);
    assert.deepEqual(kinds, [txHashOf(parent.signed.order), txHashOf(child.signed.order)]);
    assert.equal(await vaultBalance(vault, batcher.address), 30n);
    assert.equal(await vaultBalance(vault, alice.address), 90n);
    assert.equal(await vaultBalance(vault, bob.address), 0n);
    assert.equal(await vaultBalance(vault, carol), 880n);
  });

  await step(
    t,
    "settleBatch: a child before its parent is skipped, the parent settles",
    async () => {
      const alice = await newPayer(vault, 1_000n);
      const bob = await newAccount(chain);
      const parent = await certify(
        vault,
        alice,
        await makeOrder(vault, alice.address, { recipient: bob.address, amount: 500n }),
      );
      const child = await certify(
        vault,
        bob,
        await makeOrder(vault, bob.address, {
          amount: 500n,
          parent: txHashOf(parent.signed.order),
        }),
      );
      const receipt = await sendOk(chain, settler, [
        settleBatchCall(vault.address, [child, parent]),
      ]);
      const events = decodeVaultEvents(receipt.logs);
      assert.deepEqual(events.map((e) => e.kind), ["SettleSkipped", "Settled"]);
      const [skipped] = events;
      assert.ok(skipped.kind === "SettleSkipped");
      assert.equal(skipped.txHash, txHashOf(child.signed.order));
      assert.equal(skipped.index, 0n);
      assertError(decodeRevert(skipped.reason), "ParentNotSettled", [
        txHashOf(parent.signed.order),
      ]);
      assert.equal(await isSettled(vault, child), false);
      assert.equal(await vaultBalance(vault, bob.address), 500n);
    },
  );

  await step(t, "settleBatch: bad items are skipped and reported, the rest settle", async () => {
    const payers = await Promise.all([0, 1, 2, 3].map(() => newPayer(vault, 1_000n)));
    const items = await Promise.all(
      payers.map(async (p) =>
        certify(vault, p, await makeOrder(vault, p.address, { amount: 100n }))
      ),
    );
    const expired = await certify(
      vault,
      payers[3],
      await makeOrder(vault, payers[3].address, {
        seq: 1n,
        validBefore: 1000n * await latestTimestamp(chain),
      }),
    );
    const batch = [
      items[0],
      { ...items[1], attestations: items[1].attestations.slice(0, 2) },
      items[2],
      expired,
      items[3],
      items[0],
    ];
    const receipt = await sendOk(chain, settler, [settleBatchCall(vault.address, batch)]);
    const events = decodeVaultEvents(receipt.logs);
    assert.deepEqual(events.map((e) => e.kind), [
      "Settled",
      "SettleSkipped",
      "Settled",
      "SettleSkipped",
      "Settled",
    ]);
    const skips = events.filter((e) => e.kind === "SettleSkipped");
    assert.deepEqual(skips.map((e) => e.index), [1n, 3n]);
    assert.deepEqual(skips.map((e) => e.txHash), [
      txHashOf(items[1].signed.order),
      txHashOf(expired.signed.order),
    ]);
    assertError(decodeRevert(skips[0].reason), "AttestationsBelowThreshold", [2n, 3n]);
    assert.equal(decodeRevert(skips[1].reason).name, "OrderExpired");
    assert.deepEqual(
      await Promise.all(payers.map((p) => vaultBalance(vault, p.address))),
      [900n, 1_000n, 900n, 900n],
    );
    assert.equal(await isSettled(vault, items[1]), false);
  });

  await step(t, "settleBatch of nothing does nothing", async () => {
    const receipt = await sendOk(chain, settler, [settleBatchCall(vault.address, [])]);
    assert.equal(decodeVaultEvents(receipt.logs).length, 0);
  });
});

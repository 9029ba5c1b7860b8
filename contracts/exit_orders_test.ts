/**
 * Orders with `exit = true`: they pay the recipient's wallet (a TIP-20 transfer out of the
 * vault); when the token refuses the transfer — paused, or the recipient barred by a TIP-403
 * policy — the recipient's vault balance is credited instead (`ExitFallback`); and no gas limit a
 * settler picks, for `settle` or `settleBatch`, makes a healthy transfer fall back: too little gas
 * reverts (`InsufficientGasForExit` or out of gas) or skips the item.
 */
import assert from "node:assert/strict";
import type { Address, LocalAccount, TransactionReceipt } from "viem";
import {
  decodeVaultEvents,
  depositCalls,
  readSettledTxHash,
  settleBatchCall,
  settleCall,
  type SettleItem,
  type TempoCall,
} from "@allegro/client";
import {
  ALPHA_USD,
  barAccounts,
  certify,
  createToken,
  decodeRevert,
  deployTestVault,
  makeOrder,
  newAccount,
  newPayer,
  revertOf,
  send,
  sendOk,
  startChain,
  step,
  testAccount,
  type TestChain,
  type TestVault,
  tip20Call,
  txHashOf,
  vaultBalance,
  walletBalance,
} from "./testing.ts";

Deno.test("vault exit orders", async (t) => {
  await using chain = await startChain();
  const vault = await deployTestVault(chain, { n: 4 });
  const settler = await newAccount(chain);

  await step(t, "exit = true pays the recipient's wallet", async () => {
    const payer = await newPayer(vault, 5_000n);
    const recipient = testAccount("exit recipient").address;
    const held = await walletBalance(chain, ALPHA_USD, vault.address);
    const item = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { recipient, amount: 1_234n, fee: 6n, exit: true }),
    );
    const receipt = await sendOk(chain, settler, [settleCall(vault.address, item)]);
    assert.deepEqual(kinds(receipt), ["Settled"]);
    assert.equal(await walletBalance(chain, ALPHA_USD, recipient), 1_234n);
    assert.equal(await walletBalance(chain, ALPHA_USD, vault.address), held - 1_234n);
    assert.equal(await vaultBalance(vault, recipient), 0n);
    assert.equal(await vaultBalance(vault, payer.address), 5_000n - 1_240n);
  });

  await step(t, "a cooperative exit: an exit order to the payer's own wallet", async () => {
    const payer = await newPayer(vault, 5_000n);
    const wallet = await walletBalance(chain, ALPHA_USD, payer.address);
    const item = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, {
        recipient: payer.address,
        amount: 5_000n,
        exit: true,
      }),
    );
    await sendOk(chain, settler, [settleCall(vault.address, item)]);
    assert.equal(await walletBalance(chain, ALPHA_USD, payer.address), wallet + 5_000n);
    assert.equal(await vaultBalance(vault, payer.address), 0n);
  });

  const issuer = await newAccount(chain);
  let token: Address;
  let payer: LocalAccount;

  await step(t, "setup: a TIP-20 of the test's own, deposited", async () => {
    payer = await newAccount(chain);
    token = await createToken(chain, issuer, [{ to: payer.address, amount: 1_000_000n }]);
    await sendOk(chain, payer, depositCalls(vault.address, token, 1_000_000n));
    assert.equal(await vaultBalance(vault, payer.address, token), 1_000_000n);
  });

  await step(
    t,
    "the token paused: the recipient's vault balance is credited (ExitFallback)",
    async () => {
      const recipient = testAccount("paused recipient").address;
      const item = await certify(
        vault,
        payer,
        await makeOrder(vault, payer.address, {
          token,
          recipient,
          amount: 300n,
          seq: 0n,
          exit: true,
        }),
      );
      await sendOk(chain, issuer, [tip20Call(token, "pause", [])]);
      const receipt = await sendOk(chain, settler, [settleCall(vault.address, item)]);
      await sendOk(chain, issuer, [tip20Call(token, "unpause", [])]);
      assertFallback(receipt, item, recipient, token, 300n);
      assert.equal(await vaultBalance(vault, recipient, token), 300n);
      assert.equal(await walletBalance(chain, token, recipient), 0n);
      assert.equal(await walletBalance(chain, token, vault.address), 1_000_000n);
    },
  );

  await step(t, "the recipient barred by a TIP-403 policy: ExitFallback", async () => {
    const barred = testAccount("barred recipient").address;
    const free = testAccount("free recipient").address;
    const toBarred = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, {
        token,
        recipient: barred,
        amount: 50n,
        seq: 1n,
        exit: true,
      }),
    );
    const toFree = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, {
        token,
        recipient: free,
        amount: 70n,
        seq: 2n,
        exit: true,
      }),
    );
    await barAccounts(chain, issuer, token, [barred]);
    const receipt = await sendOk(chain, settler, [
      settleBatchCall(vault.address, [toBarred, toFree]),
    ]);
    assertFallback(receipt, toBarred, barred, token, 50n);
    assert.equal(await vaultBalance(vault, barred, token), 50n);
    assert.equal(await walletBalance(chain, token, barred), 0n);
    assert.equal(await walletBalance(chain, token, free), 70n);
    assert.equal(await vaultBalance(vault, free, token), 0n);
  });

  await step(t, "settle starved of gas reverts; it never falls back", async () => {
    const outcomes = await starve(chain, vault, settler, (item) => settleCall(vault.address, item));
    assert.ok(outcomes.has("InsufficientGasForExit"), [...outcomes].join(", "));
  }, 60_000);

  await step(t, "settleBatch starved of gas skips or reverts; it never falls back", async () => {
    const outcomes = await starve(
      chain,
      vault,
      settler,
      (item) => settleBatchCall(vault.address, [item]),
    );
    assert.ok(outcomes.has("skipped InsufficientGasForExit"), [...outcomes].join(", "));
  }, 60_000);
});

function kinds(receipt: TransactionReceipt): string[] {
  return decodeVaultEvents(receipt.logs).map((e) => e.kind);
}

function assertFallback(
  receipt: TransactionReceipt,
  item: SettleItem,
  recipient: Address,
  token: Address,
  amount: bigint,
): void {
  const events = decodeVaultEvents(receipt.logs);
  const mine = events.filter((e) =>
    (e.kind === "Settled" || e.kind === "ExitFallback") && e.txHash === txHashOf(item.signed.order)
  );
  assert.deepEqual(mine.map((e) => e.kind), ["Settled", "ExitFallback"]);
  const fallback = mine[1];
  assert.ok(fallback.kind === "ExitFallback");
  assert.deepEqual(
    { recipient: fallback.recipient, token: fallback.token, amount: fallback.amount },
    { recipient, token, amount },
  );
}

/**
 * Settles one exit order (to a fresh wallet, healthy token) with a gas limit rising from far too
 * little until it succeeds. Every attempt must either revert without effect, or (batch) skip the
 * item, or pay the wallet; none may credit the vault instead. Returns the outcomes seen.
 */
async function starve(
  chain: TestChain,
  vault: TestVault,
  settler: LocalAccount,
  call: (item: SettleItem) => TempoCall,
): Promise<Set<string>> {
  const payer = await newPayer(vault, 1_000n);
  const recipient = testAccount(crypto.randomUUID()).address;
  const item = await certify(
    vault,
    payer,
    await makeOrder(vault, payer.address, { recipient, amount: 1_000n, exit: true }),
  );
  const outcomes = new Set<string>();
  for (let gas = 100_000n; gas <= 1_000_000n; gas += 5_000n) {
    let receipt: TransactionReceipt;
    try {
      receipt = await send(chain, settler, [call(item)], { gas });
    } catch (e) {
      if (/intrinsic gas/i.test((e as Error).message)) continue;
      throw e;
    }
    const events = decodeVaultEvents(receipt.logs);
    assert.ok(!events.some((e) => e.kind === "ExitFallback"), `fell back with gas ${gas}`);
    assert.equal(await vaultBalance(vault, recipient), 0n);
    if (receipt.status !== "success") {
      const why = await revertOf(chain, receipt.transactionHash);
      assert.ok(["InsufficientGasForExit", "(empty)"].includes(why.name), `${gas}: ${why.name}`);
      outcomes.add(why.name);
      continue;
    }
    const skipped = events.find((e) => e.kind === "SettleSkipped");
    if (skipped?.kind === "SettleSkipped") {
      const why = decodeRevert(skipped.reason);
      assert.ok(["InsufficientGasForExit", "(empty)"].includes(why.name), `${gas}: ${why.name}`);
      outcomes.add(`skipped ${why.name}`);
      assert.equal(
        await readSettledTxHash(chain.client, vault.address, payer.address, ALPHA_USD, 0n),
        undefined,
      );
      continue;
    }
    assert.deepEqual(events.map((e) => e.kind), ["Settled"]);
    assert.equal(await walletBalance(chain, ALPHA_USD, recipient), 1_000n);
    outcomes.add(`paid with gas ${gas}`);
    return outcomes;
  }
  throw new Error(`never settled: ${[...outcomes].join(", ")}`);
}

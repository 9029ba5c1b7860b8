/**
 * The forced exit: `requestExit` sets `readyAt = block.timestamp + exitDelay`; `exit` before it
 * reverts `ExitNotReady` (to the second), from it pays `min(requested, balance)` to the wallet; a
 * new request replaces the old one (and its `readyAt`); `cancelExit` withdraws it; and an order
 * certified before the request still settles before `readyAt`, so the exit pays only what is
 * left.
 */
import assert from "node:assert/strict";
import type { Address, LocalAccount, TransactionReceipt } from "viem";
import {
  cancelExitCall,
  decodeVaultEvents,
  depositCalls,
  exitCall,
  readAccount,
  requestExitCall,
  settleCall,
} from "@allegro/client";
import {
  ALPHA_USD,
  assertError,
  certify,
  createToken,
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
  tip20Call,
  vaultBalance,
  walletBalance,
} from "./testing.ts";

const W = 60_000n;
const EXIT_DELAY = 61n;

/** Requests an exit and returns its readyAt, checked against the event and the view. */
async function request(
  vault: TestVault,
  account: LocalAccount,
  amount: bigint,
  options: { readonly token?: Address; readonly timestamp?: bigint } = {},
): Promise<bigint> {
  const token = options.token ?? ALPHA_USD;
  const receipt = await sendOk(vault.chain, account, [
    requestExitCall(vault.address, token, amount),
  ], {
    timestamp: options.timestamp,
  });
  const at = (await vault.chain.client.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
  const readyAt = at + EXIT_DELAY;
  const [event] = decodeVaultEvents(receipt.logs);
  assert.ok(event.kind === "ExitRequested");
  assert.deepEqual(
    [event.account, event.token, event.amount, event.readyAt],
    [account.address, token, amount, readyAt],
  );
  const { exit } = await readAccount(vault.chain.client, vault.address, account.address, token);
  assert.deepEqual(exit, { amount, readyAt });
  return readyAt;
}

function exited(receipt: TransactionReceipt): bigint {
  const events = decodeVaultEvents(receipt.logs);
  assert.equal(events.length, 1);
  const [event] = events;
  assert.ok(event.kind === "Exited");
  return event.amount;
}

Deno.test("vault forced exit", async (t) => {
  await using chain = await startChain();
  const vault = await deployTestVault(chain, { n: 4, maxValidity: W, exitDelay: EXIT_DELAY });

  await step(t, "nothing to exit or cancel without a request; a request of 0 refused", async () => {
    const account = await newPayer(vault, 100n);
    assertError(
      await sendReverting(chain, account, [exitCall(vault.address, ALPHA_USD)]),
      "NoExitRequested",
      [],
    );
    assertError(
      await sendReverting(chain, account, [cancelExitCall(vault.address, ALPHA_USD)]),
      "NoExitRequested",
      [],
    );
    assertError(
      await sendReverting(chain, account, [requestExitCall(vault.address, ALPHA_USD, 0n)]),
      "ZeroAmount",
      [],
    );
  });

  await step(t, "exit reverts before readyAt, to the second, and pays from it", async () => {
    const account = await newPayer(vault, 1_000n);
    const wallet = await walletBalance(chain, ALPHA_USD, account.address);
    const readyAt = await request(vault, account, 400n);
    assertError(
      await sendReverting(chain, account, [exitCall(vault.address, ALPHA_USD)], {
        timestamp: readyAt - 1n,
      }),
      "ExitNotReady",
      [readyAt],
    );
    const receipt = await sendOk(chain, account, [exitCall(vault.address, ALPHA_USD)], {
      timestamp: readyAt,
    });
    assert.equal(exited(receipt), 400n);
    assert.equal(await vaultBalance(vault, account.address), 600n);
    assert.equal(await walletBalance(chain, ALPHA_USD, account.address), wallet + 400n);
    const after = await readAccount(chain.client, vault.address, account.address, ALPHA_USD);
    assert.equal(after.exit, undefined);
    // The request is spent.
    assertError(
      await sendReverting(chain, account, [exitCall(vault.address, ALPHA_USD)]),
      "NoExitRequested",
      [],
    );
  });

  await step(t, "a request above the balance pays the balance", async () => {
    const account = await newPayer(vault, 250n);
    const readyAt = await request(vault, account, 1_000_000n);
    const receipt = await sendOk(chain, account, [exitCall(vault.address, ALPHA_USD)], {
      timestamp: readyAt + 5n,
    });
    assert.equal(exited(receipt), 250n);
    assert.equal(await vaultBalance(vault, account.address), 0n);
  });

  await step(t, "a new request replaces the old one, and its readyAt", async () => {
    const account = await newPayer(vault, 1_000n);
    const first = await request(vault, account, 900n);
    const second = await request(vault, account, 50n, { timestamp: first - EXIT_DELAY + 10n });
    assert.equal(second, first + 10n);
    assertError(
      await sendReverting(chain, account, [exitCall(vault.address, ALPHA_USD)], {
        timestamp: first,
      }),
      "ExitNotReady",
      [second],
    );
    const receipt = await sendOk(chain, account, [exitCall(vault.address, ALPHA_USD)], {
      timestamp: second,
    });
    assert.equal(exited(receipt), 50n);
    assert.equal(await vaultBalance(vault, account.address), 950n);
  });

  await step(t, "cancelExit withdraws the request", async () => {
    const account = await newPayer(vault, 1_000n);
    const readyAt = await request(vault, account, 500n);
    const receipt = await sendOk(chain, account, [cancelExitCall(vault.address, ALPHA_USD)]);
    const [event] = decodeVaultEvents(receipt.logs);
    assert.ok(event.kind === "ExitCancelled");
    assert.deepEqual([event.account, event.token], [account.address, ALPHA_USD]);
    assertError(
      await sendReverting(chain, account, [exitCall(vault.address, ALPHA_USD)], {
        timestamp: readyAt,
      }),
      "NoExitRequested",
      [],
    );
    assert.equal(await vaultBalance(vault, account.address), 1_000n);
  });

  await step(t, "an order certified before the request settles before readyAt", async () => {
    const payer = await newPayer(vault, 1_000n);
    const bob = testAccount("bob").address;
    // A sidecar certifies with validBefore ≤ chain time + W.
    const certifiedAt = await latestTimestamp(chain);
    const item = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, {
        recipient: bob,
        amount: 700n,
        validBefore: certifiedAt * 1000n + W,
      }),
    );
    const wallet = await walletBalance(chain, ALPHA_USD, payer.address);
    const readyAt = await request(vault, payer, 1_000n);
    assert.ok(item.signed.order.validBefore < readyAt * 1000n);
    // Settled in the order's last second, before readyAt.
    await sendOk(chain, vault.admin, [settleCall(vault.address, item)], {
      timestamp: item.signed.order.validBefore / 1000n - 1n,
    });
    const receipt = await sendOk(chain, payer, [exitCall(vault.address, ALPHA_USD)], {
      timestamp: readyAt,
    });
    assert.equal(exited(receipt), 300n);
    assert.equal(await vaultBalance(vault, bob), 700n);
    assert.equal(await vaultBalance(vault, payer.address), 0n);
    assert.equal(await walletBalance(chain, ALPHA_USD, payer.address), wallet + 300n);
  });

  await step(t, "an exit the token refuses reverts and keeps the request", async () => {
    const issuer = await newAccount(chain);
    const account = await newAccount(chain);
    const token = await createToken(chain, issuer, [{ to: account.address, amount: 100n }]);
    await sendOk(chain, account, depositCalls(vault.address, token, 100n));
    const readyAt = await request(vault, account, 100n, { token });
    await sendOk(chain, issuer, [tip20Call(token, "pause", [])]);
    const why = await sendReverting(chain, account, [exitCall(vault.address, token)], {
      timestamp: readyAt,
    });
    assert.equal(why.name, "ContractPaused");
    await sendOk(chain, issuer, [tip20Call(token, "unpause", [])]);
    assert.equal(exited(await sendOk(chain, account, [exitCall(vault.address, token)])), 100n);
    assert.equal(await walletBalance(chain, token, account.address), 100n);
  });
});

/**
 * `AllegroClient` as a payer uses it, against four sidecars on anvil (no backend): payments in
 * one lane carry the earlier QCs; a program with an in-memory wallet pays twice in a row (the
 * second run rebuilds its lane from the boards); a wallet whose store was wiped resumes at the
 * right seq with the QCs it must attach; an order that got too few certificates is resubmitted
 * first, and confirmed after it expires; a parent that does not pay this wallet is refused before
 * anything is signed; a recipient settles its own payment.
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { createPublicClient, type Hex, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { PATH_USD } from "@allegro/server/anvil";
import { fundAndDeposit, startLocalNetwork } from "@allegro/server/local-network";
import {
  AllegroClient,
  AllegroError,
  connectSidecars,
  loadCommittee,
  MemoryWalletStore,
  PaymentError,
  readAccount,
  readSettledTxHash,
  Wallet,
} from "./mod.ts";

const USD = 1_000_000n;

Deno.test({
  name: "AllegroClient pays, chains, resyncs and unblocks its lanes against real sidecars",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const net = await startLocalNetwork({
    validators: 4,
    blockTimeSeconds: 1,
    backend: false,
    maxValidity: 20_000n,
    exitDelay: 21n,
  });
  try {
    const committee = await loadCommittee(pathToFileURL(net.committee.path));
    const payer = (key: Hex, store = new MemoryWalletStore(), sidecars?: number[]) =>
      new AllegroClient({
        committee,
        wallet: new Wallet(privateKeyToAccount(key), { store }),
        validForMillis: 14_000,
        timeoutMillis: 3000,
        onWarning: () => {},
        ...(sidecars
          ? { sidecars: connectSidecars(committee).filter((_, i) => sidecars.includes(i)) }
          : {}),
      });
    const [alice, bob] = [generatePrivateKey(), generatePrivateKey()];
    const carol = privateKeyToAccount(generatePrivateKey()).address;
    await Promise.all([
      fundAndDeposit(net, alice, { wallet: 30n * USD, deposit: 25n * USD }),
      fundAndDeposit(net, bob, { wallet: 2n * USD, deposit: 1n * USD }),
    ]);

    await t.step("two runs of a pay program with an in-memory wallet pay twice", async () => {
      const first = await payer(alice).pay({ to: carol, amount: 1n * USD });
      const second = await payer(alice).pay({ to: carol, amount: 1n * USD });
      assert.equal(first.signed.order.seq, 0n);
      assert.equal(second.signed.order.seq, 1n, "the second run resumed after seq 0");
    });

    await t.step(
      "a wiped store resumes at the right seq and attaches the QCs it must",
      async () => {
        const store = new MemoryWalletStore();
        const client = payer(alice, store);
        const receipt = await client.pay({ to: carol, amount: 1n * USD });
        assert.equal(receipt.signed.order.seq, 2n);
        const lane = await client.wallet.lane(PATH_USD);
        assert.ok(
          lane?.orders.some((o) => o.qc && o.signed.order.seq >= 0n),
          "QCs kept for the next order",
        );
        const wiped = payer(alice, new MemoryWalletStore());
        const next = await wiped.pay({ to: carol, amount: 1n * USD });
        assert.equal(next.signed.order.seq, 3n);
      },
    );

    await t.step("a chained payment spends money received before it settles", async () => {
      const received = await payer(alice).pay({
        to: privateKeyToAccount(bob).address,
        amount: 5n * USD,
      });
      const spent = await payer(bob).pay({ to: carol, amount: 6n * USD, parent: received });
      assert.equal(spent.signed.order.parent, received.txHash);
      await assert.rejects(
        payer(bob).pay({
          to: carol,
          amount: 1n * USD,
          parent: { ...received } as never,
          token: PATH_USD,
        }),
        (e: unknown) => e instanceof PaymentError && /already funds/.test(e.message),
        "the parent's credit funds only its own child",
      );
    });

    await t.step(
      "a parent that does not pay this wallet is refused before anything is signed",
      async () => {
        const toCarol = await payer(alice).pay({ to: carol, amount: 1n * USD });
        const bobClient = payer(bob);
        await assert.rejects(
          bobClient.pay({ to: carol, amount: 1n * USD, parent: toCarol }),
          (e: unknown) =>
            e instanceof AllegroError && e.code === "INVALID_PARENT_QC" &&
            /not this wallet/.test(e.message),
        );
      },
    );

    await t.step(
      "an order with too few certificates is resubmitted, and confirmed once expired",
      async () => {
        const dan = generatePrivateKey();
        await fundAndDeposit(net, dan, { wallet: 3n * USD, deposit: 2n * USD });
        const store = new MemoryWalletStore();
        // Only two of four sidecars are reached: no QC, the order stays pending in the wallet.
        await assert.rejects(
          payer(dan, store, [0, 1]).pay({ to: carol, amount: 1n * USD }),
          PaymentError,
        );
        const pending = (await new Wallet(privateKeyToAccount(dan), { store }).lane(PATH_USD))!;
        assert.equal(pending.orders.length, 1);
        assert.equal(pending.orders[0].qc, undefined);
        // Once past its validBefore (chain time), resubmitting the same order to everyone confirms
        // the seq; the new payment then goes out at seq 1.
        const validBefore = pending.orders[0].signed.order.validBefore;
        const chain = createPublicClient({ transport: http(net.rpcUrl) });
        const deadline = Date.now() + 40_000;
        let receipt;
        while (Date.now() < deadline) {
          if ((await chain.getBlock()).timestamp * 1000n > validBefore) {
            try {
              receipt = await payer(dan, store).pay({ to: carol, amount: 1n * USD });
              break;
            } catch (e) {
              if (!(e instanceof AllegroError)) throw e; // sidecars still behind the chain time
            }
          }
          await new Promise((r) => setTimeout(r, 500));
        }
        assert.ok(receipt, "unblocked within 40 s");
        assert.equal(receipt.signed.order.seq, 1n);
      },
    );

    await t.step("a recipient settles its own payment on the vault", async () => {
      const erin = generatePrivateKey();
      await fundAndDeposit(net, erin, { wallet: 2n * USD, deposit: 0n });
      const erinAddress = privateKeyToAccount(erin).address;
      const paid = await payer(alice).pay({ to: erinAddress, amount: 1n * USD, fee: 1000n });
      const chain = createPublicClient({ transport: http(net.rpcUrl) });
      const { outcomes } = await payer(erin).settle(
        [paid],
        chain,
        privateKeyToAccount(erin),
        PATH_USD,
      );
      assert.equal(outcomes[0].status, "settled");
      assert.equal(
        await readSettledTxHash(
          chain,
          committee.vault,
          paid.signed.order.payer,
          PATH_USD,
          paid.signed.order.seq,
        ),
        paid.txHash,
      );
      const vaultBalance =
        (await readAccount(chain, committee.vault, erinAddress, PATH_USD)).balance;
      assert.ok(
        vaultBalance === 1n * USD + 1000n || vaultBalance === 1n * USD,
        "paid, fee to whoever settled",
      );
    });
  } finally {
    await net.stop();
  }
});

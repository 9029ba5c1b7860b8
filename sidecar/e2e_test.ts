/**
 * Four sidecar processes against anvil in Tempo mode, no backend: a payment and a payment
 * chained on it get QCs through the client's own `AllegroClient.pay`, the sidecars' settlers
 * settle both on the vault (the parent first), and the vault's balances end where the payments
 * say, with every token the vault holds accounted for.
 */
import assert from "node:assert/strict";
import { AllegroClient, Wallet } from "@allegro/client";
import { networkTest, USD } from "./network_testing.ts";

networkTest(
  "four sidecars certify a payment and a chained one before the next block, and settle both",
  { validators: 4 },
  async (net) => {
    // The payers pay once every sidecar has processed their deposits.
    const [alice, bob] = await Promise.all([net.payer(15n * USD), net.payer(5n * USD)]);
    const carol = net.recipient();
    const client = (payer: typeof alice) =>
      new AllegroClient({ committee: net.committee, wallet: new Wallet(payer.account) });
    const [a, b] = [client(alice), client(bob)];

    const first = await a.pay({ to: bob.address, amount: 10n * USD });
    assert.ok(first.qc.certificates.length >= net.committee.threshold);
    const second = await b.pay({ to: carol, amount: 10n * USD, parent: first });
    assert.equal(second.signed.order.parent, first.txHash);

    await net.waitSettled([first, second], 30_000);
    assert.deepEqual(
      await Promise.all([alice.address, bob.address, carol].map((who) => net.balance(who))),
      [5n * USD, 5n * USD, 10n * USD],
    );
    await net.assertConservation();
  },
);

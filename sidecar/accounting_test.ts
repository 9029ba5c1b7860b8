/**
 * Accounting across real sidecar processes (SPEC §1, §6): a parent's credit funds only the
 * child that cites it and never outlives the parent on the vault; and a payer who rotates its
 * orders over 3-subsets of 4 honest validators — the attack that overspends when each sidecar
 * counts only what it signed itself — never gets more certified than its balance, in one lane or
 * several, while every certified order settles through the sidecars' own settlers.
 */
import assert from "node:assert/strict";
import { type CertifiedOrder, decodeVaultEvents } from "@allegro/client";
import { ALPHA_USD, BETA_USD, PATH_USD } from "@allegro/server/anvil";
import { certified, networkTest, randomMemo, USD } from "./network_testing.ts";

networkTest("a credit funds only the child that cites it, and the child settles only after it", {
  validators: 4,
  settlers: false,
}, async (net) => {
  const [alice, bob] = await Promise.all([net.payer(10n * USD), net.payer(5n * USD)]);
  const [carol, dan] = [net.recipient(), net.recipient()];
  const parent = certified(
    await net.certify(
      await net.order(alice, { recipient: bob.address, amount: 10n * USD, seq: 0n }),
    ),
  );
  // Bob spends Alice's 10 and 2 of his own at once: the parent is not settled.
  const child = certified(
    await net.certify(
      await net.order(bob, { recipient: carol, amount: 12n * USD, seq: 0n, parent }),
      { parent },
    ),
  );
  await net.waitLanes(
    "every sidecar counts 2 of the child against Bob's own 5",
    bob.address,
    PATH_USD,
    (lane) => lane.balance === 5n * USD && lane.available === 3n * USD,
  );

  // Another order of Bob's is judged on his own balance: 4 is refused everywhere, 3 is not.
  const four = await net.certify(
    await net.order(bob, { recipient: dan, amount: 4n * USD, seq: 1n }),
    { laneQcs: [child] },
  );
  assert.equal(four.qc, undefined);
  assert.equal(four.rejects.length, 4);
  for (const r of four.rejects) {
    assert.equal(r.code, "INSUFFICIENT_FUNDS", r.message);
    assert.match(r.message, new RegExp(`has ${3n * USD} available`));
  }
  const three = certified(
    await net.certify(
      await net.order(bob, { recipient: dan, amount: 3n * USD, seq: 1n }),
      { laneQcs: [child] },
    ),
  );
  // The credit is spent: citing the parent again funds nothing.
  const again = await net.certify(
    await net.order(bob, { recipient: dan, amount: USD, seq: 2n, parent }),
    { parent, laneQcs: [child, three] },
  );
  assert.equal(again.qc, undefined);
  for (const r of again.rejects) {
    assert.equal(r.code, "INVALID_PARENT_QC", r.message);
    assert.ok(r.message.includes(`already funds order ${child.txHash}`), r.message);
  }

  // The vault settles no child before its parent.
  const alone = await net.settle([child]);
  assert.deepEqual(alone.outcomes, [{
    txHash: child.txHash,
    status: "skipped",
    reason: `ParentNotSettled(${parent.txHash})`,
  }]);
  assert.equal(await net.settledAt(child.signed), undefined);
  const all = await net.settle([child, three, parent]);
  const order = decodeVaultEvents(all.receipt.logs).flatMap((e) =>
    e.kind === "Settled" ? [e.txHash] : []
  );
  assert.deepEqual(order, [parent.txHash, child.txHash, three.txHash]);
  await net.assertSettled([parent, child, three]);
  assert.deepEqual(
    await Promise.all([alice.address, bob.address, carol, dan].map((a) => net.balance(a))),
    [0n, 0n, 12n * USD, 3n * USD],
  );
  await net.assertConservation();
});

networkTest("rotating orders over 3-subsets of 4 honest validators never overspends", {
  validators: 4,
}, async (net) => {
  const tokens = [PATH_USD, ALPHA_USD, BETA_USD];
  const alice = await net.payer(Object.fromEntries(tokens.map((t) => [t, 10n * USD])));
  const [bob, decoys] = [net.recipient(), net.recipient()];
  // In each lane, seq k of 3 goes to every validator but (k + 3) mod 4, with the QCs of the seqs
  // below it, and a decoy of 1 for the same seq to the one left out.
  const lanes = await Promise.all(tokens.map(async (token) => {
    const qcs: CertifiedOrder[] = [];
    const refused = [];
    for (let seq = 0n; seq < 4n; seq++) {
      const left = Number((seq + 3n) % 4n);
      const subset = [0, 1, 2, 3].filter((i) => i !== left);
      const order = await net.order(alice, { recipient: bob, amount: 3n * USD, seq, token });
      const result = await net.certify(order, { laneQcs: qcs }, subset);
      const decoy = await net.order(alice, {
        recipient: decoys,
        amount: USD,
        seq,
        token,
        memo: randomMemo(),
      });
      await net.certify(decoy, { laneQcs: qcs }, [left]);
      if (result.qc) qcs.push(certified(result));
      else refused.push(...result.rejects);
    }
    return { token, qcs, refused };
  }));
  for (const { token, qcs, refused } of lanes) {
    const total = qcs.reduce((sum, q) => sum + q.signed.order.amount, 0n);
    assert.ok(total <= 10n * USD, `${token}: ${total} certified of a balance of ${10n * USD}`);
    // Seqs 0 to 2 fit (9); seq 3 would make 12, and each of its signers counts the 9.
    assert.deepEqual(qcs.map((q) => q.signed.order.seq), [0n, 1n, 2n]);
    assert.deepEqual(refused.map((r) => r.code), Array(3).fill("INSUFFICIENT_FUNDS"));
  }
  const all = lanes.flatMap((l) => l.qcs);
  await net.waitSettled(all);
  for (const { qcs } of lanes) {
    const seq3 = await net.order(alice, {
      recipient: bob,
      amount: 3n * USD,
      seq: 3n,
      token: qcs[0].signed.order.token,
    });
    assert.equal(await net.settledAt(seq3), undefined, "nothing settles at seq 3");
  }
  for (const token of tokens) {
    assert.equal(await net.balance(alice.address, token), USD);
    assert.equal(await net.balance(bob, token), 9n * USD);
  }
  await net.assertConservation();
});

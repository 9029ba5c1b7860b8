/**
 * The attacks on v1, each failing now (SPEC §1), on a committee of four where three are real
 * sidecar processes and the fourth is Byzantine — a fake of the test's that signs anything with
 * that validator's keys — with a vault of W 15 s and exit delay 16 s, and no settlers: the test
 * settles (anyone holding a QC can), so that nothing settles before the attack is tried.
 *
 * (a) Alice empties her wallet and asks for a forced exit of her whole vault balance right after
 * her payment to Bob is certified and Bob spent it: both payments settle, and the exit pays only
 * what is left. (b) Alice's second order for a certified key gets certificates from f = 1
 * validator: the vault refuses it, and the certified one settles. (c) Split votes with the
 * Byzantine validator signing both orders: at most one QC per key, and only that order reaches
 * the chain. (d) A sidecar restarted on a wiped store signs nothing until its recovery ends
 * (`TEMPORARY_UNAVAILABLE` naming it), and no conflicting QC forms meanwhile.
 */
import assert from "node:assert/strict";
import { encodeFunctionData } from "viem";
import { Abis } from "viem/tempo";
import {
  type CertifiedOrder,
  decodeVaultEvents,
  exitCall,
  readAccount,
  requestExitCall,
  type SignedOrder,
} from "@allegro/client";
import { PATH_USD } from "@allegro/server/anvil";
import { certified, networkTest, randomMemo, until, USD } from "./network_testing.ts";

/** The Byzantine validator's index. */
const MALLORY = 3;
/** W + S of this network (ms): how long a store-loss recovery lasts at least, in chain time. */
const RECOVERY = 15_000n + 4000n;

networkTest("the v1 attacks fail with one Byzantine validator of four", {
  validators: 4,
  sidecars: 3,
  settlers: false,
  maxValidity: 15_000n,
  exitDelay: 16n,
  millis: 90_000,
}, async (net, t) => {
  await net.byzantine(MALLORY);
  const [alice, alice2, alice3, payer, ...splitters] = await Promise.all(
    Array.from({ length: 9 }, () => net.payer(10n * USD)),
  );
  const bob = await net.payer(0n);
  const [carol, mallory] = [net.recipient(), net.recipient()];
  const conflict = (payer: typeof alice, order: SignedOrder) =>
    net.order(payer, {
      recipient: mallory,
      amount: order.order.amount,
      seq: order.order.seq,
      memo: randomMemo(),
    });

  let readyAt = 0n;
  let chained: CertifiedOrder[] = [];
  await t.step(
    "(a) Alice pays Bob, Bob pays Carol with it, Alice empties her wallet and asks for everything back",
    async () => {
      const paid = certified(
        await net.certify(
          await net.order(alice, { recipient: bob.address, amount: 6n * USD, seq: 0n }),
        ),
      );
      const spent = certified(
        await net.certify(
          await net.order(bob, { recipient: carol, amount: 6n * USD, seq: 0n, parent: paid }),
          { parent: paid },
        ),
      );
      chained = [paid, spent];
      const wallet = await net.walletBalance(alice.address);
      await net.send(alice.account, [{
        to: PATH_USD,
        data: encodeFunctionData({
          abi: Abis.tip20,
          functionName: "transfer",
          args: [mallory, wallet - USD / 2n],
        }),
      }]);
      await net.send(alice.account, [requestExitCall(net.vault, PATH_USD, 10n * USD)]);
      readyAt = (await readAccount(net.chain, net.vault, alice.address, PATH_USD)).exit!.readyAt;
      // The sidecars count the request: nothing more of Alice's is certified.
      await net.waitLanes(
        "every sidecar counts the exit",
        alice.address,
        PATH_USD,
        (l) => l.available < 0n,
      );
      const more = await net.certify(
        await net.order(alice, { recipient: carol, amount: USD, seq: 1n }),
        { laneQcs: [paid] },
      );
      assert.equal(more.qc, undefined);
      // The honest three refuse, naming the exit that leaves nothing; Mallory signs anyway.
      assert.equal(more.rejects.length, 3);
      for (const r of more.rejects) {
        assert.equal(r.code, "INSUFFICIENT_FUNDS", r.message);
        assert.ok(r.message.includes(`pending exit ${10n * USD}`), r.message);
      }
      // The exit is not ready before the payments can settle; they do, parent first.
      assert.equal(
        await net.vaultRefusal(exitCall(net.vault, PATH_USD), alice.address),
        `ExitNotReady(${readyAt})`,
      );
      await net.settle(chained);
      await net.assertSettled(chained);
    },
  );

  await t.step(
    "(b) Alice's second order for a certified key, certified by f validators, is refused by the vault",
    async () => {
      const first = await net.order(alice2, { recipient: carol, amount: 10n * USD, seq: 0n });
      const certifiedFirst = certified(await net.certify(first));
      const second = await conflict(alice2, first);
      const attempt = await net.certify(second);
      assert.deepEqual(
        attempt.certificates.map((c) => net.committee.indexOf(c.validator.publicKey)),
        [MALLORY],
      );
      for (const r of attempt.rejects) {
        assert.equal(r.code, "EQUIVOCATION", r.message);
        assert.ok(r.message.includes(`locked to order ${certifiedFirst.txHash}`), r.message);
      }
      const call = net.settleCall(second, attempt.certificates.map((c) => c.certificate));
      assert.equal(
        await net.vaultRefusal(call, alice2.address),
        "AttestationsBelowThreshold(1, 3)",
      );
      await assert.rejects(net.send(alice2.account, [call]), /reverted/);
      await net.settle([certifiedFirst]);
      await net.assertSettled([certifiedFirst]);
    },
  );

  const splits: { orders: SignedOrder[]; qc?: CertifiedOrder }[] = [];
  await t.step(
    "(c) split votes: the Byzantine validator signs both orders of a key, at most one gets a QC",
    async () => {
      for (const [k, payer] of splitters.entries()) {
        const a = await net.order(payer, {
          recipient: carol,
          amount: 3n * USD,
          seq: 0n,
          memo: randomMemo(),
        });
        const b = await conflict(payer, a);
        // The first splitter votes 2 + Mallory against 1 + Mallory; the others race both
        // orders to everyone at once.
        const results = k === 0
          ? [await net.certify(a, {}, [0, 1, MALLORY]), await net.certify(b, {}, [2, MALLORY])]
          : await Promise.all([net.certify(a), net.certify(b)]);
        if (k === 0) assert.ok(results[0].qc, "2 honest validators and Mallory form a QC");
        const qcs = results.flatMap((r) => (r.qc ? [certified(r)] : []));
        assert.ok(qcs.length <= 1, `${payer.address}: ${qcs.length} QCs for one key`);
        // Each honest validator signed one of the two at most; Mallory signed both.
        for (let i = 0; i < 4; i++) {
          const signed = results.filter((r) =>
            r.certificates.some((c) => net.committee.indexOf(c.validator.publicKey) === i)
          );
          assert.equal(signed.length <= 1 || i === MALLORY, true, `validator ${i} signed both`);
        }
        // Whoever holds the other's certificates cannot settle it.
        for (const r of results.filter((r) => r.qc === undefined)) {
          const refusal = await net.vaultRefusal(
            net.settleCall(r.signed, r.certificates.map((c) => c.certificate)),
            payer.address,
          );
          assert.match(refusal ?? "", /^AttestationsBelowThreshold\(\d, 3\)$/);
        }
        splits.push({ orders: [a, b], ...(qcs[0] ? { qc: qcs[0] } : {}) });
      }
      const qcs = splits.flatMap((s) => (s.qc ? [s.qc] : []));
      if (qcs.length > 0) await net.settle(qcs);
      for (const { orders, qc } of splits) assert.equal(await net.settledAt(orders[0]), qc?.txHash);
    },
  );

  const probes: CertifiedOrder[] = [];
  await t.step(
    "(d) a sidecar restarted on a wiped store signs nothing until its recovery ends, and no conflicting QC forms",
    async () => {
      const first = certified(
        await net.certify(
          await net.order(alice3, { recipient: carol, amount: 3n * USD, seq: 0n }),
          {},
          [0, 1, MALLORY],
        ),
      );
      const restartedAt = BigInt(Date.now());
      await net.restart(0, { wipe: true });
      const second = await conflict(alice3, first.signed);
      // An honest payer's next order, with the QC of the one before; its QC is settled at once.
      const probe = async () => {
        const result = await net.certify(
          await net.order(payer, { recipient: carol, amount: 1n, seq: BigInt(probes.length) }),
          { laneQcs: probes.slice(-1) },
        );
        const qc = certified(result);
        probes.push(qc);
        await net.settle([qc]);
        return result;
      };
      const dave = (result: Awaited<ReturnType<typeof net.certify>>) => ({
        certificate: result.certificates.find((c) =>
          net.committee.indexOf(c.validator.publicKey) === 0
        ),
        reject: result.rejects.find((r) => net.committee.indexOf(r.validator.publicKey) === 0),
      });
      // Dave refuses everything, naming the recovery; the conflicting order gets no QC; honest
      // orders get theirs from the three others.
      for (let round = 0; round < 3; round++) {
        const attempt = dave(await net.certify(second));
        assert.equal(attempt.certificate, undefined);
        assert.equal(attempt.reject?.code, "TEMPORARY_UNAVAILABLE");
        const honest = dave(await probe());
        assert.equal(honest.certificate, undefined, "Dave signed while recovering");
        assert.equal(honest.reject?.code, "TEMPORARY_UNAVAILABLE");
        assert.match(honest.reject.message, /recovering from store loss.*W \+ S/);
      }
      assert.equal((await net.certify(second)).qc, undefined, "a conflicting QC formed");
      await net.settle([first]);
      // Chain time, not the local clock, ends the recovery: 15 s after the restart Dave still
      // refuses; past W + S (and the restart's few seconds) it signs.
      await net.advanceTo(restartedAt + 15_000n);
      assert.equal(dave(await probe()).certificate, undefined, "Dave signed before W + S");
      await net.advanceTo(restartedAt + RECOVERY + 4000n);
      await until("Dave signs again", 15_000, async () => dave(await probe()).certificate);
      probes.push(first);
    },
  );

  await t.step("(a) the forced exit pays only what the certified payments left", async () => {
    await until(
      "Alice's exit is ready",
      30_000,
      async () => await net.chainTime() >= readyAt * 1000n,
    );
    const paid = decodeVaultEvents(
      (await net.send(alice.account, [exitCall(net.vault, PATH_USD)])).logs,
    );
    assert.deepEqual(paid.flatMap((e) => (e.kind === "Exited" ? [e.amount] : [])), [4n * USD]);
    assert.deepEqual(
      await Promise.all([alice.address, bob.address].map((a) => net.balance(a))),
      [0n, 0n],
    );
    await net.assertSettled([...chained, ...probes]);
    for (const { orders, qc } of splits) assert.equal(await net.settledAt(orders[0]), qc?.txHash);
    await net.assertConservation();
  });
});

/**
 * Liveness across real sidecar processes (SPEC §6 rule 7's exception, §5 forced exit), on a
 * vault with a short W (15 s) and exit delay (16 s): a seq whose order got too few certificates
 * while two validators were down is unblocked, once the order expired, by resubmitting that very
 * order — the client retries `EXPIRED` until the sidecars' chain time passes `validBefore`, and
 * the confirmation certificates form a QC that debits nothing, never settles and never alerts;
 * a payer who split the committee between two orders of one seq stays blocked in that lane, and
 * still gets its money out through the forced exit; and a sidecar restarted while another is down
 * signs again once it read the 2f boards that make a quorum with it.
 */
import assert from "node:assert/strict";
import {
  bytesEqual,
  decodeVaultEvents,
  exitCall,
  readAccount,
  requestExitCall,
} from "@allegro/client";
import { PATH_USD } from "@allegro/server/anvil";
import {
  certified,
  metric,
  networkTest,
  randomMemo,
  readMetrics,
  request,
  txHashOf,
  until,
  USD,
} from "./network_testing.ts";

/** M of these sidecars (ms): S + D + 2 blocks with 1 s blocks. */
const MARGIN = 8000n;

networkTest(
  "a seq too few validators signed is unblocked after expiry; a split one is not, and the forced exit pays",
  {
    validators: 4,
    maxValidity: 15_000n,
    exitDelay: 16n,
    millis: 90_000,
  },
  async (net) => {
    const [split, stuck] = await Promise.all([net.payer(10n * USD), net.payer(10n * USD)]);
    const carol = net.recipient();

    // The splitter signs two orders for seq 0 and sends each to half the committee.
    const [a, b] = await Promise.all(
      [4n, 5n].map((n) =>
        net.order(split, { recipient: carol, amount: n * USD, seq: 0n, memo: randomMemo() })
      ),
    );
    const halves = await Promise.all([net.certify(a, {}, [0, 1]), net.certify(b, {}, [2, 3])]);
    for (const half of halves) {
      assert.equal(half.qc, undefined);
      assert.equal(half.certificates.length, 2);
    }
    // It asks for its whole balance back.
    await net.send(split.account, [requestExitCall(net.vault, PATH_USD, 10n * USD)]);
    const readyAt =
      (await readAccount(net.chain, net.vault, split.address, PATH_USD)).exit!.readyAt;
    assert.equal(
      await net.vaultRefusal(exitCall(net.vault, PATH_USD), split.address),
      `ExitNotReady(${readyAt})`,
    );

    // Two validators are down while a payer sends seq 0: two certificates, no QC.
    await Promise.all([net.kill(2), net.kill(3)]);
    const order = await net.order(stuck, { recipient: carol, amount: 2n * USD, seq: 0n });
    const partial = await net.certify(order);
    assert.equal(partial.qc, undefined);
    assert.equal(partial.certificates.length, 2);
    // They come back; the payer (offline meanwhile) resubmits only once the order is too close
    // to its expiry to be certified as a payment.
    await Promise.all([net.restart(2), net.restart(3)]);
    await until(
      "the order is within M of its expiry",
      20_000,
      async () => await net.chainTime() > order.order.validBefore - MARGIN + 500n,
    );

    // The same order again: 0 and 1 replay their certificates, 2 and 3 confirm the seq. Until
    // their chain time passes validBefore they answer EXPIRED, and the client retries.
    const seen = new Set<string>();
    const confirmed = certified(
      await until("the resubmitted order gets a confirmation QC", 20_000, async () => {
        const result = await net.certify(order);
        for (const r of result.rejects) {
          seen.add(r.code);
        }
        return result.qc !== undefined && result;
      }),
    );
    assert.ok(seen.has("EXPIRED"), "the client retried EXPIRED");
    for (const code of seen) {
      assert.ok(["EXPIRED", "TEMPORARY_UNAVAILABLE"].includes(code), code);
    }
    for (const c of partial.certificates) {
      const replayed = confirmed.qc.certificates.find((q) =>
        bytesEqual(q.signature, c.certificate.signature)
      );
      assert.ok(replayed, `${c.validator.name} replays its certificate`);
    }
    // Each certificate of the QC from a validator that was down is a confirmation, and so is its
    // replay: both are counted apart from payment certificates (checked in the metrics below).
    const confirmations = confirmed.qc.certificates.filter((c) =>
      net.committee.indexOf(c.signer) >= 2
    );
    assert.ok(confirmations.length >= 1);
    for (const c of confirmations) {
      const replay = await net.submit(net.committee.indexOf(c.signer), request(order));
      assert.ok(replay.certificate && bytesEqual(replay.certificate.signature, c.signature));
    }
    // It debits nothing once every sidecar's chain time passed validBefore (0 and 1 signed it as
    // a payment, which counts until then): the next seq may spend the whole balance, and settles.
    await net.waitLanes(
      "every sidecar's chain time passed the order's validBefore",
      stuck.address,
      PATH_USD,
      (lane) => lane.chainTime >= order.order.validBefore,
    );
    const next = certified(
      await net.certify(
        await net.order(stuck, { recipient: carol, amount: 10n * USD, seq: 1n }),
        { laneQcs: [confirmed] },
      ),
    );
    await net.waitSettled([next]);
    assert.equal(await net.settledAt(order), undefined, "a confirmation QC never settles");

    // The splitter's orders expired too, and stay blocked: each gets only its own half again.
    assert.ok(await net.chainTime() > b.order.validBefore);
    for (const [mine, other, signers] of [[a, b, [0, 1]], [b, a, [2, 3]]] as const) {
      const again = await net.certify(mine);
      assert.equal(again.qc, undefined);
      assert.deepEqual(
        again.certificates.map((c) => net.committee.indexOf(c.validator.publicKey)).sort(),
        signers,
      );
      for (const r of again.rejects) {
        assert.equal(r.code, "EQUIVOCATION", r.message);
        assert.ok(r.message.includes(`locked to order ${txHashOf(other)}`), r.message);
      }
    }
    const later = await net.certify(
      await net.order(split, { recipient: carol, amount: USD, seq: 1n }),
    );
    assert.deepEqual(later.rejects.map((r) => r.code), Array(4).fill("NONCE_SEQ_TOO_HIGH"));
    // The forced exit pays the whole balance once ready.
    await until("the exit is ready", 20_000, async () => await net.chainTime() >= readyAt * 1000n);
    const paid = decodeVaultEvents(
      (await net.send(split.account, [exitCall(net.vault, PATH_USD)])).logs,
    );
    assert.deepEqual(paid.flatMap((e) => e.kind === "Exited" ? [e.amount] : []), [10n * USD]);
    assert.equal(await net.balance(split.address), 0n);
    assert.equal(await net.balance(carol), 10n * USD);
    await net.assertConservation();

    // Settlements were sent and seen, and no certified order expired unsettled: the confirmation
    // QC and the orders that never had one are not alerts.
    const metrics = await Promise.all(net.running.map((i) => readMetrics(net.url(i))));
    const total = (name: string, labels?: Record<string, string>) =>
      metrics.reduce((sum, m) => sum + metric(m, name, labels), 0);
    assert.ok(total("allegro_settlements_total", { outcome: "sent" }) >= 1);
    assert.ok(total("allegro_settlements_total", { outcome: "settled" }) >= 1);
    assert.equal(
      total("allegro_submissions_total", { outcome: "confirmed" }),
      2 * confirmations.length,
    );
    assert.equal(total("allegro_certified_expired_unsettled_total"), 0);
  },
);

networkTest(
  "a sidecar restarted while another is down signs again after reading the other two boards",
  { validators: 4, settlers: false, millis: 90_000 },
  async (net) => {
    const payer = await net.payer(10n * USD);
    await net.kill(3);
    await net.restart(0);
    const signed = await net.order(payer, { recipient: net.recipient(), amount: USD, seq: 0n });
    // The restarted sidecar answers TEMPORARY_UNAVAILABLE until it has read 2f = 2 boards.
    let last = "";
    const answer = await until("the restarted sidecar signs", 20_000, async () => {
      const answer = await net.submit(0, request(signed));
      last = `${answer.reject?.code} ${answer.reject?.message}`;
      return answer.certificate ? answer : undefined;
    }).catch((e) => assert.fail(`${e.message}; its last answer: ${last}`));
    assert.ok(answer.certificate);
    const result = await net.certify(signed, {}, [0, 1, 2]);
    assert.ok(result.qc, result.rejects.map((r) => `${r.code} ${r.message}`).join("; "));
    await net.settle([certified(result)]);
    await net.assertConservation();
  },
);

/**
 * What one submission gets from a real sidecar process (SPEC §6), through `SubmitFastPay` over
 * binary Connect: every reject code, its message naming the field and values, the lane the same
 * before and after (`GetLane`), and nothing cached — the same key certifies the valid order
 * afterwards; replays that return the very certificate bytes (even while the chain view is
 * stale); 200 orders racing for one contention key; and third parties resending a payer's order
 * with other wrapper fields. Four sidecars without settlers, so no settlement moves a lane under
 * a step; the test settles every QC it formed at the end and checks conservation.
 */
import assert from "node:assert/strict";
import { bytesToHex, getAddress, hexToBytes, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type CertifiedOrder,
  orderInit,
  type RejectCode,
  type SignedOrder,
  signOrder,
} from "@allegro/client";
import { ALPHA_USD, PATH_USD } from "@allegro/server/anvil";
import {
  type Answer,
  assertRejected,
  certified,
  type LaneState,
  networkTest,
  type Payer,
  randomMemo,
  request,
  type TestNetwork,
  txHashOf,
  until,
  USD,
} from "./network_testing.ts";

/** The sidecar every step talks to. */
const DAVE = 0;

type Submission = Parameters<TestNetwork["submit"]>[1];

/** What `GetLane` shows that a reject must not change (chain time moves on its own). */
function unchanging(lane: LaneState): Omit<LaneState, "chainTime"> {
  const { appliedPrefix, locked, certificate, balance, available } = lane;
  return { appliedPrefix, locked, certificate, balance, available };
}

/**
 * Sends each bad submission to Dave expecting its reject, and checks that the payer's lane did
 * not change; then, with `good`, sends it for the same key and expects a certificate.
 */
async function refused(
  net: TestNetwork,
  payer: Payer,
  bad: readonly { submission: Submission; code: RejectCode; names: unknown[] }[],
  good?: Submission,
): Promise<void> {
  const before = await net.lane(DAVE, payer.address);
  for (const { submission, code, names } of bad) {
    assertRejected(await net.submit(DAVE, submission), code, names);
  }
  assert.deepEqual(unchanging(await net.lane(DAVE, payer.address)), unchanging(before));
  if (good === undefined) return;
  const answer = await net.submit(DAVE, good);
  assert.ok(answer.certificate, `the valid order is certified: ${answer.reject?.message}`);
}

networkTest("a sidecar answers every kind of submission", {
  validators: 4,
  settlers: false,
  maxValidity: 120_000n,
  millis: 120_000,
}, async (net, t) => {
  const qcs: CertifiedOrder[] = [];
  const [format, chain, expired, shape, equivocal, low, high, funds, stale, race, alice, alice2] =
    await Promise.all(Array.from({ length: 12 }, () => net.payer(10n * USD)));
  // Bob and Bob 2 spend what Alice and Alice 2 pay them, and 1 of their own.
  const [bob, bob2] = await Promise.all([net.payer(USD), net.payer(USD)]);
  const carol = net.recipient();
  const pay = (payer: Payer, seq = 0n, amount = USD) =>
    net.order(payer, { recipient: carol, amount, seq, memo: randomMemo() });

  await t.step("INVALID_FORMAT: sizes, amount 0, the payer's signature, no order", async () => {
    const good = await pay(format);
    const wire = request(good);
    const o = orderInit(good.order);
    const stranger = privateKeyToAccount(generatePrivateKey());
    const forged = await signOrder(stranger, { ...good.order, payer: stranger.address });
    const sig = hexToBytes(good.signature);
    // The same signature with s mirrored into the upper half (and v flipped) still recovers.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = new Uint8Array(sig);
    highS.set(
      hexToBytes(`0x${(n - BigInt(bytesToHex(sig.slice(32, 64)))).toString(16).padStart(64, "0")}`),
      32,
    );
    highS[64] = sig[64] === 27 ? 28 : 27;
    await refused(net, format, [
      {
        submission: { order: { order: { ...o, amount: 0n }, payerSignature: sig } },
        code: "INVALID_FORMAT",
        names: ["order.amount", "0"],
      },
      {
        submission: {
          order: {
            order: { ...o, payer: hexToBytes(format.address).slice(1) },
            payerSignature: sig,
          },
        },
        code: "INVALID_FORMAT",
        names: ["order.payer", "20 bytes", "19"],
      },
      {
        submission: { order: { order: o, payerSignature: hexToBytes(forged.signature) } },
        code: "INVALID_FORMAT",
        names: ["payer_signature", format.address],
      },
      {
        submission: { order: { order: o, payerSignature: highS } },
        code: "INVALID_FORMAT",
        names: ["payer_signature", "lower half"],
      },
      { submission: {}, code: "INVALID_FORMAT", names: ["order is missing"] },
    ], wire);
  });

  await t.step("WRONG_CHAIN: another chain id or vault", async () => {
    const otherChain = await net.order(chain, {
      recipient: carol,
      amount: USD,
      seq: 0n,
      chainId: 1n,
    });
    const otherVault = await net.order(chain, {
      recipient: carol,
      amount: USD,
      seq: 0n,
      vault: carol,
    });
    await refused(net, chain, [
      {
        submission: request(otherChain),
        code: "WRONG_CHAIN",
        names: ["chain 1 ", `chain ${net.committee.chainId}`],
      },
      { submission: request(otherVault), code: "WRONG_CHAIN", names: [carol, net.vault] },
    ], request(await pay(chain)));
  });

  await t.step("EXPIRED: too close to chain time, or further than W", async () => {
    const now = await net.chainTime();
    const soon = now + 3000n;
    const late = now + net.maxValidity + 30_000n;
    await refused(net, expired, [
      {
        submission: request(
          await net.order(expired, { recipient: carol, amount: USD, seq: 0n, validBefore: soon }),
        ),
        code: "EXPIRED",
        names: [`validBefore ${soon}`, "chain time"],
      },
      {
        submission: request(
          await net.order(expired, { recipient: carol, amount: USD, seq: 0n, validBefore: late }),
        ),
        code: "EXPIRED",
        names: [`validBefore ${late}`, `maxValidity ${net.maxValidity}`],
      },
    ], request(await pay(expired)));
  });

  await t.step("NOT_PAYMENT_TX: no TIP-20 token, or a recipient that cannot be paid", async () => {
    const notToken = privateKeyToAccount(generatePrivateKey()).address;
    const order = (fields: Partial<Parameters<TestNetwork["order"]>[1]>) =>
      net.order(shape, { recipient: carol, amount: USD, seq: 0n, ...fields });
    await refused(net, shape, [
      {
        submission: request(await order({ token: notToken })),
        code: "NOT_PAYMENT_TX",
        names: ["token", notToken],
      },
      {
        submission: request(await order({ recipient: net.vault })),
        code: "NOT_PAYMENT_TX",
        names: ["recipient", net.vault, "vault"],
      },
      {
        submission: request(await order({ recipient: ALPHA_USD })),
        code: "NOT_PAYMENT_TX",
        names: ["recipient", getAddress(ALPHA_USD), "TIP-20"],
      },
      {
        submission: request(await order({ recipient: zeroAddress })),
        code: "NOT_PAYMENT_TX",
        names: ["recipient is address 0"],
      },
    ], request(await pay(shape)));
  });

  let locked: { request: Submission; answer: Answer } | undefined;
  await t.step("EQUIVOCATION, and a replay returns the same certificate bytes", async () => {
    const first = request(await pay(equivocal));
    const answer = await net.submit(DAVE, first);
    assert.ok(answer.certificate);
    const other = await pay(equivocal, 0n, 2n * USD);
    await refused(net, equivocal, [{
      submission: request(other),
      code: "EQUIVOCATION",
      names: [`seq 0`, equivocal.address, answer.txHash, txHashOf(other)],
    }], first);
    const replay = await net.submit(DAVE, first);
    assert.equal(replay.certificateBytes, answer.certificateBytes);
    const lane = await net.lane(DAVE, equivocal.address);
    assert.equal(lane.locked, answer.txHash);
    assert.equal(lane.certificate, answer.certificateBytes);
    locked = { request: first, answer };
  });

  await t.step("NONCE_SEQ_TOO_LOW: a seq the vault settled", async () => {
    const first = certified(await net.certify(await pay(low)));
    qcs.push(first);
    await net.settle([first]);
    await net.waitLanes(
      "the settlement is processed",
      low.address,
      PATH_USD,
      (l) => l.appliedPrefix === 1n,
    );
    await refused(net, low, [
      {
        submission: request(await pay(low)),
        code: "NONCE_SEQ_TOO_LOW",
        names: ["seq 0", low.address, "applied prefix 1"],
      },
      { submission: request(first.signed), code: "NONCE_SEQ_TOO_LOW", names: ["seq 0"] },
    ], request(await pay(low, 1n)));
  });

  await t.step("NONCE_SEQ_TOO_HIGH: a seq whose predecessor is not applied", async () => {
    const second = await pay(high, 1n);
    const before = await net.lane(DAVE, high.address);
    assertRejected(await net.submit(DAVE, request(second)), "NONCE_SEQ_TOO_HIGH", [
      "seq 1",
      high.address,
      "seq 0 applied first",
    ]);
    assert.deepEqual(unchanging(await net.lane(DAVE, high.address)), unchanging(before));
    const first = certified(await net.certify(await pay(high)));
    qcs.push(first);
    // A QC on the wire applies seq 0, and the very same order is certified.
    assert.ok((await net.submit(DAVE, request(second, { laneQcs: [first] }))).certificate);
  });

  // Alice pays Bob 5; Bob spends it (and 1 of his own) at once, citing it.
  let parent: CertifiedOrder;
  let spend: SignedOrder;
  await t.step("MISSING_PARENT_QC: a parent cited but not sent", async () => {
    parent = certified(
      await net.certify(
        await net.order(alice, { recipient: bob.address, amount: 5n * USD, seq: 0n }),
      ),
    );
    qcs.push(parent);
    spend = await net.order(bob, { recipient: carol, amount: 6n * USD, seq: 0n, parent });
    // The next step certifies this very order at this key, with its parent.
    await refused(net, bob, [{
      submission: request(spend),
      code: "MISSING_PARENT_QC",
      names: ["order.parent", parent.txHash, "not supplied"],
    }]);
  });

  await t.step(
    "INVALID_PARENT_QC: a QC short of the threshold or altered, an exit, a parent paying another or in another token, one already consumed",
    async () => {
      const short = {
        ...parent,
        qc: { ...parent.qc, certificates: parent.qc.certificates.slice(0, 2) },
      };
      const altered = { ...parent, qc: { ...parent.qc, qcHash: new Uint8Array(32).fill(7) } };
      const longer = await net.order(bob, {
        recipient: carol,
        amount: 6n * USD,
        seq: 0n,
        parent,
        validBefore: parent.signed.order.validBefore + 1000n,
      });
      // Alice's next payment to Bob goes to his wallet: it credits nothing in the vault.
      const exit = certified(
        await net.certify(
          await net.order(alice, { recipient: bob.address, amount: USD, seq: 1n, exit: true }),
          { laneQcs: [parent] },
        ),
      );
      qcs.push(exit);
      const fromWallet = await net.order(bob, {
        recipient: carol,
        amount: USD,
        seq: 0n,
        parent: exit,
      });
      await refused(net, bob, [
        {
          submission: request(fromWallet, { parent: exit }),
          code: "INVALID_PARENT_QC",
          names: ["order.parent", exit.txHash, "exit"],
        },
        {
          submission: request(spend, { parent: short }),
          code: "INVALID_PARENT_QC",
          names: ["order.parent", parent.txHash, "2 certificates", "threshold is 3"],
        },
        {
          submission: request(spend, { parent: altered }),
          code: "INVALID_PARENT_QC",
          names: ["order.parent", parent.txHash, "qc_hash"],
        },
        {
          submission: request(longer, { parent }),
          code: "EXPIRED",
          names: [`${longer.order.validBefore}`, `${parent.signed.order.validBefore}`],
        },
      ], request(spend, { parent }));
      // Someone else cannot spend what Alice paid Bob.
      const theft = await net.order(await net.payer(0n), {
        recipient: carol,
        amount: USD,
        seq: 0n,
        parent,
      });
      assertRejected(await net.submit(DAVE, request(theft, { parent })), "INVALID_PARENT_QC", [
        parent.txHash,
        `parent pays ${bob.address}`,
        theft.order.payer,
      ]);
      // Nor can Bob spend it in another token.
      const otherToken = await net.order(bob, {
        recipient: carol,
        amount: USD,
        seq: 0n,
        token: ALPHA_USD,
        parent,
      });
      assertRejected(
        await net.submit(DAVE, request(otherToken, { parent })),
        "INVALID_PARENT_QC",
        [parent.txHash, `parent pays in ${getAddress(PATH_USD)}`, getAddress(ALPHA_USD)],
      );
      // The credit funds one child only.
      const spent = certified(await net.certify(spend, { parent }));
      qcs.push(spent);
      const again = await net.order(bob, { recipient: carol, amount: USD, seq: 1n, parent });
      assertRejected(
        await net.submit(DAVE, request(again, { parent, laneQcs: [spent] })),
        "INVALID_PARENT_QC",
        [parent.txHash, "already funds", spent.txHash],
      );
    },
  );

  await t.step("INSUFFICIENT_FUNDS: amount, or amount and fee, above the balance", async () => {
    await refused(net, funds, [
      {
        submission: request(await pay(funds, 0n, 11n * USD)),
        code: "INSUFFICIENT_FUNDS",
        names: [`${10n * USD} available`, `amount ${11n * USD}`],
      },
      {
        submission: request(
          await net.order(funds, { recipient: carol, amount: 9n * USD, fee: 2n * USD, seq: 0n }),
        ),
        code: "INSUFFICIENT_FUNDS",
        names: [`${10n * USD} available`, `fee ${2n * USD}`, `= ${11n * USD}`],
      },
    ], request(await pay(funds, 0n, 10n * USD)));
  });

  await t.step("TEMPORARY_UNAVAILABLE: a stalled chain, and replays still answered", async () => {
    const good = request(await pay(stale));
    // A probe that fails at rule 10 while the view is current, so that it never certifies.
    const probe = request(await pay(stale, 0n, 100n * USD));
    const before = await net.lane(DAVE, stale.address);
    await net.mining(false);
    try {
      const answer = await until("Dave's view goes stale", 10_000, async () => {
        const a = await net.submit(DAVE, probe);
        return a.reject?.code === "TEMPORARY_UNAVAILABLE" && a;
      });
      assertRejected(answer, "TEMPORARY_UNAVAILABLE", ["chain view is stale", "bound 4000 ms"]);
      assertRejected(await net.submit(DAVE, good), "TEMPORARY_UNAVAILABLE", ["stale"]);
      assert.equal(
        (await net.submit(DAVE, locked!.request)).certificateBytes,
        locked!.answer.certificateBytes,
      );
      assert.deepEqual(unchanging(await net.lane(DAVE, stale.address)), unchanging(before));
    } finally {
      await net.mining(true);
    }
    await until("the same order is certified once blocks come again", 10_000, async () => {
      return (await net.submit(DAVE, good)).certificate;
    });
  });

  await t.step(
    "200 distinct orders for one contention key at once: exactly one certificate",
    async () => {
      const orders = await Promise.all(Array.from({ length: 200 }, () => pay(race)));
      const answers = await Promise.all(orders.map((o) => net.submit(DAVE, request(o))));
      const won = answers.filter((a) => a.certificate);
      assert.equal(won.length, 1, `certificates: ${won.length}`);
      for (const a of answers) {
        if (a !== won[0]) assertRejected(a, "EQUIVOCATION", [won[0].txHash, a.txHash]);
      }
      assert.equal((await net.lane(DAVE, race.address)).locked, won[0].txHash);
      const winner = orders[answers.indexOf(won[0])];
      assert.equal(
        (await net.submit(DAVE, request(winner))).certificateBytes,
        won[0].certificateBytes,
      );
    },
  );

  await t.step(
    "third parties: another client_request_id, lane_qcs or parent, or none, keep tx_hash and never fail the payer's own order",
    async () => {
      const funding = certified(
        await net.certify(
          await net.order(alice2, { recipient: bob2.address, amount: 2n * USD, seq: 0n }),
        ),
      );
      qcs.push(funding);
      const otherLane = qcs[0];
      const short = (c: CertifiedOrder) => ({
        ...c,
        qc: { ...c.qc, certificates: c.qc.certificates.slice(0, 2) },
      });
      const spend = await net.order(bob2, {
        recipient: carol,
        amount: 2n * USD,
        seq: 0n,
        parent: funding,
      });
      // What anyone who saw Bob's order and the boards can send in his name, and what it gets.
      const resends = async (
        order: SignedOrder,
        variants: [Submission, RejectCode | undefined][],
      ) => {
        const got = new Map<number, Answer>();
        for (const i of net.running) {
          for (const [submission, code] of variants) {
            const answer = await net.submit(i, submission);
            assert.equal(answer.txHash, txHashOf(order), "the wrapper never changes tx_hash");
            if (code) {
              assertRejected(answer, code, [
                code === "NONCE_SEQ_TOO_HIGH" ? "seq 0" : order.order.parent,
              ]);
            } else got.set(i, answer);
          }
        }
        return got;
      };
      const theirs = await resends(spend, [
        [request(spend), "MISSING_PARENT_QC"],
        [request(spend, { parent: short(funding) }), "INVALID_PARENT_QC"],
        [
          request(spend, {
            parent: funding,
            laneQcs: [short(funding), otherLane],
            clientRequestId: "mallory",
          }),
          undefined,
        ],
      ]);
      const own = certified(await net.certify(spend, { parent: funding, clientRequestId: "bob" }));
      qcs.push(own);
      // Where the third party's resend was certified, Bob got that very certificate again.
      for (const c of own.qc.certificates) {
        const i = net.committee.indexOf(c.signer);
        assert.equal(bytesToHex(c.signature), bytesToHex(theirs.get(i)!.certificate!.signature));
      }
      const next = await net.order(bob2, {
        recipient: carol,
        amount: USD / 2n,
        seq: 1n,
        memo: randomMemo(),
      });
      await resends(next, [
        [request(next), "NONCE_SEQ_TOO_HIGH"],
        [request(next, { laneQcs: [short(own)] }), "NONCE_SEQ_TOO_HIGH"],
        [request(next, { laneQcs: [otherLane], clientRequestId: "mallory" }), "NONCE_SEQ_TOO_HIGH"],
      ]);
      qcs.push(certified(await net.certify(next, { laneQcs: [own] })));
    },
  );

  await t.step(
    "every QC the test formed settles, and the vault holds what its accounts own",
    async () => {
      await net.settle(qcs);
      await net.assertSettled(qcs);
      await net.assertConservation();
    },
  );
});

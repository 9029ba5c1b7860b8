/**
 * The authority's rules, table-tested with no KV and no chain: every reject code (and that a
 * reject changes nothing), replays, the confirmation rule, accounting with parents and exits,
 * locks from foreign certificates and QCs, vault events, staleness and the store-loss gate.
 */
import assert from "node:assert/strict";
import { bytesToHex, zeroAddress } from "viem";
import { orderTxHash, type PaymentOrder } from "@allegro/client";
import { Authority, type Decision } from "./authority.ts";
import {
  ALICE,
  applyBlock,
  BOB,
  CAROL,
  certified,
  deposited,
  M,
  order,
  S,
  settled,
  signed,
  submission,
  submit,
  T0,
  testAuthority,
  testConfig,
  type TestEvent,
  TOKEN,
  VAULT,
  W,
  withEmptyStore,
} from "./authority_testing.ts";

/** An authority where Alice has `balance` in the vault. */
function funded(balance: bigint, i = 0): Authority {
  const a = testAuthority(i);
  applyBlock(a, 2n, [deposited(ALICE, balance)], T0);
  return a;
}

function code(d: Decision): string {
  return d.kind === "reject" ? d.code : d.kind;
}

function rejectLeavesNothing(d: Decision) {
  assert.equal(d.kind, "reject");
  if (d.kind === "reject") {
    assert.ok(d.writes.empty, `a ${d.code} reject wrote something`);
    assert.ok(d.message.length > 0);
  }
}

Deno.test("a valid order at the next seq is certified, debited, and put on the board", () => {
  const a = funded(10n);
  const o = order({ payer: ALICE, amount: 4n, fee: 1n });
  const d = submit(a, submission(o));
  assert.equal(d.kind, "certify");
  if (d.kind !== "certify") return;
  assert.deepEqual(d.certificate.txHash, orderTxHash(o));
  assert.equal(d.confirmation, false);
  assert.equal(d.writes.board.length, 1);
  assert.equal(d.writes.slots.size, 1);
  // 10 − (4 + 1) = 5 left: an order of 6 at the next seq (with the first one's QC) is refused.
  const next = order({ payer: ALICE, seq: 1n, amount: 6n });
  assert.equal(
    code(submit(a, submission(next, { laneQcs: [certified(o)] }))),
    "INSUFFICIENT_FUNDS",
  );
  const fits = order({ payer: ALICE, seq: 1n, amount: 5n });
  assert.equal(code(submit(a, submission(fits, { laneQcs: [certified(o)] }))), "certify");
});

Deno.test("a replay returns the very same certificate, even expired and even while stale", () => {
  const a = funded(10n);
  const o = order({ payer: ALICE });
  const first = submit(a, submission(o));
  assert.equal(first.kind, "certify");
  const again = submit(a, submission(o), T0 + 10n * S);
  assert.equal(again.kind, "replay");
  if (first.kind === "certify" && again.kind === "replay") {
    assert.equal(again.confirmation, false);
    assert.equal(again.certificate, first.certificate);
  }
  applyBlock(a, 3n, [], o.validBefore + 1000n);
  assert.equal(submit(a, submission(o), o.validBefore + 1000n + 100n).kind, "replay");
});

Deno.test("each reject code, in SPEC §6 order, with the state unchanged", () => {
  const cases: [string, (a: Authority) => Decision][] = [
    ["WRONG_CHAIN", (a) => submit(a, submission(order({ payer: ALICE, chainId: 1n })))],
    [
      "WRONG_CHAIN",
      (a) =>
        submit(
          a,
          submission(order({ payer: ALICE, vault: "0x0000000000000000000000000000000000000009" })),
        ),
    ],
    ["TEMPORARY_UNAVAILABLE", (a) => submit(a, submission(order({ payer: ALICE })), T0 + S + 1n)],
    [
      "NOT_PAYMENT_TX",
      (a) =>
        submit(
          a,
          submission(order({ payer: ALICE, token: "0x1111111111111111111111111111111111111111" })),
        ),
    ],
    [
      "NOT_PAYMENT_TX",
      (a) => submit(a, submission(order({ payer: ALICE, recipient: zeroAddress }))),
    ],
    ["NOT_PAYMENT_TX", (a) => submit(a, submission(order({ payer: ALICE, recipient: VAULT })))],
    ["NOT_PAYMENT_TX", (a) => submit(a, submission(order({ payer: ALICE, recipient: TOKEN })))],
    ["EXPIRED", (a) => submit(a, submission(order({ payer: ALICE, validBefore: T0 + M })))],
    ["EXPIRED", (a) => submit(a, submission(order({ payer: ALICE, validBefore: T0 + W + 1n })))],
    ["NONCE_SEQ_TOO_HIGH", (a) => submit(a, submission(order({ payer: ALICE, seq: 1n })))],
    [
      "MISSING_PARENT_QC",
      (a) => submit(a, submission(order({ payer: ALICE, parent: `0x${"ab".repeat(32)}` }))),
    ],
    [
      "INVALID_PARENT_QC",
      (a) =>
        submit(
          a,
          submission(order({ payer: ALICE, parent: `0x${"ab".repeat(32)}` }), {
            parent: { ok: false, message: "QC has 2 certificates, threshold is 3" },
          }),
        ),
    ],
    ["INSUFFICIENT_FUNDS", (a) => submit(a, submission(order({ payer: ALICE, amount: 11n })))],
    [
      "INSUFFICIENT_FUNDS",
      (a) => submit(a, submission(order({ payer: ALICE, amount: 10n, fee: 1n }))),
    ],
  ];
  for (const [expected, run] of cases) {
    const a = funded(10n);
    const d = run(a);
    assert.equal(code(d), expected, d.kind === "reject" ? d.message : d.kind);
    rejectLeavesNothing(d);
    // The same key still certifies a valid order afterwards: nothing was remembered.
    assert.equal(
      code(submit(a, submission(order({ payer: ALICE, memo: `0x${"77".repeat(32)}` })))),
      "certify",
    );
  }
});

Deno.test("EQUIVOCATION: another order at a key signed here, settled, or locked by a foreign certificate", () => {
  const a = funded(10n);
  assert.equal(code(submit(a, submission(order({ payer: ALICE, amount: 2n })))), "certify");
  const other = submit(a, submission(order({ payer: ALICE, amount: 3n })));
  assert.equal(code(other), "EQUIVOCATION");
  if (other.kind === "reject") assert.match(other.message, /locked to order 0x/);

  const b = funded(10n);
  const x = order({ payer: ALICE, amount: 2n });
  assert.equal(observe(b, x, 7), true);
  assert.equal(code(submit(b, submission(order({ payer: ALICE, amount: 3n })))), "EQUIVOCATION");
  assert.equal(
    code(submit(b, submission(x))),
    "certify",
    "the order the lock names is still signed",
  );
});

Deno.test("a payer who signs two orders for one key blocks only itself", () => {
  const a = funded(10n);
  const x = order({ payer: ALICE, amount: 2n });
  const y = order({ payer: ALICE, amount: 3n });
  assert.equal(observe(a, x, 7), true);
  assert.equal(observe(a, y, 8), true);
  assert.equal(code(submit(a, submission(x))), "EQUIVOCATION");
  assert.equal(code(submit(a, submission(y))), "EQUIVOCATION");
  // Bob's lane is not affected.
  applyBlock(a, 3n, [deposited(BOB, 5n)], T0);
  assert.equal(code(submit(a, submission(order({ payer: BOB, recipient: CAROL })))), "certify");
});

Deno.test("NONCE_SEQ_TOO_LOW and TOO_HIGH around the applied prefix; a QC on the wire applies a seq", () => {
  const a = funded(10n);
  const o0 = order({ payer: ALICE, amount: 2n });
  const o1 = order({ payer: ALICE, seq: 1n, amount: 2n });
  assert.equal(code(submit(a, submission(o0))), "certify");
  const high = submit(a, submission(o1));
  assert.equal(code(high), "NONCE_SEQ_TOO_HIGH");
  if (high.kind === "reject") assert.match(high.message, /needs seq 0 applied/);
  // With seq 0's QC attached, seq 1 is next; the QC's write survives even a reject.
  assert.equal(code(submit(a, submission(o1, { laneQcs: [certified(o0)] }))), "certify");
  // Rule 6 before rule 8: another order at the applied seq 0 is an equivocation there…
  const other0 = order({ payer: ALICE, amount: 3n, memo: `0x${"01".repeat(32)}` });
  assert.equal(code(submit(a, submission(other0))), "EQUIVOCATION");
  // …and once seq 0 settled and its slot went, it is below the prefix.
  applyBlock(a, 3n, [settled(o0)], T0 + 1000n);
  const low = submit(a, submission(other0), T0 + 1100n);
  assert.equal(code(low), "NONCE_SEQ_TOO_LOW");
  if (low.kind === "reject") assert.match(low.message, /below the applied prefix 1/);
});

Deno.test("a key settled above a gap skips it once every order below it has expired", () => {
  // A store rebuilt after a loss never saw seq 0 (its QC left the boards); seq 1 settled.
  const a = funded(10n);
  const settledAt = T0 + 1000n;
  applyBlock(a, 3n, [settled(order({ payer: ALICE, seq: 1n, amount: 2n }))], settledAt);
  const next = (time: bigint) =>
    order({ payer: ALICE, seq: 2n, amount: 2n, validBefore: time + W - 1n });
  const atWait = settledAt + W;
  applyBlock(a, 4n, [], atWait);
  const early = submit(a, submission(next(atWait)), atWait + 100n);
  assert.equal(code(early), "NONCE_SEQ_TOO_HIGH", "seq 0 may still settle until W passed");
  if (early.kind === "reject") assert.match(early.message, /needs seq 0 applied/);
  // A block that does not touch the lane: the submission itself finds the wait over.
  applyBlock(a, 5n, [], atWait + 1n);
  const late = submit(a, submission(next(atWait + 1n)), atWait + 100n);
  assert.equal(code(late), "certify");
  const view = a.laneView(ALICE, TOKEN);
  assert.equal(view.kind === "lane" && view.view.appliedPrefix, 2n, "the gap at seq 0 skipped");
});

Deno.test("the confirmation rule: QCs of lower seqs count against the balance at every sidecar", () => {
  // Overspend by rotation (SPEC §1): balance 10, four orders of 3, each to a different 3-subset.
  // Every certificate of seq k needs seq k−1's QC applied first, so each signer debits them all.
  const authorities = [0, 1, 2, 3].map((i) => funded(10n, i));
  const qcs: ReturnType<typeof certified>[] = [];
  let certifiedTotal = 0n;
  for (let seq = 0n; seq < 4n; seq++) {
    const o = order({ payer: ALICE, seq, amount: 3n });
    const subset = [0, 1, 2, 3].filter((i) => BigInt(i) !== seq);
    const signers = subset.filter((i) =>
      submit(authorities[i], submission(o, { laneQcs: qcs })).kind === "certify"
    );
    // The fourth validator is sent a decoy of 1 instead.
    submit(
      authorities[Number(seq)],
      submission(order({ payer: ALICE, seq, amount: 1n }), { laneQcs: qcs }),
    );
    if (signers.length >= 3) {
      qcs.push(certified(o));
      certifiedTotal += o.amount;
    }
  }
  assert.ok(certifiedTotal <= 10n, `QCs over ${certifiedTotal} against a balance of 10`);
  assert.equal(certifiedTotal, 9n, "three orders of 3 fit");
});

Deno.test("two QCs at one key (possible after store loss) both count", () => {
  const a = funded(10n);
  const x = order({ payer: ALICE, amount: 4n });
  const y = order({ payer: ALICE, amount: 5n });
  const next = order({ payer: ALICE, seq: 1n, amount: 2n });
  assert.equal(
    code(submit(a, submission(next, { laneQcs: [certified(x), certified(y)] }))),
    "INSUFFICIENT_FUNDS",
  );
  const fits = order({ payer: ALICE, seq: 1n, amount: 1n });
  assert.equal(
    code(submit(a, submission(fits, { laneQcs: [certified(x), certified(y)] }))),
    "certify",
  );
});

Deno.test("an expired order at an empty key is certified to confirm its seq, debiting nothing", () => {
  const a = funded(10n);
  const stale = order({ payer: ALICE, amount: 9n, validBefore: T0 + 20_000n });
  applyBlock(a, 3n, [], T0 + 20_000n);
  const d = submit(a, submission(stale), T0 + 20_100n);
  assert.equal(d.kind, "certify");
  if (d.kind === "certify") assert.equal(d.confirmation, true);
  // Its replay is the same confirmation, never a payment certificate.
  const again = submit(a, submission(stale), T0 + 20_100n);
  assert.equal(again.kind, "replay");
  if (again.kind === "replay") assert.equal(again.confirmation, true);
  // A confirmation certificate locks the key…
  assert.equal(
    code(
      submit(
        a,
        submission(order({ payer: ALICE, amount: 1n, validBefore: T0 + 20_000n })),
        T0 + 20_100n,
      ),
    ),
    "EQUIVOCATION",
  );
  // …and its QC applies the seq without a debit: 10 stay available at seq 1.
  const next = order({ payer: ALICE, seq: 1n, amount: 10n, validBefore: T0 + 40_000n });
  assert.equal(
    code(submit(a, submission(next, { laneQcs: [certified(stale)] }), T0 + 20_100n)),
    "certify",
  );
});

Deno.test("a child valid longer than its parent is EXPIRED", () => {
  const a = funded(0n);
  const parent = order({ payer: CAROL, recipient: ALICE, amount: 5n, validBefore: T0 + 20_000n });
  const child = order({
    payer: ALICE,
    amount: 5n,
    parent: bytesToHex(orderTxHash(parent)),
    validBefore: T0 + 25_000n,
  });
  const d = submit(a, submission(child, { parent: { ok: true, certified: certified(parent) } }));
  assert.equal(code(d), "EXPIRED");
  rejectLeavesNothing(d);
});

Deno.test("a parent's credit funds only its own child; a second order of the payer uses its own balance", () => {
  const a = funded(1n); // Alice has 1 of her own.
  const parent = order({ payer: CAROL, recipient: ALICE, amount: 10n, validBefore: T0 + 40_000n });
  const parentHash = bytesToHex(orderTxHash(parent));
  const child = order({ payer: ALICE, amount: 10n, parent: parentHash });
  const withParent = { parent: { ok: true as const, certified: certified(parent) } };
  assert.equal(code(submit(a, submission(child, withParent))), "certify");
  // Another child citing the same parent (the next seq) finds it consumed.
  const second = order({
    payer: ALICE,
    seq: 1n,
    amount: 10n,
    parent: parentHash,
    memo: `0x${"02".repeat(32)}`,
  });
  const d = submit(a, submission(second, { ...withParent, laneQcs: [certified(child)] }));
  assert.equal(code(d), "INVALID_PARENT_QC");
  if (d.kind === "reject") assert.match(d.message, /already funds/);
  // A plain order is judged on Alice's own 1.
  const plain2 = order({ payer: ALICE, seq: 1n, amount: 2n });
  assert.equal(
    code(submit(a, submission(plain2, { laneQcs: [certified(child)] }))),
    "INSUFFICIENT_FUNDS",
  );
  const plain1 = order({ payer: ALICE, seq: 1n, amount: 1n });
  assert.equal(code(submit(a, submission(plain1, { laneQcs: [certified(child)] }))), "certify");
});

Deno.test("once the parent settles, its credit is in the balance and the child debits in full", () => {
  const a = funded(0n);
  applyBlock(a, 3n, [deposited(CAROL, 10n)], T0);
  const parent = order({ payer: CAROL, recipient: ALICE, amount: 10n, validBefore: T0 + 40_000n });
  const child = order({ payer: ALICE, amount: 10n, parent: bytesToHex(orderTxHash(parent)) });
  assert.equal(
    code(submit(a, submission(child, { parent: { ok: true, certified: certified(parent) } }))),
    "certify",
  );
  applyBlock(a, 4n, [settled(parent)], T0 + 1000n);
  // Alice's vault balance is 10 now, all of it owed to the child: nothing left for seq 1.
  const next = order({ payer: ALICE, seq: 1n, amount: 1n });
  assert.equal(
    code(submit(a, submission(next, { laneQcs: [certified(child)] }), T0 + 1200n)),
    "INSUFFICIENT_FUNDS",
  );
});

Deno.test("an expired parent, or one whose child expired, changes what a child may claim", () => {
  const a = funded(0n);
  const parent = order({ payer: CAROL, recipient: ALICE, amount: 10n, validBefore: T0 + 20_000n });
  const parentHash = bytesToHex(orderTxHash(parent));
  const withParent = { parent: { ok: true as const, certified: certified(parent) } };
  const child = order({ payer: ALICE, amount: 10n, parent: parentHash, validBefore: T0 + 10_000n });
  assert.equal(code(submit(a, submission(child, withParent))), "certify");
  // The child expires unsettled: its confirmation QC applies seq 0 and releases the parent.
  applyBlock(a, 3n, [], T0 + 11_000n);
  const again = order({
    payer: ALICE,
    seq: 1n,
    amount: 10n,
    parent: parentHash,
    validBefore: T0 + 19_000n,
  });
  assert.equal(
    code(
      submit(a, submission(again, { ...withParent, laneQcs: [certified(child)] }), T0 + 11_100n),
    ),
    "certify",
  );
  // Past the parent's own validBefore it funds nothing.
  const b = funded(0n);
  applyBlock(b, 3n, [], T0 + 20_000n);
  const late = order({ payer: ALICE, amount: 1n, parent: parentHash, validBefore: T0 + 40_000n });
  assert.equal(code(submit(b, submission(late, withParent), T0 + 20_100n)), "EXPIRED");
});

Deno.test("vault events: deposits, settlements, fees, exit fallback, forced exits", () => {
  const a = funded(10n);
  const o = order({ payer: ALICE, amount: 4n, fee: 1n });
  assert.equal(code(submit(a, submission(o))), "certify");
  applyBlock(a, 3n, [settled(o, CAROL)], T0 + 1000n);
  const settledAgain = submit(a, submission(o), T0 + 1100n);
  assert.equal(code(settledAgain), "NONCE_SEQ_TOO_LOW", "a settled key's certificates are dropped");
  // Alice has 5; Bob got 4; Carol the fee of 1.
  const all = order({ payer: ALICE, seq: 1n, amount: 5n });
  assert.equal(code(submit(a, submission(all), T0 + 1100n)), "certify");
  const bobs = order({ payer: BOB, recipient: CAROL, amount: 4n });
  assert.equal(code(submit(a, submission(bobs), T0 + 1100n)), "certify");
  const carols = order({ payer: CAROL, recipient: BOB, amount: 1n });
  assert.equal(code(submit(a, submission(carols), T0 + 1100n)), "certify");

  // A pending forced exit counts as a debit until it is cancelled or paid.
  const b = funded(10n);
  applyBlock(b, 3n, [{
    kind: "ExitRequested",
    account: ALICE,
    token: TOKEN,
    amount: 8n,
    readyAt: 0n,
  }]);
  assert.equal(
    code(submit(b, submission(order({ payer: ALICE, amount: 3n })), T0 + 2200n)),
    "INSUFFICIENT_FUNDS",
  );
  applyBlock(b, 4n, [{ kind: "ExitCancelled", account: ALICE, token: TOKEN }]);
  assert.equal(
    code(submit(b, submission(order({ payer: ALICE, amount: 3n })), T0 + 3200n)),
    "certify",
  );
  const c = funded(10n);
  applyBlock(c, 3n, [
    { kind: "ExitRequested", account: ALICE, token: TOKEN, amount: 8n, readyAt: 0n },
    { kind: "Exited", account: ALICE, token: TOKEN, amount: 8n },
  ]);
  assert.equal(
    code(submit(c, submission(order({ payer: ALICE, amount: 3n })), T0 + 2200n)),
    "INSUFFICIENT_FUNDS",
  );
  assert.equal(
    code(submit(c, submission(order({ payer: ALICE, amount: 2n })), T0 + 2200n)),
    "certify",
  );
  // An exit order whose transfer failed credits the recipient's vault balance instead.
  const d = testAuthority();
  applyBlock(d, 2n, [{
    kind: "ExitFallback",
    txHash: `0x${"ee".repeat(32)}`,
    recipient: BOB,
    token: TOKEN,
    amount: 6n,
  }]);
  assert.equal(
    code(submit(d, submission(order({ payer: BOB, recipient: CAROL, amount: 6n })))),
    "certify",
  );
});

Deno.test("a block is applied to a lane at most once", () => {
  const a = testAuthority();
  applyBlock(a, 2n, [deposited(ALICE, 10n)], T0);
  applyBlock(a, 2n, [deposited(ALICE, 10n)], T0);
  assert.equal(
    code(submit(a, submission(order({ payer: ALICE, amount: 11n })))),
    "INSUFFICIENT_FUNDS",
  );
  assert.equal(code(submit(a, submission(order({ payer: ALICE, amount: 10n })))), "certify");
});

Deno.test("a settled key: the settled order ends the lock, another order there is refused", () => {
  const a = funded(10n);
  const x = order({ payer: ALICE, seq: 1n, amount: 2n }); // settled above a gap at seq 0
  applyBlock(a, 3n, [settled(x)], T0 + 1000n);
  const d = submit(a, submission(order({ payer: ALICE, seq: 1n, amount: 3n })), T0 + 1100n);
  assert.equal(code(d), "EQUIVOCATION");
  // Seq 0 is still the first unapplied one.
  assert.equal(
    code(submit(a, submission(order({ payer: ALICE, amount: 3n })), T0 + 1100n)),
    "certify",
  );
});

Deno.test("stale, disconnected or not yet ready: TEMPORARY_UNAVAILABLE, and replays still answer", () => {
  const a = funded(10n);
  const o = order({ payer: ALICE });
  assert.equal(code(submit(a, submission(o))), "certify");
  a.connected = false;
  assert.equal(code(submit(a, submission(order({ payer: BOB })))), "TEMPORARY_UNAVAILABLE");
  assert.equal(code(submit(a, submission(o))), "replay");
  // What /healthz reports: the view's problem, a down connection included.
  assert.match(a.viewProblem(T0) ?? "", /connection is down/);
  a.connected = true;
  assert.equal(a.viewProblem(T0), undefined);
  const stale = submit(a, submission(order({ payer: BOB })), T0 + S + 1n);
  assert.equal(code(stale), "TEMPORARY_UNAVAILABLE");
  if (stale.kind === "reject") assert.match(stale.message, /stale/);
  assert.match(a.viewProblem(T0 + S + 1n) ?? "", /stale/);

  const none = new Authority(testConfig(), { gate: { kind: "open" } });
  const notReady = submit(none, submission(order({ payer: ALICE })));
  assert.equal(code(notReady), "TEMPORARY_UNAVAILABLE");
  if (notReady.kind === "reject") assert.match(notReady.message, /not ready/);
  assert.match(none.viewProblem(T0) ?? "", /not ready/);
});

Deno.test("a new epoch's grace period and a vault in another epoch: TEMPORARY_UNAVAILABLE", () => {
  const a = funded(10n);
  applyBlock(
    a,
    3n,
    [committeeSet(2n, T0 + 1000n + W + 1000n)],
    T0 + 1000n,
  );
  const other = submit(a, submission(order({ payer: ALICE })), T0 + 1100n);
  assert.equal(code(other), "TEMPORARY_UNAVAILABLE");
  if (other.kind === "reject") assert.match(other.message, /current epoch is 2/);

  const b = testAuthority();
  applyBlock(b, 2n, [deposited(ALICE, 10n), committeeSet(1n, T0 + 5000n)], T0);
  assert.equal(code(submit(b, submission(order({ payer: ALICE })))), "TEMPORARY_UNAVAILABLE");
  applyBlock(b, 3n, [], T0 + 5000n);
  assert.equal(code(submit(b, submission(order({ payer: ALICE })), T0 + 5100n)), "certify");
});

Deno.test("after store loss nothing is signed until 2f+1 boards are read and W + S passed", () => {
  const restart = T0;
  const a = testAuthority(0, {}, {
    kind: "recovering",
    reason: "no marker",
    restartClock: restart,
  });
  applyBlock(a, 2n, [deposited(ALICE, 10n)], T0);
  const o = order({ payer: ALICE, validBefore: T0 + W + S + 30_000n });
  assert.equal(code(submit(a, submission(o))), "TEMPORARY_UNAVAILABLE");
  a.boardPulled("peer-1");
  a.boardPulled("peer-2");
  applyBlock(a, 3n, [], T0 + W + S - 1n);
  assert.equal(code(submit(a, submission(o), T0 + W + S)), "TEMPORARY_UNAVAILABLE");
  const ends = applyBlock(a, 4n, [], T0 + W + S);
  assert.equal(ends.writes.marker, true, "the marker is written when recovery ends");
  assert.equal(code(submit(a, submission(o), T0 + W + S + 100n)), "certify");

  // A restart check that finds nothing missing opens once enough boards are read, no wait; it
  // needs fewer than a recovery (the rest of a quorum, so f validators down do not stall it).
  const b = testAuthority(0, { boardsToCheck: 1, boardsToRecover: 3 }, { kind: "checking" });
  applyBlock(b, 2n, [deposited(ALICE, 10n)], T0);
  assert.equal(code(submit(b, submission(order({ payer: ALICE })))), "TEMPORARY_UNAVAILABLE");
  b.boardPulled("peer-1");
  assert.equal(code(submit(b, submission(order({ payer: ALICE })))), "certify");
});

Deno.test("a recovery's wait starts at a block fresh by the local clock, never one ahead of it", () => {
  const a = testAuthority(0, {}, { kind: "recovering", reason: "no marker", restartClock: T0 });
  a.boardPulled("peer-1");
  a.boardPulled("peer-2");
  // A local clock lagging the chain by more than S: this block is not fresh, not a start.
  applyBlock(a, 2n, [deposited(ALICE, 10n)], T0, T0 - S - 1n);
  const o = (time: bigint) => order({ payer: ALICE, validBefore: time + W - 1n });
  const fresh = T0 + 5000n;
  applyBlock(a, 3n, [], fresh);
  applyBlock(a, 4n, [], fresh + W + S - 1n);
  assert.equal(
    code(submit(a, submission(o(fresh + W + S)), fresh + W + S)),
    "TEMPORARY_UNAVAILABLE",
  );
  applyBlock(a, 5n, [], fresh + W + S);
  assert.equal(code(submit(a, submission(o(fresh + W + S)), fresh + W + S + 100n)), "certify");
});

Deno.test("gossip keeps foreign certificates as locks only within the window past the prefix", () => {
  const a = funded(10n);
  const near = order({ payer: ALICE, seq: 3n });
  const far = order({ payer: ALICE, seq: 16n });
  const late = order({ payer: ALICE, validBefore: T0 + W + 1n });
  const kept = (o: PaymentOrder, signer = 7) => observe(a, o, signer);
  assert.equal(kept(near), true);
  assert.equal(kept(near), false, "the same certificate twice is not new");
  assert.equal(kept(near, 8), true, "another signer of the same order is");
  assert.equal(kept(far), false);
  assert.equal(kept(late), false);
  assert.equal(kept(order({ payer: ALICE, recipient: zeroAddress })), false);
  assert.equal(
    kept(order({ payer: ALICE }), 0),
    false,
    "this sidecar's own certificate is not gossip",
  );
});

/** A certificate of `o` by fake validator `i` (the authority does not check signatures). */
function fakeCert(o: PaymentOrder, i: number) {
  const s = signed(o);
  return {
    signer: new Uint8Array(32).fill(i + 1),
    txHash: orderTxHash(o),
    effectsHash: s.effectsHash,
    signature: new Uint8Array(64),
    attestation: new Uint8Array(65),
    createdUnixMillis: T0,
    epoch: 1n,
  };
}

/** A `CommitteeSet` event of `epoch` whose grace ends at `graceEnd`. */
function committeeSet(epoch: bigint, graceEnd: bigint): TestEvent {
  return { kind: "CommitteeSet", epoch, members: [], threshold: 1, graceEnd };
}

/** Shows the authority validator `i`'s certificate of `o`; whether it was kept. */
function observe(a: Authority, o: PaymentOrder, i: number): boolean {
  const s = signed(o);
  return withEmptyStore(
    a,
    () => a.observe({ signed: s, txHash: s.txHash, certificate: fakeCert(o, i) }),
  )
    .kept;
}

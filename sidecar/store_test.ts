/**
 * The store on an in-memory Deno KV: what the authority writes reads back the same; board pages
 * and their filters; a failed commit fails everything queued after it and has the authority
 * reset first; expired board entries are swept.
 */
import assert from "node:assert/strict";
import { bytesToHex } from "viem";
import { Writes } from "./authority.ts";
import {
  ALICE,
  applyBlock,
  BOB,
  deposited,
  order,
  submission,
  submit,
  T0,
  testAuthority,
  TOKEN,
} from "./authority_testing.ts";
import { Store } from "./store.ts";

Deno.test("lanes, slots, parents and board entries read back as the authority wrote them", async () => {
  const store = await Store.open(":memory:");
  try {
    const a = testAuthority();
    const block = applyBlock(a, 2n, [deposited(ALICE, 10n)], T0);
    await store.commit(block.writes);
    const d = submit(a, submission(order({ payer: ALICE, amount: 4n })));
    assert.equal(d.kind, "certify");
    await store.commit(d.writes);

    const lane = await store.read({ kind: "lane", payer: ALICE, token: TOKEN });
    assert.ok(lane && "header" in lane);
    assert.equal(lane.header.balance, 10n);
    assert.equal(lane.slots.get(0n)?.orders[0].own?.txHash.length, 32);
    assert.equal(await store.read({ kind: "lane", payer: BOB, token: TOKEN }), undefined);
    const start = await store.start();
    assert.equal(start.chain?.height, 2n);

    const page = await store.board({ afterSequence: 0n, limit: 10 });
    assert.equal(page.length, 1);
    assert.equal(page[0].sequence, 1n);
    const txHash = bytesToHex(page[0].certificate!.txHash);
    assert.equal((await store.board({ afterSequence: 0n, limit: 10, txHash })).length, 1);
    assert.equal(
      (await store.board({ afterSequence: 0n, limit: 10, address: BOB })).length,
      1,
      "by recipient",
    );
    assert.equal(
      (await store.board({ afterSequence: 1n, limit: 10 })).length,
      0,
      "after the cursor",
    );
  } finally {
    store.close();
  }
});

Deno.test("lanes and parents with writes queued or in flight are pending until durable", async () => {
  const store = await Store.open(":memory:");
  try {
    const w = new Writes();
    const parent = bytesToHex(new Uint8Array(32).fill(7));
    const child = { txHash: bytesToHex(new Uint8Array(32).fill(8)), seq: 0n, validBefore: T0 };
    w.parents.set(parent, { validBefore: T0, consumedBy: child });
    const lane = { kind: "lane", payer: ALICE, token: TOKEN } as const;
    const a = testAuthority();
    const block = applyBlock(a, 2n, [deposited(ALICE, 10n)], T0);
    const pending = (txHash = parent) => store.pending({ kind: "parent", txHash });
    const blockCommitted = store.commit(block.writes);
    const committed = store.commit(w);
    // Evicting either now and reading it back would give what these writes replace (a parent
    // without its consumedBy: its credit spendable twice).
    assert.equal(store.pending(lane), true);
    assert.equal(pending(), true);
    assert.equal(pending(parent.toUpperCase().replace("0X", "0x") as typeof parent), true);
    assert.equal(pending(bytesToHex(new Uint8Array(32).fill(9))), false);
    await Promise.all([blockCommitted, committed]);
    assert.equal(store.pending(lane), false);
    assert.equal(pending(), false);
    assert.deepEqual(await store.read({ kind: "parent", txHash: parent }), w.parents.get(parent));
  } finally {
    store.close();
  }
});

Deno.test("a failed commit resets the authority first and fails what was queued after it", async () => {
  const store = await Store.open(":memory:");
  let resets = 0;
  store.onFailure = () => resets++;
  try {
    const broken = new Writes();
    // A value Deno KV cannot store makes the commit fail.
    broken.chain = { height: 1n, hash: "0x00", time: 0n, headerMillis: 0n, bad: () => {} } as never;
    const first = store.commit(broken);
    const second = store.commit(new Writes());
    await assert.rejects(first, /KV commit failed/);
    await assert.rejects(second, /KV commit failed/);
    assert.equal(resets, 1);
    await store.commit(new Writes()); // later commits go through again
  } finally {
    store.close();
  }
});

Deno.test("the board sweep removes entries of orders expired longer than the retention", async () => {
  const store = await Store.open(":memory:");
  try {
    const a = testAuthority();
    await store.commit(applyBlock(a, 2n, [deposited(ALICE, 10n), deposited(BOB, 10n)], T0).writes);
    const short = submit(a, submission(order({ payer: ALICE, validBefore: T0 + 10_000n })));
    const long = submit(
      a,
      submission(order({ payer: BOB, recipient: ALICE, validBefore: T0 + 50_000n })),
    );
    await store.commit(short.writes);
    await store.commit(long.writes);
    assert.equal(await store.sweepBoard(T0 + 20_000n, 5000n), 1);
    const left = await store.board({ afterSequence: 0n, limit: 10 });
    assert.deepEqual(left.map((e) => e.signed.order.payer), [BOB]);
    assert.equal((await store.board({ afterSequence: 0n, limit: 10, address: ALICE })).length, 1);
  } finally {
    store.close();
  }
});

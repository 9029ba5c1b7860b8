/**
 * Attacks on the authority found in review, each now a regression test asserting the property
 * the protocol needs. They drive the authority the way its documentation says a driver does:
 * load what it asks for, commit what it returns, and reset it from the store when a commit fails.
 */
import assert from "node:assert/strict";
import type { Hex } from "viem";
import { type Certificate, orderTxHash, type PaymentOrder, type VaultEvent } from "@allegro/client";
import type {
  Authority,
  Block,
  ChainView,
  Decision,
  Key,
  ParentInfo,
  VaultEpoch,
  Writes,
} from "./authority.ts";
import { type Lane, laneId, type Slot } from "./lane.ts";
import {
  ALICE,
  applyBlock,
  certified,
  deposited,
  order,
  settled,
  signed,
  submission,
  submit,
  T0,
  testAuthority,
  type TestEvent,
  TOKEN,
  withEmptyStore,
} from "./authority_testing.ts";

// ---- a store and a driver exactly as the authority's documentation describes them ----------

/** A KV store holding what committed writes put there (deep copies, like a real store). */
class MemStore {
  readonly lanes = new Map<string, Lane>();
  readonly parents = new Map<Hex, ParentInfo>();
  // Where testAuthority() starts: epoch 1 current since deployment.
  chain?: ChainView = { height: 1n, hash: `0x${"01".repeat(32)}`, time: T0, headerMillis: T0 };
  vault?: VaultEpoch = { epoch: 1n, graceEnd: 0n };

  read(key: Key): Lane | ParentInfo | undefined {
    const v = key.kind === "lane"
      ? this.lanes.get(laneId(key.payer, key.token))
      : this.parents.get(key.txHash);
    return v === undefined ? undefined : structuredClone(v);
  }

  commit(w: Writes): void {
    for (const [id, lane] of w.lanes) {
      const cur = this.lanes.get(id);
      this.lanes.set(id, {
        payer: lane.payer,
        token: lane.token,
        header: structuredClone(lane.header),
        slots: cur?.slots ?? new Map(),
      });
    }
    for (const { lane, seq, slot } of w.slots.values()) {
      const id = laneId(lane.payer, lane.token);
      let cur = this.lanes.get(id);
      if (cur === undefined) {
        cur = {
          payer: lane.payer,
          token: lane.token,
          header: structuredClone(lane.header),
          slots: new Map(),
        };
        this.lanes.set(id, cur);
      }
      if (slot === undefined) cur.slots.delete(seq);
      else cur.slots.set(seq, structuredClone(slot) as Slot);
    }
    for (const [h, info] of w.parents) this.parents.set(h, structuredClone(info));
    if (w.chain) this.chain = structuredClone(w.chain);
    if (w.vault) this.vault = structuredClone(w.vault);
  }
}

/**
 * Runs one authority step: loads what it needs from the store, then commits its writes — or,
 * with `failCommit`, resets the authority from the store (what a driver does when a commit
 * fails).
 */
function drive<T extends { kind: string }>(
  a: Authority,
  store: MemStore,
  step: () => T,
  failCommit = false,
): Exclude<T, { kind: "need" }> {
  for (let i = 0; i < 10; i++) {
    const r = step();
    if (r.kind === "need") {
      for (const key of (r as unknown as { keys: Key[] }).keys) a.load(key, store.read(key));
      continue;
    }
    const writes = (r as unknown as { writes?: Writes }).writes;
    if (failCommit) a.reset({ chain: store.chain, vault: store.vault });
    else if (writes) store.commit(writes);
    return r as Exclude<T, { kind: "need" }>;
  }
  throw new Error("kept asking for keys");
}

function block(height: bigint, events: TestEvent[], time: bigint): Block {
  return {
    height,
    hash: `0x${height.toString(16).padStart(64, "0")}`,
    time,
    headerMillis: time,
    events: events.map((e) =>
      ({
        blockNumber: height,
        logIndex: 0,
        transactionHash: `0x${"00".repeat(32)}`,
        ...e,
      }) as VaultEvent
    ),
  };
}

function code(d: Decision): string {
  return d.kind === "reject" ? d.code : d.kind;
}

const memo = (i: number): Hex => `0x${i.toString(16).padStart(64, "0")}`;

// ---- a failed commit: memory may be ahead of the store ---------------------------------------

Deno.test("after a failed commit, a retry never hands out a certificate no store holds", () => {
  const store = new MemStore();
  const a = testAuthority(0);
  drive(a, store, () => a.apply(block(2n, [deposited(ALICE, 10n)], T0), T0 + 200n));
  // Alice's lane is now cached in memory (it was loaded by the block).

  const x = order({ payer: ALICE, amount: 10n });
  const y = order({ payer: ALICE, amount: 10n, recipient: ALICE, memo: memo(1) });
  const released = new Set<Hex>();

  // The certificate's commit fails: the driver resets the authority and sends nothing.
  const first = drive(a, store, () => a.handle(submission(x), T0 + 300n), true);
  assert.equal(first.kind, "certify");

  // The client retries: the lane is read back from the store and the order certified anew.
  const retry = drive(a, store, () => a.handle(submission(x), T0 + 400n));
  if (retry.kind === "replay" || retry.kind === "certify") released.add(signed(x).txHash);

  // The driver trims its cache (or the process restarts): the lane is read back from the store,
  // which never received the certificate.
  a.trim(0, () => false);
  const second = drive(a, store, () => a.handle(submission(y), T0 + 500n));
  if (second.kind === "certify" || second.kind === "replay") released.add(signed(y).txHash);

  assert.ok(
    released.size <= 1,
    `validator 0 released certificates for ${released.size} different orders at (Alice, seq 0)`,
  );
});

Deno.test("a block retried after a failed commit still records its settlement", () => {
  const store = new MemStore();
  const a = testAuthority(0);
  drive(a, store, () => a.apply(block(2n, [deposited(ALICE, 10n)], T0), T0 + 200n));
  const x = order({ payer: ALICE, amount: 10n }); // validBefore T0 + 30 s
  assert.equal(code(drive(a, store, () => a.handle(submission(x), T0 + 300n))), "certify");

  // x settles in block 3; the commit fails; the driver resets and feeds the block again.
  const b3 = block(3n, [settled(x)], T0 + 1000n);
  drive(a, store, () => a.apply(b3, T0 + 1200n), true);
  const retried = drive(a, store, () => a.apply(b3, T0 + 1300n));
  const persisted = retried.writes.lanes.has(laneId(ALICE, TOKEN)) ||
    [...retried.writes.slots.values()].some((s) => s.lane.payer === ALICE);

  // Later x expires; the lane is reloaded from the store.
  drive(a, store, () => a.apply(block(4n, [], T0 + 31_000n), T0 + 31_200n));
  a.trim(0, () => false);
  const spend = order({ payer: ALICE, seq: 1n, amount: 10n, validBefore: T0 + 60_000n });
  const d = drive(
    a,
    store,
    () => a.handle(submission(spend, { laneQcs: [certified(x)] }), T0 + 31_300n),
  );
  assert.ok(
    persisted && code(d) === "INSUFFICIENT_FUNDS",
    `retried block persisted Alice's settlement: ${persisted}; a spend of 10 with a vault balance of 0: ${
      code(d)
    }`,
  );
});

// ---- storage a stranger or a faulty validator can fill ------------------------------------

/** Validator `i`'s certificate of `o` (the authority does not check signatures). */
function foreignCert(o: PaymentOrder, i: number): Certificate {
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

Deno.test("another validator's certificates of expired orders are not kept as locks", () => {
  const a = testAuthority(0);
  applyBlock(a, 2n, [], T0 + 10_000n);
  let kept = 0;
  let persisted = 0;
  const N = 300;
  for (let i = 0; i < N; i++) {
    // Throwaway payers (free keys, no deposit) and one equivocating payer, all with orders
    // that are already expired.
    const payer = i % 2 === 0
      ? ALICE
      : (`0x${(i + 0x1000).toString(16).padStart(40, "0")}` as `0x${string}`);
    const o = order({ payer, memo: memo(i), validBefore: T0 + 1n });
    const s = signed(o);
    const r = withEmptyStore(
      a,
      () => a.observe({ signed: s, txHash: s.txHash, certificate: foreignCert(o, 7) }),
    );
    if (r.kept) kept++;
    persisted += r.writes.slots.size + r.writes.board.length;
  }
  assert.ok(
    kept <= 32,
    `one signer got ${kept} of ${N} certificates kept (${persisted} persisted entries, ${a.cachedLanes} lanes)`,
  );
});

Deno.test("no confirmation certificates for lanes that never held funds here", () => {
  const a = testAuthority(0);
  applyBlock(a, 2n, [], T0 + 10_000n);
  let certs = 0;
  let boardEntries = 0;
  for (let i = 0; i < 100; i++) {
    const payer = `0x${(i + 0x2000).toString(16).padStart(40, "0")}` as `0x${string}`;
    const d = submit(
      a,
      submission(order({ payer, amount: 1_000_000n, validBefore: T0 + 1n })),
      T0 + 10_100n,
    );
    if (d.kind === "certify") {
      certs++;
      boardEntries += d.writes.board.length;
    }
  }
  assert.equal(
    certs,
    0,
    `${certs} confirmation certificates signed and ${boardEntries} board entries persisted for unfunded, never-seen lanes`,
  );
});

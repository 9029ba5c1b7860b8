/**
 * Conservation (SPEC §5 invariants), by a seeded random sequence of 500+ operations over four
 * accounts, two outsiders that only receive, and two tokens: deposits and depositFor (some of 0
 * or beyond the wallet), settles and batches with valid and flawed QCs (expired, rival orders for
 * settled keys, missing parents, short balances, repeats), exit orders, forced-exit requests,
 * cancels and exits (early or matured), and calls that must fail. Every call's outcome is
 * predicted by `VaultModel` and compared with the chain's (success, or the named error). After
 * every step: the vault holds of each token exactly the sum of its accounts' balances; every
 * balance, wallet and pending exit equals the model's (so nothing left except by a QC'd order or
 * a matured exit); no contention key settled twice.
 *
 * The seed is printed; `VAULT_FUZZ_SEED=<n>` replays it, `VAULT_FUZZ_STEPS=<n>` changes the length.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { uniformBigInt } from "pure-rand/distribution/uniformBigInt";
import assert from "node:assert/strict";
import type { Address, LocalAccount, TransactionReceipt } from "viem";
import {
  cancelExitCall,
  decodeVaultEvents,
  depositCalls,
  depositForCalls,
  exitCall,
  NO_PARENT,
  orderTypedData,
  type PaymentOrder,
  readAccount,
  requestExitCall,
  setCommitteeCall,
  settleBatchCall,
  settleCall,
  type SettleItem,
  type TempoCall,
  vaultAbi,
} from "@allegro/client";
import {
  ALPHA_USD,
  attest,
  BETA_USD,
  certify,
  decodeRevert,
  deployTestVault,
  fundAccount,
  highS,
  latestTimestamp,
  revertOf,
  send,
  settleForCall,
  settlementKeys,
  startChain,
  step,
  testAccount,
  type TestVault,
  txHashOf,
  walletBalance,
  withPayerSignature,
} from "./testing.ts";
import { type Flaw, FLAWS, type ModelItem, type SettleOutcome, VaultModel } from "./vault_model.ts";

const TOKENS: readonly Address[] = [ALPHA_USD, BETA_USD];
const WALLET_START = 1_000_000n;

/** A seeded generator (pure-rand's xoroshiro128+), so a failing sequence replays by its seed. */
function prng(seed: number) {
  const rng = xoroshiro128plus(seed);
  const int = (lo: number, hi: number) => uniformInt(rng, lo, hi);
  return {
    /** In [0, 1). */
    next: () => uniformInt(rng, 0, 2 ** 32 - 1) / 2 ** 32,
    int,
    chance: (p: number) => uniformInt(rng, 0, 2 ** 32 - 1) / 2 ** 32 < p,
    pick: <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)],
    big: (lo: bigint, hi: bigint) => uniformBigInt(rng, lo, hi),
  };
}

type Rng = ReturnType<typeof prng>;

interface World {
  readonly vault: TestVault;
  readonly model: VaultModel;
  readonly rng: Rng;
  readonly actors: readonly LocalAccount[];
  readonly outsiders: readonly Address[];
  /** Orders created so far (settled or not), per lane `payer|token`, by seq. */
  readonly lanes: Map<string, ModelItem[]>;
  readonly all: ModelItem[];
  readonly counts: Map<string, number>;
  /** Contention keys seen in a Settled event. */
  readonly settledKeys: Set<string>;
  now: bigint;
}

const count = (w: World, label: string) => w.counts.set(label, (w.counts.get(label) ?? 0) + 1);

Deno.test("vault conserves money over a seeded random sequence", async (t) => {
  const seed = Number(Deno.env.get("VAULT_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  const steps = Number(Deno.env.get("VAULT_FUZZ_STEPS") ?? 520);
  console.log(`conservation: seed ${seed} (replay with VAULT_FUZZ_SEED=${seed}), ${steps} steps`);
  await using chain = await startChain();
  const vault = await deployTestVault(chain, {
    n: 4,
    maxValidity: 2_000n,
    exitDelay: 5n,
    label: `fuzz ${seed}`,
  });
  const rng = prng(seed);
  const actors = [0, 1, 2, 3].map((i) => testAccount(`fuzz ${seed} actor ${i}`));
  const outsiders = [0, 1].map((i) => testAccount(`fuzz ${seed} outsider ${i}`).address);
  const model = new VaultModel(vault.exitDelay);
  const world: World = {
    vault,
    model,
    rng,
    actors,
    outsiders,
    lanes: new Map(),
    all: [],
    counts: new Map(),
    settledKeys: new Set(),
    now: 0n,
  };

  await step(t, "setup: four funded actors", async () => {
    await Promise.all(
      actors.map((a) =>
        fundAccount(chain, a.address, TOKENS.map((token) => ({ token, amount: WALLET_START })))
      ),
    );
    for (const token of TOKENS) {
      for (const a of actors) model.follow(a.address, token, WALLET_START);
      for (const o of outsiders) model.follow(o, token, 0n);
    }
    world.now = await latestTimestamp(chain) + 1n;
    await checkInvariants(world);
  });

  await step(t, `${steps} random operations, invariants after each`, async () => {
    for (let i = 0; i < steps; i++) {
      const what = await randomOperation(world);
      try {
        await checkInvariants(world);
      } catch (e) {
        throw new Error(`after step ${i} (${what}), seed ${seed}: ${(e as Error).message}`);
      }
    }
    const summary = [...world.counts].sort().map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(`conservation: ${summary}`);
    // The sequence exercised what it claims to (a generator that only fails tests nothing).
    for (
      const label of [
        "deposit ok",
        "deposit ZeroAmount",
        "deposit token",
        "settle settled",
        "settle noop",
        "settle KeySettledOtherwise",
        "settle OrderExpired",
        "settle ParentNotSettled",
        "settle InsufficientBalance",
        "settle AttestationsBelowThreshold",
        "batch",
        "exit paid",
        "exit ExitNotReady",
        "cancelExit ok",
      ]
    ) assert.ok((world.counts.get(label) ?? 0) > 0, `never: ${label} (${summary})`);
  }, 120_000);
});

/** One random operation, its outcome compared with the model's. Returns a description. */
async function randomOperation(w: World): Promise<string> {
  const { rng } = w;
  if (rng.chance(0.15)) w.now += BigInt(rng.int(1, 3));
  const actor = rng.pick(w.actors);
  const token = rng.pick(TOKENS);
  const roll = rng.next();
  if (roll < 0.14) {
    const to = rng.chance(0.3)
      ? rng.pick([...w.actors.map((a) => a.address), ...w.outsiders])
      : actor.address;
    const wallet = w.model.wallet(actor.address, token);
    const amount = rng.chance(0.1) ? 0n : rng.chance(0.1) ? wallet + 1n : rng.big(1n, 50_000n);
    const expected = w.model.deposit(actor.address, to, token, amount);
    const calls = to === actor.address
      ? depositCalls(w.vault.address, token, amount)
      : depositForCalls(w.vault.address, to, token, amount);
    await expectCall(w, actor, calls, expected.error, `deposit`);
    return `deposit ${amount} to ${to}`;
  }
  if (roll < 0.56) {
    const item = await randomItem(w, actor);
    const settler = rng.pick(w.actors);
    await settleOne(w, settler, item);
    return `settle ${item.model.txHash} (${item.model.flaw})`;
  }
  if (roll < 0.74) {
    const items = [];
    for (let n = rng.int(1, 5); n > 0; n--) items.push(await randomItem(w, rng.pick(w.actors)));
    await settleMany(w, rng.pick(w.actors), items);
    return `batch of ${items.length}`;
  }
  if (roll < 0.82) {
    const amount = rng.chance(0.1) ? 0n : rng.big(1n, 30_000n);
    const expected = w.model.requestExit(actor.address, token, amount, w.now);
    await expectCall(
      w,
      actor,
      [requestExitCall(w.vault.address, token, amount)],
      expected.error,
      "requestExit",
    );
    return `requestExit ${amount}`;
  }
  if (roll < 0.86) {
    const expected = w.model.cancelExit(actor.address, token);
    await expectCall(
      w,
      actor,
      [cancelExitCall(w.vault.address, token)],
      expected.error,
      "cancelExit",
    );
    return "cancelExit";
  }
  if (roll < 0.96) {
    if (rng.chance(0.35)) w.now += BigInt(rng.int(1, 5));
    // Mostly someone with a request, matured or not.
    const requesting = w.actors.filter((a) => w.model.exits.has(`${a.address}|${token}`));
    const exiter = requesting.length > 0 && rng.chance(0.7) ? rng.pick(requesting) : actor;
    const expected = w.model.exit(exiter.address, token, w.now);
    const receipt = await expectCall(
      w,
      exiter,
      [exitCall(w.vault.address, token)],
      expected.error,
      "exit",
    );
    if (expected.error === undefined) {
      const [event] = decodeVaultEvents(receipt.logs);
      assert.ok(event.kind === "Exited" && event.amount === expected.paid, "Exited amount");
      count(w, "exit paid");
    }
    return "exit";
  }
  // Calls only the vault itself or the admin may make.
  if (rng.chance(0.5)) {
    const members = settlementKeys(`fuzz intruder`, 4).map((k) => testAccount(k).address);
    await expectCall(
      w,
      actor,
      [setCommitteeCall(w.vault.address, 9n, members)],
      "NotAdmin",
      "intruder",
    );
    return "setCommittee by a non-admin";
  }
  const item = await randomItem(w, actor);
  await expectCall(
    w,
    actor,
    [settleForCall(w.vault, item.settle, actor.address)],
    "OnlySelf",
    "intruder",
  );
  return "settleFor from outside";
}

/** A settle item with its model twin: a fresh order, a rival, or one seen before. */
async function randomItem(
  w: World,
  payer: LocalAccount,
): Promise<{ model: ModelItem; settle: SettleItem }> {
  const { rng, model } = w;
  const token = rng.pick(TOKENS);
  const lane = w.lanes.get(`${payer.address}|${token}`) ?? [];
  w.lanes.set(`${payer.address}|${token}`, lane);
  const flaw: Flaw = rng.chance(0.8)
    ? "none"
    : rng.pick(Object.keys(FLAWS).filter((f) => f !== "none")) as Flaw;
  const old = lane.length > 0 && rng.chance(0.25) ? rng.pick(lane) : undefined;
  let order: PaymentOrder;
  if (old !== undefined && rng.chance(0.6)) {
    order = old.order; // the same order again, perhaps with another QC
  } else {
    const rivalSeq = old !== undefined ? old.order.seq : BigInt(lane.length);
    const balance = model.balance(payer.address, token);
    const amount = balance > 0n && rng.chance(0.8) ? rng.big(1n, balance) : rng.big(1n, 20_000n);
    const parents = w.all.filter((i) => i.order.token === token);
    const parent = parents.length > 0 && rng.chance(0.25) ? rng.pick(parents).txHash : NO_PARENT;
    order = {
      chainId: w.vault.chain.chainId,
      vault: w.vault.address,
      payer: payer.address,
      recipient: rng.pick([...w.actors.map((a) => a.address), ...w.outsiders]),
      token,
      amount,
      fee: rng.chance(0.5) ? 0n : rng.big(1n, 10n),
      seq: rivalSeq,
      validBefore: w.now * 1000n + BigInt(rng.int(-1_500, 6_000)),
      parent,
      exit: rng.chance(0.2),
      memo: `0x${rng.int(0, 255).toString(16).padStart(64, "0")}`,
    };
  }
  const item: ModelItem = { order, txHash: txHashOf(order), flaw };
  if (old === undefined || order !== old.order) {
    if (order.seq === BigInt(lane.length)) lane.push(item);
    w.all.push(item);
  }
  return { model: item, settle: await flawed(w, payer, order, flaw) };
}

/** A settle item for `order` whose QC or payer signature has `flaw`. */
async function flawed(
  w: World,
  payer: LocalAccount,
  order: PaymentOrder,
  flaw: Flaw,
): Promise<SettleItem> {
  // Any three of the four members.
  const left = w.rng.int(0, 3);
  const signers = [0, 1, 2, 3].filter((i) => i !== left);
  const item = await certify(w.vault, payer, order, { signers });
  switch (flaw) {
    case "none":
      return item;
    case "unknownEpoch":
      return { ...item, epoch: 2n };
    case "otherPayerSigner": {
      const other = w.actors.find((a) => a.address !== payer.address)!;
      return withPayerSignature(item, await other.signTypedData(orderTypedData(order)));
    }
    case "payerHighS":
      return withPayerSignature(item, highS(item.signed.signature));
    case "belowThreshold":
      return { ...item, attestations: item.attestations.slice(0, 2) };
    case "unsorted":
      return {
        ...item,
        attestations: [item.attestations[1], item.attestations[0], item.attestations[2]],
      };
    case "foreignMember": {
      const outsider = { ...w.vault, keys: new Map([[1n, settlementKeys("fuzz foreign", 4)]]) };
      const [forged] = await attest(outsider, order, {
        epoch: 1n,
        signers: [item.attestations[0].index],
      });
      return { ...item, attestations: [forged, ...item.attestations.slice(1)] };
    }
  }
}

async function settleOne(
  w: World,
  settler: LocalAccount,
  item: { model: ModelItem; settle: SettleItem },
) {
  const expected = w.model.settle(item.model, settler.address, w.now);
  count(w, `settle ${expected.kind === "failed" ? expected.error : expected.kind}`);
  const receipt = await send(w.vault.chain, settler, [settleCall(w.vault.address, item.settle)], {
    timestamp: w.now,
  });
  if (expected.kind === "failed") {
    assert.equal(receipt.status, "reverted", `settle should fail with ${expected.error}`);
    const why = await revertOf(w.vault.chain, receipt.transactionHash);
    assert.equal(why.name, expected.error, "settle's error");
    return;
  }
  assert.equal(receipt.status, "success", `settle should succeed: ${await reason(w, receipt)}`);
  assertSettledEvents(w, receipt, [{ item: item.model, outcome: expected }]);
}

async function settleMany(
  w: World,
  settler: LocalAccount,
  items: { model: ModelItem; settle: SettleItem }[],
) {
  count(w, "batch");
  const expected = items.map((i) => ({
    item: i.model,
    outcome: w.model.settle(i.model, settler.address, w.now),
  }));
  for (const e of expected) {
    count(w, `batch ${e.outcome.kind === "failed" ? e.outcome.error : e.outcome.kind}`);
  }
  const receipt = await send(w.vault.chain, settler, [
    settleBatchCall(w.vault.address, items.map((i) => i.settle)),
  ], {
    timestamp: w.now,
    gas: 6_000_000n,
  });
  assert.equal(receipt.status, "success", `batch should succeed: ${await reason(w, receipt)}`);
  assertSettledEvents(w, receipt, expected);
}

/** The events of a settle or batch: Settled per settled item, SettleSkipped per failed one. */
function assertSettledEvents(
  w: World,
  receipt: TransactionReceipt,
  expected: { item: ModelItem; outcome: SettleOutcome }[],
) {
  const actual = decodeVaultEvents(receipt.logs).map((e) => {
    if (e.kind === "Settled") {
      const k = `${e.payer}|${e.token}|${e.seq}`;
      assert.ok(!w.settledKeys.has(k), `contention key ${k} settled twice`);
      w.settledKeys.add(k);
      return `Settled ${e.txHash}`;
    }
    if (e.kind === "SettleSkipped") {
      return `Skipped ${e.index} ${e.txHash} ${decodeRevert(e.reason).name}`;
    }
    return e.kind;
  });
  const wanted = expected.flatMap(({ item, outcome }, index) =>
    outcome.kind === "settled"
      ? [`Settled ${item.txHash}`]
      : outcome.kind === "failed"
      ? [`Skipped ${index} ${item.txHash} ${outcome.error}`]
      : []
  );
  assert.deepEqual(actual, wanted);
}

/** Sends `calls` at the world's time; checks success, or the error (`"token"`: a TIP-20's). */
async function expectCall(
  w: World,
  from: LocalAccount,
  calls: readonly TempoCall[],
  error: string | undefined,
  label: string,
): Promise<TransactionReceipt> {
  count(w, `${label} ${error ?? "ok"}`);
  const receipt = await send(w.vault.chain, from, calls, { timestamp: w.now });
  if (error === undefined) {
    assert.equal(receipt.status, "success", `${label}: ${await reason(w, receipt)}`);
    return receipt;
  }
  assert.equal(receipt.status, "reverted", `${label} should fail with ${error}`);
  const why = await revertOf(w.vault.chain, receipt.transactionHash);
  if (error === "token") {
    assert.equal(why.source, "tip20", `${label}: a TIP-20 refusal, got ${why.name}`);
  } else assert.equal(why.name, error, `${label}'s error`);
  return receipt;
}

async function reason(w: World, receipt: TransactionReceipt): Promise<string> {
  if (receipt.status === "success") return "succeeded";
  const why = await revertOf(w.vault.chain, receipt.transactionHash);
  return `${why.name}(${why.args.join(", ")})`;
}

/** SPEC §5's invariants, and the model against the chain. */
async function checkInvariants(w: World): Promise<void> {
  const { vault, model } = w;
  const { client } = vault.chain;
  await Promise.all(TOKENS.map(async (token) => {
    const accounts = model.accounts(token);
    const [held, ...balances] = await Promise.all([
      walletBalance(vault.chain, token, vault.address),
      ...accounts.map((a) =>
        client.readContract({
          address: vault.address,
          abi: vaultAbi,
          functionName: "balanceOf",
          args: [a, token],
        })
      ),
    ]);
    const sum = balances.reduce((s, b) => s + b, 0n);
    assert.equal(held, sum, `the vault holds ${held} of ${token}, its accounts ${sum}`);
    assert.equal(sum, model.total(token), `accounts' sum in ${token}`);
    accounts.forEach((a, i) =>
      assert.equal(balances[i], model.balance(a, token), `balance of ${a} in ${token}`)
    );
    const followed = [...w.actors.map((a) => a.address), ...w.outsiders];
    const wallets = await Promise.all(followed.map((a) => walletBalance(vault.chain, token, a)));
    followed.forEach((a, i) =>
      assert.equal(wallets[i], model.wallet(a, token), `wallet of ${a} in ${token}`)
    );
    const exits = await Promise.all(
      w.actors.map((a) => readAccount(client, vault.address, a.address, token)),
    );
    w.actors.forEach((a, i) => {
      const want = model.exits.get(`${a.address}|${token}`);
      assert.deepEqual(exits[i].exit, want, `pending exit of ${a.address} in ${token}`);
    });
  }));
}

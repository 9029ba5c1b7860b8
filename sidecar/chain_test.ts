/**
 * Integration tests of the chain follower against a real anvil in Tempo mode (loopback, chain id
 * 1337, one block per second), started and stopped by each test.
 */
import assert from "node:assert/strict";
import { type Address, createPublicClient, type Hex, http, keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Abis, Addresses } from "viem/tempo";
import {
  AllegroError,
  allegroNonceKey,
  decodePayment,
  type Payment,
  signPaymentTransaction,
  txHash,
} from "@allegro/client";
import { type Anvil, fund, FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
import { type ChainEvent, ChainFollower, type ChainFollowerOptions } from "./chain.ts";
import { balanceId, laneId, Ledger, type PendingTx } from "./ledger.ts";

const CHAIN_ID = 1337n;
const TOKEN = PATH_USD.toLowerCase() as Hex;
const GAS = 100_000n;
const MAX_FEE_PER_GAS = 20_000_000_000n;
const MAX_FEE = (GAS * MAX_FEE_PER_GAS + 10n ** 12n - 1n) / 10n ** 12n; // 2000 units
const NONCE_KEY = allegroNonceKey(7n);
const NONCE_KEY_BYTES = hexBytes32(NONCE_KEY);

interface LogEntry {
  level: "info" | "warn" | "error";
  msg: string;
  fields?: Record<string, unknown>;
}

/** Everything a test follower needs, with recording fakes for the store and the log. */
function harness(anvil: Anvil, options: Partial<ChainFollowerOptions> = {}) {
  const ledger = new Ledger();
  const logs: LogEntry[] = [];
  const events: ChainEvent[] = [];
  const settled: Uint8Array[][] = [];
  const updated: PendingTx[] = [];
  const store = {
    settle: (hashes: readonly Uint8Array[]) => (settled.push([...hashes]), Promise.resolve()),
    updatePending: (tx: PendingTx) => (updated.push(tx), Promise.resolve()),
  };
  const entry = (level: LogEntry["level"]) => (msg: string, fields?: Record<string, unknown>) => {
    logs.push({ level, msg, fields });
    if (Deno.env.get("CHAIN_TEST_LOG")) console.log(level, msg, fields ?? "");
  };
  const follower = new ChainFollower({
    rpcUrl: anvil.wsUrl,
    ledger,
    store,
    log: { info: entry("info"), warn: entry("warn"), error: entry("error") },
    staleAfterMillis: 3_000,
    pollIntervalMillis: 200,
    maxTrackedAccounts: 100,
    backoff: { initialMillis: 100, maxMillis: 1_000 },
    onEvent: (e) => events.push(e),
    ...options,
  });
  const chain = createPublicClient({ transport: http(anvil.rpcUrl, { retryCount: 0 }) });
  return { ledger, logs, events, settled, updated, follower, chain };
}

/** Polls `condition` every 50 ms; fails after `timeoutMillis`. */
async function waitFor(what: string, condition: () => boolean, timeoutMillis = 20_000) {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function hexBytes32(value: bigint): Uint8Array {
  return Uint8Array.from(
    value.toString(16).padStart(64, "0").match(/../g)!,
    (b) => parseInt(b, 16),
  );
}

const toHex = (bytes: Uint8Array): Hex =>
  `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;

/** A fresh account holding `amount` pathUSD (funded from a pathUSD-fee dev account). */
async function fundedAccount(anvil: Anvil, amount: bigint, funder = 0) {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  if (amount > 0n) {
    await fund(anvil, {
      from: FUNDER_KEYS[funder],
      to: account.address,
      token: PATH_USD,
      amount,
      feeToken: PATH_USD,
    });
  }
  return { key, address: account.address.toLowerCase() as Hex };
}

/** Signs a pathUSD payment (fee in pathUSD) on {@linkcode NONCE_KEY}. */
async function signPayment(
  key: Hex,
  to: Address,
  amount: bigint,
  options: { nonce?: bigint; validForSeconds?: number; memo?: Uint8Array } = {},
): Promise<Payment> {
  const signed = await signPaymentTransaction(privateKeyToAccount(key), {
    chainId: CHAIN_ID,
    token: PATH_USD,
    recipient: to,
    amount,
    ...(options.memo ? { memo: options.memo } : {}),
    nonceKey: NONCE_KEY,
    nonce: options.nonce ?? 0n,
    validBefore: BigInt(Math.floor(Date.now() / 1000) + (options.validForSeconds ?? 30)),
    gas: GAS,
    maxFeePerGas: MAX_FEE_PER_GAS,
    maxPriorityFeePerGas: 0n,
    feeToken: PATH_USD,
  });
  return decodePayment(signed, { chainId: CHAIN_ID });
}

/** The pending entry a certifier would add: a debit of amount + max fee, maybe a parent credit. */
function pendingOf(payment: Payment, parent?: { tx: PendingTx; payment: Payment }): PendingTx {
  const sender = payment.sender.toLowerCase() as Hex;
  const token = payment.asset.toLowerCase() as Hex;
  const tx = {
    txHash: txHash({
      chainId: CHAIN_ID,
      tempoTx: payment.rawTx,
      nonceKey: payment.nonceKey,
      nonceSeq: payment.nonceSeq,
      expiry: { unixMillis: payment.validBeforeMillis },
      ...(parent ? { parentQcHash: payment.memo } : {}),
    }),
    chainTxHash: keccak256(payment.rawTx),
    rawTx: payment.rawTx,
    sender,
    nonceKey: payment.nonceKey,
    nonceSeq: payment.nonceSeq,
    validBeforeMillis: payment.validBeforeMillis,
    debits: [{ account: sender, token, amount: payment.amount + MAX_FEE }],
    ...(parent
      ? {
        credit: {
          account: sender,
          token,
          amount: parent.payment.amount,
          parentTxHash: parent.tx.txHash,
          parentChainTxHash: parent.tx.chainTxHash,
        },
        parentRawTx: parent.payment.rawTx,
      }
      : {}),
  };
  return tx;
}

async function receiptOf(h: ReturnType<typeof harness>, hash: Hex) {
  const r = await h.chain.request({ method: "eth_getTransactionReceipt", params: [hash] });
  assert(r, `receipt of ${hash}`);
  return { status: r.status, blockNumber: BigInt(r.blockNumber) };
}

/** Polls for a receipt, 100 ms apart, for at most 10 s. */
async function waitForReceipt(h: ReturnType<typeof harness>, hash: Hex): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await h.chain.request({ method: "eth_getTransactionReceipt", params: [hash] })) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no receipt for ${hash} within 10 s`);
}

function balanceAt(h: ReturnType<typeof harness>, account: Hex, blockNumber: bigint) {
  return h.chain.readContract({
    address: PATH_USD,
    abi: Abis.tip20,
    functionName: "balanceOf",
    args: [account],
    blockNumber,
  });
}

function nonceAt(h: ReturnType<typeof harness>, account: Hex, blockNumber: bigint) {
  return h.chain.readContract({
    address: Addresses.nonceManager,
    abi: Abis.nonce,
    functionName: "getNonce",
    args: [account, NONCE_KEY],
    blockNumber,
  });
}

const noErrors = (h: ReturnType<typeof harness>) =>
  assert.deepEqual(h.logs.filter((l) => l.level === "error"), []);

Deno.test("follower becomes ready, follows the head, and tracks balances and nonces", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const alice = await fundedAccount(anvil, 1_234_567n);
  const h = harness(anvil);
  const started = performance.now();
  h.follower.start();
  try {
    await assert.rejects(
      () => h.follower.track(alice.address, [TOKEN], NONCE_KEY_BYTES),
      (e) =>
        e instanceof AllegroError && e.code === "TEMPORARY_UNAVAILABLE" &&
        /not ready/.test(e.message),
    );
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const readyMillis = performance.now() - started;
    const first = h.ledger.head!.height;
    await waitFor("head advances", () => (h.ledger.head?.height ?? 0n) >= first + 2n, 5_000);

    await h.follower.track(alice.address, [TOKEN], NONCE_KEY_BYTES);
    const head = h.ledger.head!.height;
    const id = balanceId(alice.address, TOKEN);
    const lane = laneId(alice.address, NONCE_KEY_BYTES);
    assert.deepEqual(h.ledger.chainBalances.get(id), await balanceAt(h, alice.address, head));
    assert.deepEqual(h.ledger.chainBalances.get(id), 1_234_567n);
    assert.deepEqual(h.ledger.chainNonces.get(lane), await nonceAt(h, alice.address, head));
    assert.deepEqual(h.ledger.chainNonces.get(lane), 0n);

    // A transfer made outside Allegro shows up at the next block.
    await fund(anvil, {
      from: FUNDER_KEYS[1],
      to: alice.address,
      token: PATH_USD,
      amount: 1_000n,
      feeToken: PATH_USD,
    });
    await waitFor("balance refreshed", () => h.ledger.chainBalances.get(id) === 1_235_567n);
    const now = h.ledger.head!.height;
    assert.deepEqual(h.ledger.chainBalances.get(id), await balanceAt(h, alice.address, now));
    assert(h.follower.ready());
    console.log(`ready after ${readyMillis.toFixed(0)} ms; head ${first} → ${now}`);
    noErrors(h);
  } finally {
    await h.follower.stop();
  }
  assert(!h.follower.ready());
  assert.deepEqual(h.ledger.head, undefined);
});

Deno.test("over HTTP the follower polls the head", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 0.5 });
  const h = harness(anvil, { rpcUrl: anvil.rpcUrl });
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const first = h.ledger.head!.height;
    await waitFor("head advances", () => (h.ledger.head?.height ?? 0n) >= first + 3n, 5_000);
    const head = h.ledger.head!;
    const block = await h.chain.getBlock({ blockNumber: head.height });
    assert.deepEqual(head.hash, block.hash);
    assert.deepEqual(head.timestampMillis, block.timestamp * 1000n);
    noErrors(h);
  } finally {
    await h.follower.stop();
  }
});

Deno.test("tracking is bounded: LRU eviction, and a clear error when all are pending", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const h = harness(anvil, { maxTrackedAccounts: 2 });
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const [a, b, c] = [1, 2, 3].map(() => privateKeyToAccount(generatePrivateKey()));
    const addr = (x: { address: Address }) => x.address.toLowerCase() as Hex;
    await h.follower.track(addr(a), [TOKEN], NONCE_KEY_BYTES);
    await h.follower.track(addr(b), [TOKEN], NONCE_KEY_BYTES);
    await h.follower.track(addr(c), [TOKEN], NONCE_KEY_BYTES); // evicts a
    const height = h.ledger.head!.height;
    await waitFor("next block", () => (h.ledger.head?.height ?? 0n) > height, 5_000);
    assert(!h.ledger.chainBalances.has(balanceId(addr(a), TOKEN)), "a evicted");
    assert(h.ledger.chainBalances.has(balanceId(addr(c), TOKEN)));

    // b and c have pending payments: nothing can be evicted for d.
    const key = (x: Hex) => `0x${x.slice(2).padStart(64, "0")}`;
    for (const who of [addr(b), addr(c)]) {
      h.ledger.addPending({
        txHash: hexBytes32(BigInt(key(who))),
        chainTxHash: key(who) as Hex,
        rawTx: new Uint8Array([0x76]),
        sender: who,
        nonceKey: NONCE_KEY_BYTES,
        nonceSeq: 5n,
        validBeforeMillis: BigInt(Date.now() + 60_000),
        debits: [{ account: who, token: TOKEN, amount: 1n }],
      });
    }
    const d = addr(privateKeyToAccount(generatePrivateKey()));
    await assert.rejects(
      () => h.follower.track(d, [TOKEN], NONCE_KEY_BYTES),
      (e) =>
        e instanceof AllegroError && e.code === "TEMPORARY_UNAVAILABLE" &&
        e.message.includes("tracked accounts have pending transactions"),
    );
  } finally {
    await h.follower.stop();
  }
});

Deno.test("a certified payment is forwarded, included and settled", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const alice = await fundedAccount(anvil, 1_000_000n);
  const bob = privateKeyToAccount(generatePrivateKey());
  const h = harness(anvil);
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    await h.follower.track(alice.address, [TOKEN], NONCE_KEY_BYTES);
    const before = h.ledger.chainBalances.get(balanceId(alice.address, TOKEN))!;
    assert.deepEqual(before, 1_000_000n);

    const payment = await signPayment(alice.key, bob.address, 250_000n);
    const tx = pendingOf(payment);
    const hash = toHex(tx.txHash);
    const t0 = performance.now();
    h.ledger.addPending(tx);
    assert.deepEqual(h.ledger.available(alice.address, TOKEN), before - 250_000n - MAX_FEE);

    await waitFor("included and removed", () => !h.ledger.pending.has(hash));
    const latency = performance.now() - t0;
    const kinds = h.events.filter((e) => toHex(e.txHash) === hash).map((e) => e.kind);
    assert.deepEqual(kinds, ["queued", "included"]);
    const included = h.events.find((e) => e.kind === "included")!;
    const receipt = await receiptOf(h, tx.chainTxHash);
    assert.deepEqual(receipt.status, "0x1");
    assert.deepEqual(included.blockHeight, receipt.blockNumber);
    assert(h.settled.some((batch) => batch.some((x) => toHex(x) === hash)), "store.settle");

    // The ledger's view is the chain's at its head, with no pending debit left.
    const head = h.ledger.head!.height;
    const chainBalance = await balanceAt(h, alice.address, head);
    assert.deepEqual(h.ledger.chainBalances.get(balanceId(alice.address, TOKEN)), chainBalance);
    assert.deepEqual(h.ledger.chainNonces.get(laneId(alice.address, NONCE_KEY_BYTES)), 1n);
    assert.deepEqual(h.ledger.pendingOf(alice.address, TOKEN), { debits: 0n, credits: 0n });
    assert.deepEqual(h.ledger.available(alice.address, TOKEN), chainBalance);
    const fee = before - 250_000n - chainBalance;
    assert(fee > 0n && fee <= MAX_FEE, `fee ${fee} within (0, ${MAX_FEE}]`);
    console.log(
      `included in block ${receipt.blockNumber} after ${latency.toFixed(0)} ms, fee ${fee}`,
    );
    noErrors(h);
  } finally {
    await h.follower.stop();
  }
});

Deno.test("a chained pair: the child is forwarded only after its parent is included", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const alice = await fundedAccount(anvil, 1_000_000n);
  const bob = await fundedAccount(anvil, 0n); // holds nothing: spends only what alice sends
  const carol = privateKeyToAccount(generatePrivateKey());
  const h = harness(anvil);
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const parentPayment = await signPayment(alice.key, bob.address as Address, 10_000n);
    const parent = pendingOf(parentPayment);
    const childPayment = await signPayment(bob.key, carol.address, 7_000n, {
      memo: new Uint8Array(32).fill(0x11),
    });
    const child = pendingOf(childPayment, { tx: parent, payment: parentPayment });
    await h.follower.track(bob.address, [TOKEN], NONCE_KEY_BYTES);
    h.ledger.addPending(parent);
    h.ledger.addPending(child);
    assert.deepEqual(h.ledger.available(bob.address, TOKEN), 10_000n - 7_000n - MAX_FEE);

    await waitFor("both included", () => h.ledger.pending.size === 0);
    const p = await receiptOf(h, parent.chainTxHash);
    const c = await receiptOf(h, child.chainTxHash);
    assert.deepEqual([p.status, c.status], ["0x1", "0x1"]);
    assert(c.blockNumber > p.blockNumber, `child block ${c.blockNumber} > parent ${p.blockNumber}`);
    // The credit was settled (and persisted) in the block that included the parent.
    const update = h.updated.find((u) => toHex(u.txHash) === toHex(child.txHash));
    assert(update && update.credit === undefined, "store.updatePending without the credit");
    assert.deepEqual(h.ledger.pendingOf(bob.address, TOKEN), { debits: 0n, credits: 0n });
    const head = h.ledger.head!.height;
    const bobBalance = await balanceAt(h, bob.address, head);
    assert.deepEqual(h.ledger.chainBalances.get(balanceId(bob.address, TOKEN)), bobBalance);
    assert(bobBalance >= 10_000n - 7_000n - MAX_FEE && bobBalance < 3_000n);
    console.log(`parent in block ${p.blockNumber}, child in block ${c.blockNumber}`);
    noErrors(h);
  } finally {
    await h.follower.stop();
  }
});

Deno.test("only the child is pending: its parent's bytes are forwarded first", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const alice = await fundedAccount(anvil, 1_000_000n);
  const bob = await fundedAccount(anvil, 0n);
  const carol = privateKeyToAccount(generatePrivateKey());
  const h = harness(anvil);
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const parentPayment = await signPayment(alice.key, bob.address as Address, 10_000n);
    const parent = pendingOf(parentPayment); // certified elsewhere: not in this ledger
    const childPayment = await signPayment(bob.key, carol.address, 5_000n, {
      memo: new Uint8Array(32).fill(0x22),
    });
    const child = pendingOf(childPayment, { tx: parent, payment: parentPayment });
    h.ledger.addPending(child);

    await waitFor("child included", () => h.ledger.pending.size === 0);
    const p = await receiptOf(h, parent.chainTxHash);
    const c = await receiptOf(h, child.chainTxHash);
    assert.deepEqual([p.status, c.status], ["0x1", "0x1"]);
    assert(c.blockNumber > p.blockNumber, `child block ${c.blockNumber} > parent ${p.blockNumber}`);
    const kinds = h.events.map((e) => e.kind);
    assert.deepEqual(kinds, ["queued", "included"]);
    noErrors(h);
  } finally {
    await h.follower.stop();
  }
});

Deno.test("a pending payment the chain cannot take expires and is settled", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const alice = await fundedAccount(anvil, 1_000_000n);
  const bob = privateKeyToAccount(generatePrivateKey());
  const h = harness(anvil);
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    // Nonce 1 while the lane is at 0: never forwarded (anvil would drop it anyway).
    const payment = await signPayment(alice.key, bob.address, 1_000n, {
      nonce: 1n,
      validForSeconds: 2,
    });
    const tx = pendingOf(payment);
    h.ledger.addPending(tx);
    await waitFor("expired", () => !h.ledger.pending.has(toHex(tx.txHash)), 10_000);
    assert.deepEqual(h.events.map((e) => e.kind), ["expired"]);
    assert(h.ledger.head!.timestampMillis > tx.validBeforeMillis);
    assert(h.settled.some((batch) => batch.some((x) => toHex(x) === toHex(tx.txHash))));
    assert.deepEqual(h.ledger.pendingOf(alice.address, TOKEN), { debits: 0n, credits: 0n });
    noErrors(h);
  } finally {
    await h.follower.stop();
  }
});

Deno.test("stopping the node makes the view unavailable; a restarted node is followed again", async () => {
  const staleAfterMillis = 2_000;
  const first = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const port = Number(new URL(first.rpcUrl).port);
  const h = harness(first, { staleAfterMillis });
  h.follower.start();
  let second: Anvil | undefined;
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const stopped = performance.now();
    await first.stop();
    await waitFor("unready", () => !h.follower.ready(), staleAfterMillis + 1_000);
    const unreadyMillis = performance.now() - stopped;
    assert.deepEqual(h.ledger.head, undefined);

    second = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1, port });
    const restarted = performance.now();
    await waitFor("ready again", () => h.follower.ready(), 5_000);
    console.log(
      `unready ${unreadyMillis.toFixed(0)} ms after stop; ready ${
        (performance.now() - restarted).toFixed(0)
      } ms after restart`,
    );
    assert(h.logs.some((l) => l.msg === "chain connection lost"));
  } finally {
    await h.follower.stop();
    await first.stop();
    await second?.stop();
  }
});

Deno.test("start-up reconciliation: an included payment settles, a replaced one alerts", async () => {
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 1 });
  const alice = await fundedAccount(anvil, 1_000_000n);
  const bob = await fundedAccount(anvil, 1_000_000n, 1);
  const carol = privateKeyToAccount(generatePrivateKey());
  const h = harness(anvil);
  // While the sidecar was down: alice's certified payment was included, and bob's lane was
  // used by a different transaction than the one this sidecar certified.
  const included = pendingOf(await signPayment(alice.key, carol.address, 1_000n));
  const certified = pendingOf(await signPayment(bob.key, carol.address, 2_000n));
  const other = await signPayment(bob.key, carol.address, 3_000n);
  for (const raw of [included.rawTx, other.rawTx]) {
    await h.chain.request({ method: "eth_sendRawTransaction", params: [toHex(raw)] });
  }
  await waitForReceipt(h, keccak256(other.rawTx));
  await waitForReceipt(h, included.chainTxHash);
  const minedIn = (await receiptOf(h, included.chainTxHash)).blockNumber;

  h.ledger.addPending(included);
  h.ledger.addPending(certified);
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    assert.equal(h.ledger.pending.size, 0);
    const byKind = Object.fromEntries(h.events.map((e) => [e.kind, e]));
    assert.deepEqual(Object.keys(byKind).sort(), ["failed", "included"]);
    assert.equal(toHex(byKind.included.txHash), toHex(included.txHash));
    assert.equal(byKind.included.blockHeight, minedIn);
    assert.equal(toHex(byKind.failed.txHash), toHex(certified.txHash));
    const alerts = h.logs.filter((l) => l.level === "error");
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].msg, "certified payment failed/replaced");
    assert.equal(alerts[0].fields?.reason, "replaced");
    const settled = h.settled.flat().map(toHex).sort();
    assert.deepEqual(settled, [toHex(included.txHash), toHex(certified.txHash)].sort());
  } finally {
    await h.follower.stop();
  }
});

Deno.test("without new heads the view goes stale, and a new block makes it ready again", async () => {
  const staleAfterMillis = 1_500;
  await using anvil = await startAnvil({ chainId: CHAIN_ID, blockTimeSeconds: 0 }); // automine
  const h = harness(anvil, { staleAfterMillis });
  h.follower.start();
  try {
    await waitFor("ready", () => h.follower.ready(), 5_000);
    const readyAt = performance.now();
    await waitFor("stale", () => !h.follower.ready(), staleAfterMillis + 1_000);
    const staleMillis = performance.now() - readyAt;
    assert(staleMillis >= staleAfterMillis - 100, `stale after ${staleMillis} ms`);
    assert.equal(h.ledger.head, undefined);
    const alice = privateKeyToAccount(generatePrivateKey());
    await fund(anvil, {
      from: FUNDER_KEYS[2],
      to: alice.address,
      token: PATH_USD,
      amount: 1n,
      feeToken: PATH_USD,
    });
    await waitFor("ready again", () => h.follower.ready(), 5_000);
    console.log(`stale ${staleMillis.toFixed(0)} ms after the last head`);
  } finally {
    await h.follower.stop();
  }
});

import assert from "node:assert/strict";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { KvWalletStore } from "./kv_wallet_store.ts";
import { NO_PARENT, verifySignedOrder } from "./order.ts";
import type { QuorumCertificate } from "./quorum.ts";
import {
  type LaneRecord,
  MemoryWalletStore,
  type OrderFields,
  Wallet,
  type WalletStore,
} from "./wallet.ts";

const account = privateKeyToAccount(
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
);
const TOKEN: Address = "0x20C0000000000000000000000000000000000000";
const OTHER: Address = "0x20C0000000000000000000000000000000000001";
const fields = (amount: bigint, token = TOKEN): OrderFields => ({
  chainId: 1337n,
  vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  token,
  amount,
  fee: 0n,
  validBefore: 1_900_000_000_000n,
  parent: NO_PARENT,
  exit: false,
  memo: NO_PARENT,
});
const fakeQc = { epoch: 1n } as QuorumCertificate;

Deno.test("orders get consecutive seqs per lane, and a new one waits for the last one's QC", async () => {
  const wallet = new Wallet(account);
  const first = await wallet.sign(fields(1n));
  assert.equal(first.kind, "signed");
  if (first.kind !== "signed") return;
  assert.equal(first.signed.order.seq, 0n);
  assert.equal(first.signed.order.payer, account.address);
  await verifySignedOrder(first.signed);

  const blocked = await wallet.sign(fields(2n));
  assert.equal(blocked.kind, "pending", "no second order while seq 0 has no QC");
  if (blocked.kind === "pending") assert.equal(blocked.order.txHash, first.txHash);
  assert.equal((await wallet.sign(fields(5n, OTHER))).kind, "signed", "other lanes are free");

  await wallet.certify(TOKEN, first.txHash, fakeQc);
  const second = await wallet.sign(fields(2n));
  assert.equal(second.kind === "signed" && second.signed.order.seq, 1n);
  const lane = await wallet.lane(TOKEN);
  assert.equal(lane?.next, 2n);
  assert.deepEqual(lane?.orders.map((o) => [o.signed.order.seq, o.qc !== undefined]), [[0n, true], [
    1n,
    false,
  ]]);
});

Deno.test("each order is stored before it is returned; a failing store signs nothing", async () => {
  const puts: LaneRecord[] = [];
  const store: WalletStore = {
    get: () => Promise.resolve(puts.at(-1)),
    put: (_a, _t, record) => (puts.push(record), Promise.resolve()),
  };
  const wallet = new Wallet(account, { store });
  const out = await wallet.sign(fields(1n));
  assert.equal(puts.length, 1);
  assert.equal(
    out.kind === "signed" && puts[0].orders[0].txHash,
    out.kind === "signed" && out.txHash,
  );

  const broken = new Wallet(account, {
    store: {
      get: () => Promise.resolve(undefined),
      put: () => Promise.reject(new Error("disk full")),
    },
  });
  await assert.rejects(broken.sign(fields(1n)), /disk full/);
});

Deno.test("forgetBelow and forgetOrder drop what the sidecars applied", async () => {
  const wallet = new Wallet(account);
  const hashes: `0x${string}`[] = [];
  for (let i = 0n; i < 3n; i++) {
    const out = await wallet.sign(fields(i + 1n));
    assert.equal(out.kind, "signed");
    if (out.kind !== "signed") return;
    hashes.push(out.txHash);
    if (i < 2n) await wallet.certify(TOKEN, out.txHash, fakeQc);
  }
  await wallet.forgetBelow(TOKEN, 1n);
  assert.deepEqual((await wallet.lane(TOKEN))?.orders.map((o) => o.signed.order.seq), [1n, 2n]);
  // The last order never got its QC here, but its seq was applied: nothing to resubmit.
  await wallet.forgetOrder(TOKEN, hashes[2]);
  assert.deepEqual((await wallet.lane(TOKEN))?.orders.map((o) => o.signed.order.seq), [1n]);
  assert.equal((await wallet.lane(TOKEN))?.next, 3n);
});

Deno.test("restore writes a lost lane once: a second, concurrent restore gets the first's record", async () => {
  const wallet = new Wallet(account);
  const [first, second] = await Promise.all([
    wallet.restore(TOKEN, { next: 7n, orders: [] }),
    wallet.restore(TOKEN, { next: 3n, orders: [] }),
  ]);
  assert.equal(first.next, 7n);
  assert.equal(second.next, 7n);
  const next = await wallet.sign(fields(1n));
  assert.equal(next.kind === "signed" && next.signed.order.seq, 7n);
  // A lane the store holds is never replaced, even after it signed.
  assert.equal((await wallet.restore(TOKEN, { next: 0n, orders: [] })).next, 8n);
});

Deno.test("a Deno KV store keeps lanes, QCs included, across reopening", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  try {
    let txHash: `0x${string}` | undefined;
    {
      using store = await KvWalletStore.open(path);
      const out = await new Wallet(account, { store }).sign(fields(1n));
      txHash = out.kind === "signed" ? out.txHash : undefined;
    }
    {
      using store = await KvWalletStore.open(path);
      const wallet = new Wallet(account, { store });
      const again = await wallet.sign(fields(2n));
      assert.equal(again.kind, "pending", "seq 0 is remembered, still without a QC");
      if (again.kind === "pending") assert.equal(again.order.txHash, txHash);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("the memory store hands out copies", async () => {
  const store = new MemoryWalletStore();
  const record: LaneRecord = { next: 1n, orders: [] };
  await store.put(account.address, TOKEN, record);
  (record as { next: bigint }).next = 9n;
  assert.equal((await store.get(account.address, TOKEN))?.next, 1n);
});

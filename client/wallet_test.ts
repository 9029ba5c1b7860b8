import assert from "node:assert/strict";
import { privateKeyToAccount } from "viem/accounts";
import { AllegroError, allegroNonceKey, MemoryNonceStore, type NonceStore, Wallet } from "./mod.ts";
import { KvNonceStore } from "./deno.ts";

const account = privateKeyToAccount(
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
);

Deno.test("wallet reserves nonces in order and reuses a released one first", async () => {
  const wallet = new Wallet(account);
  const [a, b, c] = [await wallet.reserve(), await wallet.reserve(), await wallet.reserve()];
  assert.deepEqual([a.nonce, b.nonce, c.nonce], [0n, 1n, 2n]);
  assert.equal(a.nonceKey, allegroNonceKey(1n));
  await wallet.release(b);
  await wallet.release(b); // twice: no effect
  assert.deepEqual(await wallet.peek(), { next: 3n, released: [1n] });
  assert.equal((await wallet.reserve()).nonce, 1n, "the released nonce comes back, not 3");
  assert.equal((await wallet.reserve()).nonce, 3n);
  // Releasing the top of the lane lowers `next` instead of growing the released set.
  await wallet.release({ nonceKey: a.nonceKey, nonce: 3n });
  await wallet.release(c);
  assert.deepEqual(await wallet.peek(), { next: 2n, released: [] });
  await assert.rejects(
    wallet.release({ nonceKey: a.nonceKey, nonce: 9n }),
    (e) => e instanceof AllegroError && /never reserved/.test(e.message),
  );
});

Deno.test("wallet lanes are independent and outside-lane keys are refused", async () => {
  const wallet = new Wallet(account, { nonceKey: allegroNonceKey(5n) });
  assert.equal((await wallet.reserve()).nonceKey, allegroNonceKey(5n));
  assert.equal((await wallet.reserve(allegroNonceKey(6n))).nonce, 0n);
  assert.equal((await wallet.reserve()).nonce, 1n);
  await assert.rejects(wallet.reserve(1n), (e) => (e as AllegroError).code === "NOT_PAYMENT_TX");
  assert.throws(() => new Wallet(account, { nonceKey: 7n }), AllegroError);
  await wallet.resync(40n);
  assert.equal((await wallet.reserve()).nonce, 40n);
});

Deno.test("concurrent reservations never hand out one nonce twice", async () => {
  // A store that yields to the event loop, so unserialized calls would interleave.
  const inner = new MemoryNonceStore();
  const slow: NonceStore = {
    get: async (...args) => {
      await new Promise((r) => setTimeout(r, 1));
      return await inner.get(...args);
    },
    put: async (...args) => {
      await new Promise((r) => setTimeout(r, 1));
      await inner.put(...args);
    },
  };
  const wallet = new Wallet(account, { store: slow });
  const first = await Promise.all(Array.from({ length: 20 }, () => wallet.reserve()));
  assert.deepEqual(first.map((r) => r.nonce), Array.from({ length: 20 }, (_, i) => BigInt(i)));
  await Promise.all([wallet.release(first[3]), wallet.release(first[7])]);
  const again = await Promise.all([wallet.reserve(), wallet.reserve(), wallet.reserve()]);
  assert.deepEqual(again.map((r) => r.nonce), [3n, 7n, 20n]);
});

Deno.test("a reservation is persisted before it is returned", async () => {
  const puts: bigint[] = [];
  const inner = new MemoryNonceStore();
  const store: NonceStore = {
    get: (...args) => inner.get(...args),
    put: async (a, k, record) => {
      puts.push(record.next);
      await inner.put(a, k, record);
    },
  };
  const wallet = new Wallet(account, { store });
  const { nonce } = await wallet.reserve();
  assert.equal(nonce, 0n);
  assert.deepEqual(puts, [1n]);
  // A failing store fails the reservation: no nonce leaves unpersisted.
  const broken = new Wallet(account, {
    store: { get: () => Promise.resolve(undefined), put: () => Promise.reject(new Error("disk")) },
  });
  await assert.rejects(broken.reserve(), /disk/);
});

Deno.test("a wallet on Deno KV keeps its nonces across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-wallet-" });
  const path = `${dir}/wallet.kv`;
  try {
    {
      using store = await KvNonceStore.open(path);
      const wallet = new Wallet(account, { store });
      const reserved = [await wallet.reserve(), await wallet.reserve(), await wallet.reserve()];
      await wallet.release(reserved[1]);
    }
    {
      using store = await KvNonceStore.open(path);
      const wallet = new Wallet(account, { store });
      assert.deepEqual(await wallet.peek(), { next: 3n, released: [1n] });
      assert.equal((await wallet.reserve()).nonce, 1n, "the released nonce survives the restart");
      assert.equal((await wallet.reserve()).nonce, 3n);
    }
    // A store over a caller-owned KV leaves it open.
    const kv = await Deno.openKv(path);
    try {
      const store = new KvNonceStore(kv);
      store.close();
      assert.deepEqual(await store.get(account.address, allegroNonceKey(1n)), {
        next: 4n,
        released: [],
      });
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

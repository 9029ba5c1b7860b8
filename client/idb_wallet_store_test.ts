/**
 * Where IndexedDB is absent (Deno), the IndexedDB wallet store imports and constructs, and its
 * first use fails with an error naming the missing API. The store itself is exercised in
 * Chromium by `browser_test.ts`.
 */
import assert from "node:assert/strict";
import { IdbWalletStore } from "./mod.ts";

Deno.test("without IndexedDB the store rejects naming the missing API, on every use", async () => {
  assert.equal("indexedDB" in globalThis, false);
  const store = new IdbWalletStore();
  const account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  const token = "0x20c0000000000000000000000000000000000000";
  await assert.rejects(store.get(account, token), /needs IndexedDB \(globalThis\.indexedDB\)/);
  await assert.rejects(
    store.put(account, token, { next: 1n, orders: [] }),
    /needs IndexedDB \(globalThis\.indexedDB\)/,
  );
  store.close();
});

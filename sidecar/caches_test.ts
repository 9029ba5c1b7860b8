import assert from "node:assert/strict";
import { ed25519, nobleEd25519 } from "@allegro/client";
import { cachingEd25519, PaymentCache } from "./caches.ts";
import { submission } from "./testing.ts";

Deno.test("the caching Ed25519 backend remembers only good signatures", async () => {
  const inner = await ed25519();
  let verified = 0;
  const counting = {
    ...inner,
    verify: (...a: Parameters<typeof inner.verify>) => (verified++, inner.verify(...a)),
  };
  const backend = cachingEd25519(counting, 10);
  const seed = new Uint8Array(32).fill(3);
  const publicKey = await backend.getPublicKey(seed);
  const message = new Uint8Array(32).fill(1);
  const own = await backend.sign(seed, message);
  assert.equal(await backend.verify(own, message, publicKey), true);
  assert.equal(verified, 0, "an own signature was verified again");
  // Someone else's: verified once, then remembered.
  const other = await nobleEd25519.sign(new Uint8Array(32).fill(4), message);
  const otherKey = await nobleEd25519.getPublicKey(new Uint8Array(32).fill(4));
  assert.equal(await backend.verify(other, message, otherKey), true);
  assert.equal(await backend.verify(other, message, otherKey), true);
  assert.equal(verified, 1);
  // Forgeries and mismatches are never remembered as valid.
  const forged = own.slice();
  forged[0] ^= 1;
  assert.equal(await backend.verify(forged, message, publicKey), false);
  assert.equal(await backend.verify(forged, message, publicKey), false);
  assert.equal(await backend.verify(own, new Uint8Array(32).fill(2), publicKey), false);
  assert.equal(await backend.verify(own, message, otherKey), false);
  assert.equal(await backend.verify(own.subarray(0, 63), message, publicKey), false);
});

Deno.test("the payment cache decodes once per signed transaction and never caches failures", async () => {
  const cache = new PaymentCache(2);
  const a = (await submission()).signedTx;
  const first = cache.decode(a, 1337n);
  assert.equal(cache.decode(a, 1337n), first);
  assert.equal(cache.hits, 1);
  assert.throws(() => cache.decode(a, 1n), /WRONG_CHAIN|chainId/);
  assert.throws(() => cache.decode(Uint8Array.of(0x76, 1), 1337n));
  assert.equal(cache.size, 1);
  // Bounded: the oldest entry goes.
  const b = (await submission(undefined, { nonce: 1n })).signedTx;
  const c = (await submission(undefined, { nonce: 2n })).signedTx;
  cache.decode(b, 1337n);
  cache.decode(c, 1337n);
  assert.equal(cache.size, 2);
  cache.decode(a, 1337n);
  assert.equal(cache.misses, 6); // a was evicted: decoded again
});

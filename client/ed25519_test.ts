import assert from "node:assert/strict";
import {
  ed25519,
  type Ed25519Backend,
  nobleEd25519,
  nodeEd25519,
  webCryptoEd25519,
} from "./ed25519.ts";

const backends = [nobleEd25519, webCryptoEd25519, nodeEd25519].filter((b) =>
  b !== undefined
) as Ed25519Backend[];

// RFC 8032 §7.1, test 2 (one-byte message).
const RFC = {
  secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
  public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
  message: "72",
  signature:
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
};
const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));

Deno.test("Deno has the node:crypto backend and picks it", async () => {
  assert.ok(nodeEd25519);
  assert.equal((await ed25519()).name, "node");
});

for (const backend of backends) {
  Deno.test(`${backend.name}: RFC 8032 vector`, async () => {
    const secret = fromHex(RFC.secret);
    assert.deepEqual(await backend.getPublicKey(secret), fromHex(RFC.public));
    const sig = await backend.sign(secret, fromHex(RFC.message));
    assert.deepEqual(sig, fromHex(RFC.signature));
    assert.equal(await backend.verify(sig, fromHex(RFC.message), fromHex(RFC.public)), true);
  });

  Deno.test(`${backend.name}: rejects a flipped bit, another message, a malformed key`, async () => {
    const pub = fromHex(RFC.public);
    const msg = fromHex(RFC.message);
    const flipped = fromHex(RFC.signature);
    flipped[5] ^= 1;
    assert.equal(await backend.verify(flipped, msg, pub), false);
    assert.equal(await backend.verify(fromHex(RFC.signature), Uint8Array.of(0x73), pub), false);
    assert.equal(await backend.verify(fromHex(RFC.signature), msg, new Uint8Array(31)), false);
    assert.equal(await backend.verify(new Uint8Array(12), msg, pub), false);
  });
}

Deno.test("every backend gives identical keys and signatures", async () => {
  for (let i = 0; i < 8; i++) {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const msg = crypto.getRandomValues(new Uint8Array(32));
    const results = await Promise.all(
      backends.map(async (b) => [await b.getPublicKey(seed), await b.sign(seed, msg)]),
    );
    for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
  }
});

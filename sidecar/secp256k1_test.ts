/**
 * The native secp256k1 recoveries (libsecp256k1 through FFI, and as WebAssembly) must give
 * exactly what the pure-JS one gives: the same recovered sender, and the same reject (code and
 * message) for high-s, zero, out-of-range and off-curve signatures.
 */
import assert from "node:assert/strict";
import { PublicKey } from "ox";
import { type Hex, hexToBytes, numberToBytes } from "viem";
import { generatePrivateKey } from "viem/accounts";
import { Secp256k1, Transaction } from "viem/tempo";
import {
  AllegroError,
  allegroNonceKey,
  buildPaymentTransaction,
  decodePayment,
  type Secp256k1Recovery,
  secp256k1RecoveryName,
  useSecp256k1Recovery,
} from "@allegro/client";
import { enableNativeSecp256k1, ffiSecp256k1, wasmSecp256k1 } from "./secp256k1.ts";

const TxEnvelopeTempo = Transaction.z_TxEnvelopeTempo;
const N = Secp256k1.noble.CURVE.n;
const CHAIN = 1337n;

/** A deterministic pseudo-random generator, so failures reproduce. */
function rng(seed: number) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const random = rng(20261124);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
const randomScalar = () =>
  BigInt(`0x${[...randomBytes(32)].map((b) => b.toString(16).padStart(2, "0")).join("")}`);

function unsignedEnvelope(i: number) {
  return TxEnvelopeTempo.from(
    buildPaymentTransaction({
      chainId: CHAIN,
      token: "0x20c0000000000000000000000000000000000001",
      recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      amount: BigInt(1 + i),
      nonceKey: allegroNonceKey(BigInt(i)),
      nonce: BigInt(i),
      validBefore: 1_900_000_000n,
      gas: 100_000n,
      maxFeePerGas: 20n,
      maxPriorityFeePerGas: 1n,
      feeToken: "0x20c0000000000000000000000000000000000000",
    }) as never,
  );
}

/** Valid, malleated and broken secp256k1 signatures over random payments. */
function corpus(): Hex[] {
  const out: Hex[] = [];
  for (let i = 0; i < 40; i++) {
    const env = unsignedEnvelope(i);
    const payload = TxEnvelopeTempo.getSignPayload(env);
    const good = Secp256k1.sign({ payload, privateKey: generatePrivateKey() });
    const variants: { r: bigint; s: bigint; yParity: number }[] = [
      good,
      { r: good.r, s: N - good.s, yParity: 1 - good.yParity }, // high-s twin
      { ...good, yParity: 1 - good.yParity }, // other parity: another key, or none
      { r: randomScalar() % N, s: randomScalar() % N, yParity: i % 2 }, // random (often off-curve r)
    ];
    if (i % 8 === 0) {
      variants.push(
        { r: 0n, s: good.s, yParity: good.yParity },
        { r: good.r, s: 0n, yParity: good.yParity },
        { r: N - 1n, s: 1n, yParity: 0 },
        { r: good.r + N < 1n << 256n ? good.r + N : 1n, s: good.s, yParity: good.yParity },
        { r: good.r, s: N, yParity: good.yParity },
        { r: 1n, s: 1n, yParity: 1 },
      );
    }
    for (const signature of variants) {
      try {
        out.push(TxEnvelopeTempo.serialize(env, { signature: { type: "secp256k1", signature } }));
      } catch {
        // ox refuses to encode some of them at all: nothing to compare
      }
    }
  }
  return out;
}

function outcome(tx: Hex): unknown {
  try {
    return { ok: decodePayment(tx, { chainId: CHAIN }) };
  } catch (e) {
    if (e instanceof AllegroError) return { code: e.code, message: e.message };
    throw e;
  }
}

const backends: Secp256k1Recovery[] = [];
const ffi = ffiSecp256k1();
if (ffi) backends.push(ffi);
const wasm = await wasmSecp256k1();
if (wasm) backends.push(wasm);

Deno.test("the WebAssembly and the FFI libsecp256k1 both load here", () => {
  assert.ok(wasm, "tiny-secp256k1 did not load");
  assert.ok(ffi, "no libsecp256k1 to test the FFI recovery: `deno task test` installs it first");
  console.log(`backends: ${backends.map((b) => b.name).join(", ")} (and js)`);
});

Deno.test("native and JS recovery: identical senders and rejects on valid, high-s and invalid signatures", () => {
  const txs = corpus();
  const previous = useSecp256k1Recovery(undefined);
  try {
    const expected = txs.map(outcome);
    const accepted = expected.filter((e) => "ok" in (e as object)).length;
    assert.ok(accepted >= 40, `only ${accepted} of ${txs.length} transactions decode`);
    assert.ok(accepted < txs.length, "the corpus holds no invalid signature");
    for (const backend of backends) {
      useSecp256k1Recovery(backend);
      assert.equal(secp256k1RecoveryName(), backend.name);
      for (const [i, tx] of txs.entries()) {
        assert.deepEqual(outcome(tx), expected[i], `${backend.name} differs on ${tx}`);
      }
    }
  } finally {
    useSecp256k1Recovery(previous);
  }
});

Deno.test("native recovery returns the key noble recovers, or nothing where noble fails", () => {
  for (let i = 0; i < 200; i++) {
    const payload = randomBytes(32);
    const valid = i % 2 === 0;
    const sig = valid ? Secp256k1.sign({ payload, privateKey: generatePrivateKey() }) : {
      r: 1n + randomScalar() % (N - 1n),
      s: 1n + randomScalar() % (N - 1n),
      yParity: i % 4 >> 1,
    };
    let expected: Uint8Array | undefined;
    try {
      expected = PublicKey.toBytes(Secp256k1.recoverPublicKey({ payload, signature: sig }));
    } catch {
      expected = undefined;
    }
    const rs = new Uint8Array(64);
    rs.set(numberToBytes(sig.r, { size: 32 }));
    rs.set(numberToBytes(sig.s, { size: 32 }), 32);
    for (const backend of backends) {
      const got = backend.recover(payload, rs, sig.yParity as 0 | 1);
      assert.deepEqual(got, expected, `${backend.name} on case ${i}`);
    }
  }
});

Deno.test("enableNativeSecp256k1 installs the best backend and can be limited", async () => {
  const previous = useSecp256k1Recovery(undefined);
  try {
    assert.equal(await enableNativeSecp256k1("js"), "js");
    assert.equal(secp256k1RecoveryName(), "js");
    assert.equal(await enableNativeSecp256k1("wasm"), "wasm");
    assert.equal(await enableNativeSecp256k1(), backends[0]?.name ?? "js");
  } finally {
    useSecp256k1Recovery(previous);
  }
});

Deno.test("native signatures recover to the signing key (what the benchmark relies on)", () => {
  for (const backend of backends as ReturnType<typeof ffiSecp256k1>[]) {
    const key = hexToBytes(generatePrivateKey());
    const payload = randomBytes(32);
    const { signature, recoveryId } = backend!.sign(payload, key);
    const expected = PublicKey.toBytes(Secp256k1.getPublicKey({ privateKey: key }));
    assert.deepEqual(backend!.recover(payload, signature, recoveryId as 0 | 1), expected);
  }
});

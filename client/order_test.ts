/**
 * Payment orders (SPEC §4). The second golden vector: a real chained payment with fixed keys —
 * Alice pays Bob into the vault, Bob's exit order to Carol spends it (`parent` = Alice's
 * `tx_hash`) — on chain 1337, in the vault at the address a fixed deployer's first transaction
 * creates. Its `tx_hash`, `effects_hash`, `cert_digest` (epoch 1), EIP-712 digest, payer
 * signatures (RFC 6979: deterministic) and settlement attestations are literal hex; `tx_hash` is
 * also rebuilt byte by byte from the SPEC formula; and the vault deployed at that address
 * reproduces every value and settles both orders. Then what `checkOrder`, `signOrder` and
 * `verifySignedOrder` refuse.
 */
import assert from "node:assert/strict";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  bytesToHex,
  concatBytes,
  getContractAddress,
  type Hex,
  hexToBytes,
  numberToBytes,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  AllegroError,
  checkOrder,
  decodeVaultEvents,
  deployVaultCall,
  depositCalls,
  NO_PARENT,
  orderBytes,
  orderCertDigest,
  orderDigest,
  orderEffectsHash,
  orderTxHash,
  orderTypedData,
  type PaymentOrder,
  paymentStruct,
  settleBatchCall,
  signAttestation,
  signOrder,
  vaultAbi,
  verifySignedOrder,
} from "./mod.ts";
import {
  ALPHA_USD,
  DEPLOY_GAS,
  fundAccount,
  sendOk,
  startChain,
  walletBalance,
  withDeadline,
} from "../contracts/testing.ts";

/** Fixed keys of the vector. */
const KEYS = {
  deployer: `0x${"d0".repeat(32)}`,
  settlement: `0x${"5e".repeat(32)}`,
  alice: `0x${"a1".repeat(32)}`,
  bob: `0x${"b0".repeat(32)}`,
} as const;
const alice = privateKeyToAccount(KEYS.alice);
const bob = privateKeyToAccount(KEYS.bob);
const CAROL = `0x${"c0".repeat(20)}` as const;
/** The first contract the deployer creates (CREATE from nonce 0). */
const VAULT = "0x093382cA9B247eE29655931696E0E503bc975F2e";

const parent: PaymentOrder = {
  chainId: 1337n,
  vault: VAULT,
  payer: alice.address,
  recipient: bob.address,
  token: "0x20C0000000000000000000000000000000000001",
  amount: 2_500_000n,
  fee: 1_000n,
  seq: 0n,
  validBefore: 4_102_444_800_000n, // 2100-01-01: the on-chain test settles it
  parent: NO_PARENT,
  exit: false,
  memo: `0x${"00".repeat(31)}2a`,
};
const child: PaymentOrder = {
  ...parent,
  payer: bob.address,
  recipient: CAROL,
  amount: 2_000_000n,
  fee: 500n,
  parent: "0x0a2988fdd47532bff91658fc25428ae3821b31024c99610fec4bf02943a52f6c",
  exit: true,
  memo: NO_PARENT,
};

interface Expected {
  readonly txHash: Hex;
  readonly effectsHash: Hex;
  readonly certDigest: Hex;
  readonly orderDigest: Hex;
  readonly payerSignature: Hex;
  readonly attestation: Hex;
}

const EXPECTED: { readonly parent: Expected; readonly child: Expected } = {
  parent: {
    txHash: "0x0a2988fdd47532bff91658fc25428ae3821b31024c99610fec4bf02943a52f6c",
    effectsHash: "0x8911ca524962fdc8d88850f814ba2cc4139694abece0985dc078d9a3a74f94b9",
    certDigest: "0x52e2ab82d71048e54607df35cb31ce66dbe0a795de84138e0c9e86949d8e33eb",
    orderDigest: "0xcae534dae0c5ba7b5103fb20ba1c462870a6fd8927f4868d4b74d31d8d20a198",
    payerSignature:
      "0xbba2d274f670c652cc574e93a42f79c3858b914949d5b2a5dcf73c3186eb3510322188fa00816c3f1c170cbfd623e80e716f0d7678ce094fa68c45db4221104b1b",
    attestation:
      "0xe45ff478abb6168cf7ac4ea087971e4372194d147b49a4bf9d3b0a34cc5c62392d9eb410e8d4787bbc141298803ca84db529bfeebe25bb1417ab173790e2acf21b",
  },
  child: {
    txHash: "0x43cd7cface72cd5d5aed2f7f962a755bcdddc36c1724abee12f72184d86ee3d3",
    effectsHash: "0x1d22937b0f10b6e5e5fa6a234eaff174452abc8919f42ce34a022bf56010fe66",
    certDigest: "0xe0d5dcf99e63f16c77e562a4e15c65a3e7da7d269ffcb253c19c1deb13b6487f",
    orderDigest: "0xd517943f6a00ac513e991623b321bc8c8eab8ee0ffebb87ee3ae12828a060648",
    payerSignature:
      "0x144427d9c31e28342d966e01d8ed5851e7bf7e69416c44061c21e3feb686fc4e751e53aa8b75d6c0ec3385cbd7e9695b1ea25f76a69c0a6b728b160b14019b831c",
    attestation:
      "0x32a73146b308b1cba59e6b2855f5a551308e444328718940139a8e789ab3be6b4acf50e74ae735054c8617fa6c682208f6b8b890491117ca251c08dcc81047af1b",
  },
} as const;

const VECTOR = [
  { name: "parent", order: parent, payer: alice, expected: EXPECTED.parent },
  { name: "child", order: child, payer: bob, expected: EXPECTED.child },
] as const;

Deno.test("golden vector 2: the vault address is the deployer's first CREATE", () => {
  const deployer = privateKeyToAccount(KEYS.deployer);
  assert.equal(getContractAddress({ from: deployer.address, nonce: 0n }), VAULT);
  assert.equal(child.parent, EXPECTED.parent.txHash);
});

Deno.test("golden vector 2: tx_hash, effects_hash, cert_digest, EIP-712 digest, signatures", async () => {
  for (const { name, order, payer, expected } of VECTOR) {
    assert.equal(orderBytes(order).length, 352, name);
    assert.equal(bytesToHex(orderTxHash(order)), expected.txHash, `${name} tx_hash`);
    assert.equal(bytesToHex(orderEffectsHash(order)), expected.effectsHash, `${name} effects_hash`);
    assert.equal(
      bytesToHex(orderCertDigest(order, 1n)),
      expected.certDigest,
      `${name} cert_digest`,
    );
    assert.equal(orderDigest(order), expected.orderDigest, `${name} EIP-712 digest`);
    const signed = await signOrder(payer, order);
    assert.equal(signed.signature, expected.payerSignature, `${name} payer signature`);
    assert.deepEqual(await verifySignedOrder(signed), signed);
    const attestation = await signAttestation(KEYS.settlement, orderCertDigest(order, 1n));
    assert.equal(bytesToHex(attestation), expected.attestation, `${name} attestation`);
  }
});

Deno.test("golden vector 2: tx_hash, effects_hash and cert_digest rebuilt from the SPEC §4 formulas", () => {
  const u64 = (n: bigint) => numberToBytes(n, { size: 8 });
  const ascii = (s: string) => new TextEncoder().encode(s);
  for (const { name, order, expected } of VECTOR) {
    // order_bytes: 11 ABI words.
    const word = (address: string) => hexToBytes(pad32(address));
    const pad = (n: bigint) => numberToBytes(n, { size: 32 });
    const ob = concatBytes([
      word(order.vault),
      word(order.payer),
      word(order.recipient),
      word(order.token),
      pad(order.amount),
      pad(order.fee),
      pad(order.seq),
      pad(order.validBefore),
      hexToBytes(order.parent),
      pad(order.exit ? 1n : 0n),
      hexToBytes(order.memo),
    ]);
    const nonceKey = word(order.token);
    const parentPart = order.parent === NO_PARENT
      ? new Uint8Array([0])
      : concatBytes([new Uint8Array([1]), hexToBytes(order.parent)]);
    const txPreimage = concatBytes([
      ascii("tempo.fastpay.tx.v1"),
      u64(order.chainId),
      numberToBytes(ob.length, { size: 4 }),
      ob,
      nonceKey,
      u64(order.seq),
      new Uint8Array([1]),
      u64(order.validBefore),
      parentPart,
    ]);
    assert.equal(bytesToHex(sha256(txPreimage)), expected.txHash, `${name} tx_hash`);
    const effectsPreimage = concatBytes([
      ascii("tempo.fastpay.effects.v1"),
      hexToBytes(order.payer),
      hexToBytes(order.recipient),
      u64(order.amount),
      hexToBytes(order.token),
      nonceKey,
      u64(order.seq),
    ]);
    assert.equal(bytesToHex(sha256(effectsPreimage)), expected.effectsHash, `${name} effects_hash`);
    const certPreimage = concatBytes([
      ascii("tempo.fastpay.cert.preimage.v1"),
      numberToBytes(21, { size: 4 }),
      ascii("tempo.fastpay.cert.v1"),
      numberToBytes(1, { size: 2 }),
      u64(order.chainId),
      u64(1n),
      hexToBytes(expected.txHash),
      hexToBytes(expected.effectsHash),
    ]);
    assert.equal(bytesToHex(sha256(certPreimage)), expected.certDigest, `${name} cert_digest`);
  }
});

function pad32(address: string): Hex {
  return `0x${address.slice(2).toLowerCase().padStart(64, "0")}`;
}

Deno.test("golden vector 2: the vault deployed at the vector's address reproduces it and settles it", async () => {
  await withDeadline("golden vector on chain", 60_000, async () => {
    await using chain = await startChain();
    const deployer = privateKeyToAccount(KEYS.deployer);
    const settlementAddress = privateKeyToAccount(KEYS.settlement).address;
    await Promise.all([
      fundAccount(chain, deployer.address, []),
      fundAccount(chain, alice.address, [{ token: ALPHA_USD, amount: 2_501_000n }]),
    ]);
    const receipt = await sendOk(chain, deployer, [deployVaultCall({
      admin: deployer.address,
      maxValidity: 60_000n,
      exitDelay: 120n,
      epoch: 1n,
      members: [settlementAddress],
    })], { gas: DEPLOY_GAS });
    assert.equal(receipt.contractAddress?.toLowerCase(), VAULT.toLowerCase());
    const read = (functionName: "txHash" | "effectsHash" | "orderDigest", order: PaymentOrder) =>
      chain.client.readContract({
        address: VAULT,
        abi: vaultAbi,
        functionName,
        args: [paymentStruct(order)],
      });
    for (const { name, order, expected } of VECTOR) {
      assert.equal(await read("txHash", order), expected.txHash, `${name} txHash`);
      assert.equal(await read("effectsHash", order), expected.effectsHash, `${name} effectsHash`);
      assert.equal(await read("orderDigest", order), expected.orderDigest, `${name} orderDigest`);
      const cert = await chain.client.readContract({
        address: VAULT,
        abi: vaultAbi,
        functionName: "certDigest",
        args: [1n, expected.txHash, expected.effectsHash],
      });
      assert.equal(cert, expected.certDigest, `${name} certDigest`);
    }
    // The literal signatures settle the chain: Alice pays Bob, Bob's exit pays Carol's wallet.
    await sendOk(chain, alice, depositCalls(VAULT, parent.token, 2_501_000n));
    const items = VECTOR.map(({ order, expected }) => ({
      signed: { order, signature: expected.payerSignature },
      epoch: 1n,
      attestations: [{ index: 0, signature: hexToBytes(expected.attestation) }],
    }));
    const settled = await sendOk(chain, deployer, [settleBatchCall(VAULT, items)]);
    assert.deepEqual(
      decodeVaultEvents(settled.logs).map((e) => e.kind === "Settled" ? e.txHash : e.kind),
      [EXPECTED.parent.txHash, EXPECTED.child.txHash],
    );
    assert.equal(await walletBalance(chain, parent.token, CAROL), 2_000_000n);
  });
});

Deno.test("verifySignedOrder refuses every changed field, other signers, non-canonical signatures", async () => {
  const signed = await signOrder(alice, parent);
  const changes: Partial<PaymentOrder>[] = [
    { chainId: 1n },
    { vault: CAROL },
    { payer: bob.address },
    { recipient: CAROL },
    { token: "0x20C0000000000000000000000000000000000002" },
    { amount: parent.amount + 1n },
    { fee: parent.fee + 1n },
    { seq: 1n },
    { validBefore: parent.validBefore - 1n },
    { parent: EXPECTED.child.txHash },
    { exit: true },
    { memo: NO_PARENT },
  ];
  for (const change of changes) {
    await assert.rejects(
      verifySignedOrder({ order: { ...parent, ...change }, signature: signed.signature }),
      (e) => e instanceof AllegroError && e.code === "INVALID_FORMAT",
      JSON.stringify(change, (_, v) => typeof v === "bigint" ? `${v}` : v),
    );
  }
  const bobs = await bob.signTypedData(orderTypedData(parent));
  await assert.rejects(verifySignedOrder({ order: parent, signature: bobs }), /not the payer/);
  const s = BigInt(`0x${signed.signature.slice(66, 130)}`);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const v = parseInt(signed.signature.slice(130), 16);
  const highS = `${signed.signature.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${
    (v === 27 ? 28 : 27).toString(16)
  }` as Hex;
  await assert.rejects(verifySignedOrder({ order: parent, signature: highS }), /lower half/);
  const v29 = `${signed.signature.slice(0, 130)}1d` as Hex;
  await assert.rejects(verifySignedOrder({ order: parent, signature: v29 }), /v must be 27 or 28/);
});

Deno.test("checkOrder refuses payer 0, amount 0, values over u64, malformed words", () => {
  const bad: [Partial<PaymentOrder>, RegExp][] = [
    [{ payer: zeroAddress }, /payer must not be address 0/],
    [{ amount: 0n }, /amount must be at least 1/],
    [{ amount: 1n << 64n }, /amount must be a u64/],
    [{ fee: -1n }, /fee must be a u64/],
    [{ validBefore: 1n << 64n }, /validBefore must be a u64/],
    [{ parent: "0x11" }, /parent must be 32 bytes/],
    [{ memo: `0x${"zz".repeat(32)}` as Hex }, /memo must be 32 bytes/],
    [{ recipient: "0x1234" }, /recipient must be a 20-byte address/],
  ];
  for (const [change, message] of bad) {
    assert.throws(() => checkOrder({ ...parent, ...change }), message);
  }
  const extreme = { ...parent, amount: (1n << 64n) - 1n, seq: (1n << 64n) - 1n };
  assert.deepEqual(checkOrder(extreme), extreme);
});

Deno.test("signOrder refuses a signer that is not the payer", async () => {
  await assert.rejects(signOrder(bob, parent), /is not the order's payer/);
});

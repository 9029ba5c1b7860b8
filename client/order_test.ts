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
  orderStruct,
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
  validBefore: 1_900_000_000_000n,
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
  parent: "0x8d8700b91ddf6d82c9474497c0b3f8e8c45011e34dea6b8a241bb88535b47449",
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
    txHash: "0x8d8700b91ddf6d82c9474497c0b3f8e8c45011e34dea6b8a241bb88535b47449",
    effectsHash: "0x8911ca524962fdc8d88850f814ba2cc4139694abece0985dc078d9a3a74f94b9",
    certDigest: "0x130788cf4c01df509706bff6416cc5e1bcb149e029639774acd1b278c699b36b",
    orderDigest: "0x7d506c7b9027efd99dd444b3ca1221c93e748c19d31247dd4c3c7c39a671ac8b",
    payerSignature:
      "0xe59eede33b3f0f92b1567691b8e4b8edb722d5356d31d054b307f088ed4cfdb33492b0de8d23b78cde1aaa4101a8ba199d1e09a277d12ebae657851886124d711b",
    attestation:
      "0x2e1c4229c1ec3cc2c9c5475775b84e471efccf2f4dc8362c68939733d014c4c32277089c0f55ba26b2e3c040e120fdb552c64adc0d6d91d67e6814f3792e2a411b",
  },
  child: {
    txHash: "0xeb286ce0b49a6848f565d8d5395778216ad537a77fa27c54b6c9ebd4b4b9d34c",
    effectsHash: "0x1d22937b0f10b6e5e5fa6a234eaff174452abc8919f42ce34a022bf56010fe66",
    certDigest: "0x2e395d96efa7878798264511f0ea5206113347d997d8674a7a16a6d2c8eefe53",
    orderDigest: "0xfe63d7ac10cbb1054193b7f15b3dc31b3b7b0378efb8026d8cf0dd831a2f6db6",
    payerSignature:
      "0x6ea954ae4d7a689ef713d044615975cd04cda7c20725efb6426107a790f344f5141c27da42fd36e215c4f1264b3afbebf2274d5028fb8ce22c9f33b14b744b3d1c",
    attestation:
      "0xef2773a77701ff324f48a2c4bec6b4d186d70de96bcef32f5afca5433b7451516b3253adeb68e40ff812810812cd9c1db88c36f7289b003bab1a535a7f5efb811c",
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
        args: [orderStruct(order)],
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

import assert from "node:assert/strict";
import { bytesToHex, encodeFunctionData, type Hex, hexToBytes, numberToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Abis, Account, Secp256k1, Transaction } from "viem/tempo";
import { AllegroError, type RejectCode } from "./errors.ts";
import {
  ALLEGRO_NONCE_LANE,
  allegroNonceKey,
  buildPaymentTransaction,
  checkParentBinding,
  decodePayment,
  isTip20Address,
  type Payment,
  type PaymentParams,
  signPaymentTransaction,
  TRANSFER_SELECTOR,
  TRANSFER_WITH_MEMO_SELECTOR,
} from "./tempo.ts";

const TxEnvelopeTempo = Transaction.z_TxEnvelopeTempo;
type Envelope = ReturnType<typeof TxEnvelopeTempo.deserialize>;

// anvil's first two dev keys
const KEY: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const OTHER_KEY: Hex = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const account = privateKeyToAccount(KEY);
const TOKEN = "0x20C0000000000000000000000000000000000001";
const FEE_TOKEN = "0x20C0000000000000000000000000000000000000";
const BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const CHAIN = 1337n;
const PARENT = new Uint8Array(32).fill(0x11);
const U64_MAX = (1n << 64n) - 1n;

function params(overrides: Partial<PaymentParams> = {}): PaymentParams {
  return {
    chainId: CHAIN,
    token: TOKEN,
    recipient: BOB,
    amount: 10n,
    nonceKey: allegroNonceKey(7n),
    nonce: 3n,
    validBefore: 1_900_000_000n,
    gas: 100_000n,
    maxFeePerGas: 20n,
    maxPriorityFeePerGas: 1n,
    feeToken: FEE_TOKEN,
    ...overrides,
  };
}

/** Signs any (possibly non-payment) viem Tempo transaction object with viem's Tempo serializer. */
async function signTempo(tx: object, signer = account): Promise<Hex> {
  return await signer.signTransaction(tx as never, { serializer: Transaction.serialize as never });
}

/** A valid payment as an unsigned ox envelope, for hand-made variants. */
async function envelope(overrides: Partial<PaymentParams> = {}): Promise<Envelope> {
  const { signature: _s, from: _f, ...env } = TxEnvelopeTempo.deserialize(
    await signPaymentTransaction(account, params(overrides)) as `0x76${string}`,
  );
  return env;
}

/** The default payment as an unsigned ox envelope. */
const envelope_ = await envelope();

/** Serializes an ox envelope signed (secp256k1) by `KEY`. */
function signEnvelope(env: Envelope): Hex {
  const signature = Secp256k1.sign({
    payload: TxEnvelopeTempo.getSignPayload(env),
    privateKey: KEY,
  });
  return TxEnvelopeTempo.serialize(env, { signature: { type: "secp256k1", signature } });
}

function transferData(amount: bigint, to: Hex = BOB): Hex {
  return encodeFunctionData({ abi: Abis.tip20, functionName: "transfer", args: [to, amount] });
}

/** Asserts `fn` throws an AllegroError with `code` whose message contains every `parts`. */
function assertRejects(fn: () => unknown, code: RejectCode, ...parts: string[]): AllegroError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AllegroError, `expected AllegroError ${code}, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  for (const part of parts) {
    assert.ok(caught.message.includes(part), `"${caught.message}" ∌ ${part}`);
  }
  return caught;
}

const decode = (tx: Hex | Uint8Array): Payment => decodePayment(tx, { chainId: CHAIN });

// --- constants and helpers ------------------------------------------------------------------------

Deno.test("selectors and lane constants", () => {
  assert.equal(TRANSFER_SELECTOR, "0xa9059cbb");
  assert.equal(TRANSFER_WITH_MEMO_SELECTOR, "0x95777d59");
  assert.equal(ALLEGRO_NONCE_LANE, 0x5b);
});

Deno.test("isTip20Address", () => {
  assert.ok(isTip20Address(TOKEN));
  assert.ok(isTip20Address(FEE_TOKEN.toLowerCase()));
  assert.ok(!isTip20Address(BOB));
  assert.ok(!isTip20Address("0x20c0000000000000000000010000000000000001")); // 11th byte set
  assert.ok(!isTip20Address("0x20c000000000000000000000000000000000001")); // 19 bytes
});

Deno.test("allegroNonceKey", () => {
  assert.equal(allegroNonceKey(7n), (0x5bn << 248n) | 7n);
  assert.equal(allegroNonceKey(new Uint8Array([1, 2])), allegroNonceKey(0x0102n));
  assert.equal(allegroNonceKey(new Uint8Array(31).fill(0xff)), (0x5cn << 248n) - 1n);
  assertRejects(() => allegroNonceKey(1n << 248n), "INVALID_FORMAT", "nonceKey id");
  assertRejects(() => allegroNonceKey(new Uint8Array(32)), "INVALID_FORMAT", "nonceKey id");
  assertRejects(() => allegroNonceKey(-1n), "INVALID_FORMAT", "nonceKey id");
});

Deno.test("buildPaymentTransaction refuses what decodePayment would refuse", () => {
  assertRejects(() => buildPaymentTransaction(params({ token: BOB })), "NOT_PAYMENT_TX", "token");
  assertRejects(() => buildPaymentTransaction(params({ amount: 0n })), "INVALID_FORMAT", "amount");
  assertRejects(
    () => buildPaymentTransaction(params({ amount: 1n << 64n })),
    "INVALID_FORMAT",
    "amount",
  );
  assertRejects(
    () => buildPaymentTransaction(params({ memo: new Uint8Array(31) })),
    "INVALID_FORMAT",
    "memo",
  );
  assertRejects(
    () => buildPaymentTransaction(params({ nonceKey: 1n })),
    "NOT_PAYMENT_TX",
    "nonceKey",
  );
  assertRejects(
    () => buildPaymentTransaction(params({ validAfter: 1_900_000_000n })),
    "INVALID_FORMAT",
    "validAfter",
  );
  assertRejects(
    () => buildPaymentTransaction(params({ nonce: 1n << 53n })),
    "INVALID_FORMAT",
    "nonce",
  );
});

// --- accepted shapes ------------------------------------------------------------------------------

Deno.test("transfer: every field round-trips, sender is the signer", async () => {
  const signed = await signPaymentTransaction(account, params());
  assert.ok(signed.startsWith("0x76"));
  const p = decode(signed);
  assert.equal(p.sender, account.address);
  assert.equal(p.recipient, BOB);
  assert.equal(p.amount, 10n);
  assert.equal(p.asset, TOKEN);
  assert.equal(p.chainId, CHAIN);
  assert.equal(bytesToHex(p.nonceKey), numberToHex(allegroNonceKey(7n), { size: 32 }));
  assert.equal(p.nonceKey.length, 32);
  assert.equal(p.nonceKey[0], 0x5b);
  assert.equal(p.nonceSeq, 3n);
  assert.equal(p.validBeforeMillis, 1_900_000_000_000n);
  assert.equal(p.validAfterSeconds, undefined);
  assert.equal(p.memo, undefined);
  assert.equal(p.callKind, "transfer");
  assert.equal(p.signatureType, "secp256k1");
  assert.equal(p.gas, 100_000n);
  assert.equal(p.maxFeePerGas, 20n);
  assert.equal(p.feeToken, FEE_TOKEN);
  assert.deepEqual(p.rawTx, hexToBytes(signed));
  assert.deepEqual(decode(hexToBytes(signed)), p); // bytes in, same payment out
});

Deno.test("transferWithMemo, validAfter, feeToken and boundary values round-trip", async () => {
  const signed = await signPaymentTransaction(
    account,
    params({
      amount: U64_MAX,
      memo: PARENT,
      nonce: 0n,
      validAfter: 1_700_000_000n,
      feeToken: FEE_TOKEN,
    }),
  );
  const p = decode(signed);
  assert.equal(p.callKind, "transferWithMemo");
  assert.deepEqual(p.memo, PARENT);
  assert.equal(p.amount, U64_MAX);
  assert.equal(p.nonceSeq, 0n);
  assert.equal(p.validAfterSeconds, 1_700_000_000n);
  assert.equal(p.feeToken, FEE_TOKEN);
  assert.equal(p.sender, account.address);
});

Deno.test("u64 nonce is exact (viem's Transaction.deserialize would round it)", async () => {
  const p = decode(signEnvelope({ ...await envelope(), nonce: U64_MAX }));
  assert.equal(p.nonceSeq, U64_MAX);
  assertRejects(
    () => decode(signEnvelope({ ...envelope_, nonce: 1n << 64n })),
    "INVALID_FORMAT",
    "nonce 18446744073709551616",
  );
});

Deno.test("P256 and WebAuthn senders are recovered and verified", async () => {
  const p256 = Account.fromP256(`0x${"11".repeat(32)}`);
  const p = decode(await signPaymentTransaction(p256, params()));
  assert.equal(p.sender, p256.address);
  assert.equal(p.signatureType, "p256");

  const webAuthn = Account.fromHeadlessWebAuthn(`0x${"22".repeat(32)}`, {
    rpId: "example.com",
    origin: "https://example.com",
  });
  const w = decode(await signPaymentTransaction(webAuthn, params()));
  assert.equal(w.sender, webAuthn.address);
  assert.equal(w.signatureType, "webAuthn");
});

// --- rejected: format (1) -------------------------------------------------------------------------

Deno.test("legacy and EIP-1559 transactions are INVALID_FORMAT", async () => {
  const base = {
    chainId: 1337,
    to: TOKEN,
    data: transferData(10n),
    gas: 100_000n,
    nonce: 0,
  } as const;
  const legacy = await account.signTransaction({ ...base, type: "legacy", gasPrice: 1n });
  assertRejects(() => decode(legacy), "INVALID_FORMAT", "type 0xf8", "0x76");
  const eip1559 = await account.signTransaction({
    ...base,
    type: "eip1559",
    maxFeePerGas: 2n,
    maxPriorityFeePerGas: 1n,
  });
  assertRejects(() => decode(eip1559), "INVALID_FORMAT", "type 0x02");
});

Deno.test("garbage, empty, non-hex and truncated bytes are INVALID_FORMAT", async () => {
  assertRejects(() => decode("0xdeadbeef"), "INVALID_FORMAT", "type 0xde");
  assertRejects(() => decode("0x76deadbeef"), "INVALID_FORMAT", "transaction", "does not decode");
  assertRejects(() => decode(new Uint8Array()), "INVALID_FORMAT", "transaction", "empty");
  assertRejects(() => decode("hello" as Hex), "INVALID_FORMAT", "transaction hello");
  assertRejects(() => decode("0x761" as Hex), "INVALID_FORMAT", "even-length");
  const signed = await signPaymentTransaction(account, params());
  assertRejects(() => decode(signed.slice(0, -2) as Hex), "INVALID_FORMAT", "transaction");
});

Deno.test("non-canonical encodings (trailing bytes) are INVALID_FORMAT", async () => {
  const signed = await signPaymentTransaction(account, params());
  assertRejects(() => decode(`${signed}00`), "INVALID_FORMAT", "transaction", "canonical");
});

Deno.test("unsigned transaction is INVALID_FORMAT", async () => {
  const unsigned = await Transaction.serialize(buildPaymentTransaction(params()));
  assertRejects(() => decode(unsigned), "INVALID_FORMAT", "signature", "unsigned");
});

Deno.test("missing validBefore is INVALID_FORMAT", async () => {
  const { validBefore: _, ...tx } = buildPaymentTransaction(params());
  const signed = await signTempo(tx);
  assertRejects(() => decode(signed), "INVALID_FORMAT", "validBefore");
});

Deno.test("missing or non-TIP-20 feeToken is INVALID_FORMAT", async () => {
  const { feeToken: _, ...tx } = buildPaymentTransaction(params());
  const unset = await signTempo(tx);
  assertRejects(() => decode(unset), "INVALID_FORMAT", "feeToken", "required");
  const other = await signTempo({ ...buildPaymentTransaction(params()), feeToken: BOB });
  assertRejects(() => decode(other), "INVALID_FORMAT", "feeToken", "TIP-20");
  assertRejects(
    () => buildPaymentTransaction(params({ feeToken: BOB })),
    "INVALID_FORMAT",
    "feeToken",
  );
});

Deno.test("amount 0 and amount ≥ 2^64 are INVALID_FORMAT", async () => {
  const tx = buildPaymentTransaction(params());
  for (const amount of [0n, 1n << 64n]) {
    const signed = await signTempo({ ...tx, calls: [{ to: TOKEN, data: transferData(amount) }] });
    assertRejects(() => decode(signed), "INVALID_FORMAT", `amount ${amount}`);
  }
});

Deno.test("forged senders are INVALID_FORMAT", async () => {
  const env = envelope_;
  const payload = TxEnvelopeTempo.getSignPayload(env);
  const signature = Secp256k1.sign({ payload, privateKey: OTHER_KEY });

  // A sender address in the fee-payer slot of a 0x76 envelope (ox would report it as `from`).
  const feePayerFormat = TxEnvelopeTempo.serialize(env, {
    format: "feePayer",
    sender: account.address,
    signature: { type: "secp256k1", signature },
  });
  const slot = `0x76${feePayerFormat.slice(4)}` as const;
  assertRejects(() => decode(slot), "INVALID_FORMAT", "transaction");

  // A keychain envelope claiming to act for `account`, signed by another key.
  const keychain = TxEnvelopeTempo.serialize(env, {
    signature: {
      type: "keychain",
      userAddress: account.address,
      inner: { type: "secp256k1", signature },
      version: "v2",
    },
  });
  assertRejects(() => decode(keychain), "INVALID_FORMAT", "signature.type keychain");

  // A P256 envelope with the victim's public key but a signature that does not verify.
  const p256 = Account.fromP256(`0x${"11".repeat(32)}`);
  const real = TxEnvelopeTempo.deserialize(
    await signPaymentTransaction(p256, params()) as `0x76${string}`,
  );
  assert.ok(real.signature?.type === "p256");
  const bogus = TxEnvelopeTempo.serialize(env, {
    signature: { ...real.signature, signature: { r: 1n, s: 1n } },
  });
  assertRejects(() => decode(bogus), "INVALID_FORMAT", "signature p256", "does not verify");

  // The malleated (high-s) twin of a valid secp256k1 signature.
  const good = Secp256k1.sign({ payload, privateKey: KEY });
  const high = TxEnvelopeTempo.serialize(env, {
    signature: {
      type: "secp256k1",
      signature: {
        r: good.r,
        s: Secp256k1.noble.CURVE.n - good.s,
        yParity: 1 - good.yParity,
      },
    },
  });
  assertRejects(() => decode(high), "INVALID_FORMAT", "signature.s");
});

// --- rejected: chain (2) --------------------------------------------------------------------------

Deno.test("another chain id is WRONG_CHAIN", async () => {
  const signed = await signPaymentTransaction(account, params({ chainId: 1n }));
  assertRejects(() => decode(signed), "WRONG_CHAIN", "chainId 1", "1337");
});

// --- rejected: payment shape (3) ------------------------------------------------------------------

Deno.test("two calls are NOT_PAYMENT_TX", async () => {
  const tx = buildPaymentTransaction(params());
  const signed = await signTempo({ ...tx, calls: [tx.calls[0], tx.calls[0]] });
  assertRejects(() => decode(signed), "NOT_PAYMENT_TX", "calls 2");
});

Deno.test("a non-TIP-20 target is NOT_PAYMENT_TX", async () => {
  const tx = buildPaymentTransaction(params());
  const signed = await signTempo({ ...tx, calls: [{ to: BOB, data: transferData(10n) }] });
  assertRejects(() => decode(signed), "NOT_PAYMENT_TX", "calls[0].to", BOB.toLowerCase());
});

Deno.test("a non-zero value is NOT_PAYMENT_TX", async () => {
  const tx = buildPaymentTransaction(params());
  const signed = await signTempo({
    ...tx,
    calls: [{ to: TOKEN, data: transferData(10n), value: 1n }],
  });
  assertRejects(() => decode(signed), "NOT_PAYMENT_TX", "calls[0].value 1");
});

Deno.test("another selector (approve) or bad calldata is NOT_PAYMENT_TX", async () => {
  const tx = buildPaymentTransaction(params());
  const approve = encodeFunctionData({
    abi: Abis.tip20,
    functionName: "approve",
    args: [BOB, 10n],
  });
  const signed = await signTempo({ ...tx, calls: [{ to: TOKEN, data: approve }] });
  assertRejects(() => decode(signed), "NOT_PAYMENT_TX", "calls[0].data 0x095ea7b3");

  const trailing = await signTempo({
    ...tx,
    calls: [{ to: TOKEN, data: `${transferData(10n)}00` }],
  });
  assertRejects(() => decode(trailing), "NOT_PAYMENT_TX", "calls[0].data", "canonical");
  const short = await signTempo({ ...tx, calls: [{ to: TOKEN, data: TRANSFER_SELECTOR }] });
  assertRejects(() => decode(short), "NOT_PAYMENT_TX", "calls[0].data");
  // A recipient word with a set bit above the 20 address bytes: the EVM ignores it, so it
  // would be another encoding (another tx_hash) of the same payment.
  const words = transferData(10n).slice(10);
  const dirty = await signTempo({
    ...tx,
    calls: [{ to: TOKEN, data: `${TRANSFER_SELECTOR}01${words.slice(2)}` }],
  });
  assertRejects(() => decode(dirty), "NOT_PAYMENT_TX", "calls[0].data", "canonical");
  // transferWithMemo without its memo word.
  const noMemo = await signTempo({
    ...tx,
    calls: [{ to: TOKEN, data: `${TRANSFER_WITH_MEMO_SELECTOR}${words}` }],
  });
  assertRejects(() => decode(noMemo), "NOT_PAYMENT_TX", "calls[0].data", "canonical");
});

Deno.test("a nonce key outside the 0x5b lane is NOT_PAYMENT_TX", async () => {
  const tx = buildPaymentTransaction(params());
  for (const nonceKey of [1n, (0x5cn << 248n) | 7n]) {
    const signed = await signTempo({ ...tx, nonceKey });
    assertRejects(() => decode(signed), "NOT_PAYMENT_TX", "nonceKey", nonceKey.toString(16));
  }
});

Deno.test("a sponsored (fee payer) transaction is NOT_PAYMENT_TX", () => {
  const env: Envelope = { ...envelope_, feePayerSignature: null };
  const signature = Secp256k1.sign({
    payload: TxEnvelopeTempo.getSignPayload(env),
    privateKey: KEY,
  });
  const feePayerSignature = Secp256k1.sign({
    payload: TxEnvelopeTempo.getFeePayerSignPayload(env, { sender: account.address }),
    privateKey: OTHER_KEY,
  });
  const signed = TxEnvelopeTempo.serialize({ ...env, feePayerSignature }, {
    signature: { type: "secp256k1", signature },
  });
  assertRejects(() => decode(signed), "NOT_PAYMENT_TX", "feePayerSignature");
});

// --- priority between codes -----------------------------------------------------------------------

Deno.test("codes keep SPEC priority: format > chain > shape", async () => {
  const tx = buildPaymentTransaction(params({ chainId: 1n }));
  // amount 0 on the wrong chain: the format error wins
  const zero = await signTempo({ ...tx, calls: [{ to: TOKEN, data: transferData(0n) }] });
  assertRejects(() => decode(zero), "INVALID_FORMAT", "amount 0");
  // amount 0 with a nonce key outside the lane: still the format error
  const zeroLane = await signTempo({
    ...tx,
    chainId: 1337,
    nonceKey: 1n,
    calls: [{ to: TOKEN, data: transferData(0n) }],
  });
  assertRejects(() => decode(zeroLane), "INVALID_FORMAT", "amount 0");
  // non-TIP-20 target on the wrong chain: the chain error wins
  const wrongTarget = await signTempo({ ...tx, calls: [{ to: BOB, data: transferData(10n) }] });
  assertRejects(() => decode(wrongTarget), "WRONG_CHAIN", "chainId 1");
  // unsigned and on the wrong chain: the format error wins
  const unsigned = await Transaction.serialize(tx);
  assertRejects(() => decode(unsigned), "INVALID_FORMAT", "signature");
});

// --- memo ↔ parent_qc_hash ------------------------------------------------------------------------

Deno.test("parent binding: memo must equal parent_qc_hash", async () => {
  const withMemo = decode(await signPaymentTransaction(account, params({ memo: PARENT })));
  const plain = decode(await signPaymentTransaction(account, params()));

  checkParentBinding(withMemo, PARENT.slice()); // match
  checkParentBinding(withMemo); // memo without parent
  checkParentBinding(plain); // neither

  const mismatch = assertRejects(
    () => checkParentBinding(withMemo, new Uint8Array(32).fill(0x22)),
    "INVALID_PARENT_QC",
    "parent_qc_hash",
    bytesToHex(new Uint8Array(32).fill(0x22)),
    bytesToHex(PARENT),
  );
  assert.equal(mismatch.details.field, "parent_qc_hash");
  assertRejects(() => checkParentBinding(plain, PARENT), "INVALID_PARENT_QC", "transfer");
  assertRejects(
    () => checkParentBinding(withMemo, new Uint8Array(31)),
    "INVALID_FORMAT",
    "parent_qc_hash",
  );
});

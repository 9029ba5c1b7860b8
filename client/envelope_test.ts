import assert from "node:assert/strict";
import { bytesToHex, type Hex, hexToBytes, keccak256, numberToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Rlp } from "ox";
import { Transaction } from "viem/tempo";
import { parsePaymentEnvelope } from "./envelope.ts";
import { allegroNonceKey, type PaymentParams, signPaymentTransaction } from "./tempo.ts";

const TxEnvelopeTempo = Transaction.z_TxEnvelopeTempo;
const account = privateKeyToAccount(
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
);

function params(overrides: Partial<PaymentParams> = {}): PaymentParams {
  return {
    chainId: 1337n,
    token: "0x20C0000000000000000000000000000000000001",
    recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    amount: 10n,
    nonceKey: allegroNonceKey(7n),
    nonce: 0n,
    validBefore: 1_900_000_000n,
    gas: 100_000n,
    maxFeePerGas: 20_000_000_000n,
    maxPriorityFeePerGas: 0n,
    feeToken: "0x20C0000000000000000000000000000000000000",
    ...overrides,
  };
}

/** Signed payments of every shape a wallet makes: fields at zero, small, single-byte and large. */
async function validPayments(): Promise<Uint8Array[]> {
  const variants: Partial<PaymentParams>[] = [
    {},
    { memo: new Uint8Array(32).fill(0x11) },
    { chainId: 1n },
    { chainId: 127n, nonce: 127n, amount: 127n },
    { chainId: 128n, nonce: 128n, amount: 128n },
    { nonce: 1n, maxPriorityFeePerGas: 1n },
    { nonce: (1n << 53n) - 1n, amount: (1n << 64n) - 1n },
    { nonceKey: allegroNonceKey((1n << 248n) - 1n) },
    { nonceKey: allegroNonceKey(0n), validAfter: 1_800_000_000n },
    { gas: 1n, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n },
    { gas: (1n << 64n) - 1n, maxFeePerGas: (1n << 128n) - 1n },
    { validBefore: 1n },
  ];
  return await Promise.all(
    variants.map(async (v) => hexToBytes(await signPaymentTransaction(account, params(v)))),
  );
}

/** Asserts that ox decodes `raw` to the same fields and signing hash, and re-encodes it exactly. */
function assertAgreesWithOx(raw: Uint8Array): void {
  const direct = parsePaymentEnvelope(raw);
  assert.ok(direct);
  const hex = bytesToHex(raw) as `0x76${string}`;
  const ox = TxEnvelopeTempo.deserialize(hex);
  assert.equal(TxEnvelopeTempo.serialize(ox), hex, "canonical");
  const { from: _from, type: _type, ...fields } = ox;
  assert.deepEqual(
    { ...direct.tx, calls: direct.tx.calls.map((c) => ({ ...c })) },
    {
      ...fields,
      nonce: ox.nonce ?? 0n,
      nonceKey: ox.nonceKey ?? 0n,
      ...(ox.feeToken === undefined ? {} : { feeToken: String(ox.feeToken).toLowerCase() }),
      calls: ox.calls.map((c) => ({ ...c, ...(c.to ? { to: c.to.toLowerCase() } : {}) })),
    },
  );
  assert.equal(keccak256(direct.unsigned), TxEnvelopeTempo.getSignPayload(ox));
}

Deno.test("every payment shape a wallet signs is parsed directly, exactly as ox parses it", async () => {
  for (const raw of await validPayments()) assertAgreesWithOx(raw);
});

Deno.test("whatever the direct parser takes from 3,000 mutated payments, ox decodes identically and canonically", async () => {
  const payments = await validPayments();
  let state = 7;
  const random = (n: number) => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
  let taken = 0;
  for (let i = 0; i < 3000; i++) {
    const base = payments[i % payments.length];
    let raw: Uint8Array;
    const at = 1 + random(base.length - 1);
    switch (i % 4) {
      case 0: // change one byte
        raw = base.slice();
        raw[at] = random(256);
        break;
      case 1: // drop one byte
        raw = new Uint8Array([...base.subarray(0, at), ...base.subarray(at + 1)]);
        break;
      case 2: // insert one byte
        raw = new Uint8Array([...base.subarray(0, at), random(256), ...base.subarray(at)]);
        break;
      default: // flip one bit
        raw = base.slice();
        raw[at] ^= 1 << random(8);
    }
    if (parsePaymentEnvelope(raw) === undefined) continue;
    taken++;
    assertAgreesWithOx(raw);
  }
  // Changes inside field values keep the shape: a fair share of the mutations is compared.
  assert.ok(taken > 300, `only ${taken} mutations were taken`);
});

Deno.test("shapes and encodings left to ox are declined", async () => {
  const [raw] = await validPayments();
  const ox = TxEnvelopeTempo.deserialize(bytesToHex(raw) as `0x76${string}`);
  const { from: _from, ...tx } = ox;
  const reencoded = (changes: Record<string, unknown>) =>
    hexToBytes(TxEnvelopeTempo.serialize({ ...tx, ...changes } as typeof tx));
  const declined: [string, Uint8Array][] = [
    ["another type byte", new Uint8Array([0x02, ...raw.subarray(1)])],
    ["trailing byte", new Uint8Array([...raw, 0])],
    ["truncated", raw.subarray(0, raw.length - 1)],
    ["two calls", reencoded({ calls: [...tx.calls, ...tx.calls] })],
    ["an access list", reencoded({ accessList: [{ address: tx.feeToken, storageKeys: [] }] })],
    ["a fee payer placeholder", reencoded({ feePayerSignature: null })],

    ["no signature", reencoded({ signature: undefined })],
  ];
  // Fields ox's own encoder refuses to write, set in the RLP list directly.
  const withFields = (changes: Record<number, Hex>) => {
    const list = [...Rlp.toHex(raw.subarray(1)) as Hex[]];
    for (const [i, value] of Object.entries(changes)) list[Number(i)] = value;
    return new Uint8Array([0x76, ...Rlp.fromHex(list, { as: "Bytes" })]);
  };
  assert.ok(parsePaymentEnvelope(withFields({})), "the unchanged list is taken");
  declined.push(["a tip above the fee cap", withFields({ 1: "0x05", 2: "0x04" })]);
  declined.push(["a tip without a fee cap", withFields({ 1: "0x05", 2: "0x" })]);
  declined.push(["an empty validity window", withFields({ 9: numberToHex(tx.validBefore!) })]);
  // v = 0 or 1 instead of 27 or 28: ox reads it as the same y parity, but re-encodes it.
  const v01 = raw.slice();
  v01[v01.length - 1] -= 27;
  declined.push(["v = 0 or 1", v01]);
  // The chain id 1337 (0x82 0x05 0x39, the first field after 0x76 0xf8 LENGTH) with a leading
  // zero byte: 0x83 0x00 0x05 0x39.
  const chainAt = 3;
  assert.deepEqual([raw[1], raw[chainAt]], [0xf8, 0x82]);
  const padded = new Uint8Array([
    ...raw.subarray(0, chainAt),
    0x83,
    0x00,
    ...raw.subarray(chainAt + 1),
  ]);
  padded[2]++; // the list's length byte (long form, one byte)
  declined.push(["an integer with a leading zero", padded]);
  // Chain id 1 is the byte 0x01 itself; 0x81 0x01 is the same value, not minimally encoded.
  const one = hexToBytes(await signPaymentTransaction(account, params({ chainId: 1n })));
  assert.deepEqual([one[1], one[3]], [0xf8, 0x01]);
  const wrapped = new Uint8Array([0x76, 0xf8, one[2] + 1, 0x81, ...one.subarray(3)]);
  declined.push(["a single low byte with a string header", wrapped]);
  // The list length in two bytes, the first zero: 0xf9 0x00 LENGTH.
  declined.push([
    "a length with a leading zero",
    new Uint8Array([0x76, 0xf9, 0, ...raw.subarray(2)]),
  ]);
  for (const [name, bytes] of declined) {
    assert.equal(parsePaymentEnvelope(bytes), undefined, name);
  }
});

import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  PaymentOrderSchema,
  RejectCode,
  SignedOrderSchema,
  ValidatorCertificateSchema,
} from "@allegro/proto";
import { AllegroError, REJECT_CODES } from "./errors.ts";
import { NO_PARENT, type PaymentOrder } from "./order.ts";
import {
  certificateFromProto,
  certificateToProto,
  orderFromProto,
  orderInit,
  rejectCodeFromProto,
  rejectCodeToProto,
  signedOrderFromProto,
  signedOrderInit,
} from "./wire.ts";

Deno.test("every reject code maps to the wire enum and back", () => {
  const wireNames = Object.keys(RejectCode).filter((k) => isNaN(Number(k)) && k !== "UNSPECIFIED");
  assert.deepEqual([...wireNames].sort(), [...REJECT_CODES].sort());
  for (const code of REJECT_CODES) assert.equal(rejectCodeFromProto(rejectCodeToProto(code)), code);
  assert.throws(() => rejectCodeFromProto(RejectCode.UNSPECIFIED), /reject code 0 is not a known/);
  assert.throws(() => rejectCodeFromProto(99 as RejectCode), /reject code 99/);
});

Deno.test("a certificate decoded from binary owns its bytes, not views into the message buffer", () => {
  const original = {
    signer: new Uint8Array(32).fill(1),
    txHash: new Uint8Array(32).fill(2),
    effectsHash: new Uint8Array(32).fill(3),
    signature: new Uint8Array(64).fill(4),
    attestation: new Uint8Array(65).fill(6),
    createdUnixMillis: 5n,
    epoch: 7n,
  };
  const buffer = toBinary(ValidatorCertificateSchema, certificateToProto(original));
  const cert = certificateFromProto(fromBinary(ValidatorCertificateSchema, buffer));
  assert.deepEqual(cert, original);
  for (
    const field of [cert.signer, cert.txHash, cert.effectsHash, cert.signature, cert.attestation]
  ) {
    assert.equal(field.buffer.byteLength, field.length);
  }
  buffer.fill(0);
  assert.deepEqual(cert, original);
});

const order: PaymentOrder = {
  chainId: 1337n,
  vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  payer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  token: "0x20C0000000000000000000000000000000000000",
  amount: 10n,
  fee: 1n,
  seq: 3n,
  validBefore: 1_900_000_000_000n,
  parent: `0x${"ab".repeat(32)}`,
  exit: true,
  memo: NO_PARENT,
};

Deno.test("an order survives the wire field for field, and so does a signed one", () => {
  const bytes = toBinary(PaymentOrderSchema, create(PaymentOrderSchema, orderInit(order)));
  assert.deepEqual(orderFromProto(fromBinary(PaymentOrderSchema, bytes)), order);
  const signed = { order, signature: `0x${"11".repeat(65)}` as const };
  const message = fromBinary(
    SignedOrderSchema,
    toBinary(SignedOrderSchema, create(SignedOrderSchema, signedOrderInit(signed))),
  );
  assert.deepEqual(signedOrderFromProto(message), signed);
});

Deno.test("a malformed wire order is INVALID_FORMAT naming the field; empty parent and memo mean zero", () => {
  const base = create(PaymentOrderSchema, orderInit(order));
  const cases: [Partial<typeof base>, RegExp][] = [
    [{ payer: new Uint8Array(19) }, /order\.payer must be 20 bytes, got 19/],
    [{ recipient: new Uint8Array(21) }, /order\.recipient must be 20 bytes/],
    [{ parent: new Uint8Array(31) }, /order\.parent must be 32 bytes or empty, got 31/],
    [{ amount: 0n }, /order\.amount must be at least 1/],
    [{ payer: new Uint8Array(20) }, /order\.payer must not be address 0/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => orderFromProto({ ...base, ...change }), (e: unknown) => {
      assert.ok(e instanceof AllegroError);
      assert.equal(e.code, "INVALID_FORMAT");
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => orderFromProto(undefined), /order is missing/);
  const zero = orderFromProto({ ...base, parent: new Uint8Array(), memo: new Uint8Array() });
  assert.equal(zero.parent, NO_PARENT);
  assert.equal(zero.memo, NO_PARENT);
});

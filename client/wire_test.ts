import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { RejectCode, ValidatorCertificateSchema } from "@allegro/proto";
import { REJECT_CODES } from "./errors.ts";
import {
  certificateFromProto,
  certificateToProto,
  rejectCodeFromProto,
  rejectCodeToProto,
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
    createdUnixMillis: 5n,
  };
  const buffer = toBinary(ValidatorCertificateSchema, certificateToProto(original));
  const cert = certificateFromProto(fromBinary(ValidatorCertificateSchema, buffer));
  assert.deepEqual(cert, original);
  for (const field of [cert.signer, cert.txHash, cert.effectsHash, cert.signature]) {
    assert.equal(field.buffer.byteLength, field.length);
  }
  buffer.fill(0);
  assert.deepEqual(cert, original);
});

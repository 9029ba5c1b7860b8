import assert from "node:assert/strict";
import { RejectCode } from "@allegro/proto";
import { REJECT_CODES } from "./errors.ts";
import { rejectCodeFromProto, rejectCodeToProto } from "./wire.ts";

Deno.test("every reject code maps to the wire enum and back", () => {
  const wireNames = Object.keys(RejectCode).filter((k) => isNaN(Number(k)) && k !== "UNSPECIFIED");
  assert.deepEqual([...wireNames].sort(), [...REJECT_CODES].sort());
  for (const code of REJECT_CODES) assert.equal(rejectCodeFromProto(rejectCodeToProto(code)), code);
  assert.throws(() => rejectCodeFromProto(RejectCode.UNSPECIFIED), /reject code 0 is not a known/);
  assert.throws(() => rejectCodeFromProto(99 as RejectCode), /reject code 99/);
});

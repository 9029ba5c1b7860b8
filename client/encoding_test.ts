import assert from "node:assert/strict";
import { bytesToHex } from "viem";
import { AllegroError } from "./errors.ts";
import { CanonicalWriter } from "./encoding.ts";

Deno.test("fixed-width integers are big-endian, and one past the maximum is refused naming the field", () => {
  const w = new CanonicalWriter();
  w.u8("a", 0xfe).u16("b", 0x1234).u32("c", 0xffff_ffff).u64("d", (1n << 64n) - 2n);
  assert.equal(bytesToHex(w.finish()), "0xfe1234ffffffff" + "fffffffffffffffe");
  const tooBig: [string, () => unknown][] = [
    ["u8", () => new CanonicalWriter().u8("x", 256)],
    ["u16", () => new CanonicalWriter().u16("x", 65536)],
    ["u32", () => new CanonicalWriter().u32("x", 2 ** 32)],
    ["u64", () => new CanonicalWriter().u64("x", 1n << 64n)],
    ["negative", () => new CanonicalWriter().u32("x", -1)],
  ];
  for (const [name, write] of tooBig) {
    assert.throws(
      write,
      (e) => e instanceof AllegroError && e.code === "INVALID_FORMAT" && /^x /.test(e.message),
      name,
    );
  }
});

import assert from "node:assert/strict";
import { committeeToJson, loadCommittee, parseCommittee, quorumThreshold } from "./committee.ts";
import { AllegroError } from "./errors.ts";

const doc = (validators: unknown[] = [
  { name: "dave", pubkey: "11".repeat(32), endpoint: "http://127.0.0.1:7001" },
  { name: "edgar", pubkey: "0x" + "22".repeat(32), endpoint: "http://127.0.0.1:7002" },
]) => ({ chain_id: 1337, epoch: "42", validators });

Deno.test("threshold is n - floor((n-1)/3)", () => {
  const want: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 7: 5, 10: 7 };
  for (const [n, t] of Object.entries(want)) assert.equal(quorumThreshold(Number(n)), t);
});

Deno.test("parses a committee and finds members by public key", () => {
  const c = parseCommittee(doc());
  assert.equal(c.chainId, 1337n);
  assert.equal(c.epoch, 42n);
  assert.equal(c.threshold, 2);
  assert.equal(c.faultTolerance, 0);
  assert.equal(c.member(new Uint8Array(32).fill(0x22))?.name, "edgar");
  assert.equal(c.member(new Uint8Array(32).fill(0x33)), undefined);
  assert.deepEqual(parseCommittee(committeeToJson(c)).validators, c.validators);
});

Deno.test("rejects bad committee documents naming the field", () => {
  const v = { name: "dave", pubkey: "11".repeat(32), endpoint: "http://127.0.0.1:7001" };
  const cases: [unknown, RegExp][] = [
    [null, /JSON object/],
    [{ ...doc(), chain_id: -1 }, /chain_id must be a u64/],
    [{ ...doc(), epoch: "1e3" }, /epoch must be a u64/],
    [{ ...doc(), chain_id: (1n << 64n).toString() }, /chain_id must be a u64/],
    [doc([]), /validators must be a non-empty array/],
    [doc([{ ...v, pubkey: "11".repeat(31) }]), /validators\[0\]\.pubkey must be 32 bytes/],
    [doc([{ ...v, name: "" }]), /validators\[0\]\.name/],
    [doc([{ ...v, endpoint: "not a url" }]), /validators\[0\]\.endpoint must be a URL/],
    [doc([v, { ...v, name: "other" }]), /validators\[1\]\.pubkey .* appears twice/],
    [doc([v, { ...v, pubkey: "33".repeat(32) }]), /validators\[1\]\.name dave appears twice/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseCommittee(input), (e: unknown) => {
      assert.ok(e instanceof AllegroError);
      assert.equal(e.code, "INVALID_FORMAT");
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("loads a committee file by URL", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(doc()));
    const c = await loadCommittee(new URL(`file://${path}`));
    assert.equal(c.validators.length, 2);
    await Deno.writeTextFile(path, "{");
    await assert.rejects(loadCommittee(new URL(`file://${path}`)), /is not JSON/);
  } finally {
    await Deno.remove(path);
  }
});

import assert from "node:assert/strict";
import {
  committeeMismatch,
  committeeToJson,
  loadCommittee,
  parseCommittee,
  quorumThreshold,
} from "./committee.ts";
import { AllegroError } from "./errors.ts";

const DAVE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const EDGAR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const VAULT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

const doc = (validators: unknown[] = [
  {
    name: "dave",
    pubkey: "11".repeat(32),
    settlement_address: DAVE,
    endpoint: "http://127.0.0.1:7001",
  },
  {
    name: "edgar",
    pubkey: "0x" + "22".repeat(32),
    settlement_address: EDGAR.toLowerCase(),
    endpoint: "http://127.0.0.1:7002",
  },
]) => ({ chain_id: 1337, epoch: "42", vault: VAULT, validators });

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
  assert.equal(c.indexOf(new Uint8Array(32).fill(0x22)), 1);
  assert.equal(c.indexOf(new Uint8Array(32).fill(0x33)), -1);
  assert.equal(c.vault, VAULT);
  assert.equal(c.validators[1].settlementAddress, EDGAR, "checksummed");
  assert.deepEqual(parseCommittee(committeeToJson(c)).validators, c.validators);
});

Deno.test("rejects bad committee documents naming the field", () => {
  const v = {
    name: "dave",
    pubkey: "11".repeat(32),
    settlement_address: DAVE,
    endpoint: "http://127.0.0.1:7001",
  };
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
    [{ ...doc(), vault: "0x12" }, /vault must be a 20-byte address, got "0x12"/],
    [doc([{ ...v, settlement_address: undefined }]), /validators\[0\]\.settlement_address must be/],
    [
      doc([v, { ...v, name: "other", pubkey: "33".repeat(32) }]),
      /validators\[1\]\.settlement_address .* appears twice/,
    ],
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

Deno.test("the committee must be the vault's for its epoch: addresses, order and threshold", () => {
  const c = parseCommittee(doc());
  assert.equal(committeeMismatch(c, { members: [DAVE, EDGAR], threshold: 2 }), undefined);
  assert.match(
    committeeMismatch(c, { members: [], threshold: 0 })!,
    /has no committee for epoch 42/,
  );
  assert.match(
    committeeMismatch(c, { members: [EDGAR, DAVE], threshold: 2 })!,
    /validators\[0\]\.settlement_address is 0x7099.*, the vault has 0x3C44/,
  );
  assert.match(
    committeeMismatch(c, { members: [DAVE], threshold: 1 })!,
    /file has 2 validators, the vault 1/,
  );
  assert.match(
    committeeMismatch(c, { members: [DAVE, EDGAR], threshold: 1 })!,
    /threshold 2 differs/,
  );
});

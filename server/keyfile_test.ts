import assert from "node:assert/strict";
import { join } from "node:path";
import { generatePrivateKey } from "viem/accounts";
import { readAccountKeyFile, readKeyFile, writeAccountKeyFile, writeKeyFile } from "./keyfile.ts";

Deno.test("keygen writes both keys with mode 0600 and reads back; refuses readable or mismatched keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "v.key");
    const written = await writeKeyFile(path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await readKeyFile(path), written);
    assert.notEqual(
      written.settlementKey.slice(2),
      Array.from(written.secretKey, (b) => b.toString(16).padStart(2, "0")).join(""),
    );
    await assert.rejects(writeKeyFile(path), /exists/i);
    for (const mode of [0o640, 0o604]) {
      await Deno.chmod(path, mode);
      await assert.rejects(readKeyFile(path), new RegExp(`mode ${mode.toString(8)}`));
    }
    await Deno.chmod(path, 0o600);
    const doc = JSON.parse(await Deno.readTextFile(path));
    const rewrite = (change: Record<string, unknown>) =>
      Deno.writeTextFile(path, JSON.stringify({ ...doc, ...change }));
    await rewrite({ public_key: `0x${"11".repeat(32)}` });
    await assert.rejects(readKeyFile(path), /public_key does not belong to secret_key/);
    await rewrite({ settlement_address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" });
    await assert.rejects(readKeyFile(path), /settlement_address does not belong/);
    await rewrite({ settlement_key: "0x12" });
    await assert.rejects(readKeyFile(path), /settlement_key must be 32 bytes/);
    await assert.rejects(
      readKeyFile(join(dir, "missing.key")),
      /key file .*missing.key cannot be read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("account key files: written 0600, read back, address checked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "settler.key");
    const key = generatePrivateKey();
    const written = await writeAccountKeyFile(path, key);
    assert.equal(written.privateKey, key);
    assert.deepEqual(await readAccountKeyFile(path), written);
    await Deno.writeTextFile(
      path,
      JSON.stringify({ private_key: key, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" }),
    );
    await assert.rejects(readAccountKeyFile(path), /address does not belong/);
    await Deno.chmod(path, 0o644);
    await assert.rejects(readAccountKeyFile(path), /mode 644/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

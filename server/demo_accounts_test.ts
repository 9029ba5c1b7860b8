import assert from "node:assert/strict";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { loadDemoAccounts, writeDemoAccounts } from "./demo_accounts.ts";

Deno.test("demo accounts: written 0600, read back, refused when a key does not match", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "demo-accounts.json");
    const privateKey = generatePrivateKey();
    const alice = { name: "alice", address: privateKeyToAccount(privateKey).address, privateKey };
    await writeDemoAccounts(path, [alice]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await loadDemoAccounts(path), [alice]);
    const other = privateKeyToAccount(generatePrivateKey()).address;
    await Deno.remove(path);
    await writeDemoAccounts(path, [{ ...alice, address: other }]);
    await assert.rejects(loadDemoAccounts(path), /accounts\[0\]\.address is not the address/);
    await Deno.remove(path);
    await writeDemoAccounts(path, [alice, alice]);
    await assert.rejects(loadDemoAccounts(path), /accounts\[1\]\.name must be a unique/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

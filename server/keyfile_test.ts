import assert from "node:assert/strict";
import { join } from "node:path";
import { readKeyFile, writeKeyFile } from "./keyfile.ts";

Deno.test("keygen writes mode 0600 and reads back; refuses group/world-readable or mismatched keys", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "v.key");
  const written = await writeKeyFile(path);
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.deepEqual(await readKeyFile(path), written);
  await assert.rejects(writeKeyFile(path), /exists/i);
  for (const mode of [0o640, 0o604]) {
    await Deno.chmod(path, mode);
    await assert.rejects(readKeyFile(path), new RegExp(`mode ${mode.toString(8)}`));
  }
  await Deno.chmod(path, 0o600);
  const doc = JSON.parse(await Deno.readTextFile(path));
  await Deno.writeTextFile(path, JSON.stringify({ ...doc, public_key: `0x${"11".repeat(32)}` }));
  await assert.rejects(readKeyFile(path), /public_key does not belong to secret_key/);
  await Deno.remove(dir, { recursive: true });
});

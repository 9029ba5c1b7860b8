import assert from "node:assert/strict";
import { openExclusiveKv } from "./exclusive_kv.ts";

Deno.test("a KV path held by one owner is refused to the next until it is closed", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/db.kv`;
  const first = await openExclusiveKv(path, "sidecar");
  await first.kv.set(["k"], 1);
  await assert.rejects(
    openExclusiveKv(path, "sidecar", 100),
    new Error(`KV path ${path} is in use by another sidecar process`),
  );
  first.close();
  const second = await openExclusiveKv(path, "sidecar", 100);
  assert.equal((await second.kv.get(["k"])).value, 1);
  second.close();
  await Deno.remove(dir, { recursive: true });
});

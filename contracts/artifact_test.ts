import assert from "node:assert/strict";
import { renderArtifact } from "./build.ts";

Deno.test("committed contracts/gen/vault.ts is what `deno task contracts` compiles now", async () => {
  const committed = await Deno.readTextFile(new URL("gen/vault.ts", import.meta.url));
  assert.ok(
    committed === await renderArtifact(),
    "contracts/gen/vault.ts is stale: run `deno task contracts`",
  );
});

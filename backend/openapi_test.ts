/**
 * The OpenAPI document passes Redocly's `recommended` rules with no error and no warning
 * (`@redocly/openapi-core`, the engine of `redocly lint`, pinned in the root `deno.json`).
 */
import assert from "node:assert/strict";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { OPENAPI } from "./openapi.ts";

async function lint(document: unknown): Promise<string[]> {
  const config = await createConfig({ extends: ["recommended"] });
  const problems = await lintFromString({
    source: JSON.stringify(document),
    absoluteRef: "/openapi.json",
    config,
  });
  return problems.map((p) =>
    `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(", ")}`
  );
}

Deno.test("the OpenAPI document lints clean with Redocly's recommended rules", async () => {
  assert.equal(OPENAPI.openapi, "3.1.0");
  assert.deepEqual(await lint(OPENAPI), []);
  // The linter does look: an operation without its operationId is reported.
  const broken = structuredClone(OPENAPI);
  delete (broken.paths["/payments"].post as { operationId?: string }).operationId;
  assert.match((await lint(broken)).join("\n"), /operation-operationId/);
});

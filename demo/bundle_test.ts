/**
 * `deno task bundle` makes one self-contained file per component that runs with
 * `deno run --no-config`; the bundled demo starts its sidecars and backend from itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const PERMISSIONS = [
  "--no-config",
  "--unstable-kv",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-env=ANVIL_BIN,PATH",
];

async function run(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  return {
    ok: out.success,
    code: out.code,
    stdout,
    text: stdout + new TextDecoder().decode(out.stderr),
  };
}

Deno.test({
  name: "deno task bundle: sidecar, backend and demo run from their bundles",
  sanitizeResources: false,
}, async () => {
  const built = await run(["task", "bundle"], root);
  assert.ok(built.ok, built.text);
  const dir = await Deno.makeTempDir({ prefix: "allegro-bundle-" });
  const bundle = (name: string) => join(root, "dist", `${name}.js`);
  try {
    const help = await run(["run", ...PERMISSIONS, bundle("sidecar"), "run", "--help"], dir);
    assert.ok(help.ok, help.text);
    assert.match(help.text, /--rpc-url/);
    const keygen = await run(
      ["run", ...PERMISSIONS, bundle("sidecar"), "keygen", "--out", "v.key"],
      dir,
    );
    assert.ok(keygen.ok, keygen.text);
    assert.equal((await Deno.stat(join(dir, "v.key"))).mode! & 0o777, 0o600);
    const missing = await run(
      ["run", ...PERMISSIONS, bundle("sidecar"), "run", "--name", "v"],
      dir,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.text, /--key is required/);
    const backend = await run(["run", ...PERMISSIONS, bundle("backend"), "run", "--help"], dir);
    assert.ok(backend.ok, backend.text);
    assert.match(backend.text, /--committee/);

    const demo = await run(
      ["run", ...PERMISSIONS, bundle("demo"), "--json", "--block-time", "1"],
      dir,
    );
    const summary = demo.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).at(-1);
    assert.equal(demo.code, 0, demo.text);
    assert.equal(summary.event, "summary");
    assert.equal(summary.ok, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

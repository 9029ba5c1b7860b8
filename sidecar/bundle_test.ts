import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

async function run(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, code: out.code, text };
}

Deno.test("deno task bundle makes a sidecar that runs with --no-config", async () => {
  const built = await run(["task", "bundle"], root);
  assert.ok(built.ok, built.text);
  const dir = await Deno.makeTempDir({ prefix: "allegro-bundle-" });
  try {
    const bundle = join(root, "dist", "sidecar.js");
    const base = [
      "run",
      "--no-config",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--unstable-kv",
    ];
    const help = await run([...base, bundle, "run", "--help"], dir);
    assert.ok(help.ok, help.text);
    assert.match(help.text, /--rpc-url/);
    const keygen = await run([...base, bundle, "keygen", "--out", "v.key"], dir);
    assert.ok(keygen.ok, keygen.text);
    assert.equal((await Deno.stat(join(dir, "v.key"))).mode! & 0o777, 0o600);
    const missing = await run([...base, bundle, "run", "--name", "v"], dir);
    assert.equal(missing.code, 2);
    assert.match(missing.text, /--key is required/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

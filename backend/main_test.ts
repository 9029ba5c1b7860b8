/** The `backend` command line, from source and as the bundle `deno task bundle` makes. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

async function run(args: string[], cwd = root) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

const PERMS = ["--allow-net", "--allow-read", "--allow-write"];

Deno.test("backend CLI: --help, usage errors", async () => {
  const main = join(root, "backend", "main.ts");
  const help = await run(["run", ...PERMS, main, "run", "--help"]);
  assert.equal(help.code, 0, help.text);
  for (const flag of ["--committee", "--kv", "--rpc-url", "--cors-origin", "--web-dir"]) {
    assert.match(help.text, new RegExp(flag));
  }
  const usage = await run(["run", ...PERMS, main]);
  assert.equal(usage.code, 2);
  assert.match(usage.text, /backend run/);
  const missing = await run(["run", ...PERMS, main, "run", "--kv", "x.kv"]);
  assert.equal(missing.code, 2);
  assert.match(missing.text, /--committee is required/);
  const bad = await run(["run", ...PERMS, main, "run", "--nope"]);
  assert.equal(bad.code, 2);
});

Deno.test("the backend bundles into one file that runs with --no-config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-backend-bundle-" });
  try {
    const out = join(dir, "backend.js");
    const built = await run(["bundle", "--quiet", "--output", out, "backend/main.ts"]);
    assert.equal(built.code, 0, built.text);
    const help = await run(
      ["run", "--no-config", ...PERMS, "--unstable-kv", out, "run", "--help"],
      dir,
    );
    assert.equal(help.code, 0, help.text);
    assert.match(help.text, /--rpc-url/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

const PERMS = ["--allow-net", "--allow-read", "--allow-write"];
const MAIN = join(root, "backend", "main.ts");

Deno.test("backend CLI: its own --help, usage errors naming the option and the value", async () => {
  const usage = await run(["run", ...PERMS, MAIN, "--help"]);
  assert.equal(usage.code, 0, usage.text);
  assert.match(usage.text, /Allegro backend/);
  assert.match(usage.text, /backend run \[options\]/);
  const help = await run(["run", ...PERMS, MAIN, "run", "--help"]);
  assert.equal(help.code, 0, help.text);
  assert.match(help.text, /^Usage: backend run \[options\]/);
  for (const flag of ["--committee", "--kv", "--rpc-url", "--settler-key", "--cors-origins"]) {
    assert.match(help.text, new RegExp(flag));
  }
  const none = await run(["run", ...PERMS, MAIN]);
  assert.equal(none.code, 2);
  assert.match(none.text, /backend run/);
  const missing = await run(["run", ...PERMS, MAIN, "run", "--kv", "x.kv"]);
  assert.equal(missing.code, 2);
  assert.match(missing.text, /--committee is required/);
  const ws = await run([
    "run",
    ...PERMS,
    MAIN,
    "run",
    "--committee",
    "c.json",
    "--kv",
    "x.kv",
    "--rpc-url",
    "ws://127.0.0.1:8545",
  ]);
  assert.equal(ws.code, 2);
  assert.match(ws.text, /--rpc-url must be a http or https URL, got "ws:\/\/127\.0\.0\.1:8545"/);
  const unknown = await run(["run", ...PERMS, MAIN, "run", "--nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.text, /--nope/);
  const committee = await run([
    "run",
    ...PERMS,
    MAIN,
    "run",
    "--committee",
    "/nonexistent/committee.json",
    "--kv",
    "x.kv",
    "--rpc-url",
    "http://127.0.0.1:1",
  ]);
  assert.equal(committee.code, 1);
  assert.match(committee.text, /--committee \/nonexistent\/committee\.json: /);
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

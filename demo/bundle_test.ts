/**
 * `deno task bundle` makes one self-contained file per program, and each runs with exactly the
 * command line the README's Bundles section gives it, from a folder outside the repository; the
 * bundled demo starts its sidecars and backend from itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The README's command line for each bundle: `deno run` arguments up to the bundle's path. */
async function documentedCommands(): Promise<Map<string, string[]>> {
  const readme = await Deno.readTextFile(join(root, "README.md"));
  const section = readme.split("\n## Bundles\n")[1]?.split("\n## ")[0] ?? "";
  const commands = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    const match = /^deno run (.*) dist\/(\w+)\.js /.exec(line);
    if (match) commands.set(match[2], match[1].split(" "));
  }
  return commands;
}

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
  name: "deno task bundle: each program runs from its bundle with the README's command line",
  sanitizeResources: false,
}, async () => {
  const commands = await documentedCommands();
  assert.deepEqual([...commands.keys()].sort(), ["admin", "backend", "demo", "sidecar"]);
  const built = await run(["task", "bundle"], root);
  assert.ok(built.ok, built.text);
  const dir = await Deno.makeTempDir({ prefix: "allegro-bundle-" });
  const bundle = (name: string, ...args: string[]) =>
    run(["run", ...commands.get(name)!, join(root, "dist", `${name}.js`), ...args], dir);
  try {
    for (
      const [name, args, option] of [
        ["sidecar", ["run", "--help"], /--rpc-url/],
        ["backend", ["run", "--help"], /--committee/],
        ["demo", ["--help"], /--attack/],
        ["admin", ["deploy", "--help"], /--exit-delay-s/],
      ] as const
    ) {
      const help = await bundle(name, ...args);
      assert.ok(help.ok, `${name}: ${help.text}`);
      assert.match(help.text, option, name);
    }
    const keygen = await bundle("sidecar", "keygen", "--out", "v.key");
    assert.ok(keygen.ok, keygen.text);
    assert.equal((await Deno.stat(join(dir, "v.key"))).mode! & 0o777, 0o600);
    const missing = await bundle("sidecar", "run", "--name", "v");
    assert.equal(missing.code, 2);
    assert.match(missing.text, /--key is required/);

    const demo = await bundle("demo", "--json", "--block-time", "1");
    const summary = demo.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).at(-1);
    assert.equal(demo.code, 0, demo.text);
    assert.equal(summary.event, "summary");
    assert.equal(summary.ok, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

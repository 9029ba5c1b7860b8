import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join, relative } from "node:path";
import { readdir, readFile } from "node:fs/promises";

const protoDir = fileURLToPath(new URL(".", import.meta.url));
const BUF = "npm:@bufbuild/buf@1.74.0";

async function buf(...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", BUF, ...args],
    cwd: protoDir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `buf ${args.join(" ")} failed:\n${text}`);
  return text;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

Deno.test("committed proto/gen matches the .proto sources", async () => {
  const fresh = await Deno.makeTempDir({ prefix: "allegro-gen-" });
  try {
    await buf("generate", "--output", fresh);
    const committed = join(protoDir, "gen");
    const generated = join(fresh, "gen");
    assert.deepEqual(await listFiles(committed), await listFiles(generated), "run `deno task gen`");
    for (const file of await listFiles(generated)) {
      const want = await readFile(join(generated, file), "utf8");
      const have = await readFile(join(committed, file), "utf8");
      assert.ok(have === want, `proto/gen/${file} is stale: run \`deno task gen\``);
    }
  } finally {
    await Deno.remove(fresh, { recursive: true });
  }
});

Deno.test("the .proto sources pass buf lint", async () => {
  await buf("lint");
});

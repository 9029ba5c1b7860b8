/**
 * `deno publish --dry-run` of the JSR packages `@allegro/client`, `@allegro/proto` and
 * `@allegro/contracts` reports no problem — no slow types, no excluded module imported, nothing
 * Deno cannot publish — and publishes no test: no `*_test.ts`, test fixture or testdata (the
 * client's `testing.ts` is a deliberate public entry, `./testing`). `JSR_URL` points at a closed
 * loopback port, so a dry run that needed jsr.io would fail here rather than pass on a machine
 * that can reach it.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const NO_JSR = "http://127.0.0.1:9/";

async function dryRun(
  member: string,
): Promise<{ code: number; problems: string[]; files: string[] }> {
  const dir = new URL(`${member}/`, ROOT);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: dir.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", JSR_URL: NO_JSR },
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const problems = [...text.matchAll(/^(?:error|warning)\[([a-z0-9-]+)\]/gm)].map((m) => m[1]);
  if (code !== 0 && problems.length === 0) problems.push(`exit ${code}: ${text.slice(-2000)}`);
  const files = [...text.matchAll(/^\s+(file:\/\/\S+)/gm)].map((m) => m[1].slice(dir.href.length));
  return { code, problems, files };
}

/** Paths of tests and their fixtures, which stay out of every package. */
const TEST_FILE = /(?:_test\.ts$|(?:^|\/)testdata\/|^testing\/)/;

/** Files each package must ship, and test fixtures particular to one package. */
const expected: Record<string, { present: string[]; absent: string[] }> = {
  client: {
    present: ["mod.ts", "deno.ts", "testing.ts", "idb_wallet_store.ts", "README.md"],
    absent: [],
  },
  proto: {
    present: [
      "mod.ts",
      "protobuf.ts",
      "gen/allegro/v1/types_pb.ts",
      "allegro/v1/types.proto",
      "README.md",
    ],
    absent: [],
  },
  contracts: {
    present: ["mod.ts", "gen/vault.ts", "src/AllegroVault.sol", "README.md"],
    absent: ["testing.ts", "vault_model.ts", "gas.ts"],
  },
};

for (const [member, { present, absent }] of Object.entries(expected)) {
  Deno.test(`deno publish --dry-run of ${member}/ reports no problems and no tests`, async () => {
    const { code, problems, files } = await dryRun(member);
    assert.deepEqual(problems, [], `${member}: ${problems.join(", ")}`);
    assert.equal(code, 0);
    assert.deepEqual(files.filter((f) => TEST_FILE.test(f)), [], `${member} publishes tests`);
    for (const file of present) assert.ok(files.includes(file), `${member} lacks ${file}`);
    for (const file of absent) assert.ok(!files.includes(file), `${member} publishes ${file}`);
  });
}

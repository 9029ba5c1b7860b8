/**
 * `deno publish --dry-run` of the JSR packages `@allegro/client` and `@allegro/proto` reports
 * no problem: no slow types, no excluded module imported, nothing Deno cannot publish.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function dryRun(member: string): Promise<{ code: number; problems: string[] }> {
  const dir = new URL(`${member}/`, ROOT);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: dir.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const problems = [...text.matchAll(/^(?:error|warning)\[([a-z0-9-]+)\]/gm)].map((m) => m[1]);
  if (code !== 0 && problems.length === 0) problems.push(`exit ${code}: ${text.slice(-2000)}`);
  return { code, problems };
}

for (const member of ["client", "proto"]) {
  Deno.test(`deno publish --dry-run of ${member}/ reports no problems`, async () => {
    const { code, problems } = await dryRun(member);
    assert.deepEqual(problems, [], `${member}: ${problems.join(", ")}`);
    assert.equal(code, 0);
  });
}

import assert from "node:assert/strict";
import { type DebianPackage, preflight, PreflightError, testPackages } from "./preflight.ts";

/** A package that is missing until `apt-get install` (as `run` sees it) installs it. */
function installable(name: string): DebianPackage & { installed: boolean } {
  return {
    name,
    missing: `/fake/${name}`,
    installed: false,
    present() {
      return this.installed;
    },
  };
}

/** A `run` that records each command line and installs what apt-get install names. */
function apt(packages: (DebianPackage & { installed: boolean })[], ok = true) {
  const calls: string[][] = [];
  const run = (argv: readonly string[]) => {
    calls.push([...argv]);
    if (ok && argv.includes("install")) { for (const p of packages) p.installed = true; }
    return Promise.resolve(ok);
  };
  return { calls, run };
}

Deno.test("the checks find chromium here (preflight installed it)", () => {
  assert.deepEqual(testPackages().filter((p) => !p.present()).map((p) => p.name), []);
});

Deno.test("nothing missing: apt-get is not run", async () => {
  const present = { ...installable("chromium"), installed: true };
  const { calls, run } = apt([present]);
  await preflight({ packages: [present], privilege: "none", run, log: () => {} });
  assert.deepEqual(calls, []);
});

Deno.test("missing and no way to root: stops at once with the command that installs", async () => {
  const { calls, run } = apt([]);
  await assert.rejects(
    preflight({
      packages: testPackages("/nonexistent/chromium"),
      privilege: "none",
      run,
      log: () => {},
    }),
    new PreflightError(
      "the tests need Debian packages that are missing here:\n" +
        "  chromium: /nonexistent/chromium (the browser tests)\n" +
        "Installing them needs root; run this, then the tests again:\n" +
        "  sudo apt-get update && sudo apt-get install -y chromium",
    ),
  );
  assert.deepEqual(calls, []);
});

for (const [privilege, sudo] of [["root", []], ["sudo", ["sudo"]]] as const) {
  Deno.test(`missing, as ${privilege}: apt-get installs it, and it is checked again`, async () => {
    const packages = [installable("chromium"), installable("fonts-noto")];
    const { calls, run } = apt(packages);
    const logged: string[] = [];
    await preflight({ packages, privilege, run, log: (line) => logged.push(line) });
    assert.deepEqual(calls, [
      [...sudo, "apt-get", "update", "-q"],
      [
        ...sudo,
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-q",
        "chromium",
        "fonts-noto",
      ],
    ]);
    assert.match(logged.join("\n"), /installing chromium, fonts-noto with apt-get/);
  });
}

Deno.test("apt-get fails: stops, saying what to install and how", async () => {
  const packages = [installable("chromium")];
  const { run } = apt(packages, false);
  await assert.rejects(
    preflight({ packages, privilege: "root", run, log: () => {} }),
    (e) =>
      e instanceof PreflightError &&
      e.message.startsWith("apt-get could not install chromium") &&
      e.message.endsWith("\n  apt-get update && apt-get install -y chromium"),
  );
});

Deno.test("installed but still not where the tests look: says so", async () => {
  const { run } = apt([]);
  await assert.rejects(
    preflight({
      packages: testPackages("/nonexistent/chromium"),
      privilege: "root",
      run,
      log: () => {},
    }),
    new PreflightError(
      "apt-get installed chromium, but these are still missing:\n" +
        "  chromium: /nonexistent/chromium (the browser tests)",
    ),
  );
});

/**
 * The client works outside this workspace, as a JSR user gets it (issue 13: importing it from
 * elsewhere failed with `Import "viem" not a dependency`). A ten-line program in a temporary
 * folder outside the repository imports `@allegro/client` by file URL and signs an order:
 *
 * - through a `deno.json` of its own, as a user trying a local checkout would;
 * - with `--no-config` and an import map in which each package — client, proto, contracts —
 *   resolves its bare imports with only the `imports` of its own `deno.json` (as on JSR, where
 *   the workspace root's are not there), `@allegro/*` mapped to the sibling folders.
 *
 * Each package's pins must be the workspace root's, and `@allegro/*` pinned to the sibling's
 * version. Nothing is copied; `JSR_URL` points at a closed loopback port, so nothing comes from
 * jsr.io.
 */
import assert from "node:assert/strict";
import { bytesToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { NO_PARENT, orderTxHash, signOrder } from "./mod.ts";
import { TEST_VAULT } from "./testing.ts";

const ROOT = new URL("../", import.meta.url);
const PACKAGES = ["client", "proto", "contracts"];
const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const ORDER = {
  chainId: 1337n,
  vault: TEST_VAULT,
  recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  token: "0x20c0000000000000000000000000000000000000",
  amount: 1n,
  fee: 0n,
  seq: 0n,
  validBefore: 1_900_000_000_000n,
  parent: NO_PARENT,
  exit: false,
  memo: NO_PARENT,
} as const;

const orderFields = Object.entries(ORDER)
  .map(([key, value]) =>
    `${key}: ${typeof value === "bigint" ? `${value}n` : JSON.stringify(value)}`
  )
  .join(", ");

const PROGRAM = `import { bytesToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { orderTxHash, signOrder, verifySignedOrder } from "@allegro/client";
import { testCommittee } from "@allegro/client/testing";

const payer = privateKeyToAccount("${KEY}");
const order = { ${orderFields}, payer: payer.address } as const;
const signed = await verifySignedOrder(await signOrder(payer, order));
console.log(bytesToHex(orderTxHash(signed.order)), testCommittee(4).committee.threshold);
`;

interface PackageConfig {
  readonly name: string;
  readonly version: string;
  readonly exports: string | Record<string, string>;
  readonly imports?: Record<string, string>;
}

const readConfig = async (dir: string): Promise<PackageConfig> =>
  JSON.parse(await Deno.readTextFile(new URL(`${dir}/deno.json`, ROOT)));

const rootImports = (await readConfig(".")).imports ?? {};
const configs = await Promise.all(PACKAGES.map(readConfig));
const folders = new Map(configs.map((c, i) => [c.name, new URL(`${PACKAGES[i]}/`, ROOT).href]));

/** The program's own imports: the client's two entries by file URL, and viem for its account. */
const programImports = {
  "@allegro/client": new URL("client/mod.ts", ROOT).href,
  "@allegro/client/testing": new URL("client/testing.ts", ROOT).href,
  viem: rootImports.viem,
};

/** What the program must print: the same `tx_hash` as here, and the threshold of 4. */
async function expectedOutput(): Promise<string> {
  const payer = privateKeyToAccount(KEY);
  const signed = await signOrder(payer, { ...ORDER, payer: payer.address });
  return `${bytesToHex(orderTxHash(signed.order))} 3`;
}

/** Runs `deno args… main.ts` on {@linkcode PROGRAM} in a fresh folder outside the repository. */
async function runOutside(
  files: (dir: string) => Record<string, string>,
  args: string[],
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "allegro-outside-" });
  try {
    assert.ok(!dir.startsWith(ROOT.pathname), `${dir} is inside the repository`);
    for (const [name, text] of Object.entries({ "main.ts": PROGRAM, ...files(dir) })) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [...args, "main.ts"],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", JSR_URL: "http://127.0.0.1:9/" },
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, `deno ${args.join(" ")} main.ts failed:\n${err}`);
    return new TextDecoder().decode(stdout).trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Deno's reading of an `npm:` entry in `deno.json`: `name` and `name/…` subpaths. */
function withSubpaths(imports: Record<string, string>): Record<string, string> {
  const out = { ...imports };
  for (const [key, target] of Object.entries(imports)) {
    if (target.startsWith("npm:") && !key.endsWith("/")) {
      out[`${key}/`] = `npm:/${target.slice("npm:".length)}/`;
    }
  }
  return out;
}

Deno.test("each package pins the workspace root's versions and its siblings' own", () => {
  const versions = new Map(configs.map((c) => [c.name, c.version]));
  for (const config of configs) {
    for (const [key, target] of Object.entries(config.imports ?? {})) {
      const sibling = versions.get(key);
      if (sibling !== undefined) {
        assert.equal(target, `jsr:${key}@${sibling}`, `${config.name}: ${key}`);
      } else if (key in rootImports) {
        assert.equal(target, rootImports[key], `${config.name}: ${key} differs from the root's`);
      }
    }
  }
});

Deno.test("a program outside the repository imports the client through its deno.json", async () => {
  const output = await runOutside(
    () => ({ "deno.json": JSON.stringify({ imports: programImports }) }),
    ["run", "--no-lock"],
  );
  assert.equal(output, await expectedOutput());
});

Deno.test("each package resolves its dependencies with its own imports alone", async () => {
  const scopes: Record<string, Record<string, string>> = {};
  for (const config of configs) {
    const own: Record<string, string> = {};
    for (const [key, target] of Object.entries(config.imports ?? {})) {
      // A sibling package is its folder here, as JSR serves it there.
      own[key] = folders.has(key) ? new URL(mainEntry(key), folders.get(key)).href : target;
    }
    scopes[folders.get(config.name)!] = withSubpaths(own);
  }
  const output = await runOutside((dir) => ({
    // No top-level imports: a module outside every scope resolves nothing by fallback.
    "import_map.json": JSON.stringify({
      scopes: { ...scopes, [`file://${dir}/`]: withSubpaths(programImports) },
    }),
  }), ["run", "--check", "--no-config", "--no-lock", "--import-map", "import_map.json"]);
  assert.equal(output, await expectedOutput());
});

/** The module of a sibling package's `.` export. */
function mainEntry(name: string): string {
  const { exports } = configs.find((c) => c.name === name)!;
  return typeof exports === "string" ? exports : exports["."];
}

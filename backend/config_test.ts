/** `backend run` options: defaults, and every refusal naming the option and the value. */
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_TOKENS, parseRunConfig, RUN_OPTIONS } from "./config.ts";

const REQUIRED = ["--committee", "c.json", "--kv", "b.kv", "--rpc-url", "http://127.0.0.1:8545"];

Deno.test("backend run options: defaults", async () => {
  const config = await parseRunConfig(REQUIRED);
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 8080 });
  assert.equal(config.settlerKey, undefined);
  assert.equal(config.publicRpcUrl, undefined);
  assert.equal(config.confirmations, 2);
  assert.deepEqual(config.corsOrigins, []);
  assert.deepEqual(config.tokens, DEFAULT_TOKENS);
  assert.equal(config.feeToken, DEFAULT_TOKENS[0]);
});

Deno.test("backend run options: refusals name the option and the value", async () => {
  const refused = async (args: string[], message: RegExp) => {
    await assert.rejects(parseRunConfig([...REQUIRED, ...args]), (e: Error) => {
      assert.ok(e instanceof ConfigError, e.message);
      assert.match(e.message, message);
      return true;
    });
  };
  await refused(["--rpc-url", "ws://127.0.0.1:8545"], /--rpc-url must be a http or https URL/);
  await refused(["--rpc-url", "nope"], /--rpc-url must be a URL, got "nope"/);
  await refused(
    ["--public-rpc-url", "ws://127.0.0.1:8545"],
    /--public-rpc-url must be a http or https URL/,
  );
  await refused(["--fee-token", "0x1234"], /--fee-token must be TIP-20 addresses .*"0x1234"/);
  await refused(
    ["--tokens", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
    /--tokens must be TIP-20 addresses/,
  );
  await refused(["--cors-origins", "ui.test"], /--cors-origins must be \* or origins .*"ui\.test"/);
  await refused(["--confirmations", "1.5"], /--confirmations must be an integer .*"1\.5"/);
  await refused(["--listen", "8080"], /--listen must be HOST:PORT, got "8080"/);
  await refused(["--board-poll-ms", "x"], /--board-poll-ms must be an integer/);
});

Deno.test("backend run options: flags, a config file, and flags over it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/backend.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ "cors-origins": ["http://ui.test", "*"], confirmations: 5 }),
    );
    const config = await parseRunConfig([
      ...REQUIRED,
      "--config",
      file,
      "--confirmations",
      "1",
      "--settler-key",
      "s.key",
      "--public-rpc-url",
      "https://rpc.example.org/tempo",
    ]);
    assert.deepEqual(config.corsOrigins, ["http://ui.test", "*"]);
    assert.equal(config.confirmations, 1);
    assert.equal(config.settlerKey, "s.key");
    assert.equal(config.publicRpcUrl, "https://rpc.example.org/tempo");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's option table lists exactly the options of backend run", async () => {
  const readme = await Deno.readTextFile(new URL("./README.md", import.meta.url));
  const listed = [...readme.matchAll(/^\| `--([a-z-]+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(listed, RUN_OPTIONS.map((o) => o.flag));
});

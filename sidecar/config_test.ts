import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, parseRunConfig, RUN_OPTIONS, runHelp } from "./config.ts";

const required = [
  "--name",
  "dave",
  "--key",
  "dave.key",
  "--committee",
  "c.json",
  "--kv",
  "dave.kv",
  "--rpc-url",
  "ws://127.0.0.1:8545",
];

Deno.test("flags with defaults", async () => {
  const c = await parseRunConfig(required);
  assert.equal(c.name, "dave");
  assert.deepEqual(c.listen, { hostname: "127.0.0.1", port: 7001 });
  assert.equal(c.grpcListen, undefined);
  assert.deepEqual(c.peers, []);
  assert.equal(c.expiryWindowMillis, 3_600_000n);
  assert.equal(c.maxBatch, 96);
});

Deno.test("a config file, with flags winning", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sidecar.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      name: "edgar",
      key: "e.key",
      committee: "c.json",
      kv: "e.kv",
      "rpc-url": "http://127.0.0.1:1",
      peers: ["http://127.0.0.1:7001", "http://127.0.0.1:7003"],
      "grpc-listen": "[::1]:9000",
      "max-page": 50,
    }),
  );
  const c = await parseRunConfig(["--config", path, "--name", "eddie"]);
  assert.equal(c.name, "eddie");
  assert.deepEqual(c.peers, ["http://127.0.0.1:7001", "http://127.0.0.1:7003"]);
  assert.deepEqual(c.grpcListen, { hostname: "::1", port: 9000 });
  assert.equal(c.maxPage, 50);
  await Deno.writeTextFile(path, JSON.stringify({ nmae: "typo" }));
  await assert.rejects(parseRunConfig(["--config", path]), /unknown option "nmae"/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad values name the option and the value", async () => {
  const cases: [string[], RegExp][] = [
    [["--name", "x"], /--key is required/],
    [[...required, "--listen", "7001"], /--listen must be HOST:PORT, got "7001"/],
    [[...required, "--rpc-url", "nope"], /--rpc-url must be a URL, got "nope"/],
    [[...required, "--max-batch", "97"], /--max-batch must be an integer in 1…96, got "97"/],
    [[...required, "--min-gas", "5x"], /--min-gas must be an integer in 21000…30000000, got "5x"/],
    [[...required, "--bogus", "1"], /bogus/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(parseRunConfig(args), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("--help lists every option", () => {
  const help = runHelp();
  for (const o of RUN_OPTIONS) assert.match(help, new RegExp(`--${o.flag}\\b`));
});

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
  "http://127.0.0.1:8545",
];

Deno.test("flags with defaults", async () => {
  const c = await parseRunConfig(required);
  assert.equal(c.name, "dave");
  assert.deepEqual(c.listen, { hostname: "127.0.0.1", port: 7001 });
  assert.equal(c.grpcListen, undefined);
  assert.deepEqual(c.peers, []);
  assert.equal(c.firstStart, false);
  assert.deepEqual(c.corsOrigins, ["*"]);
  // S = 3 blocks + 1 s, D = 2 blocks, M = S + D + 2 blocks, from a 1 s block interval.
  assert.equal(c.staleAfterMillis, 4000);
  assert.equal(c.settleDelayMillis, 2000);
  assert.equal(c.marginMillis, 8000);
  assert.equal(c.settlerKey, undefined);
  const fast = await parseRunConfig([...required, "--block-interval-ms", "500", "--first-start"]);
  assert.equal(fast.firstStart, true);
  assert.deepEqual([fast.staleAfterMillis, fast.settleDelayMillis, fast.marginMillis], [
    2500,
    1000,
    4500,
  ]);
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
    [
      [...required, "--rpc-url", "ftp://x"],
      /--rpc-url must be a http or https URL, got "ftp:\/\/x"/,
    ],
    [[...required, "--rpc-url", "ws://127.0.0.1:8545"], /--rpc-url must be a http or https URL/],
    [[...required, "--max-page", "0"], /--max-page must be an integer in 1…10000, got "0"/],
    [
      [...required, "--block-interval-ms", "5x"],
      /--block-interval-ms must be an integer in 50…600000, got "5x"/,
    ],
    [
      [...required, "--margin-ms", "5000"],
      /--margin-ms 5000 must exceed --stale-after-ms 4000 \+ --settle-delay-ms 2000 \+ one block/,
    ],
    [[...required, "--fee-token", "0x1234"], /--fee-token must be a TIP-20 address/],
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

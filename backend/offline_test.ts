/**
 * A backend whose sidecars and chain are all unreachable: it starts, answers 503 with typed
 * errors where it needs them, and still serves everything that does not (validators' health,
 * OpenAPI, CORS, the web UI's files, request limits).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { freePort, writeCommittee } from "@allegro/server/network";
import { jsonLogger } from "@allegro/server/log";
import { startBackend } from "./app.ts";
import { parseRunConfig } from "./config.ts";
import { writeDemoAccounts } from "@allegro/server/demo-accounts";
import { getJson, postJson, signedPayment } from "./testing.ts";

type Json = Record<string, unknown>;

Deno.test({
  name: "backend without sidecars or chain: 503s, health, CORS, static files, limits",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-backend-offline-" });
  const logs: string[] = [];
  const web = join(dir, "web");
  await Deno.mkdir(join(web, "assets"), { recursive: true });
  await Deno.writeTextFile(join(web, "index.html"), "<!doctype html><title>Allegro</title>");
  await Deno.writeTextFile(join(web, "assets", "app.js"), "console.log('hi');");
  await Deno.writeTextFile(join(dir, "secret.txt"), "nope");
  const local = await writeCommittee(dir, ["dave", "edgar", "frank", "grace"], { chainId: 1337n });
  const demoKey = generatePrivateKey();
  const demoAccount = {
    name: "alice",
    address: privateKeyToAccount(demoKey).address,
    privateKey: demoKey,
  };
  await writeDemoAccounts(join(dir, "demo-accounts.json"), [demoAccount]);
  const config = await parseRunConfig([
    "--committee",
    local.path,
    "--kv",
    join(dir, "backend.kv"),
    "--rpc-url",
    `http://127.0.0.1:${await freePort()}`,
    "--listen",
    "127.0.0.1:0",
    "--sidecar-timeout-ms",
    "300",
    "--health-interval-ms",
    "100",
    "--cors-origin",
    "http://localhost:5173",
    "--web-dir",
    web,
    "--demo-accounts",
    join(dir, "demo-accounts.json"),
    "--max-body-bytes",
    "2048",
  ]);
  const backend = await startBackend(config, jsonLogger("backend", (l) => logs.push(l)));
  const api = (path: string) => `${backend.url}/api/v1${path}`;
  try {
    await t.step("a payment with every validator unreachable is a 503 to retry", async () => {
      const alice = privateKeyToAccount(generatePrivateKey());
      const signed = await signedPayment(alice, alice.address, 1n);
      const r = await postJson(api("/payments"), { signed_tx: signed });
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.headers.get("retry-after"), "1");
      const error = r.body.error as Json;
      assert.equal(error.code, "TEMPORARY_UNAVAILABLE");
      const details = error.details as Json;
      assert.equal(details.outcome, "unavailable");
      assert.equal(details.stage, null);
      assert.ok((details.rejects as Json[]).length >= 2);
      for (const reject of details.rejects as Json[]) assert.equal(reject.kind, "unreachable");
      const status = await getJson(api(`/tx/${details.tx_hash}`));
      assert.equal(status.status, 404, "nothing certified, nothing stored");
    });

    await t.step("chain-dependent endpoints answer 503; validators are down", async () => {
      const head = await getJson(api("/chain/head"));
      assert.equal(head.status, 503);
      assert.equal((head.body.error as Json).code, "TEMPORARY_UNAVAILABLE");
      const account = await getJson(api(`/accounts/${"0x" + "11".repeat(20)}`));
      assert.equal(account.status, 503);
      assert.equal((await getJson(`${backend.url}/healthz`)).status, 503);
      const deadline = Date.now() + 3000;
      let validators: Json[] = [];
      while (Date.now() < deadline) {
        validators = (await getJson(api("/validators"))).body.validators as Json[];
        if (validators.every((v) => v.status === "down")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(validators.length, 4);
      for (const v of validators) {
        assert.equal(v.up, false);
        assert.equal(v.status, "down");
        assert.equal(typeof v.error, "string");
      }
    });

    await t.step(
      "request limits: declared and streamed bodies over the limit are 413",
      async () => {
        const big = await postJson(api("/payments"), { signed_tx: "0x" + "00".repeat(4096) });
        assert.equal(big.status, 413);
        assert.equal((big.body.error as Json).code, "PAYLOAD_TOO_LARGE");
        const chunks = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 8; i++) {
              controller.enqueue(new TextEncoder().encode(" ".repeat(1024)));
            }
            controller.close();
          },
        });
        const streamed = await getJson(api("/payments"), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: chunks,
        });
        assert.equal(streamed.status, 413);
        const empty = await postJson(api("/payments"), "");
        assert.equal(empty.status, 400);
        assert.equal((empty.body.error as Json).code, "INVALID_JSON");
      },
    );

    await t.step("CORS for the configured origin, on REST and Connect", async () => {
      const preflight = await fetch(api("/payments"), {
        method: "OPTIONS",
        headers: {
          origin: "http://localhost:5173",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      await preflight.body?.cancel();
      assert.ok(preflight.status === 204 || preflight.status === 200);
      assert.equal(
        preflight.headers.get("access-control-allow-origin"),
        "http://localhost:5173",
      );
      const connect = await fetch(`${backend.url}/allegro.v1.FastPayAggregator/GetChainHead`, {
        method: "POST",
        headers: { origin: "http://localhost:5173", "content-type": "application/json" },
        body: "{}",
      });
      const body = await connect.json();
      assert.equal(connect.headers.get("access-control-allow-origin"), "http://localhost:5173");
      assert.equal(body.code, "unavailable");
      const other = await fetch(api("/validators"), { headers: { origin: "http://evil.test" } });
      await other.body?.cancel();
      assert.equal(other.headers.get("access-control-allow-origin"), null);
    });

    await t.step("the web UI's files are served at /, never outside --web-dir", async () => {
      const index = await fetch(`${backend.url}/`);
      assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
      assert.match(await index.text(), /Allegro/);
      const js = await fetch(`${backend.url}/assets/app.js`);
      assert.match(js.headers.get("content-type")!, /javascript/);
      await js.body?.cancel();
      const spa = await fetch(`${backend.url}/pay/alice`);
      assert.match(await spa.text(), /<title>Allegro/);
      const escape = await fetch(`${backend.url}/%2e%2e/secret.txt`);
      assert.doesNotMatch(await escape.text(), /nope/);
      const missing = await fetch(`${backend.url}/assets/none.js`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    });

    await t.step("demo accounts (local dev networks) are served with their keys", async () => {
      const r = await getJson(api("/demo/accounts"));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.accounts, [{
        name: "alice",
        address: demoAccount.address,
        private_key: demoKey,
      }]);
    });
  } finally {
    await backend.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

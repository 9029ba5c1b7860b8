/**
 * The backend against a real local network — anvil (1 s blocks), the vault, four sidecar
 * processes — in two runs of an in-process backend. The first, with a settler key: a payment and
 * a payment chained on it get QCs through `POST /payments`, the backend settles both at once
 * (INCLUDED in the next blocks, then FINALIZED) and the vault's balances follow; `GET /accounts`,
 * Connect, REST errors, CORS, the web UI, metrics after hostile paths; its streams end when it
 * stops. The second, without a settler: pending in and out until the sidecars settle, and a
 * validator down — certified by 3 of 4, shown down by `GET /validators` —, and a restart that
 * resumes from its store.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Code, type ConnectError } from "@connectrpc/connect";
import { bytesToHex, createPublicClient, erc20Abi, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import {
  connectBackend,
  orderTxHash,
  qcFromProto,
  readAccount,
  verifyBoardEntry,
  verifyQuorumCertificate,
  watchTx,
} from "@allegro/client";
import { PATH_USD } from "@allegro/server/anvil";
import { readAccountKeyFile } from "@allegro/server/keyfile";
import { signedOrderJson } from "./json.ts";
import {
  collectSse,
  depositor,
  getJson,
  order,
  postJson,
  type SseEvent,
  startTestBackend,
  startTestNetwork,
  type TestBackend,
  USD,
  waitFor,
} from "./testing.ts";

/** A metric family as `parse-prometheus-text-format` gives it. */
interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: readonly { value?: string; labels?: Record<string, string> }[];
}
const parseMetrics = parsePrometheusTextFormat as (text: string) => MetricFamily[];

const SETTLED_PATH = ["ACCEPTED", "CERTIFIED", "QUEUED_ONCHAIN", "INCLUDED", "FINALIZED"];

/** Resolves with `promise`, or with `"timeout"` after `millis`. */
function within<T>(promise: Promise<T>, millis: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), millis));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test({
  name: "backend on four sidecars: payments settled at once, lifecycle, REST, Connect, metrics",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const tn = await startTestNetwork();
  const webDir = await Deno.makeTempDir({ prefix: "allegro-web-" });
  const sseStop = new AbortController();
  let a: TestBackend | undefined;
  let b: TestBackend | undefined;
  try {
    await Deno.writeTextFile(join(webDir, "index.html"), "<!doctype html><title>Allegro</title>");
    const [alice, bob] = await Promise.all([
      depositor(tn, 20n * USD, 15n * USD),
      depositor(tn, 6n * USD, 5n * USD),
    ]);
    const carol = privateKeyToAccount(generatePrivateKey()).address;
    const chain = createPublicClient({ transport: http(tn.net.rpcUrl) });
    const vaultBalance = async (who: `0x${string}`) =>
      (await readAccount(chain, tn.committee.vault, who, PATH_USD)).balance;
    a = await startTestBackend(tn, "backend-a", [
      "--settler-key",
      tn.settlerKey,
      "--web-dir",
      webDir,
      "--cors-origins",
      "http://ui.test",
      "--public-rpc-url",
      tn.net.rpcUrl,
    ]);
    const api = a.api;
    const connect = connectBackend(a.url);

    await t.step("the chain head and every validator up", async () => {
      const head = await waitFor("a head", 10_000, async () => {
        const r = await getJson(api("/chain/head"));
        return r.status === 200 ? r.body : undefined;
      });
      assert.match(head.height, /^\d+$/);
      assert.match(head.hash, /^0x[0-9a-f]{64}$/);
      const validators = await waitFor("every validator up", 10_000, async () => {
        const r = await getJson(api("/validators"));
        return r.body.validators.every((v: { up: boolean }) => v.up) ? r.body : undefined;
      });
      assert.equal(validators.threshold, 3);
      assert.equal(validators.vault, tn.committee.vault);
      assert.deepEqual(
        validators.validators.map((v: { settlement_address: string }) => v.settlement_address),
        tn.committee.validators.map((v) => v.settlementAddress),
      );
      const health = await getJson(`${a!.url}/healthz`);
      assert.equal(health.status, 200);
      const config = await getJson(api("/config"));
      assert.equal(config.status, 200);
      assert.deepEqual(config.body, {
        chain_id: tn.committee.chainId.toString(),
        vault: tn.committee.vault,
        public_rpc_url: tn.net.rpcUrl,
        block_interval_ms: 1000,
        confirmations: 1,
        max_validity_ms: tn.net.committee.maxValidity.toString(),
        exit_delay_seconds: tn.net.committee.exitDelay.toString(),
        settler: (await readAccountKeyFile(tn.settlerKey)).address,
      });
    });

    const sse: SseEvent[] = [];
    await collectSse(api("/events?types=stage"), sse, sseStop.signal);
    const first = await order(tn, alice.key, bob.address, 10n * USD);
    const firstHash = bytesToHex(orderTxHash(first.order));
    let secondHash = "";

    await t.step("a payment gets a verified QC; the same order gets the same record", async () => {
      const r = await postJson(api("/payments"), { order: signedOrderJson(first) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.outcome, "certified");
      assert.equal(r.body.tx_hash, firstHash);
      assert.ok(r.body.certificates.length >= 3);
      const { qc } = await connect.getQuorumCertificate({ txHash: orderTxHash(first.order) });
      await verifyQuorumCertificate(tn.committee, qcFromProto(qc!));
      assert.equal(bytesToHex(qc!.qcHash), r.body.qc.qc_hash);
      const again = await postJson(api("/payments"), { order: signedOrderJson(first) });
      assert.equal(again.status, 200);
      assert.equal(again.body.replayed, true);
      assert.equal(again.body.tx_hash, firstHash);
      assert.equal(again.body.qc.qc_hash, r.body.qc.qc_hash);
    });

    await t.step(
      "a payment chained on it, citing the certified order GET /qc returns",
      async () => {
        const parent = await getJson(api(`/qc/${firstHash}`));
        assert.equal(parent.status, 200);
        assert.equal(parent.body.order.order.payer, alice.address);
        const second = await order(tn, bob.key, carol, 10n * USD, {
          parent: firstHash,
          validBefore: first.order.validBefore, // a child may not outlive its parent
        });
        secondHash = bytesToHex(orderTxHash(second.order));
        const r = await postJson(api("/payments"), {
          order: signedOrderJson(second),
          parent: parent.body,
          client_request_id: "bob-1",
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.outcome, "certified");
      },
    );

    await t.step("the backend settles both at once: INCLUDED, then FINALIZED", async () => {
      for (const hash of [firstHash, secondHash]) {
        const done = await waitFor(`${hash} FINALIZED`, 15_000, async () => {
          const r = await getJson(api(`/tx/${hash}`));
          return r.body.stage === "FINALIZED" ? r.body : undefined;
        });
        assert.deepEqual(done.history.map((h: { stage: string }) => h.stage), SETTLED_PATH);
        assert.match(done.block_height, /^\d+$/);
        assert.match(done.settlement.gas_used, /^\d+$/, "the backend's own settlement");
        const certified = BigInt(done.timestamps.certified);
        const included = BigInt(done.timestamps.included);
        assert.ok(included - certified < 5_000n, `INCLUDED ${included - certified} ms after QC`);
      }
      assert.equal(await vaultBalance(alice.address), 5n * USD);
      assert.equal(await vaultBalance(bob.address), 5n * USD);
      assert.equal(await vaultBalance(carol), 10n * USD);
      const stages = sse.filter((e) => e.event === "stage" && e.data.tx_hash === firstHash)
        .map((e) => e.data.stage);
      assert.deepEqual(stages, SETTLED_PATH);
      assert.equal(sse[0].event, "ready");
    });

    await t.step("GET /accounts: wallet and vault balances, nothing pending", async () => {
      const r = await getJson(api(`/accounts/${alice.address.toLowerCase()}?token=${PATH_USD}`));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const [usd] = r.body.tokens;
      const symbol = await chain.readContract({
        address: PATH_USD,
        abi: erc20Abi,
        functionName: "symbol",
      });
      assert.equal(usd.symbol, symbol);
      assert.equal(usd.vault_balance, String(5n * USD));
      const wallet = await chain.readContract({
        address: PATH_USD,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [alice.address],
        blockNumber: BigInt(r.body.block_height),
      });
      assert.equal(usd.wallet_balance, wallet.toString());
      assert.equal(usd.pending_in, "0");
      assert.equal(usd.pending_out, "0");
      assert.equal(usd.exit, null);
      assert.equal(r.body.recent[0].tx_hash, firstHash);
      const all = await getJson(api(`/accounts/${carol}`));
      assert.equal(all.body.tokens.length, 4);
    });

    await t.step("Connect: status, board, WatchTx with verified certificates", async () => {
      const status = await connect.getTxStatus({ txHash: orderTxHash(first.order) });
      assert.equal(bytesToHex(status.settlementTxHash).length, 66);
      assert.ok(status.settlementGasUsed > 0n);
      const board = await connect.getBulletinBoard({ txHash: orderTxHash(first.order) });
      assert.ok(board.entries.length >= 4, `${board.entries.length} entries`);
      for (const entry of board.entries) await verifyBoardEntry(tn.committee, entry);
      const stages = [];
      for await (const e of watchTx(connect, tn.committee, firstHash)) stages.push(e.stage);
      assert.deepEqual(stages, ["FINALIZED"]);
      await assert.rejects(
        connect.getTxStatus({ txHash: new Uint8Array(3) }),
        (e: ConnectError) => e.code === Code.InvalidArgument && /tx_hash/.test(e.message),
      );
      await assert.rejects(
        connect.submitFastPay({}),
        (e: ConnectError) => e.code === Code.InvalidArgument && /order/.test(e.message),
      );
    });

    await t.step("REST errors are 4xx with a code, naming the field", async () => {
      const error = (r: { body: { error: { code: string; message: string } } }) => r.body.error;
      const badJson = await postJson(api("/payments"), "{");
      assert.equal(badJson.status, 400);
      assert.equal(error(badJson).code, "INVALID_JSON");
      const text = await postJson(api("/payments"), "{}", "text/plain");
      assert.equal(text.status, 415);
      assert.equal(error(text).code, "UNSUPPORTED_MEDIA_TYPE");
      const json = signedOrderJson(first);
      const badHex = await postJson(api("/payments"), {
        order: { ...json, order: { ...json.order, vault: "0xzz" } },
      });
      assert.equal(badHex.status, 400);
      assert.equal(error(badHex).code, "INVALID_FORMAT");
      assert.match(error(badHex).message, /order\.order\.vault .*"0xzz"/);
      const zero = await postJson(api("/payments"), {
        order: { ...json, order: { ...json.order, amount: "0" } },
      });
      assert.equal(zero.status, 400);
      assert.equal(error(zero).code, "INVALID_FORMAT");
      assert.match(error(zero).message, /order\.amount/);
      const unknownField = await postJson(api("/payments"), { order: json, amount: "1" });
      assert.equal(unknownField.status, 400);
      assert.match(error(unknownField).message, /amount is not a known field/);
      const forged = await postJson(api("/payments"), {
        order: { ...json, order: { ...json.order, amount: String(11n * USD) } },
      });
      assert.equal(forged.status, 400);
      assert.equal(error(forged).code, "INVALID_FORMAT");
      const otherChain = await order(tn, alice.key, bob.address, USD, { chainId: 1n });
      const wrong = await postJson(api("/payments"), { order: signedOrderJson(otherChain) });
      assert.equal(wrong.status, 422);
      assert.equal(error(wrong).code, "WRONG_CHAIN");
      const orphan = await order(tn, bob.key, carol, USD, {
        seq: 1n,
        parent: `0x${"42".repeat(32)}`,
      });
      const missing = await postJson(api("/payments"), { order: signedOrderJson(orphan) });
      assert.equal(missing.status, 422);
      assert.equal(error(missing).code, "MISSING_PARENT_QC");
      const broke = await order(tn, generatePrivateKey(), carol, USD);
      const poor = await postJson(api("/payments"), { order: signedOrderJson(broke) });
      assert.equal(poor.status, 422);
      assert.equal(error(poor).code, "INSUFFICIENT_FUNDS");
      assert.ok(poor.body.error.details.rejects.length >= 2, "more than n − threshold refused");
      const unknown = await getJson(api(`/tx/0x${"00".repeat(32)}`));
      assert.equal(unknown.status, 404);
      assert.equal(error(unknown).code, "NOT_FOUND");
      const shortHash = await getJson(api("/tx/0x1234"));
      assert.equal(shortHash.status, 400);
      assert.match(error(shortHash).message, /tx_hash must be 32 bytes/);
      const badAddress = await getJson(api("/accounts/0x1234"));
      assert.equal(badAddress.status, 400);
      const badToken = await getJson(api(`/accounts/${carol}?token=${carol}`));
      assert.equal(badToken.status, 400);
      assert.match(error(badToken).message, /token must be a TIP-20 address/);
      const badTypes = await getJson(api("/events?types=nope"));
      assert.equal(badTypes.status, 400);
      const method = await getJson(api("/payments"), { method: "DELETE" });
      assert.equal(method.status, 405);
      const huge = await postJson(api("/payments"), `{"order":"${"x".repeat(2 << 20)}"}`);
      assert.equal(huge.status, 413);
    });

    await t.step("CORS for the configured origin; the web UI at /", async () => {
      const preflight = await fetch(api("/payments"), {
        method: "OPTIONS",
        headers: {
          origin: "http://ui.test",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      await preflight.body?.cancel();
      assert.equal(preflight.headers.get("access-control-allow-origin"), "http://ui.test");
      const page = await fetch(`${a!.url}/some/route`);
      assert.match(await page.text(), /<title>Allegro<\/title>/);
      assert.ok(page.headers.get("etag"));
      const doc = await getJson(api("/openapi.json"));
      assert.equal(doc.body.openapi, "3.1.0");
    });

    await t.step("metrics parse after hostile paths; unknown paths add no series", async () => {
      const scrape = async () => {
        const response = await fetch(`${a!.url}/metrics`);
        assert.equal(response.status, 200);
        return parseMetrics(await response.text());
      };
      await scrape(); // the first scrape of /metrics is counted after it is answered
      const hostile = [
        "/api/v1/x%0Ay",
        "/api/v1/a%22b",
        "/api/v1/tx/%0A%22%7D",
        "/api/v1/accounts/%22%5C",
        "/%0Aevil_metric%201",
      ];
      for (const path of hostile) await (await fetch(`${a!.url}${path}`)).body?.cancel();
      const before = await scrape();
      for (let i = 0; i < 40; i++) {
        await (await fetch(`${a!.url}/api/v1/random-${i}?q=${i}`)).body?.cancel();
      }
      const families = await scrape();
      for (const f of families) {
        assert.ok(f.help.length > 0, `${f.name} has # HELP`);
        assert.match(f.name, /^[a-z_][a-z0-9_]*$/);
      }
      const http = (fs: MetricFamily[]) =>
        fs.find((f) => f.name === "allegro_backend_http_requests_total")!.metrics;
      assert.equal(http(families).length, http(before).length, "no series per path");
      for (const m of http(families)) {
        assert.match(m.labels!.route, /^(other|\/healthz|\/metrics|\/api\/v1\/[a-z/_:.]+)$/);
      }
      const streams = (fs: MetricFamily[]) =>
        fs.find((f) => f.name === "allegro_backend_event_streams")!.metrics[0].value;
      for (let i = 0; i < 3; i++) {
        const head = await fetch(api("/events"), { method: "HEAD" });
        await head.body?.cancel();
        assert.equal(head.status, 200);
      }
      assert.equal(streams(await scrape()), streams(families), "HEAD holds no stream");
      const names = families.map((f) => f.name);
      for (
        const name of [
          "process_cpu_seconds_total",
          "allegro_backend_settlements_total",
          "allegro_backend_certified_expired_unsettled_total",
          "allegro_backend_confirmations_total",
        ]
      ) assert.ok(names.includes(name), name);
      const settlements = families.find((f) => f.name === "allegro_backend_settlements_total")!;
      const settled = settlements.metrics.find((m) => m.labels!.outcome === "settled")!;
      assert.ok(Number(settled.value) >= 2, `${settled.value} settled`);
    });

    await t.step("WatchTx and the event stream end when the backend stops", async () => {
      const watch = (async () => {
        try {
          for await (const _ of connect.watchTx({ txHash: new Uint8Array(32).fill(9) })) {
            // an unknown payment: nothing comes
          }
          return "ended";
        } catch (e) {
          return `ended with ${Code[(e as ConnectError).code]}`;
        }
      })();
      const events: SseEvent[] = [];
      const stream = await collectSse(api("/events"), events, new AbortController().signal);
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      assert.notEqual(await within(a!.backend.stop(), 10_000), "timeout", "stop() returns");
      assert.notEqual(await within(watch, 2_000), "timeout", "WatchTx ended");
      assert.notEqual(await within(stream.ended, 2_000), "timeout", "SSE ended");
      assert.ok(Date.now() - started < 5_000, `stopped in ${Date.now() - started} ms`);
      const errors = a!.logs.filter((l) => JSON.parse(l).level === "error");
      assert.deepEqual(errors, [], "no alert and no error logged");
    });

    b = await startTestBackend(tn, "backend-b");
    let danHash = "";
    const apiB = b.api;
    const dan = await depositor(tn, 6n * USD, 5n * USD);
    const erin = privateKeyToAccount(generatePrivateKey()).address;

    await t.step("without a settler: pending in and out until the sidecars settle", async () => {
      await waitFor(
        "backend b's head",
        10_000,
        async () => (await getJson(apiB("/chain/head"))).status === 200 || undefined,
      );
      const config = (await getJson(apiB("/config"))).body;
      assert.equal(config.public_rpc_url, null);
      assert.equal(config.settler, null);
      const signed = await order(tn, dan.key, erin, 2n * USD);
      const hash = danHash = bytesToHex(orderTxHash(signed.order));
      const r = await postJson(apiB("/payments"), { order: signedOrderJson(signed) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const out = (await getJson(apiB(`/accounts/${dan.address}?token=${PATH_USD}`))).body;
      const into = (await getJson(apiB(`/accounts/${erin}?token=${PATH_USD}`))).body;
      assert.equal(out.tokens[0].pending_out, String(2n * USD));
      assert.equal(out.pending[0].tx_hash, hash);
      assert.equal(out.pending[0].direction, "out");
      assert.equal(out.pending[0].order.amount, String(2n * USD));
      assert.equal(into.tokens[0].pending_in, String(2n * USD));
      const done = await waitFor("settled by the sidecars", 20_000, async () => {
        const s = await getJson(apiB(`/tx/${hash}`));
        return s.body.stage === "FINALIZED" ? s.body : undefined;
      });
      assert.equal(done.settlement.gas_used, null, "not this backend's settlement");
      const after = (await getJson(apiB(`/accounts/${dan.address}?token=${PATH_USD}`))).body;
      assert.equal(after.tokens[0].pending_out, "0");
      assert.equal(after.tokens[0].vault_balance, String(3n * USD));
    });

    await t.step(
      "a validator down: certified by 3 of 4; GET /validators shows it down",
      async () => {
        await tn.net.sidecars[3].stop();
        const down = await waitFor("grace down", 10_000, async () => {
          const r = await getJson(apiB("/validators"));
          const grace = r.body.validators[3];
          return grace.status === "down" ? grace : undefined;
        });
        assert.equal(down.up, false);
        assert.ok(down.error);
        const signed = await order(tn, alice.key, dan.address, USD, { seq: 1n });
        const r = await postJson(apiB("/payments"), { order: signedOrderJson(signed) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.outcome, "certified");
        assert.equal(r.body.qc.certificates.length, 3);
        const hash = r.body.tx_hash;
        const rejects = await waitFor("grace's failure on the record", 5_000, async () => {
          const s = await getJson(apiB(`/tx/${hash}`));
          return s.body.rejects.length > 0 ? s.body.rejects : undefined;
        });
        assert.deepEqual(
          rejects.map((x: { validator: string; kind: string }) => [x.validator, x.kind]),
          [["grace", "unreachable"]],
        );
        assert.deepEqual(b!.logs.filter((l) => JSON.parse(l).level === "error"), []);
      },
    );

    await t.step(
      "a restart resumes from the store: records, QCs and the vault position",
      async () => {
        const before = (await getJson(apiB(`/tx/${danHash}`))).body;
        const height = BigInt((await getJson(apiB("/chain/head"))).body.height);
        await b!.backend.stop();
        b = await startTestBackend(tn, "backend-b");
        const after = await getJson(b.api(`/tx/${danHash}`));
        assert.equal(after.status, 200);
        assert.deepEqual(after.body, before);
        const head = await waitFor("the next block", 10_000, async () => {
          const r = await getJson(b!.api("/chain/head"));
          return r.status === 200 && BigInt(r.body.height) > height ? r.body : undefined;
        });
        assert.ok(BigInt(head.height) > height);
        const started = b.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "backend started");
        assert.ok(
          BigInt(started.follow_from) > tn.net.committee.vaultBlock + 1n,
          "resumed, not replayed",
        );
      },
    );
  } finally {
    sseStop.abort();
    await a?.backend.stop();
    await b?.backend.stop();
    await tn.net.stop();
    await Deno.remove(webDir, { recursive: true });
  }
});

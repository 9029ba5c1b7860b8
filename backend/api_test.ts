/**
 * The backend's REST API, SSE and Connect service against four real sidecar processes on anvil
 * (1 s blocks): every endpoint, error shapes and statuses, idempotent resubmission, SSE order,
 * a chained payment whose parent the backend finds itself, and status surviving a restart.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { bytesToHex, hexToBytes } from "viem";
import { FastPayAggregator, Stage } from "@allegro/proto";
import { qcFromProto, verifyBoardEntry, verifyQuorumCertificate } from "@allegro/client";
import { qcFromJson } from "./json.ts";
import {
  collectSse,
  fundedAccounts,
  getJson,
  MAX_FEE,
  postJson,
  signedPayment,
  type SseEvent,
  startNetwork,
  startTestBackend,
  type TestBackend,
  USD,
  waitFor,
} from "./testing.ts";

type Json = Record<string, unknown>;
const STAGE_ORDER = ["ACCEPTED", "CERTIFIED", "QUEUED_ONCHAIN", "INCLUDED", "FINALIZED"];

Deno.test({
  name: "backend REST, SSE and Connect against four sidecars",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const net = await startNetwork(["dave", "edgar", "frank", "grace"]);
  const kv = join(net.dir, "backend.kv");
  let be: TestBackend | undefined;
  const sseStop = new AbortController();
  try {
    be = await startTestBackend(net, kv);
    const api = (path: string) => `${be!.url}/api/v1${path}`;
    const [alice, bob, carol, dan, erin] = await fundedAccounts(net.anvil, [
      20n * USD,
      MAX_FEE,
      0n,
      5n * USD,
      1000n,
    ]);

    await t.step("OpenAPI document, root pointer, unknown routes", async () => {
      const doc = await getJson(api("/openapi.json"));
      assert.equal(doc.status, 200);
      assert.equal(doc.body.openapi, "3.1.0");
      const paths = Object.keys(doc.body.paths as Json);
      for (
        const p of [
          "/api/v1/payments",
          "/api/v1/tx/{tx_hash}",
          "/api/v1/qc/{tx_hash}",
          "/api/v1/chain/head",
          "/api/v1/validators",
          "/api/v1/accounts/{address}",
          "/api/v1/events",
        ]
      ) assert.ok(paths.includes(p), p);
      const root = await getJson(`${be!.url}/`);
      assert.equal(root.status, 200);
      assert.equal(root.body.openapi, "/api/v1/openapi.json");
      const missing = await getJson(api("/nope"));
      assert.equal(missing.status, 404);
      assert.equal((missing.body.error as Json).code, "NOT_FOUND");
      const method = await getJson(api("/payments"), { method: "DELETE" });
      assert.equal(method.status, 405);
      assert.equal((method.body.error as Json).code, "METHOD_NOT_ALLOWED");
      const health = await getJson(`${be!.url}/healthz`);
      assert.equal(health.status, 200);
    });

    await t.step("chain head and validators", async () => {
      const head = await waitFor("a head", 5000, async () => {
        const r = await getJson(api("/chain/head"));
        return r.status === 200 ? r.body : undefined;
      });
      assert.match(head.height as string, /^\d+$/);
      assert.match(head.hash as string, /^0x[0-9a-f]{64}$/);
      const validators = await waitFor("every validator up", 5000, async () => {
        const r = await getJson(api("/validators"));
        const list = r.body.validators as Json[];
        return list.every((v) => v.up) ? r.body : undefined;
      });
      assert.equal(validators.threshold, 3);
      const list = validators.validators as Json[];
      assert.deepEqual(list.map((v) => v.name), ["dave", "edgar", "frank", "grace"]);
      for (const v of list) {
        assert.equal(typeof v.latency_ms, "number");
        assert.match((v.head as Json).height as string, /^\d+$/);
      }
    });

    const sse: SseEvent[] = [];
    const stream = await collectSse(api("/events"), sse, sseStop.signal);
    let paid: Json = {};
    const aliceToBob = await signedPayment(alice, bob.address, 10n * USD);

    await t.step("POST /payments gives a verified QC; GET /tx and /qc", async () => {
      const r = await postJson(api("/payments"), { signed_tx: aliceToBob });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      paid = r.body;
      assert.equal(paid.outcome, "certified");
      assert.equal(paid.replayed, false);
      assert.ok((paid.certificates as Json[]).length >= 3);
      const qc = qcFromJson("qc", paid.qc);
      await verifyQuorumCertificate(net.committee, qc);
      assert.equal(bytesToHex(qc.txHash), paid.tx_hash);
      const status = await getJson(api(`/tx/${paid.tx_hash}`));
      assert.equal(status.status, 200);
      assert.ok(STAGE_ORDER.includes(status.body.stage as string));
      assert.equal((status.body.qc as Json).qc_hash, (paid.qc as Json).qc_hash);
      assert.equal((status.body.payment as Json).amount, (10n * USD).toString());
      assert.equal((status.body.payment as Json).sender, alice.address);
      const qcAnswer = await getJson(api(`/qc/${paid.tx_hash}`));
      assert.equal(qcAnswer.status, 200);
      assert.equal(qcAnswer.body.qc_hash, (paid.qc as Json).qc_hash);
    });

    await t.step("accounts: chain balance and pending", async () => {
      const r = await getJson(api(`/accounts/${alice.address}`));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const tokens = r.body.tokens as Json[];
      assert.equal(tokens.length, 4);
      const path = tokens[0];
      assert.equal(path.symbol, "pathUSD");
      const available = BigInt(path.available as string);
      // Before inclusion: 20 − 10 pending; after: 20 − 10 − fee.
      assert.ok(available <= 10n * USD && available >= 10n * USD - MAX_FEE, String(available));
      const pending = r.body.pending as Json[];
      if (pending.length > 0) {
        assert.equal(pending[0].tx_hash, paid.tx_hash);
        assert.equal(path.pending_debit, (10n * USD).toString());
      }
      const one = await getJson(
        api(`/accounts/${bob.address}?token=0x20c0000000000000000000000000000000000001`),
      );
      assert.equal((one.body.tokens as Json[]).length, 1);
      assert.equal((one.body.recent as Json[])[0].tx_hash, paid.tx_hash);
      const bad = await getJson(api("/accounts/0x1234"));
      assert.equal(bad.status, 400);
      assert.equal((bad.body.error as Json).code, "INVALID_REQUEST");
    });

    await t.step("resubmission is idempotent; client_request_id binds one tx", async () => {
      const again = await postJson(api("/payments"), { signed_tx: aliceToBob });
      assert.equal(again.status, 200);
      assert.equal(again.body.replayed, true);
      assert.equal(again.body.tx_hash, paid.tx_hash);
      assert.equal((again.body.qc as Json).qc_hash, (paid.qc as Json).qc_hash);
      const danToCarol = await signedPayment(dan, carol.address, 1n * USD);
      const first = await postJson(api("/payments"), {
        signed_tx: danToCarol,
        client_request_id: "order-1",
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const same = await postJson(api("/payments"), {
        signed_tx: danToCarol,
        client_request_id: "order-1",
      });
      assert.equal(same.status, 200);
      assert.equal((same.body.qc as Json).qc_hash, (first.body.qc as Json).qc_hash);
      const other = await signedPayment(dan, carol.address, 2n * USD, { nonce: 1n });
      const conflict = await postJson(api("/payments"), {
        signed_tx: other,
        client_request_id: "order-1",
      });
      assert.equal(conflict.status, 409);
      assert.equal((conflict.body.error as Json).code, "IDEMPOTENCY_CONFLICT");
    });

    await t.step("malformed and refused requests get typed errors", async () => {
      const expectError = async (
        r: Promise<{ status: number; body: Json }>,
        status: number,
        code: string,
      ) => {
        const { status: s, body } = await r;
        assert.equal(s, status, JSON.stringify(body));
        const error = body.error as Json;
        assert.equal(error.code, code, JSON.stringify(body));
        assert.equal(typeof error.message, "string");
        return error;
      };
      await expectError(postJson(api("/payments"), "{not json"), 400, "INVALID_JSON");
      await expectError(postJson(api("/payments"), "[1,2]"), 400, "INVALID_REQUEST");
      await expectError(postJson(api("/payments"), {}), 400, "INVALID_REQUEST");
      await expectError(postJson(api("/payments"), { signed_tx: "76ab" }), 400, "INVALID_REQUEST");
      await expectError(
        postJson(api("/payments"), { signed_tx: "0x02abcdef" }),
        400,
        "INVALID_FORMAT",
      );
      await expectError(
        postJson(api("/payments"), { signed_tx: "0x" + "00".repeat(70_000) }),
        413,
        "PAYLOAD_TOO_LARGE",
      );
      await expectError(
        postJson(api("/payments"), {
          signed_tx: await signedPayment(dan, carol.address, 1n, { chainId: 1n }),
        }),
        422,
        "WRONG_CHAIN",
      );
      // Erin holds 1000 units: every validator refuses for good.
      const poor = await expectError(
        postJson(api("/payments"), {
          signed_tx: await signedPayment(erin, carol.address, 1n * USD),
        }),
        422,
        "INSUFFICIENT_FUNDS",
      );
      const details = poor.details as Json;
      // Decided at two refusals (3 of 4 is then impossible); the other two are merged later.
      assert.ok((details.rejects as Json[]).length >= 2);
      assert.equal(details.stage, "REJECTED");
      assert.equal(details.qc, null);
      const rejected = await waitFor("all four refusals", 5000, async () => {
        const r = await getJson(api(`/tx/${details.tx_hash}`));
        return (r.body.rejects as Json[]).length === 4 ? r.body : undefined;
      });
      assert.equal(rejected.stage, "REJECTED");
      for (const r of rejected.rejects as Json[]) assert.equal(r.code, "INSUFFICIENT_FUNDS");
      const orphan = await signedPayment(bob, carol.address, 1n, {
        memo: new Uint8Array(32).fill(7),
      });
      await expectError(
        postJson(api("/payments"), {
          signed_tx: orphan,
          parent_qc_hash: bytesToHex(new Uint8Array(32).fill(7)),
        }),
        422,
        "MISSING_PARENT_QC",
      );
      await expectError(getJson(api(`/tx/0x${"ab".repeat(32)}`)), 404, "NOT_FOUND");
      await expectError(getJson(api("/tx/0x1234")), 400, "INVALID_REQUEST");
      await expectError(getJson(api(`/qc/0x${"ab".repeat(32)}`)), 404, "NOT_FOUND");
      await expectError(getJson(api("/events?types=nope")), 400, "INVALID_REQUEST");
    });

    let child: Json = {};
    await t.step("a chained payment whose parent QC the backend assembled", async () => {
      const qcHash = hexToBytes((paid.qc as Json).qc_hash as `0x${string}`);
      const bobToCarol = await signedPayment(bob, carol.address, 10n * USD, { memo: qcHash });
      const r = await postJson(api("/payments"), {
        signed_tx: bobToCarol,
        parent_qc_hash: bytesToHex(qcHash),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      child = r.body;
      await verifyQuorumCertificate(net.committee, qcFromJson("qc", child.qc));
      const [parentDone, childDone] = await Promise.all(
        [paid, child].map((p) =>
          waitFor(`${p.tx_hash} included`, 15_000, async () => {
            const s = await getJson(api(`/tx/${p.tx_hash}`));
            return ["INCLUDED", "FINALIZED"].includes(s.body.stage as string) ? s.body : undefined;
          })
        ),
      );
      assert.ok(
        BigInt((childDone.block as Json).height as string) >=
          BigInt((parentDone.block as Json).height as string),
      );
      assert.equal(childDone.parent_qc_hash as string, bytesToHex(qcHash));
    });

    await t.step("SSE delivered heads, certificates and stage changes in order", async () => {
      await waitFor("parent FINALIZED on SSE", 10_000, () =>
        Promise.resolve(
          sse.some((e) =>
              e.event === "stage" && e.data.tx_hash === paid.tx_hash && e.data.stage === "FINALIZED"
            )
            ? true
            : undefined,
        ));
      const ids = sse.map((e) => Number(e.id));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids increase");
      const heights = sse.filter((e) => e.event === "head").map((e) => BigInt(e.data.height));
      assert.ok(heights.length >= 2, "heads arrived");
      for (let i = 1; i < heights.length; i++) assert.ok(heights[i] > heights[i - 1]);
      const mine = sse.filter((e) => e.data.tx_hash === paid.tx_hash);
      const stages = mine.filter((e) => e.event === "stage").map((e) => e.data.stage);
      assert.equal(stages[0], "ACCEPTED");
      assert.equal(stages[1], "CERTIFIED");
      assert.ok(stages.includes("INCLUDED") && stages.at(-1) === "FINALIZED", stages.join(","));
      const order = stages.map((s) => STAGE_ORDER.indexOf(s));
      assert.deepEqual(order, [...order].sort((a, b) => a - b), stages.join(","));
      const certified = mine.findIndex((e) => e.event === "stage" && e.data.stage === "CERTIFIED");
      const certsBefore = mine.slice(0, certified).filter((e) => e.event === "certificate");
      assert.ok(certsBefore.length >= 3, "three certificates before CERTIFIED");
      const signers = new Set<string>(net.committee.validators.map((v) => bytesToHex(v.publicKey)));
      for (const e of mine.filter((e) => e.event === "certificate")) {
        assert.ok(signers.has(e.data.signer));
      }
      const certifiedEvent = mine[certified];
      assert.equal(certifiedEvent.data.qc_hash, (paid.qc as Json).qc_hash);
      // The fourth validator's slower certificate is merged too.
      const four = await waitFor("four certificates", 5000, async () => {
        const s = await getJson(api(`/tx/${paid.tx_hash}`));
        return (s.body.certificates as Json[]).length === 4 ? s.body : undefined;
      });
      assert.equal((four.qc as Json).qc_hash, (paid.qc as Json).qc_hash, "the QC is frozen");
    });

    await t.step("Connect: submit, status, QC, head, board, watch streams", async () => {
      const client = createClient(
        FastPayAggregator,
        createConnectTransport({ baseUrl: be!.url, defaultTimeoutMs: 20_000 }),
      );
      const danToErin = hexToBytes(await signedPayment(dan, erin.address, 1n * USD, { nonce: 1n }));
      const answer = await client.submitFastPay({ signedTx: danToErin });
      assert.ok(answer.qc, "QC formed");
      await verifyQuorumCertificate(net.committee, qcFromProto(answer.qc!));
      assert.equal(answer.stage, Stage.CERTIFIED);
      assert.equal(answer.rejects.length, 0);
      const status = await client.getTxStatus({ txHash: answer.txHash });
      assert.ok(status.stage >= Stage.CERTIFIED);
      assert.equal(status.payment?.amount, 1n * USD);
      const qc = await client.getQuorumCertificate({ txHash: answer.txHash });
      assert.deepEqual(qc.qc?.qcHash, answer.qc!.qcHash);
      const head = await client.getChainHead({});
      assert.ok(head.height > 0n);

      const page1 = await client.getBulletinBoard({ limit: 2 });
      assert.equal(page1.entries.length, 2);
      assert.ok(page1.hasMore);
      const page2 = await client.getBulletinBoard({
        afterSequence: page1.nextAfterSequence,
        limit: 1000,
      });
      const all = [...page1.entries, ...page2.entries];
      const seqs = all.map((e) => e.sequence);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => (a < b ? -1 : 1)));
      for (const entry of all) await verifyBoardEntry(net.committee, entry);
      const byTx = await client.getBulletinBoard({ txHash: answer.txHash });
      assert.ok(byTx.entries.length >= 3);
      const byAddress = await client.getBulletinBoard({ address: hexToBytes(erin.address) });
      assert.ok(
        byAddress.entries.every((e) =>
          e.certificate && bytesToHex(e.payment!.recipient) === erin.address.toLowerCase() ||
          bytesToHex(e.payment!.sender) === erin.address.toLowerCase()
        ),
      );

      const heads: bigint[] = [];
      const abort = new AbortController();
      for await (const h of client.watchHeads({}, { signal: abort.signal })) {
        heads.push(h.height);
        if (heads.length === 2) break;
      }
      abort.abort();
      assert.ok(heads[1] > heads[0]);

      const stages: Stage[] = [];
      for await (const s of client.watchTx({ txHash: answer.txHash })) {
        stages.push(s.stage);
        if (s.stage === Stage.FINALIZED) break;
      }
      assert.equal(stages.at(-1), Stage.FINALIZED);
      assert.deepEqual(stages, [...stages].sort((a, b) => a - b));
      await assert.rejects(client.getTxStatus({ txHash: new Uint8Array(32) }), /not known/);
    });

    await t.step("status survives a backend restart", async () => {
      const before = await getJson(api(`/tx/${child.tx_hash}`));
      // A payment certified just before the restart is followed to FINALIZED after it.
      const late = await postJson(api("/payments"), {
        signed_tx: await signedPayment(dan, carol.address, 1n * USD, { nonce: 2n }),
      });
      assert.equal(late.status, 200, JSON.stringify(late.body));
      await be!.backend.stop();
      if (Deno.env.get("BACKEND_TEST_LOGS")) console.error(be!.logs.join("\n"));
      be = await startTestBackend(net, kv);
      const lateDone = await waitFor("late payment FINALIZED after restart", 10_000, async () => {
        const s = await getJson(`${be!.url}/api/v1/tx/${late.body.tx_hash}`);
        return s.body.stage === "FINALIZED" ? s.body : undefined;
      });
      assert.equal((lateDone.qc as Json).qc_hash, (late.body.qc as Json).qc_hash);
      const after = await getJson(`${be.url}/api/v1/tx/${child.tx_hash}`);
      assert.equal(after.status, 200);
      assert.equal((after.body.qc as Json).qc_hash, (before.body.qc as Json).qc_hash);
      assert.deepEqual(after.body.certificates, before.body.certificates);
      const done = await waitFor("child FINALIZED after restart", 10_000, async () => {
        const s = await getJson(`${be!.url}/api/v1/tx/${child.tx_hash}`);
        return s.body.stage === "FINALIZED" ? s.body : undefined;
      });
      assert.equal((done.timestamps as Json).certified, (before.body.timestamps as Json).certified);
      const replay = await postJson(`${be.url}/api/v1/payments`, {
        signed_tx: (before.body as Json).signed_tx,
        parent_qc_hash: child.tx_hash === undefined
          ? undefined
          : (before.body as Json).parent_qc_hash,
      });
      assert.equal(replay.status, 200);
      assert.equal((replay.body.qc as Json).qc_hash, (before.body.qc as Json).qc_hash);
    });

    sseStop.abort();
    await stream.done;
  } catch (e) {
    if (be) console.error(be.logs.slice(-40).join("\n"));
    throw e;
  } finally {
    sseStop.abort();
    await be?.backend.stop();
    await net.stop();
  }
});

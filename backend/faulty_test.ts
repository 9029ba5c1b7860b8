/**
 * Faulty validators are tolerated: 4 validators (threshold 3), three real sidecar processes and
 * a misbehaving in-process fake for the fourth — down, slow, forging certificates, or signing
 * conflicting ones with its real committee key. Each time the payment gets a QC through the
 * backend, the QC verifies, and no certificate of the fake appears in a QC, a status, the
 * backend's board or an SSE event.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { bytesToHex, type Hex, hexToBytes } from "viem";
import {
  type BulletinEntry,
  BulletinEntrySchema,
  FastPayAggregator,
  FastPaySidecar,
} from "@allegro/proto";
import {
  type Certificate,
  CertificateSigner,
  certificateToProto,
  decodePayment,
  paymentEffectsHash,
  paymentTxHash,
  qcFromProto,
  verifyQuorumCertificate,
} from "@allegro/client";
import { type Listener, serveConnect } from "@allegro/server/listen";
import { readKeyFile } from "@allegro/server/keyfile";
import { qcFromJson } from "./json.ts";
import {
  collectSse,
  fundedAccounts,
  getJson,
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
type Mode = "slow" | "forged" | "conflicting";

const SLOW_MILLIS = 4000;

/** The fourth validator: holds its real committee key, and misbehaves as told. */
class FakeSidecar {
  mode: Mode = "slow";
  /** Signatures it handed out that must never count. */
  readonly bad = new Set<string>();
  /** Tx hashes of the conflicting certificates it signed. */
  readonly conflictingTx = new Set<string>();
  readonly #board: BulletinEntry[] = [];
  #listener: Listener | undefined;

  constructor(readonly signer: CertificateSigner, readonly port: number) {}

  start(): void {
    this.#listener = serveConnect({
      hostname: "127.0.0.1",
      port: this.port,
      readMaxBytes: 1 << 20,
      routes: (router) => router.service(FastPaySidecar, this.#service()),
    });
  }

  async stop(): Promise<void> {
    await this.#listener?.close();
  }

  #entry(certificate: Certificate, signedTx: Uint8Array, parentQcHash: Uint8Array) {
    this.#board.push(create(BulletinEntrySchema, {
      sequence: BigInt(this.#board.length + 1),
      certificate: certificateToProto(certificate),
      signedTx,
      parentQcHash,
    }));
  }

  #service(): ServiceImpl<typeof FastPaySidecar> {
    return {
      submitFastPay: async (req, context) => {
        const payment = decodePayment(req.signedTx, { chainId: this.signer.chainId });
        const txHash = paymentTxHash(payment, req.parentQcHash);
        const effectsHash = paymentEffectsHash(payment);
        const created = BigInt(Date.now());
        if (this.mode === "slow") {
          // An honest answer, too late for the backend's per-sidecar timeout.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, SLOW_MILLIS);
            context.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve();
            });
          });
          const certificate = await this.signer.sign(txHash, effectsHash, created);
          return {
            txHash,
            effectsHash,
            result: { case: "certificate", value: certificateToProto(certificate) },
          };
        }
        if (this.mode === "forged") {
          // Right hashes, a signature that does not verify; on the board too.
          const signature = crypto.getRandomValues(new Uint8Array(64));
          const forged = {
            signer: this.signer.publicKey,
            txHash,
            effectsHash,
            signature,
            createdUnixMillis: created,
          };
          this.bad.add(bytesToHex(signature));
          this.#entry(forged, req.signedTx, req.parentQcHash);
          return {
            txHash,
            effectsHash,
            result: { case: "certificate", value: certificateToProto(forged) },
          };
        }
        // Conflicting: valid signatures by its committee key, over other hashes than the payment's.
        const otherParent = crypto.getRandomValues(new Uint8Array(32));
        const otherTx = paymentTxHash(payment, otherParent);
        const overOtherTx = await this.signer.sign(otherTx, effectsHash, created);
        const overOtherEffects = await this.signer.sign(
          txHash,
          crypto.getRandomValues(new Uint8Array(32)),
          created,
        );
        for (const c of [overOtherTx, overOtherEffects]) this.bad.add(bytesToHex(c.signature));
        this.conflictingTx.add(bytesToHex(otherTx));
        // On its board: the real signed bytes under a parent the payer never signed (the memo does
        // not bind it), and the certificate over other effects.
        this.#entry(overOtherTx, req.signedTx, otherParent);
        this.#entry(overOtherEffects, req.signedTx, req.parentQcHash);
        return {
          txHash: otherTx,
          effectsHash,
          result: { case: "certificate", value: certificateToProto(overOtherTx) },
        };
      },
      submitFastPayStream: () => {
        throw new ConnectError("not implemented", Code.Unimplemented);
      },
      getBulletinBoard: (req) => {
        const entries = this.#board.filter((e) => e.sequence > req.afterSequence);
        return {
          entries,
          nextAfterSequence: entries.at(-1)?.sequence ?? req.afterSequence,
          hasMore: false,
        };
      },
      getValidatorInfo: () => ({
        name: "mallory",
        pubkey: this.signer.publicKey,
        chainId: this.signer.chainId,
        epoch: this.signer.epoch,
        peers: [],
        protocolVersion: 1,
      }),
      getChainHead: () => ({ height: 1n, hash: new Uint8Array(32), timestampUnixMillis: 0n }),
    };
  }
}

Deno.test({
  name:
    "faulty validators: down, slow, forged and conflicting certificates never stop or enter a QC",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const net = await startNetwork(["dave", "edgar", "frank", "mallory"], 3);
  let be: TestBackend | undefined;
  let fake: FakeSidecar | undefined;
  const sseStop = new AbortController();
  try {
    const malloryLocal = net.local.validators[3];
    const key = await readKeyFile(malloryLocal.keyPath);
    const signer = await CertificateSigner.create(key.secretKey, net.committee);
    const mallory = bytesToHex(key.publicKey);
    fake = new FakeSidecar(signer, malloryLocal.port);
    be = await startTestBackend(net, join(net.dir, "backend.kv"), ["--sidecar-timeout-ms", "1000"]);
    const api = (path: string) => `${be!.url}/api/v1${path}`;
    const connect = createClient(
      FastPayAggregator,
      createConnectTransport({ baseUrl: be.url, defaultTimeoutMs: 20_000 }),
    );
    const payers = await fundedAccounts(net.anvil, [5n * USD, 5n * USD, 5n * USD, 5n * USD]);
    const [payee] = await fundedAccounts(net.anvil, [0n]);
    const sse: SseEvent[] = [];
    const stream = await collectSse(api("/events?types=certificate,stage"), sse, sseStop.signal);
    const paid: Json[] = [];

    /** Pays through REST; asserts a verified QC without Mallory and her reject. */
    const payRest = async (i: number, code: string, kind: string) => {
      const r = await postJson(api("/payments"), {
        signed_tx: await signedPayment(payers[i], payee.address, 1n * USD),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const qc = await verifyQuorumCertificate(net.committee, qcFromJson("qc", r.body.qc));
      assert.ok(qc.certificates.every((c) => bytesToHex(c.signer) !== mallory));
      const rejects = r.body.rejects as Json[];
      // Mallory's answer may come after the decision; then it is in the status a moment later.
      const status = await waitFor("Mallory's reject", 5000, async () => {
        const s = await getJson(api(`/tx/${r.body.tx_hash}`));
        return (s.body.rejects as Json[]).some((x) => x.validator === "mallory")
          ? s.body
          : undefined;
      });
      const reject = [...rejects, ...(status.rejects as Json[])].find((x) =>
        x.validator === "mallory"
      )!;
      assert.equal(reject.code, code, JSON.stringify(reject));
      assert.equal(reject.kind, kind, JSON.stringify(reject));
      paid.push(r.body);
      return r.body;
    };

    await t.step("(a) down: nothing listens at Mallory's endpoint", async () => {
      await payRest(0, "TEMPORARY_UNAVAILABLE", "unreachable");
      const v = await waitFor("Mallory down", 3000, async () => {
        const r = await getJson(api("/validators"));
        const list = r.body.validators as Json[];
        const m = list.find((x) => x.name === "mallory")!;
        return m.status === "down" && list.filter((x) => x.up).length === 3 ? list : undefined;
      });
      assert.equal(v.length, 4);
    });

    await t.step(
      "(b) slow: answers after the per-sidecar timeout; decided without her",
      async () => {
        fake!.mode = "slow";
        fake!.start();
        await waitFor("Mallory up", 3000, async () => {
          const r = await getJson(api("/validators"));
          return (r.body.validators as Json[]).find((x) => x.name === "mallory")!.up
            ? true
            : undefined;
        });
        const signedTx = hexToBytes(await signedPayment(payers[1], payee.address, 1n * USD));
        const started = performance.now();
        const answer = await connect.submitFastPay({ signedTx });
        const elapsed = performance.now() - started;
        assert.ok(answer.qc, "QC formed");
        assert.ok(elapsed < 1000, `answered in ${elapsed} ms, before the 1000 ms timeout`);
        const qc = await verifyQuorumCertificate(net.committee, qcFromProto(answer.qc!));
        assert.ok(qc.certificates.every((c) => bytesToHex(c.signer) !== mallory));
        const status = await waitFor("Mallory timed out", 5000, async () => {
          const s = await getJson(api(`/tx/${bytesToHex(answer.txHash)}`));
          return (s.body.rejects as Json[]).some((x) => x.validator === "mallory")
            ? s.body
            : undefined;
        });
        assert.equal(
          (status.rejects as Json[]).find((x) => x.validator === "mallory")!.code,
          "TEMPORARY_UNAVAILABLE",
        );
        paid.push(status);
      },
    );

    await t.step("(c) forged: a certificate whose signature does not verify", async () => {
      fake!.mode = "forged";
      await payRest(2, "INVALID_FORMAT", "invalid");
    });

    await t.step("(d) conflicting: valid signatures by her key over other hashes", async () => {
      fake!.mode = "conflicting";
      await payRest(3, "INVALID_FORMAT", "invalid");
    });

    await t.step("no certificate of Mallory anywhere", async () => {
      assert.ok(fake!.bad.size >= 3);
      // Let the board puller read her board (forged and conflicting entries) a few times.
      await new Promise((r) => setTimeout(r, 1000));
      for (const p of paid) {
        const s = await getJson(api(`/tx/${p.tx_hash}`));
        assert.equal(s.status, 200);
        for (const c of s.body.certificates as Json[]) {
          assert.notEqual(c.signer, mallory);
          assert.ok(!fake!.bad.has(c.signature as string));
        }
        const qc = qcFromJson("qc", s.body.qc);
        await verifyQuorumCertificate(net.committee, qc);
        assert.ok(qc.certificates.every((c) => bytesToHex(c.signer) !== mallory));
      }
      for (const tx of fake!.conflictingTx) {
        assert.equal((await getJson(api(`/tx/${tx}`))).status, 404, "conflicting tx unknown");
      }
      const board = await connect.getBulletinBoard({ address: hexToBytes(payee.address as Hex) });
      assert.ok(board.entries.length >= 12, `${board.entries.length} entries`);
      for (const e of board.entries) {
        assert.notEqual(bytesToHex(e.certificate!.signer), mallory);
      }
      const certEvents = sse.filter((e) => e.event === "certificate");
      assert.ok(certEvents.length >= 12);
      for (const e of sse) {
        if (e.event === "certificate") {
          assert.notEqual(e.data.signer, mallory);
          assert.ok(!fake!.bad.has(e.data.signature));
        }
        assert.ok(!fake!.conflictingTx.has(e.data.tx_hash));
      }
      assert.ok(
        be!.logs.some((l) => l.includes("board entry rejected")),
        "the forged board entries were seen and dropped",
      );
      // Every payment settles.
      for (const p of paid) {
        await waitFor(`${p.tx_hash} included`, 10_000, async () => {
          const s = await getJson(api(`/tx/${p.tx_hash}`));
          return ["INCLUDED", "FINALIZED"].includes(s.body.stage as string) ? true : undefined;
        });
      }
    });

    sseStop.abort();
    await stream.done;
  } catch (e) {
    if (be) console.error(be.logs.slice(-40).join("\n"));
    throw e;
  } finally {
    sseStop.abort();
    await be?.backend.stop();
    await fake?.stop();
    await net.stop();
  }
});

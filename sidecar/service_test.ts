/**
 * The sidecar's service from outside (SPEC §6, §7), on one real sidecar process (a committee of
 * one, no settler, `--max-page 10`) whose RPC goes through a proxy of the test's: `GetLane`
 * (prefix, lock, own certificate, chain time, balance and available), bulletin-board paging (a
 * cursor that never skips or repeats, the page limit, filters by `tx_hash` and address),
 * `GetValidatorInfo`, `/healthz`, `/metrics` (every family with `# HELP`, submissions and rejects
 * by code, the settlement and expired-unsettled counters) and malformed queries; then the RPC is
 * black-holed (the v1 attack (e)): `TEMPORARY_UNAVAILABLE` within the staleness bound, no
 * certificate on a view older than it, replays still answered, and signing again once healed.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes } from "viem";
import type { BulletinEntry } from "@allegro/proto";
import {
  assembleQuorumCertificate,
  type CertifiedOrder,
  PROTOCOL_VERSION,
  type SignedOrder,
  verifyBoardEntry,
} from "@allegro/client";
import { PATH_USD } from "@allegro/server/anvil";
import {
  type Answer,
  assertRejected,
  metric,
  networkTest,
  type Payer,
  readMetrics,
  request,
  sleep,
  type TestNetwork,
  until,
  USD,
} from "./network_testing.ts";

/**
 * S (ms), longer than the default, so that the RPC timeout (S / 2) finds the connection down
 * well before the view is S old.
 */
const STALE_AFTER = 8000n;
const MAX_PAGE = 10;

/** A payer's lane on a committee of one: each certificate is a QC, sent with the next order. */
class Lane {
  readonly #net: TestNetwork;
  readonly #payer: Payer;
  readonly #recipient: Address;
  #previous: CertifiedOrder | undefined;
  #pending: SignedOrder | undefined;
  readonly certified: { certified: CertifiedOrder; answer: Answer }[] = [];

  constructor(net: TestNetwork, payer: Payer, recipient: Address) {
    this.#net = net;
    this.#payer = payer;
    this.#recipient = recipient;
  }

  /** Sends the lane's next order (the same one again until it is certified). */
  async next(amount = 1n): Promise<Answer> {
    this.#pending ??= await this.#net.order(this.#payer, {
      recipient: this.#recipient,
      amount,
      seq: BigInt(this.certified.length),
    });
    const signed = this.#pending;
    const answer = await this.#net.submit(
      0,
      request(signed, this.#previous ? { laneQcs: [this.#previous] } : {}),
    );
    if (answer.certificate) {
      const qc = assembleQuorumCertificate(this.#net.committee, [answer.certificate])!;
      this.#previous = { signed, txHash: answer.txHash, qc };
      this.#pending = undefined;
      this.certified.push({ certified: this.#previous, answer });
    }
    return answer;
  }
}

/** Every board entry matching `filter`, read `limit` at a time; checks each page. */
async function readBoard(
  net: TestNetwork,
  filter: { txHash?: Hex; address?: Address },
  limit: number,
): Promise<BulletinEntry[]> {
  const entries: BulletinEntry[] = [];
  let after = 0n;
  for (let page = 0; page < 100; page++) {
    const response = await net.client(0).getBulletinBoard({
      afterSequence: after,
      limit,
      ...(filter.txHash ? { txHash: hexToBytes(filter.txHash) } : {}),
      ...(filter.address ? { address: hexToBytes(filter.address) } : {}),
    });
    const most = limit === 0 ? MAX_PAGE : Math.min(limit, MAX_PAGE);
    assert.ok(response.entries.length <= most, "a page holds at most the limit");
    for (const e of response.entries) assert.ok(e.sequence > after, "the cursor never goes back");
    entries.push(...response.entries);
    if (!response.hasMore) return entries;
    assert.equal(response.nextAfterSequence, response.entries.at(-1)!.sequence);
    after = response.nextAfterSequence;
  }
  throw new Error("the board did not end within 100 pages");
}

/** The connect code a call fails with. */
async function failure(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

networkTest("a sidecar's service: lanes, board, info, health, metrics, and a black-holed RPC", {
  validators: 1,
  sidecars: 0,
  settlers: false,
  sidecarArgs: ["--max-page", String(MAX_PAGE), "--stale-after-ms", String(STALE_AFTER)],
}, async (net, t) => {
  const proxy = net.rpcProxy();
  await net.spawn(0, { rpcUrl: proxy.url });
  const validator = net.local.committee.validators[0];
  const [alice, bob] = await Promise.all([net.payer(10n * USD), net.payer(10n * USD)]);
  const carol = net.recipient();

  await t.step(
    "GetValidatorInfo names the validator, its settlement address and the vault",
    async () => {
      const info = await net.client(0).getValidatorInfo({});
      assert.equal(info.name, validator.name);
      assert.equal(bytesToHex(info.pubkey), bytesToHex(validator.publicKey));
      assert.equal(getAddress(bytesToHex(info.settlementAddress)), validator.settlementAddress);
      assert.equal(getAddress(bytesToHex(info.vault)), net.vault);
      assert.equal(info.chainId, net.committee.chainId);
      assert.equal(info.epoch, net.committee.epoch);
      assert.equal(info.protocolVersion, PROTOCOL_VERSION);
      assert.deepEqual(info.peers, []);
    },
  );

  const lanes = { alice: new Lane(net, alice, carol), bob: new Lane(net, bob, alice.address) };
  await t.step(
    "GetLane: prefix, lock, own certificate, chain time, balance and available",
    async () => {
      const stranger = await net.lane(0, carol);
      assert.deepEqual({ ...stranger, chainTime: 0n }, {
        appliedPrefix: 0n,
        balance: 0n,
        available: 0n,
        chainTime: 0n,
      });
      assert.ok(
        stranger.chainTime >= await net.chainTime() - 3000n,
        "the lane's chain time is current",
      );
      assert.deepEqual({ ...await net.lane(0, alice.address), chainTime: 0n }, {
        appliedPrefix: 0n,
        balance: 10n * USD,
        available: 10n * USD,
        chainTime: 0n,
      });
      for (const [seq, amount] of [[0n, 3n * USD], [1n, 2n * USD]]) {
        const answer = await lanes.alice.next(amount);
        assert.ok(answer.certificate);
        const lane = await net.lane(0, alice.address);
        // Seq 1 came with seq 0's QC: seq 0 is applied, seq 1 is this sidecar's lock.
        assert.equal(lane.appliedPrefix, seq);
        assert.equal(lane.locked, answer.txHash);
        assert.equal(lane.certificate, answer.certificateBytes);
        assert.equal(lane.balance, 10n * USD);
        assert.equal(lane.available, seq === 0n ? 7n * USD : 5n * USD);
      }
      assert.equal(
        await failure(
          net.client(0).getLane({ payer: new Uint8Array(19), token: hexToBytes(PATH_USD) }),
        ),
        Code.InvalidArgument,
      );
    },
  );

  await t.step(
    "the board pages with a cursor that never skips or repeats, a page limit and filters",
    async () => {
      for (let i = 0; i < 4; i++) assert.ok((await lanes.alice.next()).certificate);
      for (let i = 0; i < 4; i++) assert.ok((await lanes.bob.next()).certificate);
      // Alice: 6 certificates and 5 QCs sent with the next order; Bob: 4 and 3.
      const all = await readBoard(net, {}, MAX_PAGE);
      assert.equal(all.length, 18);
      const sequences = all.map((e) => e.sequence);
      assert.deepEqual(sequences, [...new Set(sequences)].sort((a, b) => (a < b ? -1 : 1)));
      for (const limit of [1, 4, 7, 1000, 0]) {
        const paged = await readBoard(net, {}, limit);
        assert.deepEqual(paged.map((e) => e.sequence), sequences, `pages of ${limit}`);
      }
      const capped = await net.client(0).getBulletinBoard({ afterSequence: 0n, limit: 1000 });
      assert.equal(capped.entries.length, MAX_PAGE);
      assert.equal(capped.hasMore, true);
      for (const e of all) await verifyBoardEntry(net.committee, e);
      const orderOf = (e: BulletinEntry) => e.order!.order!;
      // By tx_hash: the order's certificate, and the QC it got as the next order's lane QC.
      const first = lanes.alice.certified[0].answer.txHash;
      const byHash = await readBoard(net, { txHash: first }, 1);
      assert.deepEqual(
        byHash.map((
          e,
        ) => [e.certificate ? "certificate" : "qc", bytesToHex((e.certificate ?? e.qc)!.txHash)]),
        [
          ["certificate", first],
          ["qc", first],
        ],
      );
      // By address: as payer or as recipient.
      for (
        const [address, count] of [[bob.address, 7], [alice.address, 18], [carol, 11]] as const
      ) {
        for (const limit of [3, MAX_PAGE]) {
          const mine = await readBoard(net, { address }, limit);
          assert.equal(mine.length, count, `${address} in pages of ${limit}`);
          assert.deepEqual(
            mine.map((e) => e.sequence),
            all.filter((e) =>
              [orderOf(e).payer, orderOf(e).recipient].some((a) =>
                bytesToHex(a) === address.toLowerCase()
              )
            ).map((e) => e.sequence),
          );
        }
      }
      assert.deepEqual(await readBoard(net, { txHash: `0x${"ab".repeat(32)}` }, MAX_PAGE), []);
      assert.equal(
        await failure(net.client(0).getBulletinBoard({ txHash: new Uint8Array(31) })),
        Code.InvalidArgument,
      );
      assert.equal(
        await failure(net.client(0).getBulletinBoard({ address: new Uint8Array(21) })),
        Code.InvalidArgument,
      );
    },
  );

  await t.step("/healthz and /metrics", async () => {
    const health = await fetch(`${net.url(0)}/healthz`);
    assert.equal(health.status, 200);
    const body = await health.json();
    assert.equal(body.status, "ok");
    assert.equal(body.name, validator.name);
    assert.equal(body.gate, "open");
    assert.ok(BigInt(body.head.time) >= await net.chainTime() - 3000n);

    const before = await readMetrics(net.url(0));
    const replay = await net.submit(0, request(lanes.bob.certified[0].certified.signed));
    assert.ok(replay.certificate);
    assertRejected(await lanes.bob.next(100n * USD), "INSUFFICIENT_FUNDS", []);
    const elsewhere = await net.order(alice, {
      recipient: carol,
      amount: 1n,
      seq: 0n,
      chainId: 1n,
    });
    assertRejected(await net.submit(0, request(elsewhere)), "WRONG_CHAIN", []);
    const after = await readMetrics(net.url(0));
    const delta = (name: string, labels?: Record<string, string>) =>
      metric(after, name, labels) - metric(before, name, labels);
    assert.equal(delta("allegro_submissions_total", { outcome: "certified" }), 1);
    assert.equal(delta("allegro_submissions_total", { outcome: "rejected" }), 2);
    assert.equal(delta("allegro_rejects_total", { code: "INSUFFICIENT_FUNDS" }), 1);
    assert.equal(delta("allegro_rejects_total", { code: "WRONG_CHAIN" }), 1);
    for (const code of ["INVALID_FORMAT", "EQUIVOCATION", "TEMPORARY_UNAVAILABLE"]) {
      assert.equal(delta("allegro_rejects_total", { code }), 0, code);
    }
    const latency = after.find((f) => f.name === "allegro_submission_seconds")!;
    const answered = ["certified", "confirmed", "rejected"]
      .reduce((sum, outcome) => sum + metric(after, "allegro_submissions_total", { outcome }), 0);
    assert.equal(Number(latency.metrics[0].count), answered, "every answer's latency is counted");
    assert.ok(metric(after, "allegro_chain_head_height") > 0);
    for (const outcome of ["sent", "settled", "failed"]) {
      assert.equal(
        metric(after, "allegro_settlements_total", { outcome }),
        0,
        "no settler, nothing sent",
      );
    }
    assert.equal(metric(after, "allegro_certified_expired_unsettled_total"), 0);
  });

  await t.step(
    "(e) a black-holed RPC: TEMPORARY_UNAVAILABLE within S, no certificate on an older view",
    async () => {
      proxy.blackHole();
      // Nothing newer than the chain's head now can reach the sidecar until the proxy heals.
      const newest = await newestHeaderMillis(net);
      const answers: { sent: number; answer: Answer; health: number }[] = [];
      try {
        while (Date.now() < Number(newest + STALE_AFTER) + 1500) {
          const sent = Date.now();
          const answer = await lanes.alice.next();
          const health = await fetch(`${net.url(0)}/healthz`);
          await health.body?.cancel();
          answers.push({ sent, answer, health: health.status });
          await sleep(100);
        }
        // Replays are still answered.
        const old = lanes.alice.certified[0];
        assert.equal(
          (await net.submit(0, request(old.certified.signed))).certificateBytes,
          old.answer.certificateBytes,
        );
      } finally {
        proxy.heal();
      }
      for (const { sent, answer, health } of answers) {
        if (answer.certificate) {
          assert.ok(
            answer.certificate.createdUnixMillis <= newest + STALE_AFTER,
            "a certificate on a stale view",
          );
        } else if (BigInt(sent) > newest + STALE_AFTER) {
          assertRejected(answer, "TEMPORARY_UNAVAILABLE", []);
          assert.match(answer.reject!.message, /stale|connection is down/);
        }
        // /healthz says what submissions get: unavailable from the moment the view is refused.
        if (/stale|connection is down/.test(answer.reject?.message ?? "")) {
          assert.equal(health, 503, `healthz while a submission gets "${answer.reject!.message}"`);
        }
      }
      // The connection was found down before the view was S old: /healthz was tried then too.
      assert.ok(answers.some((a) =>
        a.answer.reject?.message.includes("connection is down") &&
        BigInt(a.sent) < newest + STALE_AFTER
      ));
      await until(
        "the sidecar signs again once its RPC answers",
        15_000,
        async () => (await lanes.alice.next()).certificate,
      );
    },
  );

  await t.step(
    "every order it certified settles, and the vault holds what its accounts own",
    async () => {
      const orders = [...lanes.alice.certified, ...lanes.bob.certified].map((c) => c.certified);
      await net.settle(orders);
      await net.assertSettled(orders);
      await net.assertConservation();
    },
  );
});

/** The newest block's header time (ms, with the header's milliseconds where it has them). */
async function newestHeaderMillis(net: TestNetwork): Promise<bigint> {
  const header = await net.chain.request({
    method: "eth_getBlockByNumber",
    params: ["latest", false],
  } as never) as { timestamp: Hex; timestampMillis?: Hex };
  return header.timestampMillis ? BigInt(header.timestampMillis) : 1000n * BigInt(header.timestamp);
}

/**
 * Crashes (SPEC §6 persistence): one sidecar process under a load of valid payments from several
 * payers is killed with SIGKILL at random moments and restarted on the same store, 20 times and
 * more. Afterwards every certificate a client received is on its board, and every key it signed
 * answers `EQUIVOCATION` to a conflicting order and the very same certificate bytes to the same
 * order: nothing a client was given was lost, and no key was signed twice. Then every order
 * settles, and the vault holds what its accounts own.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import assert from "node:assert/strict";
import { bytesToHex, type Hex } from "viem";
import { toBinary } from "@bufbuild/protobuf";
import { ValidatorCertificateSchema } from "@allegro/proto";
import { assembleQuorumCertificate, type CertifiedOrder } from "@allegro/client";
import {
  type Answer,
  assertRejected,
  networkTest,
  type Payer,
  randomMemo,
  request,
  sleep,
  type TestNetwork,
  txHashOf,
  USD,
} from "./network_testing.ts";

const KILLS = 20;
const PAYERS = 4;
/** A payer's pause after each certificate (ms): a steady load, and a few hundred orders to settle. */
const PACE = 100;

/** What a payer's client received: each order with its certificate, a QC of a committee of one. */
interface Received {
  readonly certified: CertifiedOrder;
  readonly answer: Answer;
}

/**
 * Pays 1 base unit per order, seq after seq, each with the previous seq's QC (one certificate
 * of a committee of one), until `stop()` says so. A sidecar that is down or not ready gets the
 * same order again: a client never signs a second order for a seq.
 */
async function load(
  net: TestNetwork,
  payer: Payer,
  validBefore: bigint,
  stop: () => boolean,
): Promise<Received[]> {
  const received: Received[] = [];
  let previous: CertifiedOrder | undefined;
  const recipient = net.recipient();
  for (let seq = 0n; !stop(); seq++) {
    const signed = await net.order(payer, { recipient, amount: 1n, seq, validBefore });
    const submission = request(signed, previous ? { laneQcs: [previous] } : {});
    for (;;) {
      if (stop()) return received;
      let answer: Answer;
      try {
        answer = await net.submit(0, submission);
      } catch {
        await sleep(50); // down: the same order again
        continue;
      }
      if (answer.certificate) {
        const qc = assembleQuorumCertificate(net.committee, [answer.certificate])!;
        previous = { signed, txHash: answer.txHash, qc };
        received.push({ certified: previous, answer });
        await sleep(PACE);
        break;
      }
      assertRejected(answer, "TEMPORARY_UNAVAILABLE", []);
      await sleep(50);
    }
  }
  return received;
}

/** Every certificate on the sidecar's board, by `tx_hash`, read page by page. */
async function board(net: TestNetwork): Promise<Map<Hex, Hex>> {
  const certificates = new Map<Hex, Hex>();
  let after = 0n;
  for (let page = 0; page < 1000; page++) {
    const response = await net.client(0).getBulletinBoard({ afterSequence: after, limit: 1000 });
    for (const e of response.entries) {
      if (e.certificate) {
        certificates.set(
          bytesToHex(e.certificate.txHash),
          bytesToHex(toBinary(ValidatorCertificateSchema, e.certificate)),
        );
      }
    }
    if (!response.hasMore) return certificates;
    after = response.nextAfterSequence;
  }
  throw new Error("the board did not end within 1000 pages");
}

networkTest(`a sidecar killed ${KILLS} times under load keeps every certificate it gave`, {
  validators: 1,
  settlers: false,
  maxValidity: 120_000n,
  sidecarArgs: ["--max-unsettled-per-lane", "10000"],
  millis: 120_000,
}, async (net) => {
  const seed = Date.now() >>> 0;
  const rng = xoroshiro128plus(seed);
  const payers = await Promise.all(Array.from({ length: PAYERS }, () => net.payer(USD)));
  const validBefore = (await net.chainTime()) + 110_000n;
  let stopped = false;
  const loads = payers.map((p) => load(net, p, validBefore, () => stopped));
  for (let k = 0; k < KILLS; k++) {
    await sleep(uniformInt(rng, 100, 499));
    await net.kill(0);
    await net.restart(0);
  }
  await sleep(500);
  stopped = true;
  const received = (await Promise.all(loads)).flat();
  assert.ok(received.length >= 4 * KILLS, `only ${received.length} certificates (seed ${seed})`);

  const onBoard = await board(net);
  const queue = [...received];
  const check = async () => {
    for (let r = queue.pop(); r !== undefined; r = queue.pop()) {
      const { certified: { signed }, answer } = r;
      const what = `seq ${signed.order.seq} of ${signed.order.payer} (seed ${seed})`;
      assert.equal(onBoard.get(answer.txHash), answer.certificateBytes, `${what} is on the board`);
      const replay = await net.submit(0, request(signed));
      assert.equal(replay.certificateBytes, answer.certificateBytes, `${what} replays`);
      const payer = payers.find((p) => p.address === signed.order.payer)!;
      const other = await net.order(payer, { ...signed.order, memo: randomMemo() });
      assertRejected(await net.submit(0, request(other)), "EQUIVOCATION", [
        answer.txHash,
        txHashOf(other),
      ]);
    }
  };
  await Promise.all(Array.from({ length: 8 }, check));
  // Every order it certified settles, 50 to a batch.
  const orders = received.map((r) => r.certified);
  const batches = Array.from(
    { length: Math.ceil(orders.length / 50) },
    (_, i) => orders.slice(50 * i, 50 * i + 50),
  );
  await Promise.all(batches.map((batch) => net.settle(batch)));
  await net.assertSettled(orders);
  await net.assertConservation();
});

/**
 * `SubmitFastPayStream` on a real sidecar process with a settler (a one-validator committee, so
 * its own certificate is a QC it settles): a payment's stream says ACCEPTED, CERTIFICATE, then
 * follows the order on chain until INCLUDED in the block that settled it, and ends; a refused
 * order's stream says ACCEPTED, REJECTED with the reason, and ends.
 */
import assert from "node:assert/strict";
import { RejectCode, Stage } from "@allegro/proto";
import { hexToBytes } from "viem";
import { networkTest, request, txHashOf, USD } from "./network_testing.ts";

networkTest(
  "SubmitFastPayStream: a payment is followed to its settlement block, a refusal ends the stream",
  { validators: 1, millis: 90_000 },
  async (net) => {
    const payer = await net.payer(10n * USD);
    const stream = async (signed: Parameters<typeof request>[0]) => {
      const events = [];
      for await (const event of net.client(0).submitFastPayStream(request(signed))) {
        events.push(event);
      }
      return events;
    };

    const paid = await net.order(payer, { recipient: net.recipient(), amount: USD, seq: 0n });
    const events = await stream(paid);
    const stages = events.map((e) => Stage[e.stage]);
    assert.deepEqual(stages.filter((s) => s !== "QUEUED_ONCHAIN"), [
      "ACCEPTED",
      "CERTIFICATE",
      "INCLUDED",
    ]);
    const included = events.at(-1)!;
    assert.ok(included.blockHeight > 0n);
    assert.ok(included.blockHeight <= await net.chain.getBlockNumber());
    assert.equal(await net.settledAt(paid), txHashOf(paid), "the vault settled the order");
    assert.deepEqual(events[1].certificate?.txHash, hexToBytes(txHashOf(paid)));

    const tooMuch = await net.order(payer, {
      recipient: net.recipient(),
      amount: 100n * USD,
      seq: 1n,
    });
    const refused = await stream(tooMuch);
    assert.deepEqual(refused.map((e) => Stage[e.stage]), ["ACCEPTED", "REJECTED"]);
    assert.equal(refused[1].reject?.code, RejectCode.INSUFFICIENT_FUNDS);
    assert.match(refused[1].reject?.message ?? "", /available/);
  },
);

/**
 * A sidecar process under load is killed with SIGKILL at random moments, 20 times. After each
 * restart every certificate a client received is still on its board, and a conflicting
 * transaction for every signed contention key gets EQUIVOCATION.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { bytesToHex, type Hex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { FastPaySidecar, RejectCode } from "@allegro/proto";
import { allegroNonceKey, certificateFromProto, signPaymentTransaction } from "@allegro/client";
import { FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
import { spawnSidecar, writeCommittee } from "@allegro/server/network";

const RESTARTS = 20;
const CONCURRENCY = 6;

interface Received {
  readonly key: Hex;
  readonly lane: bigint;
  readonly txHash: Uint8Array;
  readonly certificate: Uint8Array;
}

Deno.test({
  name: "SIGKILL under load never loses a returned certificate nor allows a second one",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-crash-" });
  const anvil = await startAnvil({ blockTimeSeconds: 1 });
  try {
    const committee = await writeCommittee(dir, ["dave"], { chainId: anvil.chainId });
    const options = {
      committee,
      validator: committee.validators[0],
      rpcUrl: anvil.wsUrl,
      kvPath: join(dir, "dave.kv"),
      logPath: join(dir, "dave.log"),
    };
    const client = createClient(
      FastPaySidecar,
      createConnectTransport({ baseUrl: committee.validators[0].url, defaultTimeoutMs: 5000 }),
    );
    const validBefore = BigInt(Math.floor(Date.now() / 1000)) + 1800n;
    const pay = (key: Hex, lane: bigint, amount: bigint) =>
      signPaymentTransaction(privateKeyToAccount(key), {
        chainId: anvil.chainId,
        token: PATH_USD,
        recipient: privateKeyToAccount(FUNDER_KEYS[0]).address,
        amount,
        nonceKey: allegroNonceKey(lane),
        nonce: 0n,
        validBefore,
        gas: 100_000n,
        maxFeePerGas: 20_000_000_000n,
        maxPriorityFeePerGas: 0n,
        feeToken: PATH_USD,
      });

    const received: Received[] = [];
    let lane = 1n;
    let killedInFlight = 0;
    let roundsCertifying = 0;
    for (let round = 0; round < RESTARTS; round++) {
      const sidecar = await spawnSidecar(options);
      let stop = false;
      let inflight = 0;
      const start = received.length;
      const worker = async (w: number) => {
        while (!stop) {
          const key = FUNDER_KEYS[1 + (w % (FUNDER_KEYS.length - 1))];
          const myLane = lane++;
          const signedTx = hexToBytes(await pay(key, myLane, 1000n));
          inflight++;
          try {
            const r = await client.submitFastPay({ signedTx });
            inflight--;
            if (r.result.case === "certificate") {
              received.push({
                key,
                lane: myLane,
                txHash: r.txHash,
                certificate: r.result.value.signature,
              });
            }
          } catch {
            return; // the process died under us
          }
        }
      };
      const load = Array.from({ length: CONCURRENCY }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
      if (inflight > 0) killedInFlight++;
      sidecar.kill("SIGKILL");
      await sidecar.exited;
      stop = true;
      await Promise.all(load);
      if (received.length > start) roundsCertifying++;

      const restarted = await spawnSidecar(options);
      for (const r of received) {
        const board = await client.getBulletinBoard({ txHash: r.txHash });
        assert.equal(board.entries.length, 1, `certificate for ${bytesToHex(r.txHash)} lost`);
        const cert = certificateFromProto(board.entries[0].certificate!);
        assert.deepEqual(cert.signature, r.certificate);
      }
      for (const r of received.slice(-CONCURRENCY * 4)) {
        const conflict = await client.submitFastPay({
          signedTx: hexToBytes(await pay(r.key, r.lane, 999n)),
        });
        assert.equal(conflict.result.case, "reject");
        assert.equal(
          conflict.result.case === "reject" && conflict.result.value.code,
          RejectCode.EQUIVOCATION,
        );
      }
      await restarted.stop();
    }
    assert.ok(received.length > RESTARTS, `only ${received.length} certificates under load`);
    assert.ok(killedInFlight >= RESTARTS / 2, `requests in flight at only ${killedInFlight} kills`);
    assert.ok(roundsCertifying >= RESTARTS / 2, `certificates in only ${roundsCertifying} rounds`);
    console.log(
      `${received.length} certificates over ${RESTARTS} SIGKILLs (${killedInFlight} with requests in flight), all durable`,
    );
  } finally {
    await anvil.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

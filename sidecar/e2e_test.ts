/**
 * Two sidecar processes against anvil in Tempo mode: a payment and a chained payment are
 * certified by both, assembled into QCs, forwarded and included (the child after its parent);
 * balances and nonces are read back from the chain; the pending entries are gone; the funds
 * boundary is exactly amount + max fee; gossip carries each sidecar's certificates to the other.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createPublicClient, type Hex, hexToBytes, http, keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Abis, Addresses } from "viem/tempo";
import { FastPaySidecar, RejectCode, type SubmitFastPayRequestSchema } from "@allegro/proto";
import {
  allegroNonceKey,
  assembleQuorumCertificate,
  certificateFromProto,
  loadCommittee,
  qcInit,
  signPaymentTransaction,
  verifyQuorumCertificate,
} from "@allegro/client";
import { fund, FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
import { spawnSidecars, writeCommittee } from "@allegro/server/network";

const USD = 1_000_000n;
const MAX_FEE = 2000n; // ceil(100000 gas * 20 gwei / 10^12)

Deno.test({
  name: "two sidecars certify, forward and settle a chained payment on anvil",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-e2e-" });
  const anvil = await startAnvil({ blockTimeSeconds: 1 });
  const processes: { stop(): Promise<void> }[] = [];
  try {
    const local = await writeCommittee(dir, ["dave", "edgar"], { chainId: anvil.chainId });
    const committee = await loadCommittee(pathToFileURL(local.path));
    const urls = local.validators.map((v) => v.url);
    processes.push(
      ...await spawnSidecars({
        committee: local,
        rpcUrl: anvil.wsUrl,
        dir,
        extraArgs: ["--gossip-interval-ms", "100"],
      }),
    );
    const sidecars = urls.map((baseUrl) =>
      createClient(FastPaySidecar, createConnectTransport({ baseUrl, defaultTimeoutMs: 5000 }))
    );
    const [alice, bob, carol, dan] = Array.from(
      { length: 4 },
      () => privateKeyToAccount(generatePrivateKey()),
    );
    await Promise.all([
      fund(anvil, {
        from: FUNDER_KEYS[0],
        to: alice.address,
        token: PATH_USD,
        amount: 10n * USD + MAX_FEE,
        feeToken: PATH_USD,
      }),
      fund(anvil, {
        from: FUNDER_KEYS[1],
        to: bob.address,
        token: PATH_USD,
        amount: MAX_FEE,
        feeToken: PATH_USD,
      }),
      fund(anvil, {
        from: FUNDER_KEYS[2],
        to: dan.address,
        token: PATH_USD,
        amount: 10n * USD + MAX_FEE - 1n,
        feeToken: PATH_USD,
      }),
    ]);
    const validBefore = BigInt(Math.floor(Date.now() / 1000)) + 300n;
    const params = (to: Hex, memo?: Uint8Array) => ({
      chainId: anvil.chainId,
      token: PATH_USD,
      recipient: to,
      amount: 10n * USD,
      ...(memo ? { memo } : {}),
      nonceKey: allegroNonceKey(1n),
      nonce: 0n,
      validBefore,
      gas: 100_000n,
      maxFeePerGas: 20_000_000_000n,
      maxPriorityFeePerGas: 0n,
      feeToken: PATH_USD,
    });
    const submitAll = (request: MessageInitShape<typeof SubmitFastPayRequestSchema>) =>
      Promise.all(sidecars.map((s) => s.submitFastPay(request)));
    const qcOf = async (answers: Awaited<ReturnType<typeof submitAll>>) => {
      const certs = answers.map((a) => {
        assert.equal(a.result.case, "certificate", JSON.stringify(a.result.value?.toString()));
        return certificateFromProto(a.result.value as never);
      });
      return await verifyQuorumCertificate(committee, assembleQuorumCertificate(committee, certs)!);
    };

    // Dan has one unit less than amount + max fee; Alice has exactly that.
    const danTx = hexToBytes(await signPaymentTransaction(dan, params(carol.address)));
    for (const a of await submitAll({ signedTx: danTx })) {
      assert.equal(a.result.case, "reject");
      assert.equal((a.result.value as { code: RejectCode }).code, RejectCode.INSUFFICIENT_FUNDS);
    }
    const parentTx = hexToBytes(await signPaymentTransaction(alice, params(bob.address)));
    const qc1 = await qcOf(await submitAll({ signedTx: parentTx }));

    // Bob spends the 10 USD at once; his own balance covers only the fee.
    const childTx = hexToBytes(
      await signPaymentTransaction(bob, params(carol.address, qc1.qcHash)),
    );
    const child: MessageInitShape<typeof SubmitFastPayRequestSchema> = {
      signedTx: childTx,
      parentQcHash: qc1.qcHash,
      parents: [{ qc: qcInit(qc1), signedTx: parentTx }],
    };
    await qcOf(await submitAll(child));

    const chain = createPublicClient({ transport: http(anvil.rpcUrl) });
    const receiptOf = async (raw: Uint8Array) => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const r = await chain.getTransactionReceipt({ hash: keccak256(raw) }).catch(() => null);
        if (r) return r;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error("not included within 20 s");
    };
    const [parentReceipt, childReceipt] = [await receiptOf(parentTx), await receiptOf(childTx)];
    assert.equal(parentReceipt.status, "success");
    assert.equal(childReceipt.status, "success");
    assert.ok(
      childReceipt.blockNumber > parentReceipt.blockNumber ||
        (childReceipt.blockNumber === parentReceipt.blockNumber &&
          childReceipt.transactionIndex > parentReceipt.transactionIndex),
      "the child landed after its parent",
    );
    const balance = (who: Hex) =>
      chain.readContract({
        address: PATH_USD,
        abi: Abis.tip20,
        functionName: "balanceOf",
        args: [who],
      });
    const nonce = (who: Hex) =>
      chain.readContract({
        address: Addresses.nonceManager,
        abi: Abis.nonce,
        functionName: "getNonce",
        args: [who, allegroNonceKey(1n)],
      });
    assert.equal(await balance(carol.address), 10n * USD);
    assert.ok((await balance(alice.address)) <= MAX_FEE); // what is left of the fee reserve
    assert.ok((await balance(bob.address)) <= MAX_FEE);
    assert.equal(await nonce(alice.address), 1n);
    assert.equal(await nonce(bob.address), 1n);

    // Gossip: each board also holds the other validator's certificate of the child.
    const deadline = Date.now() + 5000;
    for (const sidecar of sidecars) {
      while (true) {
        const page = await sidecar.getBulletinBoard({ address: hexToBytes(carol.address) });
        if (page.entries.length === 2) break;
        assert.ok(Date.now() < deadline, "gossip did not deliver the peer's certificate");
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    // Settled transactions leave no pending entry behind (give the follower a block to settle).
    await new Promise((r) => setTimeout(r, 2500));
    await Promise.all(processes.map((p) => p.stop()));
    processes.length = 0;
    for (const v of local.validators) {
      const kv = await Deno.openKv(join(dir, `${v.name}.kv`));
      const pending = await Array.fromAsync(kv.list({ prefix: ["v1", "pending"] }));
      kv.close();
      assert.equal(pending.length, 0, `${v.name} still has pending entries`);
    }
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await anvil.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

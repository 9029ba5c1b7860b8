/**
 * AllegroClient against real sidecar processes on anvil in Tempo mode, for a committee of 2 and
 * one of 4 (sharing one anvil): pay, chained pay spending the received QC at once, incoming
 * payments with verified QCs, a refused payment whose nonce is released and reused, a wallet on
 * Deno KV that keeps its nonces across a restart, and (4 validators) a payment with one sidecar
 * down.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FastPaySidecar } from "@allegro/proto";
import type { Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  AllegroClient,
  bytesEqual,
  type CertifiedPayment,
  type Committee,
  loadCommittee,
  PaymentError,
  verifyCertifiedPayment,
  verifyQuorumCertificate,
  Wallet,
} from "./mod.ts";
import { KvNonceStore } from "./deno.ts";
import { type Anvil, fund, FUNDER_KEYS, PATH_USD, startAnvil } from "@allegro/server/anvil";
import { type SidecarProcess, spawnSidecars, writeCommittee } from "@allegro/server/network";

const USD = 1_000_000n;
const MAX_FEE = 2000n; // ceil(100000 gas × 20 gwei / 10^12), the client's defaults

interface Network {
  readonly committee: Committee;
  readonly sidecars: SidecarProcess[];
}

async function startNetwork(anvil: Anvil, dir: string, names: string[]): Promise<Network> {
  await Deno.mkdir(dir, { recursive: true });
  const local = await writeCommittee(dir, names, { chainId: anvil.chainId });
  const sidecars = await spawnSidecars({
    committee: local,
    rpcUrl: anvil.wsUrl,
    dir,
    extraArgs: ["--gossip-interval-ms", "100"],
  });
  return { committee: await loadCommittee(pathToFileURL(local.path)), sidecars };
}

/** The first item of `source` that `match`es, within `millis`; stops the iteration. */
async function firstMatch<T>(
  source: (signal: AbortSignal) => AsyncIterable<T>,
  match: (item: T) => boolean,
  millis: number,
): Promise<T> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), millis);
  try {
    for await (const item of source(stop.signal)) if (match(item)) return item;
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  throw new Error(`nothing matched within ${millis} ms`);
}

const newAccount = () => privateKeyToAccount(generatePrivateKey());

/** The scenario every committee size runs. */
async function scenario(
  t: Deno.TestContext,
  anvil: Anvil,
  network: Network,
  dir: string,
  funders: readonly `0x${string}`[],
) {
  const { committee } = network;
  const [alice, bob, carol, dan] = [newAccount(), newAccount(), newAccount(), newAccount()];
  await Promise.all([
    [alice.address, 6n * USD + 2n * MAX_FEE],
    [bob.address, MAX_FEE], // Bob can pay nothing but a fee on his own
    [dan.address, 1n * USD],
  ].map(([to, amount], i) =>
    fund(anvil, {
      from: funders[i],
      to: to as Address,
      token: PATH_USD,
      amount: amount as bigint,
      feeToken: PATH_USD,
    })
  ));
  const kvPath = join(dir, "alice-wallet.kv");
  const client = (wallet: Wallet) => new AllegroClient({ committee, wallet });

  let paid: CertifiedPayment | undefined;
  await t.step("pay: a verified QC from every validator", async () => {
    using store = await KvNonceStore.open(kvPath);
    const receipt = await client(new Wallet(alice, { store })).pay({
      to: bob.address,
      amount: 5n * USD,
    });
    await verifyQuorumCertificate(committee, receipt.qc);
    await verifyCertifiedPayment(committee, receipt);
    assert.equal(receipt.nonce, 0n);
    assert.equal(receipt.payment.recipient, bob.address);
    assert.equal(receipt.payment.amount, 5n * USD);
    assert.ok(receipt.certificates.length >= committee.threshold);
    assert.equal(receipt.parentQcHash, undefined);
    paid = receipt;
  });

  await t.step("chained pay: Bob spends Alice's QC at once", async () => {
    const receipt = await client(new Wallet(bob)).pay({
      to: carol.address,
      amount: 5n * USD,
      parent: paid!,
    });
    await verifyQuorumCertificate(committee, receipt.qc);
    assert.ok(bytesEqual(receipt.parentQcHash!, paid!.qc.qcHash));
    assert.ok(bytesEqual(receipt.payment.memo!, paid!.qc.qcHash));
    // Carol learns of it from the boards, with a QC that verifies and names its parent.
    const carolClient = client(new Wallet(carol));
    const received = await firstMatch(
      (signal) => carolClient.incoming(undefined, { signal, pollMillis: 50 }),
      (p) => bytesEqual(p.txHash, receipt.txHash),
      10_000,
    );
    await verifyCertifiedPayment(committee, received);
    assert.ok(bytesEqual(received.parentQcHash!, paid!.qc.qcHash));
    assert.equal(received.payment.sender, bob.address);
  });

  await t.step("incoming: Bob sees Alice's payment with a verified QC", async () => {
    const bobClient = client(new Wallet(bob));
    const seen: CertifiedPayment[] = [];
    await firstMatch(
      (signal) => bobClient.incoming(undefined, { signal, pollMillis: 50 }),
      (p) => {
        seen.push(p);
        return bytesEqual(p.txHash, paid!.txHash);
      },
      10_000,
    );
    assert.equal(seen.length, 1, "Bob's own payment to Carol is not incoming");
    const [received] = seen;
    await verifyQuorumCertificate(committee, received.qc);
    assert.equal(received.payment.sender, alice.address);
    assert.equal(received.payment.amount, 5n * USD);
    assert.ok(bytesEqual(received.signedTx, paid!.signedTx));
  });

  await t.step("a payment every validator refuses releases its nonce for the next", async () => {
    const wallet = new Wallet(dan);
    const danClient = client(wallet);
    const error = await danClient.pay({ to: carol.address, amount: 2n * USD }).then(
      () => assert.fail("Dan cannot pay 2 USD with 1 USD"),
      (e) => e as PaymentError,
    );
    assert.ok(error instanceof PaymentError, String(error));
    assert.equal(error.code, "INSUFFICIENT_FUNDS");
    assert.equal(error.released, true);
    assert.equal(error.rejects.length, committee.validators.length);
    for (const v of committee.validators) assert.ok(error.message.includes(v.name), error.message);
    assert.deepEqual(await wallet.peek(), { next: 0n, released: [] });
    const receipt = await danClient.pay({ to: carol.address, amount: USD / 2n });
    assert.equal(receipt.nonce, 0n, "the released nonce is reused, not skipped");
    await verifyQuorumCertificate(committee, receipt.qc);
  });

  await t.step("a wallet on Deno KV keeps its nonces across a restart", async () => {
    using store = await KvNonceStore.open(kvPath);
    const wallet = new Wallet(alice, { store });
    assert.deepEqual(await wallet.peek(), { next: 1n, released: [] });
    const receipt = await client(wallet).pay({ to: carol.address, amount: USD });
    assert.equal(receipt.nonce, 1n);
    await verifyQuorumCertificate(committee, receipt.qc);
  });
}

Deno.test({
  name: "AllegroClient pays through 2 and 4 real sidecars on anvil",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-client-" });
  const anvil = await startAnvil({ blockTimeSeconds: 1 });
  const networks: Network[] = [];
  try {
    const started = await Promise.allSettled([
      startNetwork(anvil, join(dir, "two"), ["dave", "edgar"]),
      startNetwork(anvil, join(dir, "four"), ["fay", "gus", "hal", "ivy"]),
    ]);
    for (const s of started) if (s.status === "fulfilled") networks.push(s.value);
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [two, four] = networks;

    await t.step("2 validators", async (t) => {
      await scenario(t, anvil, two, join(dir, "two"), FUNDER_KEYS.slice(0, 3));
    });
    await t.step("4 validators", async (t) => {
      await scenario(t, anvil, four, join(dir, "four"), FUNDER_KEYS.slice(3, 6));
      await t.step("one sidecar down: 3 of 4 still certify", async () => {
        await four.sidecars[3].stop();
        const eve = newAccount();
        const funded = await fund(anvil, {
          from: FUNDER_KEYS[6],
          to: eve.address,
          token: PATH_USD,
          amount: USD,
          feeToken: PATH_USD,
        });
        // A sidecar sees the funding once its chain view reached that block.
        await waitForHeads(four.sidecars.slice(0, 3).map((s) => s.url), funded.blockNumber);
        const receipt = await new AllegroClient({
          committee: four.committee,
          wallet: new Wallet(eve),
          timeoutMillis: 2000,
        }).pay({ to: newAccount().address, amount: USD / 2n });
        assert.equal(receipt.qc.certificates.length, 3);
        await verifyQuorumCertificate(four.committee, receipt.qc);
      });
    });
  } finally {
    await Promise.all(networks.flatMap((n) => n.sidecars.map((s) => s.stop())));
    await anvil.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Waits (at most 10 s) until every sidecar's chain head is at least `height`. */
async function waitForHeads(urls: readonly string[], height: bigint): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (const url of urls) {
    const client = createClient(FastPaySidecar, createConnectTransport({ baseUrl: url }));
    while ((await client.getChainHead({}).catch(() => ({ height: -1n }))).height < height) {
      if (Date.now() > deadline) throw new Error(`${url} did not reach block ${height}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

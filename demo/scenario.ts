/**
 * The Alice → Bob → Carol scenario (SPEC §10): Alice pays Bob 10 USD; Bob learns of it from the
 * bulletin boards, verifies QC1 himself and at once pays Carol 10 USD with QC1 as parent; Carol
 * learns of hers the same way. Both QCs must form before the chain's next block, both payments
 * must then settle, and the final balances must be exact (fees stated separately).
 *
 * @module
 */
import { bytesToHex, createPublicClient, type Hex, http, keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Abis } from "viem/tempo";
import {
  AllegroClient,
  type CertifiedPayment,
  loadCommittee,
  type PaymentReceipt,
  Wallet,
} from "@allegro/client";
import { pathToFileURL } from "node:url";
import { fund, FUNDER_KEYS, PATH_USD } from "@allegro/server/anvil";
import type { LocalNetwork } from "@allegro/server/local-network";
import type { Reporter } from "./report.ts";

/** One USD in TIP-20 base units (6 decimals). */
export const USD = 1_000_000n;

/** What the scenario found; `ok` when every check held. */
export interface ScenarioSummary {
  readonly ok: boolean;
  readonly reason?: string;
  readonly start_height?: string;
  readonly qc1_height?: string;
  readonly qc2_height?: string;
  readonly payment1_block?: string;
  readonly payment2_block?: string;
  readonly balances?: Record<string, string>;
  readonly fees?: Record<string, string>;
}

const usd = (units: bigint) => {
  const sign = units < 0n ? "-" : "";
  const abs = units < 0n ? -units : units;
  return `${sign}${abs / USD}.${(abs % USD).toString().padStart(6, "0")}`;
};

/** Follows the chain head by polling; emits a `block` event for each new height. */
function followHeads(rpcUrl: string, report: Reporter) {
  const chain = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) });
  let height = -1n;
  let stopped = false;
  const waiters: (() => void)[] = [];
  const loop = (async () => {
    while (!stopped) {
      try {
        const h = await chain.getBlockNumber({ cacheTime: 0 });
        if (h > height) {
          height = h;
          report.emit({ event: "block", height: h, text: `block ${h}` });
          waiters.splice(0).forEach((w) => w());
        }
      } catch {
        // the node is restarting or gone; the scenario's own timeouts decide
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    chain,
    get height() {
      return height;
    },
    nextBlock: () => new Promise<void>((r) => waiters.push(r)),
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * Runs the scenario on `net`, with `faulty` sidecars crashed first. Never throws for a failed
 * check: the summary says what went wrong.
 *
 * @example
 * ```ts ignore
 * const summary = await runScenario(net, { faulty: 0 }, textReporter());
 * ```
 */
export async function runScenario(
  net: LocalNetwork,
  options: { faulty: number },
  report: Reporter,
): Promise<ScenarioSummary> {
  const heads = followHeads(net.rpcUrl, report);
  try {
    return await scenario(net, options, report, heads);
  } catch (e) {
    const reason = (e as Error).message;
    report.emit({ event: "error", message: reason, text: `FAILED: ${reason}` });
    return { ok: false, reason };
  } finally {
    await heads.stop();
  }
}

async function scenario(
  net: LocalNetwork,
  options: { faulty: number },
  report: Reporter,
  heads: ReturnType<typeof followHeads>,
): Promise<ScenarioSummary> {
  const committee = await loadCommittee(pathToFileURL(net.committee.path));
  const [alice, bob, carol] = ["alice", "bob", "carol"].map((name) => ({
    name,
    account: privateKeyToAccount(generatePrivateKey()),
  }));
  const start = { alice: 15n * USD, bob: 5n * USD, carol: 5n * USD };
  await Promise.all([alice, bob, carol].map((p, i) =>
    fund(net, {
      from: FUNDER_KEYS[i],
      to: p.account.address,
      token: PATH_USD,
      amount: start[p.name as keyof typeof start],
      feeToken: PATH_USD,
    })
  ));
  for (const p of [alice, bob, carol]) {
    const amount = usd(start[p.name as keyof typeof start]);
    report.emit({
      event: "funded",
      who: p.name,
      address: p.account.address,
      amount,
      text: `funded ${p.name.padEnd(5)} ${p.account.address} with ${amount} USD`,
    });
  }
  for (const s of net.sidecars.slice(net.sidecars.length - options.faulty)) {
    s.kill("SIGKILL");
    await s.exited;
    report.emit({
      event: "validator_crashed",
      validator: s.name,
      text: `${s.name} crashed (faulty)`,
    });
  }

  const client = (who: typeof alice) =>
    new AllegroClient({
      committee,
      wallet: new Wallet(who.account),
      ...(net.backend ? { backendUrl: net.backend.url } : {}),
      asset: PATH_USD,
      timeoutMillis: 2000,
    });
  const [aliceClient, bobClient, carolClient] = [alice, bob, carol].map(client);
  const stop = new AbortController();
  const incoming = async (c: AllegroClient, who: string) => {
    for await (const p of c.incoming(undefined, { signal: stop.signal, pollMillis: 20 })) {
      report.emit({
        event: "incoming",
        who,
        from: p.payment.sender,
        amount: usd(p.payment.amount),
        height: heads.height,
        text: `${who} sees ${
          usd(p.payment.amount)
        } USD from ${p.payment.sender} on the boards, QC verified`,
      });
      return p;
    }
    throw new Error(`${who} stopped watching before being paid`);
  };
  const bobLearns = incoming(bobClient, "bob");
  const carolLearns = incoming(carolClient, "carol");
  bobLearns.catch(() => {});
  carolLearns.catch(() => {});

  const pay = async (
    label: string,
    from: AllegroClient,
    to: typeof alice,
    parent?: CertifiedPayment,
  ): Promise<PaymentReceipt> => {
    report.emit({
      event: "submit",
      payment: label,
      to: to.name,
      height: heads.height,
      text: `${label}: submit 10.000000 USD to ${to.name}${parent ? " (parent QC1)" : ""}`,
    });
    const receipt = await from.pay({
      to: to.account.address,
      amount: 10n * USD,
      ...(parent ? { parent } : {}),
      onCertificate: (v) =>
        report.emit({
          event: "certificate",
          payment: label,
          validator: v.name,
          height: heads.height,
          text: `${label}: certificate from ${v.name}`,
        }),
      onReject: (r) =>
        report.emit({
          event: "reject",
          payment: label,
          validator: r.validator.name,
          code: r.code,
          message: r.message,
          text: `${label}: ${r.validator.name} ${r.code}: ${r.message}`,
        }),
    });
    return receipt;
  };

  await heads.nextBlock(); // start right after a block boundary
  const startHeight = heads.height;
  stop.signal.throwIfAborted();
  let qc1: PaymentReceipt;
  try {
    qc1 = await pay("payment1", aliceClient, bob);
  } catch (e) {
    stop.abort();
    const alive = net.sidecars.length - options.faulty;
    throw new Error(
      `quorum unreachable: ${alive} of ${committee.validators.length} validators are up, ${committee.threshold} certificates needed (${
        (e as Error).message
      })`,
    );
  }
  const qc1Height = heads.height;
  report.emit({
    event: "qc",
    qc: "QC1",
    qc_hash: bytesToHex(qc1.qc.qcHash),
    signers: qc1.qc.certificates.length,
    height: qc1Height,
    text: `QC1 formed ${
      bytesToHex(qc1.qc.qcHash)
    } (${qc1.qc.certificates.length} of ${committee.validators.length}) at height ${qc1Height}`,
  });
  const received = await bobLearns;
  const qc2 = await pay("payment2", bobClient, carol, received);
  const qc2Height = heads.height;
  report.emit({
    event: "qc",
    qc: "QC2",
    qc_hash: bytesToHex(qc2.qc.qcHash),
    signers: qc2.qc.certificates.length,
    height: qc2Height,
    text: `QC2 formed ${bytesToHex(qc2.qc.qcHash)} at height ${qc2Height}, parent QC1`,
  });
  await carolLearns;
  stop.abort();

  const receipts = await Promise.all(
    [qc1, qc2].map((r, i) =>
      waitForReceipt(heads.chain, keccak256(r.signedTx), 30_000).then((receipt) => {
        report.emit({
          event: "included",
          payment: `payment${i + 1}`,
          block: receipt.blockNumber,
          status: receipt.status,
          text: `payment${i + 1} included in block ${receipt.blockNumber} (${receipt.status})`,
        });
        return receipt;
      })
    ),
  );
  const fee = (r: (typeof receipts)[number]) =>
    (r.gasUsed * r.effectiveGasPrice + 10n ** 12n - 1n) / 10n ** 12n;
  const fees = { alice: fee(receipts[0]), bob: fee(receipts[1]) };
  const balance = (a: Hex) =>
    heads.chain.readContract({
      address: PATH_USD,
      abi: Abis.tip20,
      functionName: "balanceOf",
      args: [a],
    });
  const balances = {
    alice: await balance(alice.account.address),
    bob: await balance(bob.account.address),
    carol: await balance(carol.account.address),
  };
  const expected = { alice: 5n * USD - fees.alice, bob: 5n * USD - fees.bob, carol: 15n * USD };
  report.emit({
    event: "balances",
    balances: { alice: usd(balances.alice), bob: usd(balances.bob), carol: usd(balances.carol) },
    fees: { alice: usd(fees.alice), bob: usd(fees.bob) },
    text: `final balances: alice ${usd(balances.alice)}, bob ${usd(balances.bob)}, carol ${
      usd(balances.carol)
    } USD (fees: alice ${usd(fees.alice)}, bob ${usd(fees.bob)})`,
  });

  const problems = [
    qc1Height !== startHeight && `QC1 formed at height ${qc1Height}, not ${startHeight}`,
    qc2Height !== startHeight && `QC2 formed at height ${qc2Height}, not ${startHeight}`,
    receipts.some((r) => r.status !== "success") && "a payment did not succeed on chain",
    receipts[1].blockNumber < receipts[0].blockNumber && "payment2 landed before its parent",
    ...(["alice", "bob", "carol"] as const).map((who) =>
      balances[who] !== expected[who] &&
      `${who} has ${usd(balances[who])} USD, expected ${usd(expected[who])}`
    ),
  ].filter((p): p is string => typeof p === "string");
  return {
    ok: problems.length === 0,
    ...(problems.length ? { reason: problems.join("; ") } : {}),
    start_height: String(startHeight),
    qc1_height: String(qc1Height),
    qc2_height: String(qc2Height),
    payment1_block: String(receipts[0].blockNumber),
    payment2_block: String(receipts[1].blockNumber),
    balances: { alice: usd(balances.alice), bob: usd(balances.bob), carol: usd(balances.carol) },
    fees: { alice: usd(fees.alice), bob: usd(fees.bob) },
  };
}

async function waitForReceipt(
  chain: ReturnType<typeof createPublicClient>,
  hash: Hex,
  timeoutMillis: number,
) {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    const receipt = await chain.getTransactionReceipt({ hash }).catch(() => null);
    if (receipt) return receipt;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`transaction ${hash} was not included within ${timeoutMillis / 1000} s`);
}

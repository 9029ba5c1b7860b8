/**
 * The Alice → Bob → Carol scenario (SPEC §11): Alice, Bob and Carol deposit 15, 5 and 5 USD into
 * the vault; Alice pays Bob 10 USD; Bob learns of it from the bulletin boards, verifies QC1
 * himself and at once pays Carol 10 USD citing payment 1 as parent; Carol learns of hers the
 * same way. Both QCs must form before the chain's next block, both payments must then settle on
 * the vault (the parent first), the vault balances must end at 5 / 5 / 15 with every token the
 * vault holds accounted for, and Carol takes her 15 out to her wallet with a cooperative exit
 * order.
 *
 * With `attack`, Alice also tries each way to take back what she paid — emptying her wallet, a
 * forced exit of her whole vault balance, a second order for payment 1's contention key settled
 * straight on the vault — and each is shown failing while Bob's and Carol's payments settle.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import {
  type Address,
  bytesToHex,
  createPublicClient,
  encodeFunctionData,
  type Hex,
  http,
  parseAbi,
  type PublicClient,
} from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import {
  AllegroClient,
  type CertifiedOrder,
  type Committee,
  connectSidecars,
  exitCall,
  fanOut,
  loadCommittee,
  NO_PARENT,
  orderTxHash,
  type PaymentReceipt,
  readAccount,
  readSettledTxHash,
  requestExitCall,
  revertReason,
  sendTempoTransaction,
  settleItem,
  settleItemArgs,
  signedOrderInit,
  signOrder,
  vaultAbi,
  waitForSuccess,
  Wallet,
} from "@allegro/client";
import { PATH_USD } from "@allegro/server/anvil";
import { fundAndDeposit, type LocalNetwork } from "@allegro/server/local-network";
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
  /** The blocks that settled payment 1 and payment 2. */
  readonly settle_heights?: { payment1: string; payment2: string };
  /** Gas of each settlement transaction. */
  readonly settle_gas?: { payment1: string; payment2: string };
  /** Vault balances once both payments settled. */
  readonly vault_balances?: Record<string, string>;
  /** The vault holds exactly what its accounts own, after the payments and after the exit. */
  readonly conserved?: boolean;
  /** Carol's wallet before and after her exit of 15 USD. */
  readonly carol_wallet?: { before: string; after: string };
  /** With `--attack`: each of Alice's attempts and how it ended. */
  readonly attacks?: Record<string, string>;
}

/** How the scenario runs. */
export interface ScenarioOptions {
  /** Sidecars crashed before the payments. */
  readonly faulty: number;
  /** Alice also tries to take her money back. */
  readonly attack: boolean;
  /** How long orders stay valid (must exceed the sidecars' margin). */
  readonly validForMillis: number;
}

const usd = (units: bigint) => {
  const sign = units < 0n ? "-" : "";
  const abs = units < 0n ? -units : units;
  return `${sign}${abs / USD}.${(abs % USD).toString().padStart(6, "0")}`;
};

const tip20 = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function transfer(address,uint256) returns (bool)",
]);

/** Follows the chain head by polling; emits a `block` event for each new height. */
function followHeads(rpcUrl: string, report: Reporter) {
  const chain = createPublicClient({ transport: http(rpcUrl, { retryCount: 0, timeout: 5000 }) });
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

type Heads = ReturnType<typeof followHeads>;

/**
 * Runs the scenario on `net`, with `faulty` sidecars crashed first. Never throws for a failed
 * check: the summary says what went wrong.
 *
 * @example
 * ```ts ignore
 * const summary = await runScenario(net, { faulty: 0, attack: false, validForMillis: 22_000 }, textReporter());
 * ```
 */
export async function runScenario(
  net: LocalNetwork,
  options: ScenarioOptions,
  report: Reporter,
): Promise<ScenarioSummary> {
  const heads = followHeads(net.rpcUrl, report);
  try {
    return await scenario(net, options, report, heads);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await heads.stop();
  }
}

interface Person {
  readonly name: string;
  readonly key: Hex;
  readonly account: PrivateKeyAccount;
}

async function scenario(
  net: LocalNetwork,
  options: ScenarioOptions,
  report: Reporter,
  heads: Heads,
): Promise<ScenarioSummary> {
  const committee = await loadCommittee(pathToFileURL(net.committee.path));
  const vault = committee.vault;
  const [alice, bob, carol] = ["alice", "bob", "carol"].map((name): Person => {
    const key = generatePrivateKey();
    return { name, key, account: privateKeyToAccount(key) };
  });
  const deposits = { alice: 15n * USD, bob: 5n * USD, carol: 5n * USD };
  // One USD more in each wallet pays the deposit's fee.
  await Promise.all([alice, bob, carol].map((p) =>
    fundAndDeposit(net, p.key, {
      wallet: deposits[p.name as keyof typeof deposits] + USD,
      deposit: deposits[p.name as keyof typeof deposits],
    })
  ));
  for (const p of [alice, bob, carol]) {
    const amount = usd(deposits[p.name as keyof typeof deposits]);
    report.emit({
      event: "deposited",
      who: p.name,
      address: p.account.address,
      amount,
      text: `${p.name.padEnd(5)} ${p.account.address} deposited ${amount} USD into the vault`,
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

  const client = (who: Person) =>
    new AllegroClient({
      committee,
      wallet: new Wallet(who.account),
      ...(net.backend ? { backendUrl: net.backend.url } : {}),
      token: PATH_USD,
      timeoutMillis: 2000,
      validForMillis: options.validForMillis,
      onWarning: (message) =>
        report.emit({ event: "warning", who: who.name, message, text: `${who.name}: ${message}` }),
    });
  const [aliceClient, bobClient, carolClient] = [alice, bob, carol].map(client);
  const stop = new AbortController();
  const incoming = async (c: AllegroClient, who: string) => {
    for await (const p of c.incoming(undefined, { signal: stop.signal, pollMillis: 20 })) {
      const o = p.signed.order;
      report.emit({
        event: "incoming",
        who,
        from: o.payer,
        amount: usd(o.amount),
        height: heads.height,
        text: `${who} sees ${usd(o.amount)} USD from ${o.payer} on the boards, QC verified`,
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
    to: Person,
    amount: bigint,
    extra: { parent?: CertifiedOrder; exit?: boolean } = {},
  ): Promise<PaymentReceipt> => {
    report.emit({
      event: "submit",
      payment: label,
      to: to.name,
      height: heads.height,
      text: `${label}: ${extra.exit ? "exit" : "pay"} ${usd(amount)} USD to ${to.name}${
        extra.exit ? "'s wallet" : ""
      }${extra.parent ? " (parent: payment1)" : ""}`,
    });
    return await from.pay({
      to: to.account.address,
      amount,
      ...extra,
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
  };
  const qcFormed = (name: string, r: PaymentReceipt, height: bigint, note = "") =>
    report.emit({
      event: "qc",
      qc: name,
      tx_hash: r.txHash,
      signers: r.qc.certificates.length,
      height,
      text:
        `${name} formed for ${r.txHash} (${r.qc.certificates.length} of ${committee.validators.length}) at height ${height}${note}`,
    });

  await heads.nextBlock(); // start right after a block boundary
  const startHeight = heads.height;
  let qc1: PaymentReceipt;
  try {
    qc1 = await pay("payment1", aliceClient, bob, 10n * USD);
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
  qcFormed("QC1", qc1, qc1Height);
  // Alice's attempts run while Bob spends what she paid him.
  const attacking = options.attack ? attack(net, committee, alice, qc1, report) : undefined;
  attacking?.catch(() => {});
  const received = await bobLearns;
  const qc2 = await pay("payment2", bobClient, carol, 10n * USD, { parent: received });
  const qc2Height = heads.height;
  qcFormed("QC2", qc2, qc2Height, ", parent payment1");
  await carolLearns;
  stop.abort();
  const attacks = await attacking;

  const settlements = await Promise.all(
    [qc1, qc2].map((r, i) => settlement(heads.chain, vault, r, `payment${i + 1}`, report)),
  );
  const balance = async (who: Person) =>
    (await readAccount(heads.chain, vault, who.account.address, PATH_USD)).balance;
  const vaultBalances = {
    alice: await balance(alice),
    bob: await balance(bob),
    carol: await balance(carol),
  };
  const conservedAfterPayments = await conserved(
    heads.chain,
    vault,
    [alice, bob, carol].map((p) => p.account.address),
    report,
  );
  report.emit({
    event: "vault_balances",
    balances: Object.fromEntries(Object.entries(vaultBalances).map(([k, v]) => [k, usd(v)])),
    text: `vault balances: alice ${usd(vaultBalances.alice)}, bob ${
      usd(vaultBalances.bob)
    }, carol ${usd(vaultBalances.carol)} USD`,
  });
  if (attacks) attacks.forced_exit = await finishForcedExit(net, alice, report);

  // Carol takes her 15 out of the vault: an ordinary order, with exit = true, to herself, once
  // the sidecars that are up have processed the block that settled her payment.
  const live = net.sidecars.slice(0, net.sidecars.length - options.faulty).map((s) => s.url);
  await sidecarsReach(committee, live, settlements[1].block);
  const wallet = (who: Person) =>
    heads.chain.readContract({
      address: PATH_USD,
      abi: tip20,
      functionName: "balanceOf",
      args: [who.account.address],
    });
  const before = await wallet(carol);
  const exitReceipt = await pay("exit", carolClient, carol, 15n * USD, { exit: true });
  qcFormed("QC3", exitReceipt, heads.height, ", an exit order");
  await settlement(heads.chain, vault, exitReceipt, "exit", report);
  const after = await wallet(carol);
  report.emit({
    event: "exited",
    who: "carol",
    wallet_before: usd(before),
    wallet_after: usd(after),
    text: `carol's wallet: ${usd(before)} → ${usd(after)} USD`,
  });
  const conservedAfterExit = await conserved(
    heads.chain,
    vault,
    [alice, bob, carol].map((p) => p.account.address),
    report,
  );

  const expected = { alice: 5n * USD, bob: 5n * USD, carol: 15n * USD };
  const problems = [
    qc1Height !== startHeight && `QC1 formed at height ${qc1Height}, not ${startHeight}`,
    qc2Height !== startHeight && `QC2 formed at height ${qc2Height}, not ${startHeight}`,
    settlements[1].block < settlements[0].block && "payment2 settled before its parent",
    ...(["alice", "bob", "carol"] as const).map((who) =>
      vaultBalances[who] !== expected[who] &&
      `${who} has ${usd(vaultBalances[who])} USD in the vault, expected ${usd(expected[who])}`
    ),
    !conservedAfterPayments &&
    "the vault's token balance differs from its accounts' total after the payments",
    !conservedAfterExit &&
    "the vault's token balance differs from its accounts' total after the exit",
    after - before !== 15n * USD && `carol's wallet grew by ${usd(after - before)} USD, not 15`,
    ...Object.entries(attacks ?? {}).filter(([, outcome]) => !outcome.startsWith("failed")).map(
      ([name, outcome]) => `attack ${name} did not fail: ${outcome}`,
    ),
  ].filter((p): p is string => typeof p === "string");
  return {
    ok: problems.length === 0,
    ...(problems.length ? { reason: problems.join("; ") } : {}),
    start_height: String(startHeight),
    qc1_height: String(qc1Height),
    qc2_height: String(qc2Height),
    settle_heights: {
      payment1: String(settlements[0].block),
      payment2: String(settlements[1].block),
    },
    settle_gas: { payment1: String(settlements[0].gas), payment2: String(settlements[1].gas) },
    vault_balances: Object.fromEntries(Object.entries(vaultBalances).map(([k, v]) => [k, usd(v)])),
    conserved: conservedAfterPayments && conservedAfterExit,
    carol_wallet: { before: usd(before), after: usd(after) },
    ...(attacks ? { attacks } : {}),
  };
}

/** Waits (bounded) for the order's `Settled` event; reports its block and the settlement's gas. */
async function settlement(
  chain: PublicClient,
  vault: Address,
  r: PaymentReceipt,
  label: string,
  report: Reporter,
): Promise<{ block: bigint; gas: bigint }> {
  const o = r.signed.order;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await readSettledTxHash(chain, vault, o.payer, o.token, o.seq) === r.txHash) {
      const [log] = await chain.getContractEvents({
        address: vault,
        abi: settledEvent,
        eventName: "Settled",
        args: { txHash: r.txHash },
        fromBlock: 0n,
      });
      const receipt = await chain.getTransactionReceipt({ hash: log.transactionHash });
      report.emit({
        event: "settled",
        payment: label,
        block: receipt.blockNumber,
        gas: receipt.gasUsed,
        transaction: log.transactionHash,
        text:
          `${label} settled in block ${receipt.blockNumber} (settleBatch ${log.transactionHash}, ${receipt.gasUsed} gas)`,
      });
      return { block: receipt.blockNumber, gas: receipt.gasUsed };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${label} (${r.txHash}) did not settle within 60 s`);
}

const settledEvent = parseAbi([
  "event Settled(address indexed payer, address indexed recipient, bytes32 indexed txHash, address token, uint64 seq, uint64 amount, uint64 fee, uint64 validBefore, bool exit, bytes32 parent, address settler)",
]);

/** Waits (bounded) until every sidecar at `urls` has processed block `height`. */
async function sidecarsReach(committee: Committee, urls: readonly string[], height: bigint) {
  const sidecars = connectSidecars(committee).filter((s) => urls.includes(s.validator.endpoint));
  const deadline = Date.now() + 30_000;
  for (const { validator, client } of sidecars) {
    const at = async () =>
      (await client.getChainHead({}, { timeoutMs: 2000 }).catch(() => undefined))?.height ?? 0n;
    while (await at() < height) {
      if (Date.now() > deadline) {
        throw new Error(`${validator.name} did not reach block ${height} within 30 s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Whether the vault holds exactly what `accounts` (and every settler's fee) own. */
async function conserved(
  chain: PublicClient,
  vault: Address,
  accounts: readonly Address[],
  report: Reporter,
) {
  const held = await chain.readContract({
    address: PATH_USD,
    abi: tip20,
    functionName: "balanceOf",
    args: [vault],
  });
  const owned = (await Promise.all(accounts.map((a) => readAccount(chain, vault, a, PATH_USD))))
    .reduce((s, a) => s + a.balance, 0n);
  report.emit({
    event: "conservation",
    vault_holds: usd(held),
    accounts_own: usd(owned),
    text: `conservation: the vault holds ${usd(held)} USD, its accounts own ${usd(owned)} USD`,
  });
  return held === owned;
}

/**
 * Alice, right after QC1, tries to take her 10 back: she empties her wallet (nothing of the vault
 * moves), requests a forced exit of her whole vault balance (it only pays after the exit delay,
 * what is left then), and signs a second order for payment 1's key, which no sidecar signs and the
 * vault refuses.
 */
async function attack(
  net: LocalNetwork,
  committee: Committee,
  alice: Person,
  qc1: PaymentReceipt,
  report: Reporter,
): Promise<Record<string, string>> {
  const chain = createPublicClient({ transport: http(net.rpcUrl, { timeout: 10_000 }) });
  const send = async (calls: Parameters<typeof sendTempoTransaction>[2]["calls"], gas: bigint) =>
    await waitForSuccess(
      chain,
      await sendTempoTransaction(chain, alice.account, {
        chainId: committee.chainId,
        calls,
        feeToken: PATH_USD,
        gas,
      }),
    );
  const outcomes: Record<string, string> = {};

  // 1. Empty her wallet with an ordinary transfer straight to the node.
  const left = await chain.readContract({
    address: PATH_USD,
    abi: tip20,
    functionName: "balanceOf",
    args: [alice.account.address],
  });
  const stranger = privateKeyToAccount(generatePrivateKey()).address;
  const sweep = left - USD / 10n; // keep a little to pay this and the next transactions' fees
  await send([{
    to: PATH_USD,
    data: encodeFunctionData({ abi: tip20, functionName: "transfer", args: [stranger, sweep] }),
  }], 200_000n);
  outcomes.empty_wallet = `failed to touch the vault: ${
    usd(sweep)
  } USD left her wallet, her vault balance did not move`;
  report.emit({
    event: "attack",
    attack: "empty_wallet",
    text: `attack: alice sends her wallet's ${
      usd(sweep)
    } USD elsewhere — the vault's 15 USD are not in her wallet`,
  });

  // 2. A forced exit of her whole vault balance.
  await send([requestExitCall(committee.vault, PATH_USD, 15n * USD)], 300_000n);
  report.emit({
    event: "attack",
    attack: "forced_exit",
    text:
      `attack: alice requests a forced exit of 15 USD; it can pay only after ${net.committee.exitDelay} s, when payment1 has long settled`,
  });

  // 3. A second order for payment 1's contention key, paying herself.
  const o = qc1.signed.order;
  const rival = await signOrder(alice.account, {
    ...o,
    recipient: alice.account.address,
    amount: 15n * USD,
    parent: NO_PARENT,
  });
  const fan = fanOut(committee, connectSidecars(committee), { order: signedOrderInit(rival) }, {
    timeoutMillis: 2000,
  });
  const answered = await fan.complete;
  const codes = answered.rejects.map((r) => `${r.validator.name}: ${r.code}`).join(", ");
  report.emit({
    event: "attack",
    attack: "second_order",
    text:
      `attack: alice signs a second order for (alice, pathUSD, seq ${o.seq}): ${answered.certificates.length} certificates (${codes})`,
  });
  // She settles it on the vault herself, with whatever certificates she got.
  const item = settleItem(committee, {
    signed: rival,
    txHash: bytesToHex(orderTxHash(rival.order)),
    qc: { ...qc1.qc, certificates: answered.certificates.map((c) => c.certificate) },
  });
  try {
    await chain.simulateContract({
      account: alice.account.address,
      address: committee.vault,
      abi: vaultAbi,
      functionName: "settle",
      args: [settleItemArgs(item)],
    });
    outcomes.second_order = "the vault accepted it";
  } catch (e) {
    outcomes.second_order = `failed: the vault refuses it (${revertReason(e)})`;
  }
  report.emit({
    event: "attack",
    attack: "second_order",
    text: `attack: alice calls the vault herself — ${outcomes.second_order}`,
  });
  return outcomes;
}

/** Waits for Alice's forced exit to mature, exits, and says what it paid. */
async function finishForcedExit(
  net: LocalNetwork,
  alice: Person,
  report: Reporter,
): Promise<string> {
  const chain = createPublicClient({ transport: http(net.rpcUrl, { timeout: 10_000 }) });
  const { exit } = await readAccount(chain, net.committee.vault, alice.account.address, PATH_USD);
  if (exit === undefined) return "no exit request found";
  report.emit({
    event: "attack",
    attack: "forced_exit",
    text: `attack: alice waits for her exit's readyAt (${exit.readyAt})`,
  });
  while ((await chain.getBlock()).timestamp < exit.readyAt) {
    await new Promise((r) => setTimeout(r, 500));
  }
  const before = await chain.readContract({
    address: PATH_USD,
    abi: tip20,
    functionName: "balanceOf",
    args: [alice.account.address],
  });
  await waitForSuccess(
    chain,
    await sendTempoTransaction(chain, alice.account, {
      chainId: net.chainId,
      calls: [exitCall(net.committee.vault, PATH_USD)],
      feeToken: PATH_USD,
      gas: 300_000n,
    }),
  );
  const after = await chain.readContract({
    address: PATH_USD,
    abi: tip20,
    functionName: "balanceOf",
    args: [alice.account.address],
  });
  const paid = after - before;
  const outcome = `failed to take back payment1: her exit of 15 USD paid ${
    usd(paid)
  } USD (about her 5 left, less the fee)`;
  report.emit({ event: "attack", attack: "forced_exit", text: `attack: ${outcome}` });
  return paid <= 5n * USD ? outcome : `paid ${usd(paid)} USD`;
}

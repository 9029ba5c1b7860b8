/**
 * Gas of the vault's operations (receipts' `gasUsed`, whole Tempo transactions): settle with
 * 1-of-1, 3-of-4 and 5-of-7 committees, per order in a settleBatch of 1, 10 and 50, a deposit
 * (approve + deposit), an exit order, the forced exit (request + exit), a repeated settle, and
 * the fixed cost of a Tempo transaction for reference. Prints a Markdown table; a benchmark
 * reports numbers, it asserts nothing.
 *
 * ```sh
 * ./denow run -A contracts/gas.ts                      # starts its own anvil (default pricing)
 * ./denow run -A contracts/gas.ts --rpc-url http://127.0.0.1:8545   # an anvil you started,
 *                                    # e.g. `./denow anvil --network tempo --hardfork T1`
 * ```
 *
 * Unless a row says otherwise, the payer, the recipient and the settler already hold a vault
 * balance in the token (no storage slot created but the settled key's two), fee 0.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { LocalAccount, TransactionReceipt } from "viem";
import {
  decodeVaultEvents,
  deployVaultCall,
  depositCalls,
  exitCall,
  requestExitCall,
  settleBatchCall,
  settleCall,
  type SettleItem,
  type TempoCall,
  vaultAbi,
} from "@allegro/client";
import { encodeFunctionData } from "viem";
import {
  ALPHA_USD,
  certify,
  connectChain,
  DEPLOY_GAS,
  deployTestVault,
  latestTimestamp,
  makeOrder,
  newAccount,
  newPayer,
  type OrderFields,
  send,
  sendOk,
  startChain,
  testAccount,
  type TestChain,
  type TestVault,
} from "./testing.ts";

interface Row {
  readonly what: string;
  readonly gas: bigint;
  readonly note?: string;
}

const rows: Row[] = [];
const record = (what: string, gas: bigint, note?: string) => {
  rows.push({ what, gas, note });
  console.error(`${what}: ${gas}${note ? ` (${note})` : ""}`);
};

/** A payer with a large vault balance, and a lane counter, per vault. */
class Payers {
  readonly #vault: TestVault;
  readonly #payers: { account: LocalAccount; seq: bigint }[] = [];
  #turn = 0;

  private constructor(vault: TestVault) {
    this.#vault = vault;
  }

  static async create(vault: TestVault, count: number): Promise<Payers> {
    const payers = new Payers(vault);
    const accounts = await Promise.all(
      Array.from({ length: count }, () => newPayer(vault, 10_000_000n)),
    );
    for (const account of accounts) payers.#payers.push({ account, seq: 0n });
    return payers;
  }

  /** A certified order of the next payer (round robin) with these fields. */
  async item(fields: OrderFields): Promise<SettleItem> {
    const payer = this.#payers[this.#turn++ % this.#payers.length];
    const order = await makeOrder(this.#vault, payer.account.address, {
      seq: payer.seq++,
      validBefore: (await latestTimestamp(this.#vault.chain) + 3_600n) * 1000n,
      ...fields,
    });
    return await certify(this.#vault, payer.account, order);
  }
}

async function settled(
  chain: TestChain,
  settler: LocalAccount,
  call: TempoCall,
): Promise<TransactionReceipt> {
  return await sendOk(chain, settler, [call], { gas: 3_000_000n });
}

async function measure(chain: TestChain): Promise<void> {
  const settler = await newAccount(chain);
  // A recipient that already holds the token in its wallet (exit orders) and, after the first
  // settle, in its vault balance.
  const known = await newAccount(chain, [{ token: ALPHA_USD, amount: 1n }]);

  const deployment = await sendOk(chain, settler, [deployVaultCall({
    admin: settler.address,
    maxValidity: 60_000n,
    exitDelay: 61n,
    epoch: 1n,
    members: [known.address],
  })], { gas: DEPLOY_GAS });
  record("deploying the vault (1 member)", deployment.gasUsed);
  // The fixed cost of one Tempo transaction with one call (a view, called in a transaction).
  const probe = await deployTestVault(chain, { n: 1 });
  const view: TempoCall = {
    to: probe.address,
    data: encodeFunctionData({ abi: vaultAbi, functionName: "currentEpoch" }),
  };
  await sendOk(chain, settler, [view]);
  record(
    "a 0x76 transaction calling a view (reference)",
    (await sendOk(chain, settler, [view])).gasUsed,
  );

  let payers3of4: { vault: TestVault; payers: Payers } | undefined;
  for (const n of [1, 4, 7]) {
    const vault = await deployTestVault(chain, { n });
    const payers = await Payers.create(vault, 2);
    // Warm up: the recipient and the settler hold a balance.
    await settled(
      chain,
      settler,
      settleCall(vault.address, await payers.item({ recipient: known.address, fee: 1n })),
    );
    const k = n - Math.floor((n - 1) / 3);
    const receipt = await settled(
      chain,
      settler,
      settleCall(vault.address, await payers.item({ recipient: known.address })),
    );
    record(`settle, ${k}-of-${n}`, receipt.gasUsed);
    if (n === 4) payers3of4 = { vault, payers };
  }
  const { vault: v4, payers: p4 } = payers3of4!;
  const settle4 = async (fields: OrderFields) => {
    const receipt = await settled(chain, settler, settleCall(v4.address, await p4.item(fields)));
    const kinds = decodeVaultEvents(receipt.logs).map((e) => e.kind);
    if (kinds.join() !== "Settled") throw new Error(`expected one Settled event, got ${kinds}`);
    return receipt.gasUsed;
  };
  record(
    "settle, 3-of-4, recipient without a vault balance",
    await settle4({ recipient: testAccount(crypto.randomUUID()).address }),
  );
  record(
    "settle, 3-of-4, fee to the settler",
    await settle4({ recipient: known.address, fee: 10n }),
  );
  const item = await p4.item({ recipient: known.address });
  await settled(chain, settler, settleCall(v4.address, item));
  record(
    "settle of an order already settled (a lost race)",
    (await settled(chain, settler, settleCall(v4.address, item))).gasUsed,
  );
  record(
    "exit order (exit = true), 3-of-4, wallet holding the token",
    await settle4({ recipient: known.address, exit: true }),
  );
  record(
    "exit order, 3-of-4, wallet never held the token",
    await settle4({ recipient: testAccount(crypto.randomUUID()).address, exit: true }),
  );

  const vault = await deployTestVault(chain, { n: 4, maxValidity: 60_000n, exitDelay: 61n });
  const payers = await Payers.create(vault, 10);
  await settled(
    chain,
    settler,
    settleCall(vault.address, await payers.item({ recipient: known.address })),
  );
  for (const size of [1, 10, 50]) {
    const items = [];
    for (let i = 0; i < size; i++) items.push(await payers.item({ recipient: known.address }));
    const receipt = await send(chain, settler, [settleBatchCall(vault.address, items)], {
      gas: 29_000_000n,
    });
    const what = `settleBatch of ${size}, per order (3-of-4)`;
    if (receipt.status === "success") {
      record(what, receipt.gasUsed / BigInt(size), `total ${receipt.gasUsed}`);
    } else record(what, 0n, `does not fit in ${receipt.gasUsed} gas`);
  }

  const depositor = await newAccount(chain, [{ token: ALPHA_USD, amount: 2_000n }]);
  record(
    "deposit (approve + deposit), first in this token",
    (await sendOk(chain, depositor, depositCalls(vault.address, ALPHA_USD, 1_000n))).gasUsed,
  );
  record(
    "deposit (approve + deposit), again",
    (await sendOk(chain, depositor, depositCalls(vault.address, ALPHA_USD, 1_000n))).gasUsed,
  );
  const request = await sendOk(chain, depositor, [
    requestExitCall(vault.address, ALPHA_USD, 2_000n),
  ]);
  const readyAt = await latestTimestamp(chain) + vault.exitDelay;
  const exit = await sendOk(chain, depositor, [exitCall(vault.address, ALPHA_USD)], {
    timestamp: readyAt,
  });
  record("forced exit: requestExit", request.gasUsed);
  record("forced exit: exit (whole balance)", exit.gasUsed);
  record("forced exit: request + exit", request.gasUsed + exit.gasUsed);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { "rpc-url": { type: "string" } } });
  const rpcUrl = values["rpc-url"];
  await using chain = rpcUrl === undefined ? await startChain() : await connectChain(rpcUrl);
  const block = await chain.client.getBlock();
  await measure(chain);
  console.log(
    `\nVault gas (${
      rpcUrl ?? "anvil started here"
    }, chain ${chain.chainId}, block gas limit ${block.gasLimit})\n`,
  );
  console.log("| operation | gas used |\n| --- | ---: |");
  for (const row of rows) {
    console.log(
      `| ${row.what} | ${row.gas.toLocaleString("en-US")}${row.note ? ` (${row.note})` : ""} |`,
    );
  }
}

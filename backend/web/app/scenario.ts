/**
 * The Alice → Bob → Carol scenario, run from the browser with the demo accounts as real payments
 * on the network: Alice deposits into the vault if she has too little there; right after a block
 * boundary Alice pays Bob 10 USD; the moment its QC (QC1) verifies, Bob pays Carol 10 USD citing
 * that payment as parent; then the chain settles both.
 *
 * @module
 */
import type { Committee, PaymentReceipt } from "@allegro/client";
import type { Account } from "./accounts.ts";
import { api } from "./api.ts";
import { title, USD, usd } from "./format.ts";
import type { LiveFeed, LiveState } from "./live.ts";
import { sendVaultAction, TOKEN } from "./onchain.ts";
import type { PaymentRequest } from "./payments.tsx";
import { isSettled, type Stage } from "./stage.tsx";

/** How far a run got; the timeline reads the rest from the payments and the live feed. */
export interface ScenarioRun {
  readonly status: "depositing" | "waiting" | "paying" | "settling" | "done" | "failed";
  /** What Alice deposited first, if she did. */
  readonly deposit?: { readonly amount: bigint; readonly blockNumber: bigint };
  /** The head the payments started right after. */
  readonly startHeight?: number;
  /** The two payments' cards (ids in the page's payments). */
  readonly ids: readonly number[];
  readonly error?: unknown;
}

/** Alice, Bob and Carol. */
export interface People {
  readonly alice: Account;
  readonly bob: Account;
  readonly carol: Account;
}

/** What a run needs of the page. */
export interface ScenarioDeps {
  readonly feed: LiveFeed;
  readonly committee: Committee;
  /** The public chain RPC, for Alice's deposit. */
  readonly rpcUrl: string | null;
  readonly send: (request: PaymentRequest, onId: (id: number) => void) => Promise<PaymentReceipt>;
}

/** What each payment of the scenario moves. */
const AMOUNT = 10n * USD;
/** What Alice deposits when her vault balance cannot pay it. */
const DEPOSIT = 20n * USD;

/** Runs the scenario, reporting progress through `update`; never throws. */
export async function runScenario(
  deps: ScenarioDeps,
  people: People,
  update: (patch: Partial<ScenarioRun>) => void,
): Promise<void> {
  const { feed } = deps;
  const ids: number[] = [];
  const addId = (id: number) => {
    ids.push(id);
    update({ ids: [...ids] });
  };
  try {
    const token = (await api.account(people.alice.address, TOKEN)).tokens[0];
    const free = BigInt(token.vault_balance) - BigInt(token.pending_out) -
      BigInt(token.exit?.amount ?? "0");
    if (free < AMOUNT) {
      if (!deps.rpcUrl) {
        throw new Error(
          `Alice has ${
            usd(free)
          } USD free in the vault and this page cannot deposit more: the backend names no public chain RPC`,
        );
      }
      update({ status: "depositing" });
      const { blockNumber } = await sendVaultAction(deps.rpcUrl, deps.committee, people.alice, {
        kind: "deposit",
        amount: DEPOSIT,
      });
      update({ deposit: { amount: DEPOSIT, blockNumber } });
      // Every validator up counts the deposit once it has processed its block.
      await feed.waitFor(
        (s) => everyValidatorAt(s, Number(blockNumber)) || undefined,
        15_000,
        `the validators to process block #${blockNumber} with Alice's deposit`,
      );
    }
    update({ status: "waiting" });
    const current = feed.getState().heads.at(-1)?.height ?? -1;
    const start = await feed.waitFor(
      (s) => s.heads.find((h) => h.height > current),
      15_000,
      "the next block",
    );
    update({ status: "paying", startHeight: start.height });
    const first = await deps.send({
      from: people.alice,
      to: people.bob.address,
      toName: title(people.bob.name),
      amount: AMOUNT,
    }, addId);
    const second = await deps.send({
      from: people.bob,
      to: people.carol.address,
      toName: title(people.carol.name),
      amount: AMOUNT,
      parent: { certified: first, fromName: people.alice.name },
    }, addId);
    update({ status: "settling" });
    const settled = (s: LiveState, tx: string) =>
      s.txs.get(tx)?.stages.some((m) => isSettled(m.stage as Stage));
    await feed.waitFor(
      (s) => (settled(s, first.txHash) && settled(s, second.txHash)) || undefined,
      30_000,
      "both payments to settle",
    );
    update({ status: "done" });
  } catch (error) {
    update({ status: "failed", error });
  }
}

/** Whether every validator that is up has processed block `height`. */
function everyValidatorAt(s: LiveState, height: number): boolean {
  const up = s.validators?.validators.filter((v) => v.up) ?? [];
  return up.length > 0 && up.every((v) => Number(v.head?.height ?? -1) >= height);
}

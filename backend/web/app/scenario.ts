/**
 * The Alice → Bob → Carol scenario, run from the browser with the demo accounts as real
 * payments on the network: right after a block boundary Alice pays Bob 10 USD; once its QC
 * (QC1) verifies, Bob pays Carol 10 USD citing QC1 as parent; then both settle on chain.
 *
 * @module
 */
import type { Committee } from "@allegro/client";
import type { Account } from "./accounts.ts";
import { USD } from "./format.ts";
import type { LiveFeed, LiveState } from "./live.ts";
import { pay } from "./payments.ts";

/** How far a run got; the timeline reads the rest from the live feed. */
export interface ScenarioRun {
  readonly status: "waiting" | "paying" | "settling" | "done" | "failed";
  /** The head the run started right after. */
  readonly startHeight?: number;
  readonly tx1?: string;
  readonly sent1?: number;
  readonly tx2?: string;
  readonly sent2?: number;
  readonly error?: unknown;
}

/** Alice, Bob and Carol. */
export interface People {
  readonly alice: Account;
  readonly bob: Account;
  readonly carol: Account;
}

const SETTLED = ["INCLUDED", "FINALIZED"];

/** Runs the scenario, reporting progress through `update`; never throws. */
export async function runScenario(
  feed: LiveFeed,
  committee: Committee,
  people: People,
  update: (patch: Partial<ScenarioRun>) => void,
): Promise<void> {
  try {
    const current = feed.getState().heads.at(-1)?.height ?? -1;
    const start = await feed.waitFor(
      (s) => s.heads.find((h) => h.height > current),
      15_000,
      "the next block",
    );
    update({ status: "paying", startHeight: start.height });
    const first = await pay({
      committee,
      from: people.alice,
      to: people.bob.address,
      amount: 10n * USD,
      onSigned: (tx1) => update({ tx1, sent1: Date.now() }),
    });
    const second = await pay({
      committee,
      from: people.bob,
      to: people.carol.address,
      amount: 10n * USD,
      parent: first.certified,
      onSigned: (tx2) => update({ tx2, sent2: Date.now() }),
    });
    update({ status: "settling" });
    const settled = (s: LiveState, tx: string) =>
      s.txs.get(tx)?.stages.some((m) => SETTLED.includes(m.stage));
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

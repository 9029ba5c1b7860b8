/**
 * The settler's alert, without a chain: which expired orders count as certified orders that
 * expired unsettled (`allegro_certified_expired_unsettled_total`). Certificates are stand-ins —
 * the settler only tracks what the certifier and gossip verified before handing it over.
 */
import assert from "node:assert/strict";
import { type Hex, zeroHash } from "viem";
import type { Certificate, Committee, SignedOrder } from "@allegro/client";
import type { VaultBlock } from "@allegro/server/vault-follower";
import { TxEvents } from "./events.ts";
import { SidecarMetrics } from "./metrics.ts";
import { Settler } from "./settler.ts";

const VALID_BEFORE = 100_000n;
const MARGIN = 4_000n;
const TX = `0x${"ab".repeat(32)}` as Hex;

/** What happens to one order, step by step, at the chain time and view given. */
type Step =
  | { certificates: number; at: bigint; current?: boolean }
  | { qc: true; at: bigint; current?: boolean }
  | { settled: true; at: bigint }
  | { block: true; at: bigint };

function certificate(i: number): Certificate {
  return { signer: new Uint8Array(32).fill(i + 1) } as unknown as Certificate;
}

async function alerts(steps: Step[]): Promise<{ count: number; logged: string[] }> {
  let chainTime: bigint | undefined;
  let current = true;
  const logged: string[] = [];
  const metrics = new SidecarMetrics();
  const settler = new Settler({
    committee: { threshold: 3 } as Committee,
    log: { info() {}, warn() {}, error: (msg) => logged.push(msg) },
    metrics,
    events: new TxEvents(),
    chainTime: () => chainTime,
    viewCurrent: () => current,
    alertMarginMillis: Number(MARGIN),
    delayMillis: 1000,
    intervalMillis: 250,
    minRemainingMillis: 2000,
  });
  const signed = {
    order: { validBefore: VALID_BEFORE, payer: zeroHash.slice(0, 42), seq: 0n },
  } as unknown as SignedOrder;
  let seen = 0;
  for (const step of steps) {
    chainTime = step.at;
    current = "current" in step ? step.current ?? true : true;
    if ("certificates" in step) {
      for (; seen < step.certificates; seen++) {
        settler.track({ signed, txHash: TX, certificate: certificate(seen) });
      }
    } else if ("qc" in step) {
      settler.track({ signed, txHash: TX, qc: {} as never });
    } else {
      const block: VaultBlock = {
        height: 1n,
        hash: zeroHash,
        time: step.at,
        headerMillis: step.at,
        events: "settled" in step ? [{ kind: "Settled", txHash: TX } as never] : [],
      };
      settler.applied(block);
    }
  }
  const text = await metrics.render();
  const count = Number(/^allegro_certified_expired_unsettled_total (\d+)$/m.exec(text)?.[1]);
  return { count, logged };
}

const cases: { name: string; steps: Step[]; alerted: boolean }[] = [
  {
    name: "a QC formed with time to settle, then expired unsettled",
    steps: [{ certificates: 3, at: 50_000n }, { block: true, at: VALID_BEFORE }],
    alerted: true,
  },
  {
    name: "a QC received whole with time to settle, then expired unsettled",
    steps: [{ qc: true, at: 50_000n }, { block: true, at: VALID_BEFORE }],
    alerted: true,
  },
  {
    name: "a QC that settled",
    steps: [
      { certificates: 3, at: 50_000n },
      { settled: true, at: 60_000n },
      { block: true, at: VALID_BEFORE },
    ],
    alerted: false,
  },
  {
    name: "too few certificates",
    steps: [{ certificates: 2, at: 50_000n }, { block: true, at: VALID_BEFORE }],
    alerted: false,
  },
  {
    name: "completed by confirmations seen on a lagging view, within the margin",
    steps: [
      { certificates: 2, at: 50_000n },
      { certificates: 3, at: VALID_BEFORE - MARGIN },
      { block: true, at: VALID_BEFORE },
    ],
    alerted: false,
  },
  {
    name: "completed just outside the margin",
    steps: [
      { certificates: 2, at: 50_000n },
      { certificates: 3, at: VALID_BEFORE - MARGIN - 1n },
      { block: true, at: VALID_BEFORE },
    ],
    alerted: true,
  },
  {
    name: "first seen already expired (a confirmation QC)",
    steps: [{ certificates: 3, at: VALID_BEFORE + 1n }, {
      block: true,
      at: VALID_BEFORE + 1000n,
    }],
    alerted: false,
  },
  {
    name: "a QC known only while the view was stale",
    steps: [{ certificates: 3, at: 50_000n, current: false }, { block: true, at: VALID_BEFORE }],
    alerted: false,
  },
  {
    name: "a QC known while stale, then again on a current view",
    steps: [
      { certificates: 3, at: 50_000n, current: false },
      { qc: true, at: 60_000n },
      { block: true, at: VALID_BEFORE },
    ],
    alerted: true,
  },
  {
    name: "not expired yet",
    steps: [{ certificates: 3, at: 50_000n }, { block: true, at: VALID_BEFORE - 1n }],
    alerted: false,
  },
];

for (const c of cases) {
  Deno.test(`settler alert: ${c.name} → ${c.alerted ? "alerted" : "not alerted"}`, async () => {
    const { count, logged } = await alerts(c.steps);
    assert.equal(count, c.alerted ? 1 : 0);
    assert.deepEqual(logged, c.alerted ? ["ALERT: a certified order expired unsettled"] : []);
  });
}

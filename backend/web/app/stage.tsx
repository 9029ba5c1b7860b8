/**
 * A payment's stage, from one source of truth: {@linkcode currentStage} picks it from the stage
 * marks the backend reported (its record's history and the event stream), or, before the
 * backend knows the payment, from what this page did (signing, sent). The badge and the stage
 * line both draw that one value, so they never contradict each other.
 *
 * @module
 */
import { duration } from "./format.ts";
import type { StageMark } from "./live.ts";

/** Where a payment is: a backend stage (SPEC §7), or this page's own step before it. */
export type Stage =
  | "SIGNING"
  | "SENT"
  | "NOT_CERTIFIED"
  | "ACCEPTED"
  | "REJECTED"
  | "CERTIFIED"
  | "CONFIRMED"
  | "QUEUED_ONCHAIN"
  | "FAILED"
  | "EXPIRED"
  | "INCLUDED"
  | "FINALIZED";

const WORDS: Record<Stage, string> = {
  SIGNING: "Signing…",
  SENT: "Sent, waiting for certificates",
  NOT_CERTIFIED: "Not certified",
  ACCEPTED: "Certificates, no QC yet",
  REJECTED: "Rejected",
  CERTIFIED: "Certified (QC)",
  CONFIRMED: "Confirmed (seq only, no money moved)",
  QUEUED_ONCHAIN: "Settlement sent",
  FAILED: "Settlement failed",
  EXPIRED: "Expired",
  INCLUDED: "Settled",
  FINALIZED: "Final",
};

/** Order of the stages; a later one of two marks at the same millisecond wins. */
const RANK: Record<Stage, number> = {
  SIGNING: 0,
  SENT: 1,
  NOT_CERTIFIED: 2,
  ACCEPTED: 3,
  REJECTED: 4,
  CERTIFIED: 5,
  CONFIRMED: 5,
  QUEUED_ONCHAIN: 6,
  FAILED: 7,
  EXPIRED: 8,
  INCLUDED: 9,
  FINALIZED: 10,
};

/** The stage in words. */
function stageWords(stage: Stage): string {
  return WORDS[stage] ?? stage;
}

/** The further of this page's own stage and the backend's (`undefined` while it knows nothing). */
export function laterStage(local: Stage, backend: Stage | undefined): Stage {
  return backend !== undefined && RANK[backend] >= RANK[local] ? backend : local;
}

/** Whether money moved on chain: the payment settled. */
export function isSettled(stage: Stage | undefined): boolean {
  return stage === "INCLUDED" || stage === "FINALIZED";
}

/** Whether the payment has a QC that can settle (or settled). */
export function hasQc(stage: Stage | undefined): boolean {
  return stage !== undefined && RANK[stage] >= RANK.CERTIFIED && stage !== "CONFIRMED" &&
    stage !== "EXPIRED";
}

/**
 * The current stage among `marks`: the latest by the backend's clock, the later in lifecycle
 * order at a tie; `undefined` without marks.
 */
export function currentStage(marks: readonly StageMark[]): Stage | undefined {
  let best: StageMark | undefined;
  for (const m of marks) {
    if (
      !best || m.atMillis > best.atMillis ||
      (m.atMillis === best.atMillis && RANK[m.stage as Stage] > RANK[best.stage as Stage])
    ) best = m;
  }
  return best?.stage as Stage | undefined;
}

/** The stage as a coloured badge. */
export function StageBadge({ stage }: { stage: Stage }) {
  return (
    <span className={`badge stage-${stage}`} data-testid="stage-badge" data-stage={stage}>
      {stageWords(stage)}
    </span>
  );
}

const STEPS: readonly { stage: Stage; words: string }[] = [
  { stage: "ACCEPTED", words: "Certificates" },
  { stage: "CERTIFIED", words: "QC" },
  { stage: "QUEUED_ONCHAIN", words: "Settlement sent" },
  { stage: "INCLUDED", words: "Settled" },
  { stage: "FINALIZED", words: "Final" },
];
const SIDE: ReadonlySet<Stage> = new Set([
  "NOT_CERTIFIED",
  "REJECTED",
  "CONFIRMED",
  "FAILED",
  "EXPIRED",
]);

/** What {@linkcode StageLine} draws. */
export interface StageLineProps {
  readonly stage: Stage;
  /** Every stage mark, for the times and for the steps a side exit passed. */
  readonly marks: readonly StageMark[];
  /** The block the payment settled in, once it did. */
  readonly blockHeight?: number;
  /** Times are written after this (unix ms, the backend's clock). */
  readonly start?: number;
}

/**
 * The lifecycle as a line of steps up to `stage`, with the time each was reached; a side exit
 * (rejected, failed, expired, confirmed) ends it.
 */
export function StageLine({ stage, marks, blockHeight, start }: StageLineProps) {
  const side = SIDE.has(stage);
  const reached = (s: Stage) => side ? marks.some((m) => m.stage === s) : RANK[stage] >= RANK[s];
  return (
    <ol className="stages" data-testid="stage-line" data-stage={stage}>
      {STEPS.map(({ stage: step, words }) => {
        const mark = marks.findLast((m) => m.stage === step);
        const done = reached(step);
        return (
          <li
            key={step}
            className={`${done ? "done" : ""} ${step === stage ? "current" : ""}`}
            data-testid={`step-${step}`}
          >
            <span className="dot" />
            <span className="name">
              {step === "INCLUDED" && done && blockHeight !== undefined
                ? `Settled in block #${blockHeight}`
                : words}
            </span>
            {mark && start !== undefined && (
              <span className="muted">+{duration(mark.atMillis - start)}</span>
            )}
          </li>
        );
      })}
      {side && (
        <li className="exit current" data-testid={`step-${stage}`}>
          <span className="dot" />
          <span className="name">{stageWords(stage)}</span>
        </li>
      )}
    </ol>
  );
}

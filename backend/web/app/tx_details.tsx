/**
 * A payment in detail: when each validator's certificate arrived relative to the block boundary,
 * the QC (verified in this browser), and its way to the chain — queued, included, final.
 *
 * @module
 */
import type { SubmissionJson } from "./api.ts";
import { rejectReason } from "./errors.ts";
import { duration, short, stageWords, title } from "./format.ts";
import { blockIntervalMillis, headAfter, headAt, useLive } from "./live.ts";
import { Timeline, type TimelineLine, type TimelineMark } from "./timeline.tsx";
import { type QcCheck, useQcCheck, useTxView } from "./tx_view.ts";

/** One color per validator, in committee order. */
export const VALIDATOR_COLORS = [
  "#2563eb",
  "#0d9488",
  "#d97706",
  "#db2777",
  "#7c3aed",
  "#65a30d",
  "#0891b2",
  "#dc2626",
  "#4f46e5",
  "#ca8a04",
];

/** What {@linkcode TxDetails} shows. */
export interface TxDetailsProps {
  readonly txHash: string;
  /** The payer's own submission (adds its rejects). */
  readonly submission?: SubmissionJson;
  /** When this page sent it (unix ms). */
  readonly sentAt?: number;
}

/** Certificates against the block boundary, per validator, the QC and the stages. */
export function TxDetails({ txHash, submission, sentAt }: TxDetailsProps) {
  const live = useLive();
  const view = useTxView(txHash, submission);
  const qcCheck = useQcCheck(view.record);
  const names = live.validators?.validators.map((v) => v.name) ?? [];
  const threshold = live.validators?.threshold ?? 0;
  const firstCert = Math.min(...view.certificates.values());
  const start = sentAt ?? view.stages.get("ACCEPTED")?.atMillis ??
    (Number.isFinite(firstCert) ? firstCert : undefined);
  const boundary = start !== undefined ? headAt(live.heads, start) : undefined;
  const next = boundary ? headAfter(live.heads, boundary.height) : undefined;
  const qcAt = view.stages.get("CERTIFIED")?.atMillis;

  let strip;
  if (boundary && names.length) {
    const expected = boundary.seenMillis + blockIntervalMillis(live.heads);
    const end = Math.max(next?.seenMillis ?? expected, qcAt ?? 0, ...view.certificates.values());
    const pad = (end - boundary.seenMillis) * 0.04;
    const marks: TimelineMark[] = names.flatMap((name, row) => {
      const at = view.certificates.get(name);
      return at === undefined ? [] : [{
        t: at,
        row,
        color: VALIDATOR_COLORS[row % VALIDATOR_COLORS.length],
        shape: "dot" as const,
        title: `${title(name)}: certificate ${
          duration(at - boundary.seenMillis)
        } after block #${boundary.height}`,
      }];
    });
    const lines: TimelineLine[] = [
      { t: boundary.seenMillis, kind: "block", label: `#${boundary.height}` },
      next
        ? { t: next.seenMillis, kind: "block", label: `#${next.height}` }
        : { t: expected, kind: "expected", label: `#${boundary.height + 1}?` },
      ...(sentAt ? [{ t: sentAt, kind: "now" as const, label: "sent" }] : []),
      ...(qcAt ? [{ t: qcAt, kind: "qc" as const, label: "QC", testId: "qc-line" }] : []),
    ];
    strip = (
      <>
        <Timeline
          from={boundary.seenMillis - pad}
          to={end + pad}
          origin={boundary.seenMillis}
          rows={names.map(title)}
          marks={marks}
          lines={lines}
          label="certificate arrivals within the block"
          testId="tx-timeline"
        />
        {qcAt && (
          <p className="timing" data-testid="qc-timing">
            QC formed <b>{duration(qcAt - boundary.seenMillis)}</b> after block #{boundary.height}
            {next
              ? (
                <>
                  {next.seenMillis > qcAt ? " — " : ", "}
                  <b>{duration(Math.abs(next.seenMillis - qcAt))}</b>
                  {next.seenMillis > qcAt ? " before" : " after"} block #{next.height}
                </>
              )
              : <>, block #{boundary.height + 1} is due in {duration(expected - qcAt)}</>}
          </p>
        )}
      </>
    );
  }

  return (
    <div className="tx-details">
      {strip}
      <ul className="validator-results">
        {names.map((name, i) => {
          const at = view.certificates.get(name);
          const reject = view.rejects.get(name);
          const state = at !== undefined ? "certified" : reject ? "refused" : "waiting";
          return (
            <li key={name} data-testid={`cert-${name}`} data-state={state}>
              <span className="swatch" style={{ background: VALIDATOR_COLORS[i] }} />
              <span className="who">{title(name)}</span>
              {at !== undefined
                ? (
                  <span className="ok">
                    ✓ certificate
                    {boundary
                      ? ` +${duration(at - boundary.seenMillis)} after #${boundary.height}`
                      : ""}
                  </span>
                )
                : reject
                ? <span className="bad" title={reject.message}>✗ {rejectReason(reject)}</span>
                : <span className="muted">{qcAt ? "not needed for the QC" : "waiting…"}</span>}
            </li>
          );
        })}
      </ul>
      <QcLine
        check={qcCheck}
        qcHash={view.record?.qc?.qc_hash}
        count={view.record?.qc?.certificates.length}
        threshold={threshold}
        n={names.length}
      />
      <StageSteps view={view} start={start} />
    </div>
  );
}

function QcLine(
  props: { check: QcCheck; qcHash?: string; count?: number; threshold: number; n: number },
) {
  const { check, qcHash } = props;
  return (
    <p className={`qc-line ${check.state}`} data-testid="qc-status" data-state={check.state}>
      {qcHash
        ? (
          <>
            <b>QC</b> {props.count} of {props.n} certificates ({props.threshold} needed){" "}
            <code title={qcHash}>{short(qcHash, 6)}</code> {check.state === "verified"
              ? <span className="ok">✓ verified in this browser</span>
              : check.state === "invalid"
              ? <span className="bad">✗ does not verify: {check.message}</span>
              : <span className="muted">verifying…</span>}
          </>
        )
        : <span className="muted">No QC yet ({props.threshold} certificates needed)</span>}
    </p>
  );
}

const STEPS = ["CERTIFIED", "QUEUED_ONCHAIN", "INCLUDED", "FINALIZED"];
const SIDE_EXITS = ["REJECTED", "EXPIRED", "FAILED"];

function StageSteps(
  { view, start }: { view: ReturnType<typeof useTxView>; start: number | undefined },
) {
  const exit = SIDE_EXITS.find((s) => view.stage === s);
  const reachedIndex = Math.max(...STEPS.map((s, i) => (view.stages.has(s) ? i : -1)));
  return (
    <ol className="stages" data-testid="stage" data-stage={view.stage ?? "NONE"}>
      {STEPS.map((s, i) => {
        const mark = view.stages.get(s);
        const done = i <= reachedIndex;
        return (
          <li key={s} className={done ? "done" : ""} data-testid={`stage-${s}`}>
            <span className="dot" />
            <span className="name">
              {s === "INCLUDED" && view.blockHeight !== undefined && done
                ? `Included in block #${view.blockHeight}`
                : stageWords(s)}
            </span>
            {mark && start !== undefined && (
              <span className="muted">+{duration(mark.atMillis - start)}</span>
            )}
          </li>
        );
      })}
      {exit && (
        <li className="exit" data-testid={`stage-${exit}`}>
          <span className="dot" />
          <span className="name">{stageWords(exit)}</span>
        </li>
      )}
    </ol>
  );
}

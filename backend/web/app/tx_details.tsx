/**
 * A payment in detail: when each validator's certificate arrived relative to the block boundary,
 * each certificate's settlement attestation and the QC as verified in this browser, the
 * settlement on the same time axis, and its way to the chain — settlement sent, settled in block
 * N (by which transaction), final.
 *
 * @module
 */
import { rejectReason } from "./errors.ts";
import { duration, short, title } from "./format.ts";
import { blockIntervalMillis, type Head, headAfter, headAt, headTime, useLive } from "./live.ts";
import { type Stage, StageLine } from "./stage.tsx";
import { Timeline, type TimelineLine, type TimelineMark } from "./timeline.tsx";
import type { Certification, Check, TxView } from "./tx_view.ts";

/** One colour per validator, in committee order. */
const VALIDATOR_COLORS = [
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

/** The colour of a settlement. */
export const SETTLE_COLOR = "#16a34a";

/** What {@linkcode TxDetails} shows. */
export interface TxDetailsProps {
  readonly view: TxView;
  readonly certification: Certification;
  /** The payment's stage: the one its badge shows too. */
  readonly stage: Stage;
  /** When this page sent it (this browser's clock). */
  readonly sentAt?: number;
}

/** Certificates against the block boundary, per validator, the QC, the settlement and stages. */
export function TxDetails({ view, certification: cert, stage, sentAt }: TxDetailsProps) {
  const live = useLive();
  const names = live.validators?.validators.map((v) => v.name) ?? [];
  const firstCert = Math.min(...cert.arrivals.values());
  const start = sentAt ?? (Number.isFinite(firstCert) ? firstCert : undefined);
  const boundary = start !== undefined ? headAt(live.heads, start, cert.clock) : undefined;
  const origin = boundary && headTime(boundary, cert.clock);

  return (
    <div className="tx-details">
      {boundary && names.length > 0 && (
        <Strip
          cert={cert}
          names={names}
          boundary={boundary}
          settledIn={view.blockHeight}
          sentAt={sentAt}
        />
      )}
      <ul className="validator-results">
        {names.map((name, i) => {
          const at = cert.arrivals.get(name);
          const reject = cert.rejects.get(name);
          const attestation = cert.attestations.get(name);
          const state = at !== undefined ? "certified" : reject ? "refused" : "waiting";
          return (
            <li key={name} data-testid={`cert-${name}`} data-state={state}>
              <span className="swatch" style={{ background: VALIDATOR_COLORS[i] }} />
              <span className="who">{title(name)}</span>
              {at !== undefined
                ? (
                  <span className="ok">
                    ✓ certificate{origin !== undefined
                      ? ` +${duration(at - origin)} after #${boundary!.height}`
                      : ""}
                  </span>
                )
                : reject
                ? <span className="bad" title={reject.message}>✗ {rejectReason(reject)}</span>
                : <span className="muted">{cert.qc ? "not needed for the QC" : "waiting…"}</span>}
              {attestation && (
                <span className="attestation" data-testid={`attestation-${name}`}>
                  attestation <code title={attestation.hex}>{short(attestation.hex, 5)}</code>{" "}
                  <CheckWords
                    check={attestation.check}
                    verified="signature and attestation verified here"
                  />
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <QcLine cert={cert} n={names.length} />
      <StageLine
        stage={stage}
        marks={view.marks}
        {...(view.blockHeight !== undefined ? { blockHeight: view.blockHeight } : {})}
      />
      {view.record?.settlement && (
        <p className="small" data-testid="settlement">
          {view.blockHeight !== undefined ? `Settled in block #${view.blockHeight} by` : "Sent in"}
          {" "}
          transaction{" "}
          <code title={view.record.settlement.tx_hash}>
            {short(view.record.settlement.tx_hash, 8)}
          </code>
          {view.record.settlement.gas_used && ` (${view.record.settlement.gas_used} gas)`}
        </p>
      )}
      {view.record?.failure && <p className="error small">{view.record.failure}</p>}
    </div>
  );
}

function CheckWords({ check, verified }: { check: Check; verified: string }) {
  if (check.state === "checking") return <span className="muted">verifying…</span>;
  if (check.state === "verified") return <span className="ok">✓ {verified}</span>;
  return <span className="bad">✗ does not verify: {check.message}</span>;
}

function QcLine({ cert, n }: { cert: Certification; n: number }) {
  const { committeeCheck, validators } = useLive();
  const threshold = validators?.threshold ?? 0;
  const qc = cert.qc;
  return (
    <p className="qc-line" data-testid="qc-status" data-state={qc?.check.state ?? "none"}>
      {qc
        ? (
          <>
            <b>QC</b> {qc.count} of {n} certificates ({threshold} needed){" "}
            <code title={qc.hash}>{short(qc.hash, 6)}</code>{" "}
            <CheckWords check={qc.check} verified="verified in this browser" />{" "}
            {committeeCheck.state === "verified" && (
              <span className="muted">(against the committee the vault registers)</span>
            )}
          </>
        )
        : <span className="muted">No QC yet ({threshold} certificates needed)</span>}
    </p>
  );
}

interface StripProps {
  readonly cert: Certification;
  readonly names: readonly string[];
  readonly boundary: Head;
  /** The block the payment settled in. */
  readonly settledIn: number | undefined;
  readonly sentAt: number | undefined;
}

/** The time axis: block boundaries, each validator's certificate, the QC, the settlement. */
function Strip({ cert, names, boundary, settledIn, sentAt }: StripProps) {
  const { heads } = useLive();
  const at = (h: Head) => headTime(h, cert.clock);
  const origin = at(boundary);
  const next = headAfter(heads, boundary.height);
  const expected = origin + blockIntervalMillis(heads);
  const qcAt = cert.qc?.atMillis;
  const settledHead = settledIn === undefined
    ? undefined
    : heads.find((h) => h.height === settledIn);
  const end = Math.max(
    next ? at(next) : expected,
    qcAt ?? 0,
    settledHead ? at(settledHead) : 0,
    ...cert.arrivals.values(),
  );
  const pad = (end - origin) * 0.04;
  const marks: TimelineMark[] = names.flatMap((name, row) => {
    const t = cert.arrivals.get(name);
    return t === undefined ? [] : [{
      t,
      row,
      color: VALIDATOR_COLORS[row % VALIDATOR_COLORS.length],
      shape: "dot" as const,
      title: `${title(name)}: certificate ${duration(t - origin)} after block #${boundary.height}`,
      testId: `arrival-${name}`,
    }];
  });
  const lines: TimelineLine[] = [
    ...heads.filter((h) => h.height >= boundary.height && at(h) <= end).map((h) => ({
      t: at(h),
      kind: h.height === settledIn ? "settle" as const : "block" as const,
      label: h.height === settledIn ? `settled in #${h.height}` : `#${h.height}`,
      testId: h.height === settledIn ? "settle-line" : `boundary-${h.height}`,
    })),
    ...(next
      ? []
      : [{ t: expected, kind: "expected" as const, label: `#${boundary.height + 1}?` }]),
    ...(sentAt ? [{ t: sentAt, kind: "now" as const, label: "sent" }] : []),
    ...(qcAt ? [{ t: qcAt, kind: "qc" as const, label: "QC", testId: "qc-line" }] : []),
  ];
  return (
    <>
      <Timeline
        from={origin - pad}
        to={end + pad}
        origin={origin}
        rows={names.map(title)}
        marks={marks}
        lines={lines}
        label="certificate arrivals, the QC and the settlement against block boundaries"
        testId="tx-timeline"
      />
      <p className="small muted">
        {cert.clock === "local"
          ? "Times as this browser saw them: it sent the order to every validator itself."
          : "Times as the backend saw them."}
      </p>
      {qcAt && (
        <p className="timing" data-testid="qc-timing">
          QC formed <b>{duration(qcAt - origin)}</b> after block #{boundary.height}
          {sentAt !== undefined && ` (${duration(qcAt - sentAt)} after it was sent)`}
          {next
            ? (
              <>
                {at(next) > qcAt ? " — " : ", "}
                <b>{duration(Math.abs(at(next) - qcAt))}</b>
                {at(next) > qcAt ? " before" : " after"} block #{next.height}
              </>
            )
            : <>, block #{boundary.height + 1} is due in {duration(expected - qcAt)}</>}
          {settledIn !== undefined && `; settled in block #${settledIn}`}
        </p>
      )}
    </>
  );
}

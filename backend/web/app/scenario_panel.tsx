/**
 * The Alice → Bob → Carol scenario as an animated timeline: block boundaries, each validator's
 * certificates, the QC1 and QC2 markers, and the blocks that settle both payments.
 *
 * @module
 */
import { useState } from "react";
import { useAccounts } from "./accounts.ts";
import { ErrorBox } from "./error_box.tsx";
import { duration, title } from "./format.ts";
import { useNow } from "./hooks.ts";
import { headAfter, type TxLive, useFeed, useLive } from "./live.ts";
import { type People, runScenario, type ScenarioRun } from "./scenario.ts";
import { Timeline, type TimelineLine, type TimelineMark } from "./timeline.tsx";

const PAYMENT_COLORS = ["#2563eb", "#9333ea"];
const SETTLE_COLOR = "#16a34a";
const LABELS = ["Alice → Bob", "Bob → Carol"];

const stageAt = (tx: TxLive | undefined, stage: string) =>
  tx?.stages.find((m) => m.stage === stage);

/** The scenario: explanation, run button, verdict, the two timelines and the story. */
export function ScenarioPanel() {
  const feed = useFeed();
  const live = useLive();
  const accounts = useAccounts();
  const [run, setRun] = useState<ScenarioRun>();
  const running = run !== undefined && ["waiting", "paying", "settling"].includes(run.status);
  const now = useNow(100, running);
  const byName = (name: string) => accounts.all.find((a) => a.demo && a.name === name);
  const [alice, bob, carol] = ["alice", "bob", "carol"].map(byName);
  const people: People | undefined = alice && bob && carol ? { alice, bob, carol } : undefined;

  const start = () => {
    if (!people || !live.committee) return;
    setRun({ status: "waiting" });
    runScenario(feed, live.committee, people, (patch) => setRun((r) => ({ ...r!, ...patch })));
  };

  const startHead = run?.startHeight !== undefined
    ? live.heads.find((h) => h.height === run.startHeight)
    : undefined;
  const nextHead = startHead ? headAfter(live.heads, startHead.height) : undefined;
  const txs = [run?.tx1, run?.tx2].map((h) => (h ? live.txs.get(h) : undefined));
  const sent = [run?.sent1, run?.sent2];
  const qcs = txs.map((tx) => stageAt(tx, "CERTIFIED")?.atMillis);
  const settled = txs.map((tx) => stageAt(tx, "INCLUDED"));
  const names = live.validators?.validators.map((v) => v.name) ?? [];

  return (
    <div className="scenario">
      <section className="card">
        <h2>Alice → Bob → Carol</h2>
        <p>
          Right after a block, Alice pays Bob 10 USD. The moment its quorum certificate <b>QC1</b>
          {" "}
          verifies, Bob spends that money: he pays Carol 10 USD, citing QC1 as parent — before
          Alice's payment is anywhere near a block. Both QCs form in a fraction of a second; the
          chain settles payment 1 in the next block and payment 2 (whose parent must land first)
          right after.
        </p>
        <div className="row">
          <button
            type="button"
            className="primary"
            onClick={start}
            disabled={running || !people || !live.committee}
            data-testid="scenario-run"
          >
            {running ? "Running…" : run ? "Run again" : "Run the scenario"}
          </button>
          <span className="muted" data-testid="scenario-status" data-status={run?.status ?? "idle"}>
            {!people
              ? "Needs the demo accounts of a local network (deno task net)."
              : run?.status === "waiting"
              ? "waiting for the next block boundary…"
              : run?.status === "paying"
              ? "paying…"
              : run?.status === "settling"
              ? "both certified — waiting for the chain to settle them…"
              : run?.status === "done"
              ? "done: both payments settled"
              : ""}
          </span>
        </div>
        {run?.error !== undefined && <ErrorBox error={run.error} />}
        {startHead && qcs[0] && qcs[1] && nextHead && (
          <p
            className={`verdict ${qcs.every((q) => q! < nextHead.seenMillis) ? "good" : "bad"}`}
            data-testid="scenario-verdict"
            data-before={String(qcs.every((q) => q! < nextHead.seenMillis))}
          >
            QC1 formed <b>{duration(qcs[0] - startHead.seenMillis)}</b> and QC2{" "}
            <b>{duration(qcs[1] - startHead.seenMillis)}</b> after block #{startHead.height} —{" "}
            {qcs.every((q) => q! < nextHead.seenMillis) ? "both before" : "not both before"} block #
            {nextHead.height}, which came {duration(nextHead.seenMillis - startHead.seenMillis)}
            {" "}
            after it.
            {settled[0] && settled[1] &&
              ` Payment 1 settled in block #${settled[0].blockHeight}, payment 2 in block #${
                settled[1].blockHeight
              }.`}
          </p>
        )}
      </section>
      {startHead && (
        <section className="card">
          <h3>The whole run</h3>
          <Overview
            origin={startHead.seenMillis}
            to={running ? now : undefined}
            sent={sent}
            qcs={qcs}
            settled={settled}
          />
          <h3>The first moments: certificates per validator</h3>
          <Zoom
            origin={startHead.seenMillis}
            now={running ? now : undefined}
            txs={txs}
            qcs={qcs}
            names={names}
            height={startHead.height}
          />
          <p className="legend small">
            <span>
              <i style={{ background: PAYMENT_COLORS[0] }} /> payment 1, Alice → Bob
            </span>
            <span>
              <i style={{ background: PAYMENT_COLORS[1] }} /> payment 2, Bob → Carol
            </span>
            <span>
              <i className="diamond" /> QC formed
            </span>
            <span>
              <i style={{ background: SETTLE_COLOR }} /> included in a block
            </span>
            <span>
              <i className="line" /> block boundary (as the backend saw it)
            </span>
          </p>
        </section>
      )}
    </div>
  );
}

interface OverviewProps {
  readonly origin: number;
  /** "now" while running. */
  readonly to: number | undefined;
  readonly sent: readonly (number | undefined)[];
  readonly qcs: readonly (number | undefined)[];
  readonly settled: readonly ({ atMillis: number; blockHeight?: number } | undefined)[];
}

/** Both payments against the block boundaries: sent, QC, settled. */
function Overview(props: OverviewProps) {
  const live = useLive();
  const from = props.origin - 400;
  const events = [...props.qcs, ...props.settled.map((s) => s?.atMillis)].filter((t) =>
    t !== undefined
  ) as number[];
  const to = Math.max(from + 5200, props.to ?? Math.max(...events, from) + 700);
  const marks: TimelineMark[] = LABELS.flatMap((_, row) => {
    const color = PAYMENT_COLORS[row];
    const n = row + 1;
    const out: TimelineMark[] = [];
    if (props.sent[row]) {
      out.push({ t: props.sent[row]!, row, color, shape: "ring", title: `payment ${n} sent` });
    }
    if (props.qcs[row]) {
      out.push({
        t: props.qcs[row]!,
        row,
        color,
        shape: "diamond",
        title: `QC${n} formed ${duration(props.qcs[row]! - props.origin)} after the start block`,
        label: `QC${n}`,
        testId: `qc${n}-marker`,
      });
    }
    const settled = props.settled[row];
    if (settled) {
      out.push({
        t: settled.atMillis,
        row,
        color: SETTLE_COLOR,
        shape: "square",
        title: `payment ${n} included in block #${settled.blockHeight}`,
        label: `in #${settled.blockHeight}`,
        testId: `settle${n}-marker`,
      });
    }
    return out;
  });
  const lines: TimelineLine[] = [
    ...live.heads.filter((h) => h.seenMillis >= from).map((h) => ({
      t: h.seenMillis,
      kind: "block" as const,
      label: `#${h.height}`,
      testId: `boundary-${h.height}`,
    })),
    ...(props.to ? [{ t: props.to, kind: "now" as const, label: "now" }] : []),
  ];
  return (
    <Timeline
      from={from}
      to={to}
      origin={props.origin}
      rows={LABELS}
      marks={marks}
      lines={lines}
      label="the whole scenario against block boundaries"
      testId="scenario-overview"
    />
  );
}

interface ZoomProps {
  readonly origin: number;
  /** "now" while running. */
  readonly now: number | undefined;
  readonly txs: readonly (TxLive | undefined)[];
  readonly qcs: readonly (number | undefined)[];
  readonly names: readonly string[];
  /** Height of the start block. */
  readonly height: number;
}

/** The first moments after the start block: each validator's certificates and both QCs. */
function Zoom(props: ZoomProps) {
  const last = props.qcs[1] ?? props.qcs[0] ?? Math.min(props.now ?? 0, props.origin + 300);
  const span = Math.max(120, (last - props.origin) * 1.2);
  const marks: TimelineMark[] = props.txs.flatMap((tx, p) =>
    (tx?.certificates ?? []).map((c) => ({
      t: c.receivedMillis,
      row: props.names.indexOf(c.validator),
      color: PAYMENT_COLORS[p],
      shape: "dot" as const,
      title: `${title(c.validator)}: certificate for payment ${p + 1}, ${
        duration(c.receivedMillis - props.origin)
      } after block #${props.height}`,
    })).filter((m) => m.row >= 0)
  );
  const lines: TimelineLine[] = [
    { t: props.origin, kind: "block", label: `#${props.height}` },
    ...props.qcs.flatMap((t, i) =>
      t ? [{ t, kind: "qc" as const, label: `QC${i + 1}`, color: PAYMENT_COLORS[i] }] : []
    ),
  ];
  return (
    <Timeline
      from={props.origin - span * 0.03}
      to={props.origin + span}
      origin={props.origin}
      rows={props.names.map(title)}
      marks={marks}
      lines={lines}
      label="certificates per validator after the block boundary"
      testId="scenario-zoom"
    />
  );
}

/**
 * The Alice → Bob → Carol scenario as an animated timeline, on this browser's clock: block
 * boundaries, each validator's certificate as it reached this page, the QC1 and QC2 markers, and
 * the blocks that settle both payments.
 *
 * @module
 */
import { useState } from "react";
import { useAccounts } from "./accounts.ts";
import { ErrorBox } from "./error_box.tsx";
import { duration, title, usd } from "./format.ts";
import { useNow } from "./hooks.ts";
import { type Head, useFeed, useLive } from "./live.ts";
import { type Attempt, usePayments } from "./payments.tsx";
import { type People, runScenario, type ScenarioRun } from "./scenario.ts";
import { Timeline, type TimelineLine, type TimelineMark } from "./timeline.tsx";
import { SETTLE_COLOR } from "./tx_details.tsx";

const PAYMENT_COLORS = ["#2563eb", "#9333ea"];
const LABELS = ["Alice → Bob", "Bob → Carol"];

const STATUS: Record<ScenarioRun["status"], string> = {
  depositing: "Alice deposits into the vault first…",
  waiting: "waiting for the next block boundary…",
  paying: "paying…",
  settling: "both certified — waiting for the chain to settle them…",
  done: "done: both payments settled",
  failed: "",
};

/** A payment of the run as the timeline draws it (this browser's clock). */
interface Drawn {
  readonly attempt?: Attempt;
  readonly qcAt?: number;
  /** The head of the block it settled in. */
  readonly settled?: Head;
}

/** The scenario: explanation, run button, verdict, the two timelines. */
export function ScenarioPanel() {
  const feed = useFeed();
  const live = useLive();
  const accounts = useAccounts();
  const payments = usePayments();
  const [run, setRun] = useState<ScenarioRun>();
  const running = run !== undefined && !["done", "failed"].includes(run.status);
  const now = useNow(100, running);
  const byName = (name: string) => accounts.all.find((a) => a.demo && a.name === name);
  const [alice, bob, carol] = ["alice", "bob", "carol"].map(byName);
  const people: People | undefined = alice && bob && carol ? { alice, bob, carol } : undefined;
  const { committee, config } = live;

  const start = () => {
    if (!people || !committee || !config) return;
    setRun({ status: "waiting", ids: [] });
    runScenario(
      { feed, committee, rpcUrl: config.public_rpc_url, send: payments.send },
      people,
      (patch) => setRun((r) => ({ ...r!, ...patch })),
    );
  };

  const drawn: Drawn[] = [0, 1].map((i) => {
    const attempt = payments.attempts.find((a) => a.id === run?.ids[i]);
    const height = live.txs.get(attempt?.txHash ?? "")?.stages
      .find((m) => m.stage === "INCLUDED")?.blockHeight;
    const settled = live.heads.find((h) => h.height === height);
    const qcAt = attempt?.certification.qc?.atMillis;
    return {
      ...(attempt ? { attempt } : {}),
      ...(qcAt !== undefined ? { qcAt } : {}),
      ...(settled ? { settled } : {}),
    };
  });
  const startHead = live.heads.find((h) => h.height === run?.startHeight);
  const nextHead = startHead && live.heads.find((h) => h.height > startHead.height);
  const [qc1, qc2] = drawn.map((d) => d.qcAt);
  const before = nextHead && qc1 && qc2 && qc1 < nextHead.localMillis &&
    qc2 < nextHead.localMillis;

  return (
    <div className="scenario">
      <section className="card">
        <h2>Alice → Bob → Carol</h2>
        <p>
          Right after a block, Alice pays Bob 10 USD out of her vault balance (depositing first if
          she has too little there). The moment its quorum certificate <b>QC1</b>{" "}
          verifies, Bob spends that money: he pays Carol 10 USD citing Alice's payment as parent, so
          the money he just received pays for it — before Alice's payment is anywhere near a block.
          Both QCs form in a fraction of a second; the backend settles both at once, parent first,
          in the blocks that follow.
        </p>
        <div className="row">
          <button
            type="button"
            className="primary"
            onClick={start}
            disabled={running || !people || !committee || !config}
            data-testid="scenario-run"
          >
            {running ? "Running…" : run ? "Run again" : "Run the scenario"}
          </button>
          <span className="muted" data-testid="scenario-status" data-status={run?.status ?? "idle"}>
            {!people
              ? "Needs the demo accounts of a local network (./denow task net)."
              : run
              ? STATUS[run.status]
              : ""}
          </span>
        </div>
        {run?.deposit && (
          <p className="small" data-testid="scenario-deposit">
            Alice deposited {usd(run.deposit.amount)} USD into the vault in block #
            {run.deposit.blockNumber.toString()}.
          </p>
        )}
        {run?.error !== undefined && <ErrorBox error={run.error} />}
        {startHead && nextHead && qc1 && qc2 && (
          <p
            className={`verdict ${before ? "good" : "bad"}`}
            data-testid="scenario-verdict"
            data-before={String(before)}
          >
            QC1 formed <b>{duration(qc1 - startHead.localMillis)}</b> and QC2{" "}
            <b>{duration(qc2 - startHead.localMillis)}</b> after block #{startHead.height} —{" "}
            {before ? "both before" : "not both before"} block #{nextHead.height}, which came{" "}
            {duration(nextHead.localMillis - startHead.localMillis)} after it.
            {drawn[0].settled && drawn[1].settled &&
              ` Payment 1 settled in block #${drawn[0].settled.height}, payment 2 in block #${
                drawn[1].settled.height
              }.`}
          </p>
        )}
      </section>
      {startHead && (
        <section className="card">
          <h3>The whole run</h3>
          <Overview origin={startHead.localMillis} now={running ? now : undefined} drawn={drawn} />
          <h3>The first moments: certificates per validator</h3>
          <Zoom
            origin={startHead.localMillis}
            now={running ? now : undefined}
            drawn={drawn}
            names={live.validators?.validators.map((v) => v.name) ?? []}
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
              <i style={{ background: SETTLE_COLOR }} /> settled in a block
            </span>
            <span>
              <i className="line" /> block boundary (as this page saw it)
            </span>
          </p>
        </section>
      )}
    </div>
  );
}

interface ChartProps {
  /** Time of the start block, this browser's clock. */
  readonly origin: number;
  /** "now" while running. */
  readonly now: number | undefined;
  readonly drawn: readonly Drawn[];
}

/** Both payments against the block boundaries: sent, QC, settled. */
function Overview({ origin, now, drawn }: ChartProps) {
  const live = useLive();
  const from = origin - 400;
  const events = drawn.flatMap((d) => [d.qcAt, d.settled?.localMillis])
    .filter((t) => t !== undefined);
  const to = Math.max(from + 3200, now ?? Math.max(...events, from) + 600);
  const marks: TimelineMark[] = drawn.flatMap((d, row) => {
    const color = PAYMENT_COLORS[row];
    const n = row + 1;
    return [
      ...(d.attempt
        ? [{ t: d.attempt.sentAt, row, color, shape: "ring" as const, title: `payment ${n} sent` }]
        : []),
      ...(d.qcAt
        ? [{
          t: d.qcAt,
          row,
          color,
          shape: "diamond" as const,
          title: `QC${n} formed ${duration(d.qcAt - origin)} after the start block`,
          label: `QC${n}`,
          testId: `qc${n}-marker`,
        }]
        : []),
      ...(d.settled
        ? [{
          t: d.settled.localMillis,
          row,
          color: SETTLE_COLOR,
          shape: "square" as const,
          title: `payment ${n} settled in block #${d.settled.height}`,
          label: `in #${d.settled.height}`,
          testId: `settle${n}-marker`,
        }]
        : []),
    ];
  });
  const lines: TimelineLine[] = [
    ...live.heads.filter((h) => h.localMillis >= from).map((h) => ({
      t: h.localMillis,
      kind: "block" as const,
      label: `#${h.height}`,
      testId: `boundary-${h.height}`,
    })),
    ...(now ? [{ t: now, kind: "now" as const, label: "now" }] : []),
  ];
  return (
    <Timeline
      from={from}
      to={to}
      origin={origin}
      rows={LABELS}
      marks={marks}
      lines={lines}
      label="the whole scenario against block boundaries"
      testId="scenario-overview"
    />
  );
}

/** The first moments after the start block: each validator's certificates and both QCs. */
function Zoom(
  { origin, now, drawn, names, height }: ChartProps & {
    readonly names: readonly string[];
    /** Height of the start block. */
    readonly height: number;
  },
) {
  const last = drawn[1].qcAt ?? drawn[0].qcAt ?? Math.min(now ?? 0, origin + 300);
  const span = Math.max(120, (last - origin) * 1.2);
  const marks: TimelineMark[] = drawn.flatMap((d, p) =>
    [...(d.attempt?.certification.arrivals ?? [])].map(([validator, t]) => ({
      t,
      row: names.indexOf(validator),
      color: PAYMENT_COLORS[p],
      shape: "dot" as const,
      title: `${title(validator)}: certificate for payment ${p + 1}, ${
        duration(t - origin)
      } after block #${height}`,
    })).filter((m) => m.row >= 0)
  );
  const lines: TimelineLine[] = [
    { t: origin, kind: "block", label: `#${height}` },
    ...drawn.flatMap((d, i) =>
      d.qcAt
        ? [{ t: d.qcAt, kind: "qc" as const, label: `QC${i + 1}`, color: PAYMENT_COLORS[i] }]
        : []
    ),
  ];
  return (
    <Timeline
      from={origin - span * 0.03}
      to={origin + span}
      origin={origin}
      rows={names.map(title)}
      marks={marks}
      lines={lines}
      label="certificates per validator after the block boundary"
      testId="scenario-zoom"
    />
  );
}

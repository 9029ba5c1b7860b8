/**
 * A time-axis chart in SVG: labelled rows of marks (certificates, QCs, settlements) and lines
 * across every row (block boundaries, QCs, settlements, "now"), sized to its container.
 *
 * @module
 */
import { useWidth } from "./hooks.ts";

/** A mark on one row. */
export interface TimelineMark {
  /** Time, unix milliseconds. */
  readonly t: number;
  readonly row: number;
  readonly color: string;
  readonly shape: "dot" | "diamond" | "square" | "ring";
  /** Tooltip. */
  readonly title: string;
  /** Written right of the mark. */
  readonly label?: string;
  readonly testId?: string;
}

/** A vertical line across every row. */
export interface TimelineLine {
  readonly t: number;
  readonly kind: "block" | "expected" | "qc" | "now" | "settle";
  /** Written at the top. */
  readonly label: string;
  readonly color?: string;
  readonly testId?: string;
}

/** What {@linkcode Timeline} draws. */
export interface TimelineProps {
  /** Visible time range, unix milliseconds. */
  readonly from: number;
  readonly to: number;
  /** Time of the axis' `+0`. */
  readonly origin: number;
  readonly rows: readonly string[];
  readonly marks: readonly TimelineMark[];
  readonly lines: readonly TimelineLine[];
  readonly label: string;
  readonly testId?: string;
}

const GUTTER = 104;
const RIGHT = 44;
const TOP = 36;
/** Line labels closer than this (px) are written one above the other. */
const LABEL_GAP = 6;
const ROW = 30;
const AXIS = 26;
const STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000];

function tickLabel(millis: number, step: number): string {
  const sign = millis >= 0 ? "+" : "−";
  if (step < 500 && Math.abs(millis) < 1000) return `${sign}${Math.abs(Math.round(millis))} ms`;
  const decimals = step % 1000 === 0 ? 0 : step % 100 === 0 ? 1 : 2;
  return `${sign}${Math.abs(millis / 1000).toFixed(decimals)} s`;
}

/** The label level (0 at the bottom) of each line, so that neighbouring labels do not overlap. */
function labelLevels(xs: readonly { x: number; label: string }[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a].x - xs[b].x);
  const levels = new Array<number>(xs.length).fill(0);
  const ends = [-Infinity, -Infinity];
  for (const i of order) {
    const half = (xs[i].label.length * 6.5) / 2;
    const level = ends[0] <= xs[i].x - half - LABEL_GAP ? 0 : 1;
    ends[level] = xs[i].x + half;
    levels[i] = level;
  }
  return levels;
}

function Mark({ mark, x, y }: { mark: TimelineMark; x: number; y: number }) {
  const common = {
    className: "tl-mark",
    "data-testid": mark.testId,
    "data-t": mark.t,
    "data-x": x.toFixed(1),
  };
  const shape = mark.shape === "diamond"
    ? (
      <path
        d={`M${x} ${y - 8}L${x + 8} ${y}L${x} ${y + 8}L${x - 8} ${y}Z`}
        fill={mark.color}
      />
    )
    : mark.shape === "square"
    ? <rect x={x - 6} y={y - 6} width={12} height={12} rx={2} fill={mark.color} />
    : mark.shape === "ring"
    ? <circle cx={x} cy={y} r={5} fill="var(--surface)" stroke={mark.color} strokeWidth={2} />
    : <circle cx={x} cy={y} r={6} fill={mark.color} />;
  return (
    <g {...common}>
      <title>{mark.title}</title>
      {shape}
      {mark.label && (
        <text x={x + 11} y={y + 4} className="tl-mark-label">
          {mark.label}
        </text>
      )}
    </g>
  );
}

/** The chart; nothing is drawn until the container has a width. */
export function Timeline(props: TimelineProps) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const { from, to, rows } = props;
  const inner = Math.max(width - GUTTER - RIGHT, 10);
  const span = Math.max(to - from, 1);
  const x = (t: number) => GUTTER + ((t - from) / span) * inner;
  const bottom = TOP + rows.length * ROW;
  const step = STEPS.find((s) => (s / span) * inner >= 64) ?? STEPS.at(-1)!;
  const lines = props.lines.filter((l) => l.t >= from && l.t <= to);
  const levels = labelLevels(lines.map((l) => ({ x: x(l.t), label: l.label })));
  const ticks: number[] = [];
  for (let t = Math.ceil((from - props.origin) / step) * step; props.origin + t <= to; t += step) {
    ticks.push(t);
  }
  return (
    <div ref={ref} className="timeline" data-testid={props.testId}>
      {width > 0 && (
        <svg width={width} height={bottom + AXIS} role="img" aria-label={props.label}>
          {rows.map((row, i) => (
            <g key={row}>
              <rect
                x={GUTTER}
                y={TOP + i * ROW}
                width={inner}
                height={ROW}
                className={i % 2 ? "tl-row odd" : "tl-row"}
              />
              <text x={GUTTER - 10} y={TOP + i * ROW + ROW / 2 + 4} className="tl-row-label">
                {row}
              </text>
            </g>
          ))}
          <line x1={GUTTER} x2={GUTTER + inner} y1={bottom} y2={bottom} className="tl-axis" />
          {ticks.map((t) => (
            <g key={t} className="tl-tick">
              <line x1={x(props.origin + t)} x2={x(props.origin + t)} y1={bottom} y2={bottom + 5} />
              <text x={x(props.origin + t)} y={bottom + 18}>{tickLabel(t, step)}</text>
            </g>
          ))}
          {lines.map((l, i) => (
            <g
              key={`${l.kind}-${l.label}`}
              className={`tl-line tl-${l.kind}`}
              data-testid={l.testId}
              data-t={l.t}
              data-x={x(l.t).toFixed(1)}
            >
              <line
                x1={x(l.t)}
                x2={x(l.t)}
                y1={TOP - 6}
                y2={bottom}
                style={l.color ? { stroke: l.color } : undefined}
              />
              <text
                x={x(l.t)}
                y={TOP - 10 - levels[i] * 13}
                style={l.color ? { fill: l.color } : undefined}
              >
                {l.label}
              </text>
            </g>
          ))}
          {props.marks.filter((m) => m.t >= from && m.t <= to).map((m) => (
            <Mark
              key={`${m.row}-${m.shape}-${m.t}-${m.color}`}
              mark={m}
              x={x(m.t)}
              y={TOP + m.row * ROW + ROW / 2}
            />
          ))}
        </svg>
      )}
    </div>
  );
}

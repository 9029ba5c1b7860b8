/**
 * The network at a glance: the chain head (live, with the time into the current block), the
 * connection to the backend, each validator's status, and whether the committee the QCs are
 * verified against is the one the vault registers.
 *
 * @module
 */
import { duration, short, title } from "./format.ts";
import { useNow } from "./hooks.ts";
import { blockIntervalMillis, useLive } from "./live.ts";

/** The live chain head and how far into the current block we are. */
export function HeadPill() {
  const { heads, validators, connection } = useLive();
  const now = useNow(100);
  const head = heads.at(-1);
  if (!head) {
    return <div className="head-pill muted" data-testid="head">waiting for the chain…</div>;
  }
  const interval = blockIntervalMillis(heads);
  const elapsed = Math.max(0, now - head.localMillis);
  return (
    <div className="head-pill" data-testid="head" data-height={head.height}>
      <span className="pulse" key={head.height} />
      <span>
        Block <b>#{head.height}</b>
      </span>
      <span className="muted">
        {connection === "down" ? "backend offline" : `${(elapsed / 1000).toFixed(1)} s ago`}
      </span>
      <span className="progress" title={`blocks every ~${duration(interval)}`}>
        <span style={{ width: `${Math.min(100, (elapsed / interval) * 100)}%` }} />
      </span>
      {validators && <span className="muted chain-id">chain {validators.chain_id}</span>}
    </div>
  );
}

/** A banner while the backend does not answer. */
export function ConnectionBanner() {
  const { connection } = useLive();
  if (connection !== "down") return null;
  return (
    <div className="banner" role="alert" data-testid="backend-down">
      <b>The Allegro backend is not answering.</b>{" "}
      Live updates, balances and settlement are paused; the page reconnects by itself. Is the local
      network (<code>./denow task net</code>) still running?
    </div>
  );
}

/** Every validator: up or down, latency, its chain head; and whether a quorum is possible. */
export function ValidatorsCard() {
  const { validators, heads, committeeCheck } = useLive();
  if (!validators) {
    return (
      <section className="card validators">
        <h2>Validators</h2>
        <p className="muted">loading…</p>
      </section>
    );
  }
  const up = validators.validators.filter((v) => v.up).length;
  const n = validators.validators.length;
  const head = heads.at(-1)?.height;
  return (
    <section className="card validators" data-testid="validators">
      <h2>
        Validators <span className="count">{up} of {n} up</span>
      </h2>
      <ul>
        {validators.validators.map((v) => (
          <li key={v.name} data-testid={`validator-${v.name}`} data-status={v.status}>
            <span className={`status-dot ${v.status}`} />
            <span className="who">{title(v.name)}</span>
            <span className="status">{v.status === "up" ? "up" : v.status}</span>
            <span className="latency">
              {v.latency_ms !== null && v.up ? `${Math.round(v.latency_ms)} ms` : "—"}
            </span>
            <span
              className={`vhead ${
                head !== undefined && v.head && Number(v.head.height) < head - 1 ? "behind" : ""
              }`}
            >
              {v.head ? `#${v.head.height}` : "—"}
            </span>
          </li>
        ))}
      </ul>
      <p className={up >= validators.threshold ? "muted small" : "warn small"}>
        {up >= validators.threshold
          ? `A QC needs ${validators.threshold} of ${n} certificates; up to ${
            n - validators.threshold
          } validator${n - validators.threshold === 1 ? "" : "s"} may fail.`
          : `Quorum unreachable: ${up} of ${n} validators are up, ${validators.threshold} are needed — payments cannot be certified.`}
      </p>
      <p
        className={`small ${committeeCheck.state === "mismatch" ? "warn" : "muted"}`}
        data-testid="committee-check"
        data-state={committeeCheck.state}
      >
        {committeeCheck.state === "verified"
          ? `✓ The committee matches the one the vault ${
            short(validators.vault)
          } registers for epoch ${validators.epoch}: QCs are verified here against it.`
          : committeeCheck.state === "checking"
          ? "Checking the committee against the vault…"
          : committeeCheck.state === "mismatch"
          ? `✗ The backend names another committee than the vault's: ${committeeCheck.message}. Do not trust QCs verified against it.`
          : `The committee could not be checked against the vault (${committeeCheck.message}): QCs are verified against the committee the backend names.`}
      </p>
    </section>
  );
}

/**
 * A failure shown in words (see `errors.ts`).
 *
 * @module
 */
import { explain } from "./errors.ts";
import { useLive } from "./live.ts";

/** The headline and lines of `error`, and what the validators said, folded. */
export function ErrorBox({ error }: { error: unknown }) {
  const { validators } = useLive();
  const { title, lines, details } = explain(
    error,
    validators && { n: validators.validators.length, threshold: validators.threshold },
  );
  return (
    <div className="error" role="alert" data-testid="error">
      <b>{title}</b>
      {lines.length > 0 && <ul>{lines.map((line, i) => <li key={i}>{line}</li>)}</ul>}
      {details && (
        <details>
          <summary>What the validators said</summary>
          <ul className="small">{details.map((line, i) => <li key={i}>{line}</li>)}</ul>
        </details>
      )}
    </div>
  );
}

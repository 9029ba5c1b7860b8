/**
 * The `backend` command: `run` starts the aggregator — fan-out to the sidecars, QC assembly,
 * settlement, the vault follower, REST + SSE, Connect and the web UI.
 *
 * @example
 * ```sh
 * deno run --allow-net --allow-read --allow-write backend/main.ts run \
 *   --committee committee.json --kv backend.kv --rpc-url http://127.0.0.1:8545 \
 *   --settler-key backend.settler.key
 * ```
 *
 * @module
 */
import { jsonLogger } from "@allegro/server/log";
import { runCommands, stopSignal } from "@allegro/server/cli";
import { startBackend } from "./app.ts";
import { parseRunConfig, runHelp } from "./config.ts";
import { packagedWebDir } from "./web/packaged.ts";

const USAGE =
  `Allegro backend: the aggregator (fan-out to the sidecars, QCs, settlement, lifecycles,
REST + SSE, Connect, web UI)

Usage:
  backend run [options]       run the backend (backend run --help lists the options)
  backend --help              this text`;

async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(runHelp());
    return 0;
  }
  const config = await parseRunConfig(args);
  const log = jsonLogger("backend");
  // A compiled or bundled backend serves the web UI it ships with (--web-dir wins).
  const shipped = packagedWebDir();
  const backend = await startBackend(config, log, shipped ? { webDir: shipped } : {});
  await stopSignal();
  await backend.stop();
  return 0;
}

/**
 * Runs the command line `args`; returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 *
 * console.log(await main(["--help"])); // 0, after printing the usage
 * ```
 */
export function main(args: string[]): Promise<number> {
  return runCommands("backend", USAGE, { run }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

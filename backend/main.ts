/**
 * The `backend` command: `run` starts the aggregator (REST + SSE, Connect, web UI).
 *
 * @example
 * ```sh
 * deno run -A backend/main.ts run --committee committee.json --kv backend.kv \
 *   --rpc-url http://127.0.0.1:8545
 * ```
 *
 * @module
 */
import { jsonLogger } from "@allegro/server/log";
import { startBackend } from "./app.ts";
import { runCommands, stopSignal } from "@allegro/server/cli";
import { parseRunConfig, runHelp } from "./config.ts";
import { dirAssets } from "./static.ts";
import { packagedWebDir } from "./web/packaged.ts";

const USAGE = `Allegro backend (aggregator, REST API, web UI)

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
  const backend = await startBackend(config, log, shipped ? { assets: dirAssets(shipped) } : {});
  await stopSignal();
  await backend.stop();
  return 0;
}

/** Runs the command line `args`; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommands("backend", USAGE, { run }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

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
import { jsonLogger } from "../sidecar/log.ts";
import { startBackend } from "./app.ts";
import { ConfigError, parseRunConfig, runHelp } from "./config.ts";
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
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  await backend.stop();
  return 0;
}

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === "run") return await run(rest);
    if (command === undefined || command === "--help" || command === "-h") {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new ConfigError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`backend: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`backend: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * The `sidecar` command: `keygen` writes a validator key file, `run` starts the service.
 *
 * @example
 * ```sh
 * deno run -A sidecar/main.ts keygen --out dave.key
 * deno run -A sidecar/main.ts run --name dave --key dave.key --committee committee.json \
 *   --kv dave.kv --rpc-url http://127.0.0.1:8545 --first-start
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bytesToHex } from "viem";
import { startSidecar } from "./app.ts";
import { runCommands, stopSignal } from "@allegro/server/cli";
import { ConfigError, parseRunConfig, runHelp } from "./config.ts";
import { writeKeyFile } from "@allegro/server/keyfile";
import { jsonLogger } from "@allegro/server/log";

const USAGE = `Allegro validator sidecar

Usage:
  sidecar keygen --out FILE   write a new validator key file (mode 0600): the Ed25519 key and the
                              secp256k1 settlement key; prints the public key and settlement address
  sidecar run [options]       run the sidecar (sidecar run --help lists the options)
  sidecar --help              this text`;

async function keygen(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: "string" }, help: { type: "boolean" } },
  });
  if (values.help) {
    console.log(
      "Usage: sidecar keygen --out FILE\n\nWrites a new validator key file (mode 0600; refuses an existing file):\nthe Ed25519 key that signs certificates and the secp256k1 settlement key that\nattests them for the vault. Prints the committee file's pubkey and settlement_address.",
    );
    return 0;
  }
  if (!values.out) throw new ConfigError("--out FILE is required");
  const { publicKey, settlementAddress } = await writeKeyFile(values.out).catch((e) => {
    throw new Error(`--out ${values.out}: ${(e as Error).message}`);
  });
  console.log(JSON.stringify({
    key_file: values.out,
    pubkey: bytesToHex(publicKey).slice(2),
    settlement_address: settlementAddress,
  }));
  return 0;
}

async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(runHelp());
    return 0;
  }
  const config = await parseRunConfig(args);
  const log = jsonLogger(config.name);
  const sidecar = await startSidecar(config, log);
  await stopSignal();
  await sidecar.stop();
  return 0;
}

/** Runs the command line `args`; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommands("sidecar", USAGE, { keygen, run }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

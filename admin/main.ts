/**
 * The `admin` command: what the vault's admin and an operator do on a real network — deploy the
 * vault with its first committee, register the committee of a new epoch, and show a vault
 * (immutables, epochs, committees, an account's balance and pending exit, a lane's settled keys).
 *
 * @example
 * ```sh
 * deno task admin deploy --rpc-url https://rpc.example --key admin.key --committee committee.json \
 *   --max-validity-ms 60000 --exit-delay-s 61
 * deno task admin show --rpc-url https://rpc.example --vault 0x… --payer 0x… --token 0x20c0…
 * ```
 *
 * @module
 */
import { runCommands } from "@allegro/server/cli";
import { deploy, register, show } from "./commands.ts";

const USAGE = `Allegro vault administration

Usage:
  admin deploy [options]     deploy the vault with the committee file's epoch and members, and
                             write its address into the committee file
  admin register [options]   register the committee file's epoch in its vault (admin key)
  admin show [options]       show a vault: immutables, epochs, committees, accounts and lanes
  admin --help               this text

Each command's --help lists its options.`;

/** Runs the command line `args`; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommands("admin", USAGE, { deploy, register, show }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

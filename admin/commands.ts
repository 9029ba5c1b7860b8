/**
 * The admin commands: `deploy`, `register`, `show`. Each reads its options with the shared
 * option tables (`--help`, errors naming the option and the value) and talks to the vault
 * through `@allegro/client` — the same calls the local network launcher makes.
 *
 * @module
 */
import { type Address, createPublicClient, getAddress, http, isAddress, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  type Committee,
  committeeMismatch,
  deployVault,
  parseCommittee,
  readAccount,
  readCommittee,
  readSettledTxHash,
  readVaultInfo,
  sendTempoTransaction,
  setCommitteeCall,
  waitForSuccess,
} from "@allegro/client";
import { ConfigError, optionsHelp, type OptionSpec, readOptions } from "@allegro/server/cli";
import { readAccountKeyFile } from "@allegro/server/keyfile";

const RPC: OptionSpec = {
  flag: "rpc-url",
  kind: "url",
  required: true,
  protocols: ["http:", "https:"],
  help: "Tempo JSON-RPC endpoint",
};
const KEY: OptionSpec = {
  flag: "key",
  kind: "string",
  required: true,
  help: 'account key file of the vault admin (mode 0600: {"private_key": "0x…"})',
};
const COMMITTEE: OptionSpec = {
  flag: "committee",
  kind: "string",
  required: true,
  help: "committee file (chain_id, epoch, validators with settlement_address)",
};
const FEE_TOKEN: OptionSpec = {
  flag: "fee-token",
  kind: "string",
  default: "0x20c0000000000000000000000000000000000000",
  help: "TIP-20 the transaction fee is paid in",
};

const DEPLOY_OPTIONS: readonly OptionSpec[] = [
  RPC,
  KEY,
  COMMITTEE,
  {
    flag: "max-validity-ms",
    kind: "int",
    required: true,
    min: 1000,
    max: 86_400_000,
    help: "W: how far past chain time an order's validBefore may lie when certified",
  },
  {
    flag: "exit-delay-s",
    kind: "int",
    required: true,
    min: 1,
    max: 365 * 86_400,
    help: "seconds from a forced-exit request to its payout; at least (W + 1000) / 1000",
  },
  FEE_TOKEN,
];
const REGISTER_OPTIONS: readonly OptionSpec[] = [RPC, KEY, COMMITTEE, FEE_TOKEN];
const SHOW_OPTIONS: readonly OptionSpec[] = [
  RPC,
  { flag: "vault", kind: "string", required: true, help: "the vault's address" },
  {
    flag: "account",
    kind: "string",
    help: "an account whose balance and exit to show (with --token)",
  },
  { flag: "token", kind: "string", help: "the TIP-20 of --account" },
  {
    flag: "seqs",
    kind: "int",
    default: "8",
    min: 0,
    max: 1000,
    help: "settled keys of the lane shown from seq 0",
  },
];

/** Reads a command's options, or prints its help; `undefined` means help was printed. */
async function options(args: string[], specs: readonly OptionSpec[], command: string) {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(optionsHelp(`Usage: admin ${command} [options]`, specs));
    return undefined;
  }
  return await readOptions(args, specs, `admin ${command}`);
}

function address(flag: string, value: string | undefined): Address {
  if (value === undefined || !isAddress(value, { strict: false })) {
    throw new ConfigError(`--${flag} must be a 20-byte address, got "${value}"`);
  }
  return getAddress(value);
}

/** The committee file, as written, and as a committee (its vault may not exist yet). */
async function committeeFile(
  path: string,
): Promise<{ doc: Record<string, unknown>; committee: Committee }> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new ConfigError(`--committee ${path}: ${(e as Error).message}`);
  }
  try {
    return { doc, committee: parseCommittee({ vault: zeroAddress, ...doc }) };
  } catch (e) {
    throw new ConfigError(`--committee ${path}: ${(e as Error).message}`);
  }
}

async function chain(rpcUrl: string, committee?: Committee) {
  const client = createPublicClient({
    transport: http(rpcUrl, { timeout: 10_000, retryCount: 1 }),
  });
  const chainId = BigInt(
    await client.getChainId().catch((e) => {
      throw new Error(`--rpc-url ${rpcUrl} does not answer: ${(e as Error).message}`);
    }),
  );
  if (committee && chainId !== committee.chainId) {
    throw new Error(
      `--rpc-url ${rpcUrl} is chain ${chainId}, the committee file's is ${committee.chainId}`,
    );
  }
  return { client, chainId };
}

async function admin(path: string) {
  return privateKeyToAccount(
    (await readAccountKeyFile(path).catch((e) => {
      throw new ConfigError(`--key: ${(e as Error).message}`);
    })).privateKey,
  );
}

const print = (value: unknown) =>
  console.log(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2));

/**
 * `admin deploy`: deploys a vault whose first committee is the file's, then writes its address
 * into the file.
 *
 * @example
 * ```ts ignore
 * await deploy(["--rpc-url", url, "--key", "admin.key", "--committee", "committee.json",
 *   "--max-validity-ms", "60000", "--exit-delay-s", "61"]);
 * ```
 */
export async function deploy(args: string[]): Promise<number> {
  const o = await options(args, DEPLOY_OPTIONS, "deploy");
  if (o === undefined) return 0;
  const path = o.string("committee")!;
  const { doc, committee } = await committeeFile(path);
  const maxValidity = BigInt(o.int("max-validity-ms"));
  const exitDelay = BigInt(o.int("exit-delay-s"));
  if (exitDelay * 1000n < maxValidity + 1000n) {
    throw new ConfigError(
      `--exit-delay-s ${exitDelay} must be at least (--max-validity-ms ${maxValidity} + 1000) / 1000: an exit must wait until every order certified before its request expired`,
    );
  }
  const account = await admin(o.string("key")!);
  const { client, chainId } = await chain(o.url("rpc-url"), committee);
  const { vault, blockNumber } = await deployVault(client, account, {
    chainId,
    feeToken: address("fee-token", o.string("fee-token")),
    admin: account.address,
    maxValidity,
    exitDelay,
    epoch: committee.epoch,
    members: committee.validators.map((v) => v.settlementAddress),
  });
  await Deno.writeTextFile(path, JSON.stringify({ ...doc, vault }, null, 2) + "\n");
  print({
    vault,
    block: blockNumber,
    admin: account.address,
    epoch: committee.epoch,
    max_validity_ms: maxValidity,
    exit_delay_s: exitDelay,
    committee_file: path,
  });
  return 0;
}

/**
 * `admin register`: registers the file's epoch and members in its vault (`setCommittee`).
 *
 * @example
 * ```ts ignore
 * await register(["--rpc-url", url, "--key", "admin.key", "--committee", "committee-2.json"]);
 * ```
 */
export async function register(args: string[]): Promise<number> {
  const o = await options(args, REGISTER_OPTIONS, "register");
  if (o === undefined) return 0;
  const { committee } = await committeeFile(o.string("committee")!);
  if (committee.vault === zeroAddress) {
    throw new ConfigError(
      `--committee ${o.string("committee")} names no vault (run admin deploy first)`,
    );
  }
  const account = await admin(o.string("key")!);
  const { client, chainId } = await chain(o.url("rpc-url"), committee);
  const info = await readVaultInfo(client, committee.vault);
  if (info.admin !== account.address) {
    throw new Error(`--key is ${account.address}; the vault's admin is ${info.admin}`);
  }
  if (committee.epoch <= info.currentEpoch) {
    throw new Error(
      `epoch ${committee.epoch} is not after the vault's current epoch ${info.currentEpoch}`,
    );
  }
  const call = setCommitteeCall(
    committee.vault,
    committee.epoch,
    committee.validators.map((v) => v.settlementAddress),
  );
  const gas = await client.estimateGas({ account: account.address, to: call.to, data: call.data })
    .catch((e) => {
      throw new Error(`the vault refuses setCommittee: ${(e as Error).message}`);
    });
  const hash = await sendTempoTransaction(client, account, {
    chainId,
    calls: [call],
    feeToken: address("fee-token", o.string("fee-token")),
    gas: gas + gas / 4n,
  });
  const receipt = await waitForSuccess(client, hash);
  const mismatch = committeeMismatch(
    committee,
    await readCommittee(client, committee.vault, committee.epoch),
  );
  if (mismatch) throw new Error(`registered, but the vault disagrees: ${mismatch}`);
  print({
    vault: committee.vault,
    epoch: committee.epoch,
    transaction: hash,
    block: receipt.blockNumber,
  });
  return 0;
}

/**
 * `admin show`: a vault's immutables, epochs and committees, and optionally an account's
 * balance, pending exit and settled keys in one token.
 *
 * @example
 * ```ts ignore
 * await show(["--rpc-url", url, "--vault", vault, "--account", alice, "--token", PATH_USD]);
 * ```
 */
export async function show(args: string[]): Promise<number> {
  const o = await options(args, SHOW_OPTIONS, "show");
  if (o === undefined) return 0;
  const vault = address("vault", o.string("vault"));
  const { client, chainId } = await chain(o.url("rpc-url"));
  const info = await readVaultInfo(client, vault).catch((e) => {
    throw new Error(`--vault ${vault} is not a vault on this chain: ${(e as Error).message}`);
  });
  const epochs = info.graceEnd === 0n
    ? [info.currentEpoch]
    : [info.currentEpoch, info.previousEpoch];
  const committees = await Promise.all(
    epochs.map(async (epoch) => ({ epoch, ...await readCommittee(client, vault, epoch) })),
  );
  const out: Record<string, unknown> = { chain_id: chainId, vault, ...info, committees };
  const account = o.string("account");
  if (account !== undefined) {
    const who = address("account", account);
    const token = address("token", o.string("token"));
    const seqs = [...Array(o.int("seqs")).keys()].map(BigInt);
    const settled = await Promise.all(
      seqs.map((seq) => readSettledTxHash(client, vault, who, token, seq)),
    );
    out.account = {
      address: who,
      token,
      ...await readAccount(client, vault, who, token),
      settled: Object.fromEntries(seqs.map((s, i) => [s.toString(), settled[i] ?? null])),
    };
  }
  print(out);
  return 0;
}

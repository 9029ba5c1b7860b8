/**
 * The `demo` command: the Alice → Bob → Carol scenario on a local network (default), the local
 * network on its own (`net`), and — inside a compiled or bundled demo — the components it
 * starts (`__sidecar`, `__backend`).
 *
 * @example
 * ```sh
 * deno task demo --validators 4 --faulty 1 --json
 * deno task net --validators 4
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { main as backendMain } from "@allegro/backend";
import { buildWebUi, webSourcesPresent } from "@allegro/backend/web/build";
import { packagedWebDir } from "@allegro/backend/web/packaged";
import { main as sidecarMain } from "@allegro/sidecar";
import { DEMO_FUNDS, type LocalNetwork, startLocalNetwork } from "@allegro/server/local-network";
import { jsonReporter, type Reporter, textReporter } from "./report.ts";
import { runScenario, type ScenarioSummary } from "./scenario.ts";

const DEMO_HELP = `Allegro demo: Alice → Bob → Carol, both payments certified before the next block

Usage: demo [options]
       demo net [options]        start the local network only and keep it running (demo net --help)

Alice, Bob and Carol deposit 15, 5 and 5 USD into the vault; Alice pays Bob 10 and Bob pays Carol
10 citing Alice's payment as parent; both QCs form before the next block and both payments settle
on the vault; the vault balances end at 5 / 5 / 15 with the vault holding exactly that; Carol then
takes her 15 to her wallet with an exit order.

Options:
  --validators N     sidecars in the committee (1 … 10) [default: 2]
  --faulty K         validators that crash before the payments (the run fails once K > f) [default: 0]
  --attack           Alice also tries to take her payment back: empties her wallet, requests a
                     forced exit of her whole vault balance, and settles a second order for the
                     same contention key on the vault herself; each is shown failing
  --block-time S     anvil block interval in seconds [default: 2]
  --rpc-url URL      use this Tempo node (with anvil's dev accounts) instead of starting anvil
  --data-dir DIR     keys, committee, KV files and logs [default: a new temporary folder,
                     removed at the end unless the run failed]
  --backend-port P   port of the backend and web UI [default: a free port]
  --web-dir DIR      web UI files the backend serves at / [default: the UI this program
                     ships with, or built from source into DATA_DIR/web]
  --keep-running     leave the network, backend and web UI up after the run (Ctrl-C stops)
  --json             one JSON object per event on stdout, then a summary object
  -h, --help         this text

With net or --keep-running, the web UI is served at the backend's URL, and Alice, Bob and Carol
(fresh keys, 100 USD each) are offered in it as demo accounts (GET /api/v1/demo/accounts).`;

const NET_HELP =
  `Allegro local network: anvil in Tempo mode, the vault, N sidecars and the backend with the
web UI, kept running until Ctrl-C

Usage: demo net [options]        (./denow task net [options])

Options:
  --validators N     sidecars in the committee (1 … 10) [default: 2]
  --block-time S     anvil block interval in seconds [default: 2]
  --rpc-url URL      use this Tempo node (with anvil's dev accounts) instead of starting anvil
  --data-dir DIR     keys, committee, KV files and logs [default: a new temporary folder,
                     removed when the network stops]
  --backend-port P   port of the backend and web UI [default: a free port]
  --web-dir DIR      web UI files the backend serves at / [default: the UI this program
                     ships with, or built from source into DATA_DIR/web]
  --json             one JSON object per event on stdout
  -h, --help         this text

Alice, Bob and Carol (fresh keys, 100 USD each in their wallets) are offered in the web UI as demo
accounts (GET /api/v1/demo/accounts).`;

const OPTIONS = {
  validators: { type: "string", default: "2" },
  faulty: { type: "string", default: "0" },
  "block-time": { type: "string", default: "2" },
  "rpc-url": { type: "string" },
  "data-dir": { type: "string" },
  "backend-port": { type: "string" },
  "web-dir": { type: "string" },
  "keep-running": { type: "boolean", default: false },
  attack: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

class UsageError extends Error {}

/**
 * How long orders stay valid and the vault's W and exit delay for a block interval: the sidecars'
 * margin M is S + D + 2 blocks = 7 blocks + 1 s by default, so orders live M + 5 s + a block and
 * W leaves room for a block of clock lag and 5 s more.
 */
function demoTiming(blockTimeSeconds: number) {
  const block = Math.round(blockTimeSeconds * 1000);
  const margin = 7 * block + 1000;
  const validForMillis = margin + 5000 + block;
  const maxValidity = BigInt(Math.ceil((validForMillis + block + 5000) / 1000) * 1000);
  return { validForMillis, maxValidity, exitDelay: maxValidity / 1000n + 1n };
}

function number(name: string, value: string, min: number, max: number, integer = true): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be ${integer ? "an integer" : "a number"} in ${min} … ${max}, got "${value}"`,
    );
  }
  return n;
}

function parse(args: string[]) {
  let values;
  // "--faulty -1" is a value, not an option: pass it as "--faulty=-1" so the range check names it.
  const normalized: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (
      args[i].startsWith("--") && !args[i].includes("=") && next !== undefined && /^-\d/.test(next)
    ) {
      normalized.push(`${args[i]}=${next}`);
      i++;
    } else normalized.push(args[i]);
  }
  try {
    ({ values } = parseArgs({
      args: normalized,
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const validators = number("validators", values.validators, 1, 10);
  const faulty = number("faulty", values.faulty, 0, validators);
  if (values["rpc-url"] !== undefined && !URL.canParse(values["rpc-url"])) {
    throw new UsageError(`--rpc-url must be a URL, got "${values["rpc-url"]}"`);
  }
  const blockTimeSeconds = number("block-time", values["block-time"], 0.1, 60, false);
  const timing = demoTiming(blockTimeSeconds);
  return {
    help: values.help,
    json: values.json,
    keepRunning: values["keep-running"],
    attack: values.attack,
    faulty,
    validForMillis: timing.validForMillis,
    network: {
      validators,
      blockTimeSeconds,
      maxValidity: timing.maxValidity,
      exitDelay: timing.exitDelay,
      ...(values["rpc-url"] ? { rpcUrl: values["rpc-url"] } : {}),
      ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
      ...(values["backend-port"]
        ? { backendPort: number("backend-port", values["backend-port"], 1, 65535) }
        : {}),
      ...(values["web-dir"] ? { webDir: values["web-dir"] } : {}),
    },
  };
}

function describe(net: LocalNetwork, webUi: boolean, report: Reporter) {
  report.emit({
    event: "network",
    rpc_url: net.rpcUrl,
    chain_id: net.chainId,
    validators: net.sidecars.map((s) => ({ name: s.name, url: s.url })),
    threshold: net.committee.validators.length -
      Math.floor((net.committee.validators.length - 1) / 3),
    backend: net.backend?.url,
    ...(webUi ? { web_ui: `${net.backend?.url}/` } : {}),
    demo_accounts: net.demoAccounts?.map((a) => ({ name: a.name, address: a.address })) ?? [],
    data_dir: net.dataDir,
    text: [
      `chain    ${net.rpcUrl} (chain id ${net.chainId})`,
      ...net.sidecars.map((s) => `sidecar  ${s.name.padEnd(6)} ${s.url}`),
      `backend  ${net.backend?.url ?? "-"}  (REST at /api/v1)`,
      ...(webUi ? [`web UI   ${net.backend?.url}/`] : []),
      ...(net.demoAccounts ?? []).map((a) =>
        `account  ${a.name.padEnd(6)} ${a.address} (${DEMO_FUNDS / 1_000_000n} USD)`
      ),
      `data     ${net.dataDir}`,
    ].join("\n            "),
  });
}

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): { promise: Promise<void>; dispose(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, resolve);
  return { promise, dispose: () => signals.forEach((s) => Deno.removeSignalListener(s, resolve)) };
}

async function demo(args: string[], netOnly: boolean): Promise<number> {
  const options = parse(args);
  if (options.help) {
    console.log(netOnly ? NET_HELP : DEMO_HELP);
    return 0;
  }
  const report = options.json ? jsonReporter() : textReporter();
  const stop = interrupted();
  const interactive = netOnly || options.keepRunning;
  const dataDir = options.network.dataDir ?? await Deno.makeTempDir({ prefix: "allegro-net-" });
  const webDir = interactive
    ? await webUiDir(options.network.webDir, dataDir)
    : options.network.webDir;
  const starting = startLocalNetwork({
    ...options.network,
    dataDir,
    ...(webDir ? { webDir } : {}),
    demoAccounts: interactive,
  });
  // A folder of our own is removed at the end (it holds validator keys), unless the run failed:
  // then its logs say why.
  const removeDataDir = async (ok: boolean) => {
    if (options.network.dataDir !== undefined) return;
    if (ok) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    else console.error(`demo: logs kept in ${dataDir}`);
  };
  const net = await Promise.race([starting, stop.promise.then(() => undefined)]).catch(
    async (e) => {
      stop.dispose();
      await removeDataDir(false);
      throw e;
    },
  );
  if (net === undefined) {
    await starting.then((n) => n.stop(), () => {});
    stop.dispose();
    await removeDataDir(true);
    return 130;
  }
  let ok = true;
  try {
    describe(net, webDir !== undefined, report);
    if (!netOnly) {
      const summary: ScenarioSummary = await Promise.race([
        runScenario(net, {
          faulty: options.faulty,
          attack: options.attack,
          validForMillis: options.validForMillis,
        }, report),
        stop.promise.then(() => ({ ok: false, reason: "interrupted" })),
      ]);
      ok = summary.ok;
      report.emit({
        event: "summary",
        ...summary,
        text: summary.ok
          ? `OK: both QCs formed at height ${summary.start_height}, before the next block; both payments settled (blocks ${summary.settle_heights?.payment1} and ${summary.settle_heights?.payment2}); vault balances 5 / 5 / 15, conserved; carol exited 15${
            summary.attacks ? "; every attack failed" : ""
          }`
          : `FAILED: ${summary.reason}`,
      });
    }
    if (netOnly || options.keepRunning) {
      report.emit({ event: "running", text: "network is up; Ctrl-C stops it" });
      await stop.promise;
    }
    return ok ? 0 : 1;
  } catch (e) {
    ok = false;
    throw e;
  } finally {
    await net.stop();
    stop.dispose();
    await removeDataDir(ok);
  }
}

/**
 * The web UI folder for an interactive network: `--web-dir`, else the UI this program ships
 * with, else (from source) a fresh build into `dataDir/web`; `undefined` when there is none.
 */
async function webUiDir(given: string | undefined, dataDir: string): Promise<string | undefined> {
  if (given) return given;
  const shipped = packagedWebDir();
  if (shipped) return shipped;
  if (!webSourcesPresent()) {
    console.error("demo: this build ships no web UI (run deno task web, or pass --web-dir)");
    return undefined;
  }
  return await buildWebUi(join(dataDir, "web"));
}

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "__sidecar") return await sidecarMain(rest);
  if (first === "__backend") return await backendMain(rest);
  try {
    return first === "net" ? await demo(rest, true) : await demo(args, false);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`demo: ${e.message}\n\n${DEMO_HELP}`);
      return 2;
    }
    console.error(`demo: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

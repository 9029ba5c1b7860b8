/**
 * The command lines of the server components (`sidecar`, `backend`): a command dispatcher with
 * its exit codes, the wait for a stop signal, and options — one table drives flag parsing, the
 * optional JSON config file (the same kebab-case keys; flags win), defaults, required options,
 * validation with errors that name the option and the value, and `--help`.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** How an option's value is read. */
export type OptionKind = "string" | "address" | "url" | "urls" | "int" | "bool" | "list";

/** One option of a command. */
export interface OptionSpec {
  /** The flag without dashes, e.g. `"rpc-url"`; also its key in the config file. */
  readonly flag: string;
  readonly kind: OptionKind;
  readonly help: string;
  readonly default?: string;
  readonly required?: boolean;
  /** Leave the default out of `--help` (when it is too long to read there). */
  readonly hideDefault?: boolean;
  /** Bounds of an `int` (default 0 … 2^53 − 1). */
  readonly min?: number;
  readonly max?: number;
  /** The URL schemes a `url` or `urls` option takes, e.g. `["http:", "https:"]`. */
  readonly protocols?: readonly string[];
}

/** `--config FILE`, which {@linkcode readOptions} reads the other options from. */
export const CONFIG_OPTION: OptionSpec = {
  flag: "config",
  kind: "string",
  help: "JSON file with any of these options (flags win)",
};

/** `--committee FILE`: every server component serves one committee. */
export const COMMITTEE_OPTION: OptionSpec = {
  flag: "committee",
  kind: "string",
  required: true,
  help: "committee JSON file (chain_id, epoch, validators)",
};

/** `--grpc-listen HOST:PORT`: the optional plain-gRPC listener of a server component. */
export const GRPC_LISTEN_OPTION: OptionSpec = {
  flag: "grpc-listen",
  kind: "address",
  help: "HOST:PORT for plain gRPC (HTTP/2), optional",
};

/** Raised for a bad option; the message names the option and the value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A listen address. */
export interface HostPort {
  readonly hostname: string;
  readonly port: number;
}

/**
 * The values of a command's options, read and checked on access. Every accessor throws
 * {@linkcode ConfigError} naming the flag and the value.
 */
export interface OptionValues {
  /** The raw value (flag, else config file, else default), or `undefined`. */
  string(flag: string): string | undefined;
  int(flag: string): number;
  bool(flag: string): boolean;
  /** `HOST:PORT` (IPv6 hosts in brackets); `undefined` when unset. */
  address(flag: string): HostPort | undefined;
  url(flag: string): string;
  /** Comma-separated URLs (a JSON array in the config file). */
  urls(flag: string): string[];
  /** Comma-separated values, trimmed, empty ones dropped. */
  list(flag: string): string[];
}

/**
 * The `--help` text of a command.
 *
 * @example
 * ```ts
 * import { optionsHelp } from "@allegro/server/cli";
 *
 * console.log(optionsHelp("Usage: tool run [options]", [
 *   { flag: "listen", kind: "address", default: "127.0.0.1:7001", help: "HOST:PORT to serve" },
 * ]));
 * ```
 */
export function optionsHelp(usage: string, options: readonly OptionSpec[]): string {
  const width = Math.max(...options.map((o) => o.flag.length)) + 2;
  const lines = options.map((o) => {
    const required = o.required ? " (required)" : "";
    const shown = o.default !== undefined && o.default !== "" && !o.hideDefault;
    return `  --${o.flag.padEnd(width)} ${o.help}${required}${
      shown ? ` [default: ${o.default}]` : ""
    }`;
  });
  return [usage, "", "Options:", ...lines].join("\n");
}

/**
 * Reads `args` (flags only, each `--flag value`) and the config file named by `--config`, if
 * `options` has that flag ({@linkcode CONFIG_OPTION}), and checks that every required option is
 * set; a missing one is a {@linkcode ConfigError} naming it. `command` (e.g. `"sidecar run"`) is
 * named when the code asks for an option the command does not have.
 *
 * @example
 * ```ts
 * import { readOptions } from "@allegro/server/cli";
 *
 * const values = await readOptions(["--port", "8080"], [
 *   { flag: "port", kind: "int", min: 1, max: 65535, help: "TCP port", required: true },
 * ], "tool run");
 * console.log(values.int("port")); // 8080
 * ```
 */
export async function readOptions(
  args: readonly string[],
  options: readonly OptionSpec[],
  command: string,
): Promise<OptionValues> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: Object.fromEntries(
        options.map((
          o,
        ) => [o.flag, { type: o.kind === "bool" ? "boolean" as const : "string" as const }]),
      ),
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const flags = Object.fromEntries(
    Object.entries(parsed.values).map(([k, v]) => [k, typeof v === "boolean" ? String(v) : v]),
  ) as Record<string, string | undefined>;
  const file = flags.config === undefined ? {} : await readConfigFile(flags.config, options);
  const spec = (flag: string) => {
    const o = options.find((o) => o.flag === flag);
    if (o === undefined) throw new Error(`${command} has no option --${flag}`);
    return o;
  };
  const string = (flag: string): string | undefined => {
    const fromFile = file[flag];
    const value = flags[flag] ??
      (Array.isArray(fromFile) ? fromFile.join(",") : fromFile?.toString());
    return value ?? spec(flag).default;
  };
  for (const o of options) {
    if (o.required && !string(o.flag)) {
      throw new ConfigError(`--${o.flag} is required`);
    }
  }
  const list = (flag: string) =>
    (string(flag) ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const url = (flag: string, value: string) => {
    if (!URL.canParse(value)) throw new ConfigError(`--${flag} must be a URL, got "${value}"`);
    const protocols = spec(flag).protocols;
    if (protocols && !protocols.includes(new URL(value).protocol)) {
      throw new ConfigError(
        `--${flag} must be a ${
          protocols.map((p) => p.slice(0, -1)).join(" or ")
        } URL, got "${value}"`,
      );
    }
    return value;
  };
  return {
    string,
    int: (flag) => parseInteger(spec(flag), string(flag) ?? ""),
    bool(flag) {
      const value = string(flag);
      if (value === "true") return true;
      if (value === "false") return false;
      throw new ConfigError(`--${flag} must be true or false, got "${value}"`);
    },
    address(flag) {
      const value = string(flag);
      return value ? parseHostPort(flag, value) : undefined;
    },
    url: (flag) => url(flag, string(flag) ?? ""),
    urls: (flag) => list(flag).map((value) => url(flag, value)),
    list,
  };
}

async function readConfigFile(
  path: string,
  options: readonly OptionSpec[],
): Promise<Record<string, unknown>> {
  let file: unknown;
  try {
    file = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new ConfigError(`--config ${path}: ${(e as Error).message}`);
  }
  if (typeof file !== "object" || file === null || Array.isArray(file)) {
    throw new ConfigError(`--config ${path} must hold a JSON object`);
  }
  for (const key of Object.keys(file)) {
    if (!options.some((o) => o.flag === key && key !== "config")) {
      throw new ConfigError(`--config ${path}: unknown option "${key}"`);
    }
  }
  return file as Record<string, unknown>;
}

function parseHostPort(flag: string, value: string): HostPort {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`--${flag} must be HOST:PORT, got "${value}"`);
  return { hostname: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

function parseInteger(o: OptionSpec, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < (o.min ?? 0) || n > (o.max ?? Number.MAX_SAFE_INTEGER)) {
    throw new ConfigError(
      `--${o.flag} must be an integer in ${o.min ?? 0}…${o.max}, got "${value}"`,
    );
  }
  return n;
}

/** A subcommand: takes the arguments after its name, returns the exit code. */
export type Command = (args: string[]) => Promise<number>;

/**
 * Runs `commands[args[0]]` with the remaining arguments and returns its exit code. No command
 * prints `usage` and gives 2, `--help` / `-h` prints it and gives 0, an unknown command is
 * printed with `usage` and gives 2; a command's {@linkcode ConfigError} (bad usage) is printed
 * with a pointer to that command's `--help` and gives 2, any other error gives 1 — each
 * prefixed with `program` and the command.
 *
 * @example
 * ```ts
 * import { runCommands } from "@allegro/server/cli";
 *
 * const code = await runCommands("tool", "Usage: tool hello", {
 *   hello: () => Promise.resolve(0),
 * }, ["hello"]);
 * console.log(code); // 0
 * ```
 */
export async function runCommands(
  program: string,
  usage: string,
  commands: Record<string, Command>,
  args: readonly string[],
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h") {
    console.log(usage);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    console.error(`${program}: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(
        `${program} ${name}: ${e.message}\n(${program} ${name} --help lists the options)`,
      );
      return 2;
    }
    console.error(`${program} ${name}: ${(e as Error).message}`);
    return 1;
  }
}

/**
 * Resolves on the first SIGINT or SIGTERM (then stops listening for them): a server's
 * `run` command awaits it, then shuts down.
 *
 * @example
 * ```ts ignore
 * const server = await start(config);
 * await stopSignal();
 * await server.stop();
 * ```
 */
export function stopSignal(): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const stop = () => {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    resolve();
  };
  for (const s of signals) Deno.addSignalListener(s, stop);
  return promise;
}

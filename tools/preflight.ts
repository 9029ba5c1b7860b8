/**
 * The first step of `deno task test`: the Debian packages the tests use, installed on a fresh
 * machine — `chromium` for the browser tests (never a browser a test tool downloads). A missing
 * package is installed with apt-get when this runs as root or may use sudo without a password; otherwise the run stops
 * at once with the command that installs them.
 *
 * ```sh
 * deno run --allow-all tools/preflight.ts
 * ```
 *
 * @module
 */
import { CHROMIUM_PATH } from "@allegro/server/chromium";

/** A Debian package the tests need. */
export interface DebianPackage {
  /** What apt-get installs. */
  readonly name: string;
  /** What is missing without it, said to the person who has to install it. */
  readonly missing: string;
  /** Whether it is usable here. */
  present(): boolean;
}

/** Whether `path` is an executable file. */
function executable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The packages the tests need; `chromiumPath` is where the browser tests look for chromium.
 *
 * @example
 * ```ts
 * import { testPackages } from "./preflight.ts";
 *
 * console.log(testPackages().map((p) => p.name)); // [ "chromium" ]
 * ```
 */
export function testPackages(chromiumPath: string = CHROMIUM_PATH): DebianPackage[] {
  return [
    {
      name: "chromium",
      missing: `${chromiumPath} (the browser tests)`,
      present: () => executable(chromiumPath),
    },
  ];
}

/** How apt-get may run here: as root, through passwordless sudo, or not at all. */
export type Privilege = "root" | "sudo" | "none";

/** Runs `argv` with its output on standard error; resolves with whether it succeeded. */
async function runCommand(argv: readonly string[]): Promise<boolean> {
  try {
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).success;
  } catch {
    return false; // not installed at all (no sudo, not Debian)
  }
}

/**
 * How apt-get may run for this process.
 *
 * @example
 * ```ts ignore
 * import { privilege } from "./preflight.ts";
 *
 * console.log(await privilege()); // "root" in CI containers
 * ```
 */
export async function privilege(): Promise<Privilege> {
  if (Deno.uid() === 0) return "root";
  const sudo = await new Deno.Command("sudo", { args: ["-n", "true"], stderr: "null" }).output()
    .catch(() => undefined);
  return sudo?.success ? "sudo" : "none";
}

/** The tests cannot run: a package is missing and could not be installed. */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PreflightError";
  }
}

/** What {@linkcode preflight} checks and how it installs. */
export interface PreflightOptions {
  /** Default {@linkcode testPackages}. */
  readonly packages?: readonly DebianPackage[];
  /** Default: found out with {@linkcode privilege}. */
  readonly privilege?: Privilege;
  /** Runs a command line; default: a child process whose output goes to standard error. */
  readonly run?: (argv: readonly string[]) => Promise<boolean>;
  /** Where progress goes; default standard error. */
  readonly log?: (line: string) => void;
}

/**
 * Installs the missing test packages with apt-get, or throws a {@linkcode PreflightError} that
 * says what is missing and the command that installs it.
 *
 * @example
 * ```ts
 * import { preflight, PreflightError } from "./preflight.ts";
 *
 * const missing = { name: "chromium", missing: "/nonexistent/chromium", present: () => false };
 * try {
 *   await preflight({ packages: [missing], privilege: "none" });
 * } catch (e) {
 *   console.log(e instanceof PreflightError); // true
 * }
 * ```
 */
export async function preflight(options: PreflightOptions = {}): Promise<void> {
  const missing = (options.packages ?? testPackages()).filter((p) => !p.present());
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name);
  const what = missing.map((p) => `  ${p.name}: ${p.missing}`).join("\n");
  const by = options.privilege ?? await privilege();
  const sudo = by === "root" ? [] : ["sudo"];
  const command = [
    ...sudo,
    "apt-get",
    "update",
    "&&",
    ...sudo,
    "apt-get",
    "install",
    "-y",
    ...names,
  ]
    .join(" ");
  if (by === "none") {
    throw new PreflightError(
      `the tests need Debian packages that are missing here:\n${what}\n` +
        `Installing them needs root; run this, then the tests again:\n  ${command}`,
    );
  }
  const log = options.log ?? ((line: string) => console.error(line));
  const run = options.run ?? runCommand;
  log(`preflight: installing ${names.join(", ")} with apt-get for the tests:\n${what}`);
  const installed = await run([...sudo, "apt-get", "update", "-q"]) &&
    await run([
      ...sudo,
      "env",
      "DEBIAN_FRONTEND=noninteractive",
      "apt-get",
      "install",
      "-y",
      "-q",
      ...names,
    ]);
  if (!installed) {
    throw new PreflightError(
      `apt-get could not install ${names.join(", ")} (see its output above):\n${what}\n` +
        `Install them, then run the tests again:\n  ${command}`,
    );
  }
  const still = missing.filter((p) => !p.present());
  if (still.length > 0) {
    throw new PreflightError(
      `apt-get installed ${names.join(", ")}, but these are still missing:\n` +
        still.map((p) => `  ${p.name}: ${p.missing}`).join("\n"),
    );
  }
}

if (import.meta.main) {
  try {
    await preflight();
  } catch (e) {
    if (!(e instanceof PreflightError)) throw e;
    console.error(`preflight: ${e.message}`);
    Deno.exit(1);
  }
}

/**
 * Debian's chromium for browser tests, driven by playwright-core (never a browser a test tool
 * downloads; `deno task test` installs the package first, see `tools/preflight.ts`).
 *
 * @module
 */
import { type Browser, chromium } from "playwright-core";

/**
 * Where Debian's `chromium` package puts the browser.
 *
 * @example
 * ```ts
 * import { CHROMIUM_PATH } from "@allegro/server/chromium";
 *
 * console.log(CHROMIUM_PATH); // /usr/bin/chromium
 * ```
 */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags for a headless chromium in a container: no sandbox, GPU, background traffic or QUIC. */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

/**
 * Starts a headless {@linkcode CHROMIUM_PATH}.
 *
 * @example
 * ```ts ignore
 * const browser = await launchChromium();
 * const page = await browser.newPage();
 * await browser.close();
 * ```
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: FLAGS,
    timeout: 30_000,
  });
}

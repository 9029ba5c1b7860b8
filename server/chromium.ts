/**
 * Debian's chromium for browser tests, driven by playwright-core (never a browser a test tool
 * downloads; `.ci/run` installs the package).
 *
 * @module
 */
import { type Browser, chromium } from "playwright-core";

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
 * Starts a headless `/usr/bin/chromium`.
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
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    timeout: 30_000,
  });
}

/**
 * Where a shipped program finds its prebuilt web UI: a `deno compile`d executable carries
 * `dist/web` (`--include dist/web`, see `deno task compile`); a bundle from `deno task bundle`
 * has it beside itself (`dist/web` next to `dist/backend.js`). From source there is none: the
 * UI is built with `build.ts`.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder of the web UI shipped with this program, or `undefined`.
 *
 * @example
 * ```ts
 * import { packagedWebDir } from "./packaged.ts";
 *
 * console.log(packagedWebDir()); // undefined when run from source
 * ```
 */
export function packagedWebDir(): string | undefined {
  const main = Deno.mainModule;
  const dir = main.includes("/deno-compile-")
    ? new URL("../../dist/web/", import.meta.url)
    : main.endsWith(".js")
    ? new URL("web/", main)
    : undefined;
  if (dir === undefined) return undefined;
  const path = fileURLToPath(dir);
  try {
    return Deno.statSync(join(path, "index.html")).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

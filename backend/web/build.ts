/**
 * Builds the web UI into a folder of static files the backend serves (`--web-dir`):
 * `index.html`, `styles.css` and `app.js` — `deno bundle --platform browser --minify` of
 * `app/main.tsx` (React, and `@allegro/client` for signing and QC verification in the browser).
 *
 * Run from source only (it bundles the sources beside this file):
 *
 * ```sh
 * deno task web                    # into dist/web (what deno task bundle / compile ship)
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const APP = new URL("./app/", import.meta.url);
const ROOT = new URL("../../", import.meta.url);
const COPIED = ["index.html", "styles.css"];

/**
 * Whether the web UI's sources are here to build (false in a bundled or compiled program).
 *
 * @example
 * ```ts
 * import { webSourcesPresent } from "./build.ts";
 *
 * console.log(webSourcesPresent()); // true from a checkout
 * ```
 */
export function webSourcesPresent(): boolean {
  try {
    return Deno.statSync(new URL("main.tsx", APP)).isFile;
  } catch {
    return false;
  }
}

/**
 * Bundles the web UI into `outDir` (created if missing) and returns `outDir`. Throws with
 * `deno bundle`'s output when it fails.
 *
 * @example
 * ```ts ignore
 * const webDir = await buildWebUi(`${dataDir}/web`);
 * ```
 */
export async function buildWebUi(outDir: string): Promise<string> {
  await Deno.mkdir(outDir, { recursive: true });
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--output",
      join(outDir, "app.js"),
      fileURLToPath(new URL("main.tsx", APP)),
    ],
    cwd: fileURLToPath(ROOT),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle of the web UI failed:\n${new TextDecoder().decode(stderr)}`);
  }
  for (const file of COPIED) {
    await Deno.copyFile(fileURLToPath(new URL(file, APP)), join(outDir, file));
  }
  return outDir;
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/web";
  await buildWebUi(out);
  console.log(`web UI built into ${out}`);
}

/**
 * Static files of the web UI: from a folder (`--web-dir`), or from any other source through the
 * same {@linkcode Assets} hook (e.g. files embedded in a compiled executable). Paths that name no
 * file get `index.html` (a single-page app routes on the client).
 *
 * @module
 */
import { extname, join, normalize } from "node:path";

/** Serves a web asset for a request path, or `undefined` when there is none. */
export type Assets = (path: string) => Promise<Response | undefined>;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

/**
 * Assets read from `dir`. Requests never leave the folder.
 *
 * @example
 * ```ts ignore
 * const assets = dirAssets("./web/dist");
 * const response = await assets("/index.html");
 * ```
 */
export function dirAssets(dir: string): Assets {
  const root = normalize(dir);
  const read = async (rel: string): Promise<Response | undefined> => {
    const path = normalize(join(root, rel));
    if (path !== root && !path.startsWith(root.endsWith("/") ? root : `${root}/`)) return undefined;
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) return undefined;
      const body = await Deno.readFile(path);
      return new Response(body, {
        headers: {
          "content-type": TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
          "cache-control": rel.endsWith(".html") ? "no-cache" : "public, max-age=300",
        },
      });
    } catch {
      return undefined;
    }
  };
  return async (path) => {
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (rel.includes("\0")) return undefined;
    if (rel.endsWith("/")) rel += "index.html";
    return await read(rel) ?? (extname(rel) === "" ? await read("/index.html") : undefined);
  };
}

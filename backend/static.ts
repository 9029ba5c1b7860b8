/**
 * The web UI's static files, served from a folder (`--web-dir`, or the UI a compiled or bundled
 * backend ships with) through Hono: `serveStatic` (content types, no path escaping the folder),
 * `etag` (an `ETag` per file and `304 Not Modified` for a matching `If-None-Match`) and
 * `compress` (gzip or deflate as the client accepts, which weakens the `ETag`). Files are read
 * whole, so every answer — `HEAD` included — carries its `Content-Length`. A path without an
 * extension that names no file gets `index.html` (the single-page app routes on the client).
 *
 * @module
 */
import { extname, join } from "node:path";
import { type Context, Hono } from "hono";
import { compress } from "hono/compress";
import { etag } from "hono/etag";
import { serveStatic } from "hono/serve-static";

async function readFile(path: string, c: Context): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    if (!(await Deno.stat(path)).isFile) return null;
    const bytes = await Deno.readFile(path) as Uint8Array<ArrayBuffer>;
    c.header("Content-Length", String(bytes.length));
    c.header("Cache-Control", path.endsWith(".html") ? "no-cache" : "public, max-age=300");
    return bytes;
  } catch {
    return null;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * A Hono app serving the files under `root` (GET and HEAD); mount it last.
 *
 * @example
 * ```ts
 * import { staticFiles } from "./static.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/index.html`, "<!doctype html><title>Allegro</title>");
 * const app = staticFiles(dir);
 * const response = await app.request("/pay");
 * console.log(response.status, response.headers.get("etag") !== null); // 200 true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function staticFiles(root: string): Hono {
  const options = { root, join, getContent: readFile, isDir };
  const index = serveStatic({ ...options, path: "index.html" });
  const app = new Hono();
  app.use(compress(), etag());
  app.get(
    "*",
    serveStatic(options),
    (c, next) => extname(c.req.path) === "" ? index(c, next) : next(),
  );
  return app;
}

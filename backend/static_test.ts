/**
 * The web UI's static files through a real listener: `HEAD` carries the file's length, every
 * file has an `ETag` and a matching `If-None-Match` gets 304, a client that accepts gzip gets
 * `app.js` gzipped, an extensionless path gets `index.html`, and no path leaves the folder.
 */
import assert from "node:assert/strict";
import { get, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Buffer } from "node:buffer";
import { serveFetch } from "@allegro/server/listen";
import { staticFiles } from "./static.ts";

/** A GET whose body is left as sent (no decompression). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ headers: IncomingHttpHeaders; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (response) => {
      const chunks: Uint8Array[] = [];
      response.on("data", (c: Uint8Array) => chunks.push(c));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
      response.on("error", reject);
    }).on("error", reject);
  });
}

Deno.test("static files: content-length on HEAD, ETag and 304, gzip, SPA fallback, no escape", async () => {
  const root = await Deno.makeTempDir({ prefix: "allegro-web-" });
  const outside = await Deno.makeTempDir({ prefix: "allegro-outside-" });
  const index = "<!doctype html><title>Allegro</title><script src=/app.js></script>\n";
  const app = `console.log(${JSON.stringify("allegro ".repeat(600))});\n`;
  await Deno.writeTextFile(join(root, "index.html"), index);
  await Deno.writeTextFile(join(root, "app.js"), app);
  await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
  const listener = serveFetch({ hostname: "127.0.0.1", port: 0 }, staticFiles(root).fetch);
  const url = `http://127.0.0.1:${listener.port}`;
  try {
    const head = await fetch(`${url}/`, { method: "HEAD" });
    await head.body?.cancel();
    assert.equal(head.status, 200);
    assert.equal(
      head.headers.get("content-length"),
      String(new TextEncoder().encode(index).length),
    );
    assert.match(head.headers.get("content-type")!, /^text\/html/);

    const plain = await fetch(`${url}/app.js`, { headers: { "accept-encoding": "identity" } });
    assert.equal(await plain.text(), app);
    const tag = plain.headers.get("etag");
    assert.ok(tag, "app.js has an ETag");
    assert.equal(plain.headers.get("content-length"), String(app.length));
    const again = await fetch(`${url}/app.js`, {
      headers: { "if-none-match": tag!, "accept-encoding": "identity" },
    });
    await again.body?.cancel();
    assert.equal(again.status, 304);

    // fetch would inflate the body itself: read the bytes on the wire with node:http.
    const gzipped = await rawGet(`${url}/app.js`, { "accept-encoding": "gzip" });
    assert.equal(gzipped.headers["content-encoding"], "gzip");
    assert.deepEqual([...gzipped.body.slice(0, 2)], [0x1f, 0x8b], "a gzip stream");
    assert.ok(gzipped.body.length < app.length / 4, `gzip body of ${gzipped.body.length} bytes`);
    assert.equal(gunzipSync(gzipped.body).toString(), app);

    const route = await fetch(`${url}/tx/0xabc`);
    assert.equal(route.status, 200);
    assert.equal(await route.text(), index);
    for (
      const path of ["/missing.js", "/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"]
    ) {
      const escaped = await fetch(`${url}${path}`);
      assert.equal(escaped.status, 404, path);
      assert.notEqual(await escaped.text(), "secret");
    }
  } finally {
    await listener.close();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

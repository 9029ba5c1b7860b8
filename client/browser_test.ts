/**
 * The browser build: `deno bundle --platform browser` of an entry that imports `mod.ts` must
 * succeed (no Deno-only imports), and in headless Chromium (Debian's, driven by playwright-core;
 * never a downloaded browser) the bundle builds and signs a payment, decodes it, signs and
 * verifies a certificate and reserves nonces — with the same bytes as in Deno.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { launchChromium } from "@allegro/server/chromium";

const ROOT = new URL("../", import.meta.url);
const ENTRY = new URL("./testdata/browser_entry.ts", import.meta.url);
const OUTPUT = new URL("test-output/", ROOT);

type SelfTest = () => Promise<Record<string, unknown>>;

async function bundleForBrowser(out: string): Promise<string> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--output", out, ENTRY.pathname],
    cwd: ROOT.pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(
    code,
    0,
    `deno bundle --platform browser failed:\n${new TextDecoder().decode(stderr)}`,
  );
  return await Deno.readTextFile(out);
}

function withTimeout<T>(promise: Promise<T>, millis: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${millis} ms`)), millis);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

Deno.test({
  name: "the client bundle builds and signs a payment in headless Chromium",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-browser-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/bundle.js") {
      return Deno.readFile(`${dir}/bundle.js`).then((body) =>
        new Response(body, { headers: { "content-type": "text/javascript" } })
      );
    }
    if (path === "/") {
      return new Response(
        `<!doctype html><html><head><meta charset="utf-8"><title>Allegro client</title>` +
          `<style>body{font-family:sans-serif;max-width:60rem;margin:1rem}` +
          `pre{white-space:pre-wrap;word-break:break-all}</style></head>` +
          `<body><h1>Allegro client in the browser</h1><pre id="out">loading…</pre>` +
          `<script type="module" src="/bundle.js"></script></body></html>`,
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    }
    return new Response("not found", { status: 404 });
  });
  let browser: Browser | undefined;
  try {
    const bundle = await bundleForBrowser(`${dir}/bundle.js`);
    assert.doesNotMatch(bundle, /\bDeno\.[a-zA-Z]/, "the browser bundle uses a Deno API");

    browser = await launchChromium();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.addr.port}/`, { timeout: 30_000 });
    await page.waitForFunction(
      () => typeof (globalThis as { allegroSelfTest?: unknown }).allegroSelfTest === "function",
      undefined,
      { timeout: 30_000 },
    );
    const inBrowser = await withTimeout(
      page.evaluate(() =>
        (globalThis as unknown as { allegroSelfTest: SelfTest }).allegroSelfTest()
      ),
      30_000,
      "the self-test in Chromium",
    );
    await page.evaluate((result) => {
      const { document } = globalThis as unknown as {
        document: { getElementById(id: string): { textContent: string } };
      };
      document.getElementById("out").textContent = JSON.stringify(result, null, 2);
    }, inBrowser);
    await Deno.mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: new URL("browser-client.png", OUTPUT).pathname, fullPage: true });
    assert.deepEqual(pageErrors, []);

    assert.match(String(inBrowser.userAgent), /Chrome\//);
    assert.ok(
      ["webcrypto", "noble"].includes(String(inBrowser.ed25519Backend)),
      `Ed25519 backend in the browser: ${inBrowser.ed25519Backend}`,
    );
    assert.equal(inBrowser.sender, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    assert.equal(inBrowser.recipient, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
    assert.equal(inBrowser.amount, "1250000");
    assert.equal(inBrowser.memo, `0x${"11".repeat(32)}`);
    assert.equal(inBrowser.nonceKeyIsAllegro, true);
    assert.equal(inBrowser.certificateProblem, null, "the certificate verifies in the browser");
    assert.match(String(inBrowser.tamperedProblem), /does not verify/);
    assert.equal(inBrowser.nextNonce, "1");
    assert.equal(inBrowser.sidecars, 1);

    // The same code in Deno yields the same bytes: ECDSA (RFC 6979) and Ed25519 are
    // deterministic, so the signed transaction and the certificate signature must match.
    await import(ENTRY.href);
    const inDeno = await (globalThis as unknown as { allegroSelfTest: SelfTest }).allegroSelfTest();
    for (const key of ["userAgent", "ed25519Backend"]) {
      delete inDeno[key];
      delete inBrowser[key];
    }
    assert.deepEqual(inBrowser, inDeno);
  } finally {
    await browser?.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

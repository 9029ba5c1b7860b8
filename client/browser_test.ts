/**
 * The client in a browser: `deno bundle --platform browser` of `testdata/browser_entry.ts` (which
 * imports `mod.ts` and `testing.ts`) must build with no Deno API in it, and in headless Chromium
 * (Debian's, driven by playwright-core; never a downloaded browser) the bundle signs an order
 * with a viem account and verifies it, certifies it with a test committee, assembles and
 * verifies the QC — Ed25519 and attestations — with the same bytes as in Deno, refuses a forged
 * QC, and writes a lane to the IndexedDB wallet store that reads back intact after a reload.
 * Every wait has a deadline.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "@allegro/server/chromium";

const ROOT = new URL("../", import.meta.url);
const ENTRY = new URL("./testdata/browser_entry.ts", import.meta.url);
const OUTPUT = new URL("test-output/", ROOT);
const DEADLINE_MILLIS = 30_000;

/** `globalThis.allegroBrowser` of the entry. */
interface BrowserApi {
  userAgent(): string;
  ed25519Backend(): Promise<string>;
  protocol(): Promise<Record<string, unknown>>;
  saveLane(): Promise<void>;
  loadLane(): Promise<Record<string, unknown> | null>;
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Allegro client</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:1rem}pre{white-space:pre-wrap;word-break:break-all}</style>
</head><body><h1>Allegro client in the browser</h1><pre id="out">loading…</pre>
<script type="module" src="/bundle.js"></script></body></html>`;

async function bundleForBrowser(out: string): Promise<string> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--output", out, ENTRY.pathname],
    cwd: ROOT.pathname,
    stdin: "null",
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

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took over ${DEADLINE_MILLIS} ms`)),
      DEADLINE_MILLIS,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Calls `allegroBrowser[method]()` in the page, once the bundle has published it. */
async function call<K extends keyof BrowserApi>(
  page: Page,
  method: K,
): Promise<Awaited<ReturnType<BrowserApi[K]>>> {
  await page.waitForFunction(() => "allegroBrowser" in globalThis, undefined, {
    timeout: DEADLINE_MILLIS,
  });
  return await withDeadline(
    page.evaluate(
      (name) =>
        (globalThis as unknown as { allegroBrowser: BrowserApi })
          .allegroBrowser[name]() as Promise<Awaited<ReturnType<BrowserApi[K]>>>,
      method,
    ),
    `allegroBrowser.${method}() in Chromium`,
  );
}

Deno.test({
  name:
    "the client bundle signs, certifies, verifies a QC and keeps a lane in IndexedDB in Chromium",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-browser-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html" } });
    if (path === "/bundle.js") {
      return new Response(await Deno.readFile(`${dir}/bundle.js`), {
        headers: { "content-type": "text/javascript" },
      });
    }
    return new Response("not found", { status: 404 });
  });
  let browser: Browser | undefined;
  try {
    const bundle = await bundleForBrowser(`${dir}/bundle.js`);
    assert.doesNotMatch(bundle, /\bDeno\.[a-zA-Z]/, "the browser bundle uses a Deno API");

    browser = await launchChromium();
    const page = await browser.newPage();
    page.setDefaultTimeout(DEADLINE_MILLIS);
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);

    assert.match(await call(page, "userAgent"), /Chrome\//);
    const backend = await call(page, "ed25519Backend");
    assert.ok(["webcrypto", "noble"].includes(backend), `Ed25519 backend in Chromium: ${backend}`);
    const inBrowser = await call(page, "protocol");
    assert.equal(inBrowser.payer, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    assert.equal(inBrowser.threshold, 3);
    assert.equal(inBrowser.certifiedTxHash, inBrowser.txHash);
    assert.match(String(inBrowser.forgedQc), /repeats signer/);

    // A fresh profile has no lane; one written before a reload is there after it.
    assert.equal(await call(page, "loadLane"), null);
    await call(page, "saveLane");
    await page.reload();
    const lane = await call(page, "loadLane");
    assert.deepEqual(lane, {
      next: "1",
      orders: 1,
      amount: "1250000",
      txHash: inBrowser.txHash,
      qcHashIsBytes: true,
      qcHash: inBrowser.qcHash,
      sameQc: true,
      qcVerifies: true,
      sameSignature: true,
    });

    await page.evaluate((text) => {
      const { document } = globalThis as unknown as {
        document: { getElementById(id: string): { textContent: string } };
      };
      document.getElementById("out").textContent = text;
    }, JSON.stringify({ backend, protocol: inBrowser, lane }, null, 2));
    await Deno.mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: new URL("browser-client.png", OUTPUT).pathname, fullPage: true });
    assert.deepEqual(pageErrors, []);

    // ECDSA (RFC 6979) and Ed25519 are deterministic: Deno must compute the very same bytes.
    await import(ENTRY.href);
    const api = (globalThis as unknown as { allegroBrowser: BrowserApi }).allegroBrowser;
    assert.deepEqual(inBrowser, await api.protocol());
  } finally {
    await browser?.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

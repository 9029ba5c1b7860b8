/**
 * The web UI in headless Chromium (Debian's `/usr/bin/chromium` driven by playwright-core, never
 * a downloaded browser) against a real local network: anvil with 2 s blocks, 4 sidecars, the
 * backend serving the UI as `deno bundle` builds it, and the funded demo accounts. A person's
 * steps — pay, look up, spend what was just received, run the scenario, lose a validator, lose
 * the backend — each end with a screenshot in `test-output/ui-*.png`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Locator, Page } from "playwright-core";
import { launchChromium } from "@allegro/server/chromium";
import { type LocalNetwork, startLocalNetwork } from "@allegro/server/local-network";
import { buildWebUi } from "./build.ts";

const OUTPUT = fileURLToPath(new URL("../../test-output/", import.meta.url));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `ui-${name}.png`), fullPage, animations: "disabled" });
}

/** Selects the demo account `name` in the account card. */
async function use(page: Page, net: LocalNetwork, name: string): Promise<void> {
  const account = net.demoAccounts!.find((a) => a.name === name)!;
  await page.getByTestId("account-select").selectOption(account.address);
  await page.getByTestId("pay-from").getByText(name).waitFor({ state: "attached" });
}

/** Resolves once the page shows a new chain head: a block boundary just passed. */
async function nextBlock(page: Page): Promise<void> {
  const height = await page.getByTestId("head").getAttribute("data-height");
  await page.locator(`[data-testid="head"]:not([data-height="${height}"])`).waitFor();
}

/** Pays from the selected account; returns the new payment's card. */
async function payTo(page: Page, net: LocalNetwork, name: string, amount: string) {
  const before = await page.getByTestId("payment").count();
  await page.getByTestId("tab-pay").click();
  const to = net.demoAccounts!.find((a) => a.name === name)!;
  await page.getByTestId("pay-to").selectOption(to.address);
  await page.getByTestId("pay-amount").fill(amount);
  await page.getByTestId("pay-submit").click();
  await page.waitForFunction(
    `document.querySelectorAll('[data-testid="payment"]').length > ${before}`,
  );
  return page.getByTestId("payment").first();
}

/** Waits until `card` is certified with a QC verified in the browser. */
async function certified(card: Locator): Promise<void> {
  await card.and(card.page().locator('[data-state="certified"]')).waitFor({ timeout: 10_000 });
  await card.locator('[data-testid="qc-status"][data-state="verified"]').waitFor();
}

Deno.test({
  name: "web UI on a local network (4 validators, 2 s blocks)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-ui-" });
  await Deno.mkdir(OUTPUT, { recursive: true });
  let net: LocalNetwork | undefined;
  let browser: Browser | undefined;
  try {
    const webDir = await buildWebUi(join(dir, "web"));
    [net, browser] = await Promise.all([
      startLocalNetwork({
        validators: 4,
        blockTimeSeconds: 2,
        dataDir: join(dir, "net"),
        webDir,
        demoAccounts: true,
      }),
      launchChromium(),
    ]);
    const page = await browser.newPage({ viewport: DESKTOP });
    page.setDefaultTimeout(15_000);
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${net.backend!.url}/`);
    await page.getByTestId("head").and(page.locator("[data-height]")).waitFor();
    await page.locator('[data-testid^="validator-"][data-status="up"]').nth(3).waitFor();
    const n = net;

    await t.step(
      "pay: Alice pays Bob; every certificate and the QC arrive before the next block",
      async () => {
        await use(page, n, "alice");
        await nextBlock(page);
        const card = await payTo(page, n, "bob", "1.5");
        await certified(card);
        assert.ok(
          await card.locator('[data-testid^="cert-"][data-state="certified"]').count() >= 3,
          "at least 3 of 4 certificates",
        );
        // Once the next block is seen, the timing names it: the QC came before it.
        const timing = card.locator('[data-testid="qc-timing"]:not(:has-text("is due in"))');
        await timing.waitFor({ timeout: 5_000 });
        assert.match(await timing.innerText(), /before block #\d+/);
        await card.locator('[data-testid="stage-INCLUDED"].done').waitFor();
        assert.match(await card.getByTestId("stage-INCLUDED").innerText(), /block #\d+/);
        await shot(page, "pay");
      },
    );

    await t.step(
      "look up: the payment by its tx_hash, with stage, certificates, QC and block",
      async () => {
        await page.getByTestId("payment").first().getByText("look up").click();
        const result = page.getByTestId("lookup-result");
        await result.locator('[data-testid="qc-status"][data-state="verified"]').waitFor();
        assert.match(await result.getByTestId("lookup-block").innerText(), /#\d+/);
        assert.equal(
          await result.locator('[data-testid^="cert-"][data-state="certified"]').count(),
          4,
        );
        await shot(page, "lookup");
      },
    );

    await t.step("phone width: one column, nothing wider than the screen", async () => {
      await page.setViewportSize(PHONE);
      await page.getByTestId("tab-pay").click();
      await page.evaluate("scrollTo(0, 0)");
      const width = await page.evaluate<number>("document.documentElement.scrollWidth");
      const wide = await page.evaluate<string[]>(
        `[...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > ${PHONE.width} + 1)
          .map((e) => e.tagName + "." + e.className + " " + (e.textContent ?? "").slice(0, 40))`,
      );
      assert.ok(width <= PHONE.width, `page is ${width} px wide: ${wide.join("\n")}`);
      await shot(page, "phone", true);
      await page.setViewportSize(DESKTOP);
    });

    await t.step(
      "chained: Bob spends the money he just received, with its QC as parent",
      async () => {
        await use(page, n, "bob");
        const received = page.locator('[data-testid="payment-row"][data-direction="in"]').first();
        await received.getByTestId("spend").click();
        await page.getByTestId("pay-parent").waitFor();
        assert.equal(await page.getByTestId("pay-amount").inputValue(), "1.50");
        const card = await payTo(page, n, "carol", "1.5");
        await certified(card);
        await card.getByTestId("payment-parent").waitFor();
        await card.locator('[data-testid="stage-INCLUDED"].done').waitFor();
        await shot(page, "chained");
      },
    );

    await t.step("refused: more than the balance, explained per validator", async () => {
      await use(page, n, "carol");
      const card = await payTo(page, n, "alice", "5000");
      await card.and(page.locator('[data-state="failed"]')).waitFor();
      const error = await card.getByTestId("error").innerText();
      assert.match(error, /Not enough money/);
      // The answer comes once no QC can form: 2 refusals of 4 (threshold 3) decide it.
      const named = error.match(/(Dave|Edgar|Frank|Grace) refused: not enough money/g) ?? [];
      assert.ok(named.length >= 2, error);
      await shot(page, "refused");
    });

    await t.step(
      "a new key: kept in the browser, paid by Alice, spends it on at once",
      async () => {
        await page.getByRole("button", { name: "New key" }).click();
        await page.getByTestId("pay-from").getByText("Key 1").waitFor({ state: "attached" });
        const stored = await page.evaluate<string>("localStorage.getItem('allegro.keys.v1')");
        assert.match(stored, /"name":"Key 1","key":"0x[0-9a-f]{64}"/);
        await page.getByRole("button", { name: "Get 10 USD from Alice" }).click();
        const received = page.locator('[data-testid="payment-row"][data-direction="in"]').first();
        await received.getByTestId("spend").click();
        await page.getByTestId("pay-parent").waitFor();
        // Nothing else pays the fee: the most it can spend is 10 USD less the maximum fee.
        assert.equal(await page.getByTestId("pay-amount").inputValue(), "9.998");
        await page.getByTestId("pay-submit").click();
        const card = page.getByTestId("payment").first();
        await certified(card);
        await card.getByTestId("payment-parent").waitFor();
        await shot(page, "new-key");
      },
    );

    await t.step("scenario: QC1 and QC2 markers sit before the next block boundary", async () => {
      await use(page, n, "bob");
      await page.getByTestId("tab-scenario").click();
      await page.getByTestId("scenario-run").click();
      const verdict = page.getByTestId("scenario-verdict");
      await verdict.waitFor({ timeout: 20_000 });
      assert.equal(await verdict.getAttribute("data-before"), "true", await verdict.innerText());
      const next = /before block #(\d+)/.exec(await verdict.innerText())?.[1];
      assert.ok(next, await verdict.innerText());
      await page.getByTestId("settle2-marker").waitFor({ timeout: 20_000 });
      await page.locator('[data-testid="scenario-status"][data-status="done"]').waitFor();
      const overview = page.getByTestId("scenario-overview");
      const x = async (testId: string) =>
        Number(await overview.getByTestId(testId).getAttribute("data-x"));
      const boundary = await x(`boundary-${next}`);
      assert.ok(await x("qc1-marker") < boundary, "QC1 before the next block boundary");
      assert.ok(await x("qc2-marker") < boundary, "QC2 before the next block boundary");
      assert.ok(await x("settle1-marker") > boundary, "payment 1 settles after it");
      assert.ok(await x("settle2-marker") >= await x("settle1-marker"));
      await shot(page, "scenario", true);
    });

    await t.step("a validator stops: shown down, payments still certified by 3 of 4", async () => {
      await n.sidecars[3].stop();
      await page.locator('[data-testid="validator-grace"][data-status="down"]').waitFor();
      await use(page, n, "alice");
      const card = await payTo(page, n, "carol", "2");
      await certified(card);
      assert.equal(
        await card.locator('[data-testid^="cert-"][data-state="certified"]').count(),
        3,
      );
      assert.match(await card.getByTestId("cert-grace").innerText(), /Grace\s+✗ did not answer/);
      await shot(page, "validator-down");
    });

    await t.step("two validators down: quorum unreachable, said in words", async () => {
      await n.sidecars[2].stop();
      await page.locator('[data-testid="validator-frank"][data-status="down"]').waitFor();
      await page.getByTestId("validators").getByText(/Quorum unreachable/).waitFor();
      const card = await payTo(page, n, "bob", "1");
      await card.and(page.locator('[data-state="failed"]')).waitFor();
      const error = await card.getByTestId("error").innerText();
      assert.match(error, /Quorum unreachable: 2 of 4 validators can sign, 3 are needed/);
      assert.match(error, /Frank did not answer/);
      assert.match(error, /Grace did not answer/);
      await shot(page, "quorum-unreachable");
    });

    await t.step("the backend stops: the page says so in words", async () => {
      await n.backend!.stop();
      await page.getByTestId("backend-down").waitFor();
      await shot(page, "backend-down");
    });

    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await net?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/**
 * The web UI in headless Chromium (Debian's `/usr/bin/chromium` driven by playwright-core, never
 * a downloaded browser) against a real local network: anvil with 1 s blocks, a vault with a short
 * W (20 s) and exit delay (21 s), 4 sidecars, the backend serving the UI as `deno bundle` builds
 * it, and the demo accounts with funds in their wallets. A person's steps — deposit, a forced
 * exit counting down, pay and see the QC before the next block, pay on, look up, a refusal, the
 * scenario, the forced exit paid out, a cooperative exit, phone width, a validator down, two
 * down, the backend down — each with a deadline and a screenshot in `test-output/ui-*.png`; the
 * scenario's is also `docs/ui.png`. No stage badge may ever contradict its stage line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Locator, Page } from "playwright-core";
import { launchChromium } from "@allegro/server/chromium";
import { type LocalNetwork, startLocalNetwork } from "@allegro/server/local-network";
import { buildWebUi } from "./build.ts";

const ROOT = new URL("../../", import.meta.url);
const OUTPUT = fileURLToPath(new URL("test-output/", ROOT));
const DOCS_SHOT = fileURLToPath(new URL("docs/ui.png", ROOT));
const DESKTOP = { width: 1280, height: 875 };
const PHONE = { width: 390, height: 844 };

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `ui-${name}.png`), fullPage, animations: "disabled" });
}

/**
 * Runs `step` as a test step that fails after `seconds`; a failed step leaves
 * `test-output/ui-failed-N.png` behind.
 */
function deadline(
  t: Deno.TestContext,
  page: Page,
  name: string,
  seconds: number,
  step: () => Promise<void>,
) {
  return t.step(name, async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name}: over its ${seconds} s deadline`)),
        seconds * 1000,
      );
    });
    const started = Date.now();
    try {
      await Promise.race([step(), late]);
    } catch (e) {
      await shot(page, `failed-${++failures}`, true).catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
      console.log(`    ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  });
}

let failures = 0;

/** Selects the demo account `name` in the account card. */
async function use(page: Page, name: string): Promise<void> {
  const option = page.getByTestId("account-select").locator("option", {
    hasText: new RegExp(`^${name} ·`, "i"),
  });
  await page.getByTestId("account-select").selectOption(await option.getAttribute("value"));
  await page.getByTestId("pay-from").getByText(name, { exact: false }).waitFor({
    state: "attached",
  });
  await page.getByTestId("vault-balance").waitFor();
}

/**
 * Clicks `testId` the moment the page shows a new chain head — from inside the page, so that no
 * round trip of the test driver delays it: right after a block boundary.
 */
async function clickAtNextBlock(page: Page, testId: string): Promise<void> {
  await page.evaluate(`new Promise((resolve) => {
    const head = document.querySelector('[data-testid="head"]');
    const height = head.dataset.height;
    const observer = new MutationObserver(() => {
      if (head.dataset.height === height) return;
      observer.disconnect();
      document.querySelector('[data-testid="${testId}"]').click();
      resolve();
    });
    observer.observe(head, { attributes: true });
  })`);
}

/**
 * Pays from the selected account to the demo account `to`, right after a block boundary when
 * `atNextBlock`; returns the new payment's card.
 */
async function payTo(
  page: Page,
  net: LocalNetwork,
  to: string,
  amount: string,
  atNextBlock = false,
) {
  const cards = await page.getByTestId("payment").count();
  await page.getByTestId("tab-pay").click();
  const address = net.demoAccounts!.find((a) => a.name === to.toLowerCase())!.address;
  await page.getByTestId("pay-to").selectOption(address);
  await page.getByTestId("pay-amount").fill(amount);
  if (atNextBlock) await clickAtNextBlock(page, "pay-submit");
  else await page.getByTestId("pay-submit").click();
  await page.waitForFunction(
    `document.querySelectorAll('[data-testid="payment"]').length > ${cards}`,
  );
  const id = await page.getByTestId("payment").first().getAttribute("data-id");
  return page.locator(`[data-testid="payment"][data-id="${id}"]`).first();
}

/** Waits until `card` has a QC verified in the browser. */
async function certified(card: Locator): Promise<void> {
  await card.locator('[data-testid="qc-status"][data-state="verified"]').waitFor({
    timeout: 10_000,
  });
}

/** Waits until `card`'s stage is `stage`. */
async function stage(card: Locator, stage: string, timeout = 15_000): Promise<void> {
  await card.locator(`[data-testid="stage-badge"][data-stage="${stage}"]`).waitFor({ timeout });
}

/** Every payment card's and the look-up's stage badge says what its stage line says. */
async function badgesAgree(page: Page): Promise<void> {
  const pairs = await page.evaluate<[string | null, string | null][]>(
    `[...document.querySelectorAll('[data-testid="payment"], [data-testid="lookup-result"]')]
      .map((c) => [c.querySelector('[data-testid="stage-badge"]')?.getAttribute("data-stage"),
        c.querySelector('[data-testid="stage-line"]')?.getAttribute("data-stage")])
      .filter(([, line]) => line)`,
  );
  for (const [badge, line] of pairs) {
    assert.equal(badge, line, "a stage badge contradicts its line");
  }
}

/** Waits until the selected account's wallet balance, as the page shows it, reaches `usd`. */
async function walletReaches(page: Page, usd: number): Promise<void> {
  await page.waitForFunction(
    `Number(document.querySelector('[data-testid="wallet-balance"]').textContent.replace(/,/g, "")) >= ${usd}`,
  );
}

/** A number of USD as the page writes it. */
async function usdOf(locator: Locator): Promise<number> {
  return Number((await locator.innerText()).replace(/,/g, ""));
}

Deno.test({
  name: "web UI on a local network (4 validators, 1 s blocks)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-ui-" });
  await Deno.mkdir(OUTPUT, { recursive: true });
  let net: LocalNetwork | undefined;
  let browser: Browser | undefined;
  try {
    const [webDir, launched] = await Promise.all([buildWebUi(join(dir, "web")), launchChromium()]);
    browser = launched;
    net = await startLocalNetwork({
      validators: 4,
      blockTimeSeconds: 1,
      dataDir: join(dir, "net"),
      webDir,
      demoAccounts: true,
      maxValidity: 20_000n,
      exitDelay: 21n,
    });
    const n = net;
    const page = await browser.newPage({ viewport: DESKTOP });
    page.setDefaultTimeout(15_000);
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${net.backend!.url}/`);
    await page.getByTestId("head").and(page.locator("[data-height]")).waitFor();
    await page.locator('[data-testid^="validator-"][data-status="up"]').nth(3).waitFor();
    await page.locator('[data-testid="committee-check"][data-state="verified"]').waitFor();
    const step = (name: string, seconds: number, body: () => Promise<void>) =>
      deadline(t, page, name, seconds, body);

    await step(
      "deposit: Alice puts 10 USD into the vault, approve + deposit signed here",
      20,
      async () => {
        await use(page, "Alice");
        await page.getByTestId("tab-vault").click();
        await page.getByTestId("deposit-amount").fill("10");
        await page.getByTestId("deposit-submit").click();
        const sent = page.getByTestId("vault-action");
        await sent.and(page.locator('[data-state="mined"]')).waitFor();
        assert.match(
          await sent.innerText(),
          /Deposit of 10\.00 USD \(Alice\) — in block #\d+, transaction 0x/,
        );
        await page.locator('[data-testid="vault-balance"]', { hasText: "10.00" }).waitFor();
        const wallet = await usdOf(page.getByTestId("wallet-balance"));
        assert.ok(wallet < 90 && wallet > 89, `the wallet paid 10 USD and a fee: ${wallet}`);
        await shot(page, "deposit");
      },
    );

    let exitRequested = 0;
    await step(
      "forced exit: Carol deposits 5 USD, requests them out, the countdown runs",
      25,
      async () => {
        await use(page, "Carol");
        await page.getByTestId("deposit-amount").fill("5");
        await page.getByTestId("deposit-submit").click();
        await page.locator('[data-testid="vault-balance"]', { hasText: "5.00" }).waitFor();
        await page.getByTestId("forced-request-amount").fill("5");
        await page.getByTestId("forced-request-submit").click();
        await page.locator('[data-testid="vault-action"][data-state="mined"]', {
          hasText: "Forced exit request of 5.00 USD",
        }).waitFor();
        exitRequested = Date.now();
        const countdown = page.getByTestId("forced-pending").getByTestId("exit-countdown");
        await countdown.and(page.locator('[data-ready="false"]')).waitFor();
        const left = Number(await countdown.getAttribute("data-left"));
        assert.ok(left > 5 && left <= 22, `counts down from the exit delay: ${left} s`);
        await page.waitForFunction(
          `Number(document.querySelector('[data-testid="forced-pending"] [data-testid="exit-countdown"]').dataset.left) < ${left}`,
        );
        assert.ok(await page.getByTestId("forced-exit-submit").isDisabled(), "not before readyAt");
        await page.getByTestId("pending-exit").getByTestId("exit-countdown").waitFor();
        await shot(page, "forced-exit-countdown");
      },
    );

    let aliceCard: Locator | undefined;
    await step(
      "pay: Alice pays Bob; every certificate and the QC before the next block",
      25,
      async () => {
        await use(page, "Alice");
        // Two retries at most: a QC after the boundary only says the machine is overloaded.
        for (let attempt = 1;; attempt++) {
          const card = await payTo(page, n, "Bob", "1.5", true);
          await certified(card);
          await badgesAgree(page);
          const timing = card.locator('[data-testid="qc-timing"]:not(:has-text("is due in"))');
          const text = await timing.innerText();
          if (/before block #\d+/.test(text) || attempt === 3) {
            assert.match(text, /before block #\d+/);
            aliceCard = card;
            break;
          }
          console.log(`    QC after the next block (attempt ${attempt}): ${text}`);
        }
        const card = aliceCard!;
        assert.ok(
          await card.locator('[data-testid^="cert-"][data-state="certified"]').count() >= 3,
        );
        const attestations = card.locator('[data-testid^="attestation-"]', {
          hasText: "signature and attestation verified here",
        });
        assert.ok(await attestations.count() >= 3, "each certificate's attestation verified here");
        await shot(page, "pay");
      },
    );

    await step(
      "pay on: Bob spends the money at once, citing Alice's payment as parent",
      25,
      async () => {
        await use(page, "Bob"); // nothing of his own in the vault: the parent's credit pays
        const received = page.locator('[data-testid="payment-row"][data-direction="in"]').first();
        await received.getByTestId("pay-on").click();
        await page.getByTestId("pay-parent").waitFor();
        assert.equal(await page.getByTestId("pay-amount").inputValue(), "1.50");
        const card = await payTo(page, n, "Carol", "1.5");
        await certified(card);
        await card.getByTestId("payment-parent").waitFor();
        // Both settle, Alice's first, each in a block after its QC.
        for (const c of [aliceCard!, card]) {
          await stage(c, "FINALIZED");
          await badgesAgree(page);
          const x = async (id: string) => Number(await c.getByTestId(id).getAttribute("data-x"));
          assert.ok(await x("settle-line") > await x("qc-line"), "settled after the QC");
          assert.match(await c.getByTestId("step-INCLUDED").innerText(), /Settled in block #\d+/);
          await c.getByTestId("settlement").waitFor();
        }
        await shot(page, "pay-on");
      },
    );

    await step(
      "look up: the order, certificates with attestations, QC, block and transaction",
      15,
      async () => {
        await aliceCard!.getByText("look up").click();
        const result = page.getByTestId("lookup-result");
        await result.locator('[data-testid="qc-status"][data-state="verified"]').waitFor();
        await result.locator('[data-testid^="attestation-"]', {
          hasText: "signature and attestation verified here",
        }).nth(2).waitFor();
        assert.match(await result.getByTestId("lookup-block").innerText(), /block #\d+/);
        assert.match(await result.getByTestId("settlement").innerText(), /transaction 0x/);
        assert.match(await result.innerText(), /1\.50 USD/);
        await stage(result, "FINALIZED");
        await badgesAgree(page);
        await shot(page, "lookup");
      },
    );

    await step(
      "refused: an empty vault, refused in words by each validator",
      15,
      async () => {
        await page.getByRole("button", { name: "New key" }).click();
        await page.getByTestId("pay-from").getByText("Key 1").waitFor({ state: "attached" });
        const card = await payTo(page, n, "Carol", "5");
        await stage(card, "NOT_CERTIFIED");
        const error = await card.getByTestId("error").innerText();
        assert.match(error, /Not enough money in the vault/);
        const named = error.match(/(Dave|Edgar|Frank|Grace) refused: the vault balance/g) ?? [];
        assert.ok(named.length >= 2, error);
        await badgesAgree(page);
        await shot(page, "refused");
      },
    );

    await step(
      "scenario: Alice deposits, QC1 and QC2 before the next block, both settle",
      45,
      async () => {
        await use(page, "Alice");
        await page.getByTestId("tab-scenario").click();
        for (let attempt = 1;; attempt++) {
          await page.getByTestId("scenario-run").click();
          const verdict = page.getByTestId("scenario-verdict");
          await page.locator('[data-testid="scenario-status"][data-status="done"]').waitFor({
            timeout: 25_000,
          });
          // Alice had less than 10 USD free in the vault, so the first run deposited first.
          if (attempt === 1) await page.getByTestId("scenario-deposit").waitFor();
          if (await verdict.getAttribute("data-before") === "true" || attempt === 2) break;
          console.log(`    not both QCs before the next block (attempt ${attempt})`);
        }
        const verdict = page.getByTestId("scenario-verdict");
        assert.equal(await verdict.getAttribute("data-before"), "true", await verdict.innerText());
        const next = /before block #(\d+)/.exec(await verdict.innerText())?.[1];
        const overview = page.getByTestId("scenario-overview");
        const x = async (testId: string) =>
          Number(await overview.getByTestId(testId).getAttribute("data-x"));
        const boundary = await x(`boundary-${next}`);
        assert.ok(await x("qc1-marker") < boundary, "QC1 before the next block boundary");
        assert.ok(await x("qc2-marker") < boundary, "QC2 before the next block boundary");
        assert.ok(await x("settle1-marker") >= boundary, "payment 1 settles at it or after");
        assert.ok(await x("settle2-marker") >= await x("settle1-marker"));
        await shot(page, "scenario", true);
        await page.evaluate("scrollTo(0, 0)");
        await page.screenshot({ path: DOCS_SHOT, animations: "disabled" });
      },
    );

    await step(
      "phone width: one column, nothing wider than the screen",
      10,
      async () => {
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
      },
    );

    await step(
      "forced exit: the countdown runs out and the exit pays Carol's wallet",
      35,
      async () => {
        await use(page, "Carol");
        await page.getByTestId("tab-vault").click();
        const wallet = await usdOf(page.getByTestId("wallet-balance"));
        await page.locator('[data-testid="forced-pending"] [data-ready="true"]').waitFor({
          // readyAt: the request's block timestamp (whole seconds) + 21 s; then a block to see it.
          timeout: Math.max(1000, exitRequested + 25_000 - Date.now()),
        });
        await page.getByTestId("forced-exit-submit").click();
        await page.locator('[data-testid="vault-action"][data-state="mined"]', {
          hasText: "Forced exit of 5.00 USD",
        }).waitFor();
        await page.getByTestId("forced-request-submit").waitFor(); // no exit pending any more
        await walletReaches(page, wallet + 4.9);
        await shot(page, "forced-exit");
      },
    );

    await step(
      "cooperative exit: an exit order to Alice's wallet, QC, paid out in a block",
      20,
      async () => {
        await use(page, "Alice");
        await page.getByTestId("tab-vault").click();
        const wallet = await usdOf(page.getByTestId("wallet-balance"));
        await page.getByTestId("coop-amount").fill("2");
        await page.getByTestId("coop-submit").click();
        const card = page.getByTestId("cooperative-exit").locator("xpath=..").getByTestId(
          "payment",
        );
        await certified(card);
        await stage(card, "FINALIZED");
        await walletReaches(page, wallet + 1.99);
        await badgesAgree(page);
        await shot(page, "cooperative-exit");
      },
    );

    await step(
      "a validator stops: shown down, payments still certified by 3 of 4",
      20,
      async () => {
        await n.sidecars[3].stop();
        await page.locator('[data-testid="validator-grace"][data-status="down"]').waitFor();
        const card = await payTo(page, n, "Bob", "1");
        await certified(card);
        assert.equal(
          await card.locator('[data-testid^="cert-"][data-state="certified"]').count(),
          3,
        );
        assert.match(await card.getByTestId("cert-grace").innerText(), /Grace\s+✗ did not answer/);
        await stage(card, "INCLUDED");
        await shot(page, "validator-down");
      },
    );

    await step(
      "two validators down: quorum unreachable, said in words",
      20,
      async () => {
        await n.sidecars[2].stop();
        await page.locator('[data-testid="validator-frank"][data-status="down"]').waitFor();
        await page.getByTestId("validators").getByText(/Quorum unreachable/).waitFor();
        const card = await payTo(page, n, "Bob", "1");
        await card.getByTestId("error").waitFor();
        // The backend may have pulled the two certificates from the boards by now: "no QC yet".
        const badge = await card.getByTestId("stage-badge").getAttribute("data-stage");
        assert.ok(badge === "NOT_CERTIFIED" || badge === "ACCEPTED", `stage ${badge}`);
        const error = await card.getByTestId("error").innerText();
        assert.match(error, /Quorum unreachable: 2 of 4 validators can sign, 3 are needed/);
        assert.match(error, /Frank did not answer/);
        assert.match(error, /Grace did not answer/);
        await badgesAgree(page);
        await shot(page, "quorum-unreachable");
      },
    );

    await step("the backend stops: the page says so in words", 15, async () => {
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

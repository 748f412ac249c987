// Browser test harness: real Chromium (Debian's /usr/bin/chromium) driven by
// npm playwright-core, against a real `floh serve` started by the Rust test
// (tests/e2e/browser/).
//
// HOW TO ADD A SCENARIO
//   1. Write tests/browser/scenarios/NAME.mjs:
//
//        export default async function (t) {
//          await t.signIn("admin");                 // or "executor"
//          const page = await t.visit("/connectors", "connectors-list");
//          await page.getByRole("link", { name: "my-crm" }).click();
//          await t.settled("connector-page");       // axe + screenshot of where we are now
//          t.check(await page.getByText("ok").isVisible(), "the run succeeded");
//        }
//
//   2. Call it from a test group in tests/e2e/browser/ (Rust):
//        group.run("NAME", json!({ ...data the scenario reads as t.data... }));
//      A group is one `floh serve`; the Rust side seeds it through the API
//      and lists the secret values that must never reach the browser.
//
// WHAT EVERY SCENARIO GETS FOR FREE
//   - Every response body the browser receives (HTML, JSON, fragments,
//     assets) is recorded and checked: if it contains any known secret value
//     (FLOH_SECRETS, plus t.secret(value) at run time) the scenario fails.
//   - t.visit() and t.settled() run axe-core on the page (any violation
//     fails) and write a screenshot to FLOH_SHOTS_DIR/NAME.png, failing if
//     the screenshot is blank (a single colour, or no visible text).
//   - Content-Security-Policy violations and page errors fail the scenario.
//
// Environment (set by the Rust side): FLOH_URL, FLOH_SHOTS_DIR,
// FLOH_SECRETS (JSON array), FLOH_TOKENS (JSON {admin, executor}),
// FLOH_DATA (JSON, scenario-specific), FLOH_NODE_MODULES.

import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(join(process.env.FLOH_NODE_MODULES, "x.js"));
const { chromium } = require("playwright-core");
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export class Harness {
  constructor(name) {
    this.name = name;
    this.base = process.env.FLOH_URL;
    this.shots = process.env.FLOH_SHOTS_DIR;
    // { value, since }: a secret must not appear in any response recorded
    // from index `since` on (a token shown once is learned from its response).
    this.secrets = JSON.parse(process.env.FLOH_SECRETS || "[]")
      .filter((s) => s && s.length >= 6)
      .map((value) => ({ value, since: 0 }));
    this.tokens = JSON.parse(process.env.FLOH_TOKENS || "{}");
    this.data = JSON.parse(process.env.FLOH_DATA || "{}");
    this.failures = [];
    this.bodies = []; // { url, status, body }
    this.pending = new Set();
    this.visited = [];
  }

  async start() {
    mkdirSync(this.shots, { recursive: true });
    this.profile = mkdtempSync(join(tmpdir(), "floh-chromium-"));
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: process.env.FLOH_CHROMIUM || "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 860 },
      baseURL: this.base,
    });
    this.context.setDefaultTimeout(20_000);
    this.page = this.context.pages()[0] || (await this.context.newPage());
    this.watch(this.page);
    return this;
  }

  /** Record every response of `page` and fail on CSP violations and page errors. */
  watch(page) {
    page.on("response", (response) => {
      const done = response
        .body()
        .then((buffer) => {
          this.bodies.push({ url: response.url(), status: response.status(), body: buffer.toString("utf8") });
        })
        .catch(() => {
          // Redirects and aborted requests have no body.
        })
        .finally(() => this.pending.delete(done));
      this.pending.add(done);
    });
    page.on("console", (message) => {
      const text = message.text();
      if (/Content.Security.Policy|Refused to (execute|apply|load|connect)/i.test(text)) {
        this.fail(`CSP violation on ${page.url()}: ${text}`);
      }
    });
    page.on("pageerror", (error) => this.fail(`page error on ${page.url()}: ${error.message}`));
  }

  fail(message) {
    this.failures.push(message);
    console.error(`FAIL ${message}`);
  }

  check(condition, message) {
    if (!condition) this.fail(message);
  }

  /** A secret learned at run time (e.g. a token shown once) that must not appear again. */
  secret(value) {
    if (value && value.length >= 6) this.secrets.push({ value, since: this.bodies.length });
  }

  async signIn(role = "admin") {
    const page = this.page;
    await page.goto("/sign-in");
    await page.getByLabel("API token").fill(this.tokens[role]);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
    return page;
  }

  async signOut() {
    await this.page.getByRole("button", { name: "Sign out" }).click();
    await this.page.waitForURL((url) => url.pathname.startsWith("/sign-in"));
  }

  /** Go to `path`, then check the page (axe, screenshot) as `shot`. */
  async visit(path, shot) {
    const response = await this.page.goto(path);
    this.check(response && response.status() < 400, `GET ${path} answered ${response && response.status()}`);
    await this.settled(shot);
    return this.page;
  }

  /** Check the page as it is now: axe-core, then a non-blank screenshot. */
  async settled(shot) {
    const page = this.page;
    await page.waitForLoadState("load");
    await this.axe(shot);
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(join(this.shots, `${shot}.png`), png);
    await this.notBlank(png, shot);
    this.visited.push({ shot, url: page.url() });
  }

  async axe(shot) {
    const page = this.page;
    // Evaluated through the DevTools protocol: the page's CSP (no inline
    // script) stays enforced for everything the page itself does.
    await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(async () => {
      const r = await globalThis.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
      }));
    });
    for (const v of result) {
      this.fail(`axe on ${shot}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.join(", ")}`);
    }
  }

  async notBlank(png, shot) {
    const text = await this.page.evaluate(() => document.body.innerText.trim().length);
    this.check(text > 0, `${shot}: the page shows no text`);
    // Decode the PNG in a blank page (no CSP there) and count colours.
    const scratch = await this.context.newPage();
    try {
      const colours = await scratch.evaluate(async (dataUrl) => {
        const blob = await (await fetch(dataUrl)).blob();
        const bitmap = await createImageBitmap(blob);
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext("2d");
        ctx.drawImage(bitmap, 0, 0);
        const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const seen = new Set();
        for (let i = 0; i < pixels.length && seen.size < 64; i += 4 * 97) {
          seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
        }
        return seen.size;
      }, `data:image/png;base64,${png.toString("base64")}`);
      this.check(colours >= 8, `${shot}: the screenshot is blank (${colours} colours)`);
    } finally {
      await scratch.close();
    }
  }

  /** A fetch from inside the page (same origin, the page's cookies). */
  async fetchInPage(path, init) {
    return this.page.evaluate(
      async ({ path, init }) => {
        const response = await fetch(path, init);
        return { status: response.status, body: await response.text() };
      },
      { path, init },
    );
  }

  async finish() {
    await Promise.allSettled([...this.pending]);
    let leaks = 0;
    this.bodies.forEach(({ url, body }, index) => {
      for (const { value, since } of this.secrets) {
        if (index >= since && body.includes(value)) {
          leaks += 1;
          this.fail(`a secret value (${value.slice(0, 3)}…) appeared in the response of ${url}`);
        }
      }
    });
    console.log(
      `${this.name}: ${this.bodies.length} responses checked for ${this.secrets.length} secrets (${leaks} leaks), ` +
        `${this.visited.length} pages checked with axe and screenshots`,
    );
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

// The spec's OpenAPI flow: Import from OpenAPI → paste the petstore → Parse
// Spec → commands grouped by tag, two deselected → the generated script
// (read-only editor) and the connection config (the API key now) → Create
// Connector → run getPetById against Prism. Then re-import with one
// operation more: the difference is shown before anything is replaced.

// htmx swaps the form in place, so the old heading is still there while a
// request is in flight: poll for the effect instead of waiting for markup.
async function eventually(check, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

export default async function (t) {
  const page = await t.signIn("admin");
  await t.visit("/import", "import-start");
  await page.getByLabel("OpenAPI description (JSON or YAML)").fill(t.data.spec);
  await page.getByRole("button", { name: "Parse Spec" }).click();
  await page.getByRole("heading", { name: "Commands" }).waitFor();
  await page.locator(".cm-editor").waitFor();
  await t.settled("import-parsed");
  // The petstore's OAuth2 scheme is implicit: no token endpoint to connect with.
  t.check(await page.locator(".import-warnings").getByText(/tokenUrl/).first().isVisible(), "the preview says what to set before connecting");

  // Grouped by tag, with select-all per tag.
  for (const tag of ["pet", "store", "user"]) {
    t.check(await page.getByRole("group", { name: tag, exact: true }).isVisible(), `a group for tag ${tag}`);
  }
  await page.getByRole("button", { name: "Select none of store" }).click();
  await page.getByRole("heading", { name: "Commands" }).waitFor();
  t.check(await eventually(async () => !(await page.getByLabel(/^getInventory/).isChecked())), "select none unchecks the tag's commands");
  await page.getByRole("button", { name: "Select all store" }).click();
  await page.getByRole("heading", { name: "Commands" }).waitFor();
  t.check(await eventually(() => page.getByLabel(/^getInventory/).isChecked()), "select all checks them again");

  for (const command of t.data.deselect) {
    await page.getByLabel(new RegExp(`^${command} `)).uncheck();
  }
  await page.getByRole("button", { name: "Update preview" }).click();
  await page.getByRole("heading", { name: "Commands" }).waitFor();
  await page.locator(".cm-editor").waitFor();
  const generated = () => page.locator("[data-floh-editor-host]").first().evaluate((host) => (host.flohEditor ? host.flohEditor.getValue() : ""));
  await eventually(async () => {
    const text = await generated();
    return text.includes("function getPetById(") && t.data.deselect.every((command) => !text.includes(`function ${command}(`));
  });
  const script = await generated();
  for (const command of t.data.deselect) {
    t.check(!script.includes(`function ${command}(`), `the generated script leaves out ${command}`);
  }
  t.check(script.includes("function getPetById("), "the generated script has getPetById");
  t.check(await page.locator("#generated-script").evaluate((e) => e.readOnly), "the generated script is read-only");

  await page.getByLabel("Name", { exact: true }).fill("petstore");
  await page.locator("#config-baseUrl").fill(t.data.baseUrl);
  await page.locator("#config-apiKey").fill(t.data.apiKey);
  await t.settled("import-review");
  await page.getByRole("button", { name: "Create Connector" }).click();
  await page.waitForURL(/\/connectors\/petstore$/);
  await t.settled("import-created");

  const command = page.locator("details.command").filter({ hasText: "getPetById" });
  await command.locator("summary").click();
  await command.getByLabel(/^petId/).fill("1");
  await page.getByRole("button", { name: "Run getPetById" }).click();
  const trace = page.locator("#run-result .trace");
  await trace.waitFor();
  t.check(await trace.locator(".alert-ok").isVisible(), `getPetById succeeded against Prism: ${await trace.textContent()}`);
  await t.settled("import-run");

  // Re-import with one operation more: shown, not applied.
  await page.getByRole("link", { name: "Re-import from OpenAPI" }).click();
  await page.waitForURL(/\/reimport$/);
  await page.getByLabel("OpenAPI description (JSON or YAML)").fill(t.data.extended);
  await page.getByRole("button", { name: "Show the difference" }).click();
  await page.getByRole("heading", { name: "What re-importing changes" }).waitFor();
  const added = await page.locator("#added li").allTextContents();
  t.check(added.length === 1 && added[0] === "listVaccinations", `added: ${added}`);
  t.check((await page.locator("#removed li").count()) === 0, "nothing removed");
  t.check((await page.locator("#changed li").count()) === 0, "nothing changed");
  await t.settled("reimport-preview");
}

// The spec's script flow: New Connector → Script → details, the
// connection-config fields (baseUrl; apiKey secret), the commands with
// params, defaults and outputs → the script step (a template of the
// declared commands) → review → Create Connector. Then the connector's
// script in the editor: a syntax error shows inline at its line and blocks
// saving; fixed, it saves; listContacts runs against the CRM stand-in and
// the trace shows the HTTP call with its headers (the API key masked) and
// the start of the answer, never the API key (every response the browser
// receives is also checked for it); the Last executions panel shows the run
// without a reload, and its link leads to the stored trace.

function editorHost(page) {
  return page.locator("[data-floh-editor-host]").first();
}

async function setScript(page, text) {
  await editorHost(page).evaluate((host, text) => host.flohEditor.setValue(text), text);
}

async function scriptText(page) {
  return editorHost(page).evaluate((host) => host.flohEditor.getValue());
}

export default async function (t) {
  const page = await t.signIn("admin");
  await t.visit("/connectors/new", "wizard-script-model");
  await page.getByLabel(/^Script/).check();
  await page.getByRole("button", { name: "Next", exact: true }).click();
  await page.waitForURL(/model=script/);

  await page.getByLabel("Name", { exact: true }).fill("my-crm");
  await page.locator("#description").fill("Integration with My CRM");
  await page.getByLabel("Category (optional)").fill("crm");
  await page.getByLabel("Tags (optional, comma-separated)").fill("sales, contacts");
  const fields = [
    ["baseUrl", "string", true, false, "CRM API base URL"],
    ["apiKey", "string", true, true, "API key"],
  ];
  for (const [index, [name, type, required, secret, description]] of fields.entries()) {
    await page.locator(`#field-${index}-name`).fill(name);
    await page.locator(`#field-${index}-type`).selectOption(type);
    if (required) await page.locator(`#field-${index}-required`).check();
    if (secret) await page.locator(`#field-${index}-secret`).check();
    await page.locator(`#field-${index}-description`).fill(description);
  }
  const commands = [
    ["listContacts", "List contacts from the CRM", "limit:number=50, offset:number=0", "contacts, total"],
    ["createContact", "Create a new contact", "email, firstName, lastName", "contactId"],
    ["test", "Test connectivity", "", ""],
  ];
  for (const [index, [name, description, params, outputs]] of commands.entries()) {
    await page.locator(`#command-${index}-name`).fill(name);
    await page.locator(`#command-${index}-description`).fill(description);
    await page.locator(`#command-${index}-params`).fill(params);
    await page.locator(`#command-${index}-outputs`).fill(outputs);
  }
  await t.settled("wizard-script-details");
  await page.getByRole("button", { name: "Next: script" }).click();
  await page.waitForURL(/\/connectors\/new\/script$/);
  await page.locator(".cm-editor").waitFor();
  const template = await scriptText(page);
  for (const name of ["listContacts", "createContact", "test"]) {
    t.check(template.includes(`function ${name}(params)`), `the template defines ${name}`);
  }
  // The template checks clean against the declared commands.
  await page.locator("[data-floh-editor-status]").filter({ hasText: "The script compiles." }).waitFor();
  await t.settled("wizard-script-editor");

  // floh.* completion from floh.d.ts.
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("\nfloh.log.");
  await page.locator(".cm-tooltip-autocomplete").waitFor();
  const options = await page.locator(".cm-tooltip-autocomplete li").allTextContents();
  t.check(["debug", "error", "info", "trace", "warn"].every((level) => options.some((o) => o.startsWith(level))), `floh.log completions: ${options}`);
  await page.keyboard.press("Escape");
  await setScript(page, template);

  await page.getByRole("button", { name: "Next: review" }).click();
  await page.waitForURL(/\/connectors\/new\/review$/);
  await t.settled("wizard-script-review");
  await page.getByRole("button", { name: "Create Connector" }).click();
  await page.waitForURL(/\/connectors\/my-crm$/);

  // Connection config on the connector page (the secret is write-only).
  await page.locator("#config-baseUrl").fill(t.data.baseUrl);
  await page.locator("#secret-apiKey").fill(t.data.apiKey);
  await page.getByRole("button", { name: "Save config" }).click();
  // Wait for the saved state itself ("not set" contains "set" too): leaving
  // the page before the save answers would drop it.
  await page.locator("#config-card .secret-state.badge-ok").first().waitFor();

  // The script editor: the spec's script, then a syntax error on line 3.
  await page.getByRole("link", { name: "Edit script" }).click();
  await page.waitForURL(/\/connectors\/my-crm\/script$/);
  await page.locator(".cm-editor").waitFor();
  await setScript(page, t.data.script);
  t.check(await page.locator("[data-floh-unsaved]").isVisible(), "an edited script shows the unsaved marker");
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+Home");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("End");
  await page.keyboard.type(")");
  await page.locator(".cm-lintRange-error").first().waitFor();
  const status = await page.locator("[data-floh-editor-status]").textContent();
  t.check(/line 3\b/.test(status), `the diagnostic points at line 3: ${status}`);
  const marked = await editorHost(page).evaluate((host) => {
    const view = host.flohEditor.view;
    const range = host.shadowRoot.querySelector(".cm-lintRange-error");
    return view.state.doc.lineAt(view.posAtDOM(range)).number;
  });
  t.check(marked === 3, `the error is underlined on line 3 (found ${marked})`);
  await t.settled("script-editor-syntax-error");

  await page.getByRole("button", { name: "Save script" }).click();
  await page.waitForTimeout(1000);
  t.check(new URL(page.url()).pathname === "/connectors/my-crm/script", "a script with a syntax error is not saved");

  // Fixed (undo the stray parenthesis), it saves and leads back to the connector.
  await page.locator(".cm-content").focus();
  await page.keyboard.press("Control+z");
  await page.locator("[data-floh-editor-status]").filter({ hasText: "The script compiles." }).waitFor();
  t.check((await scriptText(page)) === t.data.script, "undo restores the spec's script");
  await page.getByRole("button", { name: "Save script" }).click();
  await page.waitForURL(/\/connectors\/my-crm$/);
  await t.settled("connector-after-script-save");

  // Run listContacts: the trace shows the HTTP call and masks the API key.
  // The page is not reloaded: the Last executions panel updates itself.
  await page.evaluate(() => { window.flohSamePage = true; });
  const historyRows = page.locator("#history tbody tr");
  const runsBefore = await historyRows.count();
  await page.locator("summary").filter({ hasText: "listContacts" }).click();
  await page.getByRole("button", { name: "Run listContacts" }).click();
  const trace = page.locator("#run-result .trace");
  await trace.waitFor();
  await trace.locator(".method").filter({ hasText: "GET" }).first().waitFor();
  const url = await trace.locator(".url").first().textContent();
  t.check(url.includes("/api/contacts?limit=50&offset=0"), `the trace shows the call: ${url}`);
  await checkCallDetails(t, trace);
  // The new run appears in the panel without a reload.
  await page.waitForFunction(
    (before) => document.querySelectorAll("#history tbody tr").length > before,
    runsBefore,
  );
  const newest = historyRows.first();
  t.check((await newest.locator("code").textContent()) === "listContacts", "the newest row is the run");
  t.check(await page.evaluate(() => window.flohSamePage === true), "the page was not reloaded");
  await t.settled("script-run-trace");

  // The stored trace, from the panel's link, shows the same details.
  await newest.getByRole("link", { name: /View trace/ }).click();
  await page.waitForURL(/\/connectors\/my-crm\/executions\//);
  const stored = page.locator(".trace");
  await checkCallDetails(t, stored);
  await t.settled("script-execution-trace");
}

/** The first HTTP call of `trace`: request headers with the key masked, the
 * CRM stand-in's answer in the body preview. */
async function checkCallDetails(t, trace) {
  const call = trace.locator("details").first();
  if (!(await call.evaluate((d) => d.open))) await call.locator("summary").click();
  const text = await trace.textContent();
  t.check(!text.includes(t.data.apiKey), "the API key does not appear in the trace");
  const request = call.getByRole("table", { name: /Request headers of call 1/ });
  const auth = request.locator("tr").filter({ hasText: "authorization" });
  await auth.waitFor();
  const shown = (await auth.locator("td").nth(1).textContent()).trim();
  t.check(shown === "Bearer ***", `the Authorization header is masked: ${shown}`);
  const response = call.getByRole("table", { name: /Response headers of call 1/ });
  const type = (await response.locator("tr").filter({ hasText: "content-type" }).textContent()) || "";
  t.check(type.includes("application/json"), `the response headers are shown: ${type}`);
  const body = (await call.locator("pre.body-preview").last().textContent()) || "";
  t.check(body.includes('"total": 2') && body.includes('"id": "c1"'), `the response body preview: ${body}`);
}

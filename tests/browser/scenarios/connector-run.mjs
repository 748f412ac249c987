// The connector page as an admin: Test passes, a command runs with its
// parameters and the trace shows the HTTP call (the API key never reaches
// the browser: the harness checks every response); replacing the secret
// with a wrong value makes Test fail with its cause; the execution's trace
// page and the executions list show it.
export default async function (t) {
  const page = t.page;
  const { connector, apiKey } = t.data;
  await t.signIn("admin");
  await t.visit(`/connectors/${connector}`, "connector-page");

  // Test: an explicit pass.
  await t.submit(page.getByRole("button", { name: "Test connection" }));
  const result = page.locator("#run-result");
  await result.getByText("Test passed").waitFor();

  // Run listContacts with a parameter.
  await page.getByText("listContacts", { exact: true }).click();
  const form = page.locator("form#run-listContacts");
  await form.getByLabel("limit").fill("5");
  await t.submit(form.getByRole("button", { name: "Run listContacts" }));
  await result.getByText("Succeeded").waitFor();
  const call = result.locator("details").first();
  t.check((await call.locator(".method").textContent()) === "GET", "the trace shows the call's method");
  const url = await call.locator(".url").first().textContent();
  t.check(url.includes("/api/contacts?limit=5&offset=0"), `the trace shows the URL with the params (${url})`);
  t.check((await call.locator(".badge").first().textContent()) === "200", "the trace shows the status");
  t.check(await result.getByText('"contacts": [').isVisible(), "the trace shows the result data");
  await t.settled("connector-run-trace");

  // Replace the secret with a wrong one: Test fails and says why.
  const secret = page.locator("fieldset", { hasText: "apiKey" });
  t.check(await secret.getByText("set", { exact: true }).isVisible(), "the secret shows its state");
  await secret.getByLabel("Replace", { exact: true }).check();
  await secret.getByLabel("New value (used with Replace)").fill("sk-wrong-key-for-the-test");
  await t.submit(page.getByRole("button", { name: "Save config" }));
  await page.getByText("Config saved.").waitFor();
  t.check((await page.locator("#config-card input[type=password]").inputValue()) === "", "a secret input is never filled back");
  await t.submit(page.getByRole("button", { name: "Test connection" }));
  await result.getByText("Test failed").waitFor();
  t.check(await result.getByText("answered 401").isVisible(), "a failed test names its cause");
  await t.settled("connector-test-failed");

  // Put the right key back (typed, never shown).
  await secret.getByLabel("Replace", { exact: true }).check();
  await secret.getByLabel("New value (used with Replace)").fill(apiKey);
  await t.submit(page.getByRole("button", { name: "Save config" }));
  await page.getByText("Config saved.").waitFor();
  await t.submit(page.getByRole("button", { name: "Test connection" }));
  await result.getByText("Test passed").waitFor();

  // History: the page's chart and list, a stored trace, the executions page.
  await t.visit(`/connectors/${connector}`, "connector-history");
  t.check(await page.getByRole("img", { name: /4 executions, 3 ok and 1 failed/ }).isVisible(), "the chart summarizes outcomes");
  await page.getByRole("link", { name: /View trace/ }).first().click();
  await page.getByText("HTTP calls (1)").waitFor();
  await t.settled("execution-trace");
  await t.visit("/executions", "executions-list");
  t.check((await page.locator("tbody tr").count()) >= 4, "the executions list shows the runs");
  await t.visit("/connectors", "connectors-list-with-activity");
  t.check(await page.getByRole("img", { name: /last 4 runs: 3 ok, 1 failed/ }).isVisible(), "the list row has a sparkline");
}

// Acceptance 4: an executor sees and runs connectors but gets no admin
// controls, and the server refuses forged admin requests: an executor's
// session with a valid CSRF token, and an admin's session without one.
export default async function (t) {
  const page = t.page;
  const { connector } = t.data;
  const csrf = () => page.evaluate(() => JSON.parse(document.body.getAttribute("hx-headers"))["x-csrf-token"]);
  const form = (token) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: token === undefined ? "" : `csrf=${encodeURIComponent(token)}&name=forged&role=admin`,
  });

  await t.signIn("executor");
  await t.visit("/connectors", "executor-connectors");
  t.check((await page.locator(".role").textContent()) === "executor", "the sidebar shows the executor role");
  for (const label of ["New connector", "Import from OpenAPI"]) {
    t.check((await page.getByRole("link", { name: label }).count()) === 0, `an executor gets no ${label} control`);
  }
  const nav = page.getByRole("navigation", { name: "Main" });
  t.check((await nav.getByRole("link", { name: "Tokens" }).count()) === 0, "an executor has no Tokens entry");

  await t.visit(`/connectors/${connector}`, "executor-connector");
  t.check((await page.getByRole("button", { name: "Delete" }).count()) === 0, "no Delete for an executor");
  t.check((await page.getByRole("button", { name: "Save config" }).count()) === 0, "no config form for an executor");
  t.check(await page.locator("#config-card").getByText("secret set").isVisible(), "the secret's state, not its value");
  // Executors may run.
  await page.getByRole("button", { name: "Test connection" }).click();
  await page.locator("#run-result").getByText("Test passed").waitFor();

  await t.visit("/agents", "executor-agents");
  t.check((await page.getByRole("button", { name: "Create agent token" }).count()) === 0, "no agent-token creation for an executor");
  await t.visit("/tokens", "executor-tokens");
  t.check((await page.getByRole("button", { name: "Create token" }).count()) === 0, "no token creation for an executor");
  t.check((await page.getByRole("button", { name: /Revoke/ }).count()) === 0, "no revoke for an executor");

  // Forged admin requests with the executor's own session and CSRF token.
  const token = await csrf();
  for (const path of ["/tokens", `/connectors/${connector}/delete`, "/agents/tokens"]) {
    const answer = await t.fetchInPage(path, form(token));
    t.check(answer.status === 403, `an executor's POST ${path} is refused (got ${answer.status})`);
  }
  await t.signOut();

  // An admin session, but the request carries no (or a wrong) CSRF token.
  await t.signIn("admin");
  await t.visit(`/connectors/${connector}`, "admin-connector");
  for (const sent of [undefined, "not-the-token"]) {
    const answer = await t.fetchInPage(`/connectors/${connector}/delete`, form(sent));
    t.check(answer.status === 403, `a POST without a valid CSRF token is refused (got ${answer.status})`);
    const header = await t.fetchInPage(`/connectors/${connector}/delete`, {
      method: "POST",
      headers: { "x-csrf-token": sent || "" },
    });
    t.check(header.status === 403, `a POST with a bad CSRF header is refused (got ${header.status})`);
  }
  const still = await page.goto(`/connectors/${connector}`);
  t.check(still.status() === 200, "the connector survived the forged requests");
}

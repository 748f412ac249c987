// Agents and tokens as an admin: the agents list updates without a reload
// when an agent connects; an agent token is created (shown once with a
// copyable `floh agent` command line) and revoked; an API token is created
// (shown once) and revoked, which ends the sessions signed in with it.
export default async function (t) {
  const page = t.page;
  const { agentName } = t.data;
  await t.signIn("admin");
  await t.visit("/agents", "agents");

  // The Rust side starts a real `floh agent` a few seconds after this
  // scenario begins: the row appears through htmx polling, no reload.
  const navigations = [];
  page.on("framenavigated", (frame) => frame === page.mainFrame() && navigations.push(frame.url()));
  const row = page.locator("#agents-live tr", { hasText: agentName });
  await row.waitFor({ timeout: 60_000 });
  await row.getByText("connected").waitFor({ timeout: 30_000 });
  t.check(navigations.length === 0, "the agents list updated in place");
  await t.settled("agents-live");

  // Agent token: shown once, with the command line.
  await page.getByLabel("Name").fill("site-b");
  await page.getByLabel(/Connectors/).fill("my-crm");
  await page.getByRole("button", { name: "Create agent token" }).click();
  const agentToken = (await page.locator("#agent-token-value").textContent()).trim();
  t.secret(agentToken);
  const command = await page.locator("#agent-command").textContent();
  t.check(command.includes("floh agent --server http://") && command.includes("--id site-b --connector my-crm"), `the command line (${command})`);
  t.check(await page.getByRole("button", { name: "Copy command" }).isVisible(), "a copy button");
  await t.settled("agent-token-created");
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Revoke site-b" }).click();
  await page.getByText("Token revoked.").waitFor();
  t.check(await page.locator("#agent-tokens tr", { hasText: "site-b" }).getByText("revoked").isVisible(), "the token shows as revoked");
  // Reloading never shows the token again.
  await t.visit("/agents", "agents-after-revoke");

  // API token: create (shown once), sign in with it elsewhere, revoke.
  await t.visit("/tokens", "tokens");
  await page.getByLabel("Name").fill("browser-made");
  await page.getByLabel("Role").selectOption("executor");
  await page.getByRole("button", { name: "Create token" }).click();
  const apiToken = (await page.locator("#api-token-value").textContent()).trim();
  t.secret(apiToken);
  await t.settled("token-created");

  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Revoke browser-made" }).click();
  await page.getByText("Token browser-made revoked.").waitFor();
  t.check((await page.locator("#api-tokens tr", { hasText: "browser-made" }).count()) === 0, "a revoked token is gone");
  // The revoked token no longer signs in.
  await t.signOut();
  await page.getByLabel("API token").fill(apiToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  t.check(await page.getByText("That token is not valid.").isVisible(), "a revoked token cannot sign in");
}

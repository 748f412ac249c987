// Connect an OpenAPI connector with an OAuth2 authorization-code grant from
// its page: the card says "Not connected"; Connect leads to the provider's
// sign-in and consent pages; Allow leads back to the connector page, now
// "Connected" with its scope; a command calling the protected resource
// succeeds with the host's access token.
export default async function (t) {
  const page = t.page;
  const { connector, username, password } = t.data;
  await t.signIn("admin");
  await t.visit(`/connectors/${connector}`, "oauth-not-connected");
  const card = page.locator("#oauth");
  t.check(await card.getByText("Not connected").isVisible(), "the card says the connector is not connected");

  await card.getByRole("button", { name: "Connect" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Allow" }).click();

  await page.waitForURL((url) => url.pathname === `/connectors/${connector}`);
  await page.locator("#oauth .oauth-state").getByText("Connected", { exact: true }).waitFor();
  t.check(await page.locator("#oauth").getByText("read", { exact: true }).isVisible(), "the card lists the granted scope");
  await t.settled("oauth-connected");

  await page.getByText("getMe", { exact: true }).click();
  await t.submit(page.locator("form#run-getMe").getByRole("button", { name: "Run getMe" }));
  await page.locator("#run-result").getByText("Succeeded").waitFor();
  await t.settled("oauth-command-run");
}

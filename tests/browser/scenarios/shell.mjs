// The shell: sign in, every sidebar page, sign out; signed-out pages
// redirect to sign-in.
export default async function (t) {
  const page = t.page;
  await page.goto("/connectors");
  t.check(new URL(page.url()).pathname === "/sign-in", "signed-out visitors are sent to sign in");
  await t.settled("sign-in");

  // A wrong token is refused with a message.
  await page.getByLabel("API token").fill("floh_not_a_token");
  await page.getByRole("button", { name: "Sign in" }).click();
  t.check(await page.getByRole("alert").isVisible(), "a wrong token shows an error");

  await t.signIn("admin");
  for (const [path, shot] of [
    ["/connectors", "connectors"],
    [`/connectors/${t.data.connector}`, "connector"],
    ["/executions", "executions"],
    ["/agents", "agents"],
    ["/plugins", "plugins"],
    ["/tokens", "tokens"],
  ]) {
    await t.visit(path, shot);
  }
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const label of ["Connectors", "Import from OpenAPI", "Executions", "Agents", "Plugins & types", "Tokens"]) {
    t.check(await nav.getByRole("link", { name: label, exact: true }).isVisible(), `sidebar has ${label}`);
  }
  t.check((await nav.locator(".role").textContent()) === "admin", "the sidebar shows the role");

  // A path no page answers: a 404 page in the layout, not JSON.
  const missing = await page.goto("/connectors/nope/x");
  t.check(missing.status() === 404, `an unknown page answers 404 (${missing.status()})`);
  t.check(await page.getByRole("heading", { name: "Page not found" }).isVisible(), "the 404 page says so");
  t.check(await nav.isVisible(), "the 404 page keeps the sidebar");
  await t.settled("not-found");

  await t.signOut();
  await page.goto("/connectors");
  t.check(new URL(page.url()).pathname === "/sign-in", "after sign-out the session is gone");
  const signedOut = await page.goto("/whatever");
  t.check(signedOut.status() === 404, "signed out, an unknown page answers 404 too");
  t.check(await page.getByRole("link", { name: "Sign in" }).isVisible(), "and offers to sign in");
}

// The spec's built-in flow, keyboard only: New Connector → Built-in →
// type authifi → name, description, category → the type's config → Next:
// review → Create Connector; then Test passes against the fake Authifi.
// Controls are reached with focus() and operated with keys only (Space,
// typing, Enter): every step works without a pointer.

async function press(page, locator, key = "Enter") {
  await locator.focus();
  await page.keyboard.press(key);
}

async function typeInto(page, locator, text) {
  await locator.focus();
  await page.keyboard.type(text);
}

export default async function (t) {
  const page = await t.signIn("admin");
  await t.visit("/connectors", "connectors-before-wizard");
  await press(page, page.getByRole("link", { name: "New connector" }));
  await page.waitForURL(/\/connectors\/new$/);
  await t.settled("wizard-model");

  await press(page, page.getByLabel(/^Built-in/), "Space");
  await press(page, page.getByRole("button", { name: "Next", exact: true }));
  await page.waitForURL(/model=built_in/);
  await t.settled("wizard-built-in-type");

  // A focused <select> picks the option whose text starts with what is typed.
  await typeInto(page, page.getByLabel("Type"), "authifi");
  t.check((await page.getByLabel("Type").inputValue()) === "authifi", "typing picks the authifi type");
  await press(page, page.getByRole("button", { name: "Next", exact: true }));
  await page.waitForURL(/type=authifi/);
  await t.settled("wizard-built-in-details");

  const d = t.data;
  await typeInto(page, page.getByLabel("Name", { exact: true }), "idp");
  await typeInto(page, page.getByLabel("Description", { exact: true }), "Authifi of the test tenant");
  await typeInto(page, page.getByLabel("Category (optional)"), "identity");
  for (const field of ["baseUrl", "tenant", "tenantId", "clientId", "clientSecret"]) {
    await typeInto(page, page.locator(`#config-${field}`), d[field]);
  }
  t.check((await page.locator("#config-clientSecret").getAttribute("type")) === "password", "the secret field is a password field");
  await press(page, page.getByRole("button", { name: "Next: review" }));
  await page.waitForURL(/\/connectors\/new\/review$/);
  await t.settled("wizard-built-in-review");
  t.check(await page.getByText("set (hidden)").isVisible(), "the review says the secret is set without showing it");

  await press(page, page.getByRole("button", { name: "Create Connector" }));
  await page.waitForURL(/\/connectors\/idp$/);
  await t.settled("wizard-built-in-created");

  await press(page, page.getByRole("button", { name: "Test connection" }));
  await page.getByText("Test passed").waitFor();
  await t.settled("wizard-built-in-tested");

  // None of these pages has an editor, so none loaded the editor bundle.
  await Promise.allSettled([...t.pending]);
  const scripts = t.bodies.filter((b) => b.url.includes("/assets/")).map((b) => new URL(b.url).pathname);
  t.check(scripts.length > 0 && !scripts.some((path) => path.endsWith("/editor.js")), `pages without an editor load no editor.js: ${scripts}`);
}

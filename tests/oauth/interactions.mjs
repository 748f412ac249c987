// The sign-in and consent pages of the test authorization server
// (tests/oauth/provider.mjs), built on oidc-provider's interaction API.
//
// Why our own pages instead of oidc-provider's devInteractions: those pull a
// web font from the internet (tests have no network, and a browser test must
// not reach out), accept any password, and are documented as a quick-start
// placeholder. These are plain forms with labels, so a person, Playwright
// (by label and button name) and the Rust harness (by form action) all drive
// them the same way:
//
//   GET  /interaction/:uid          the page for the current prompt
//   POST /interaction/:uid/login    username, password  (sign-in)
//   POST /interaction/:uid/confirm  (consent: "Allow")
//   POST /interaction/:uid/abort    ("Deny" / "Cancel": error=access_denied)

const PREFIX = "/interaction/";

export function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function page(res, status, title, body) {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
  });
  res.end(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)} - Test authorization server</title></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`);
}

function denyForm(uid, label) {
  return `<form method="post" action="${PREFIX}${escapeHtml(uid)}/abort">
<button type="submit">${label}</button>
</form>`;
}

function loginPage(res, status, uid, clientId, problem) {
  const alert = problem ? `<p role="alert">${escapeHtml(problem)}</p>\n` : "";
  page(
    res,
    status,
    "Sign in",
    `<p>Sign in to continue to <strong>${escapeHtml(clientId)}</strong>.</p>
${alert}<form method="post" action="${PREFIX}${escapeHtml(uid)}/login">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<button type="submit">Sign in</button>
</form>
${denyForm(uid, "Cancel")}`,
  );
}

function consentPage(res, uid, clientId, details) {
  const scopes = [
    ...(details.missingOIDCScope ?? []),
    ...Object.values(details.missingResourceScopes ?? {}).flat(),
  ];
  const items = scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join("\n");
  page(
    res,
    200,
    "Authorize access",
    `<p><strong>${escapeHtml(clientId)}</strong> asks for:</p>
<ul>
${items || "<li>the access you granted before</li>"}
</ul>
<form method="post" action="${PREFIX}${escapeHtml(uid)}/confirm">
<button type="submit">Allow</button>
</form>
${denyForm(uid, "Deny")}`,
  );
}

async function formBody(req) {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
  }
  return new URLSearchParams(text);
}

/** Record the consent the prompt asked for in the (new or existing) grant. */
async function grantConsent(provider, { grantId, session, params, prompt }) {
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { details } = prompt;
  if (details.missingOIDCScope) {
    grant.addOIDCScope(details.missingOIDCScope.join(" "));
  }
  if (details.missingOIDCClaims) {
    grant.addOIDCClaims(details.missingOIDCClaims);
  }
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(" "));
  }
  return grant.save();
}

/**
 * Handle `req` if it is an interaction route; returns false otherwise.
 * `user` is the one account that can sign in: `{ username, password }`.
 */
export async function handleInteraction(provider, user, req, res) {
  const url = new URL(req.url, "http://localhost");
  if (!url.pathname.startsWith(PREFIX)) {
    return false;
  }
  const [uid, action] = url.pathname.slice(PREFIX.length).split("/");
  try {
    // Reads the interaction through its cookie: a request without the
    // browser's (or the harness's) cookie fails here.
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      page(res, 400, "Wrong interaction", "<p>This page belongs to another sign-in.</p>");
      return true;
    }
    const clientId = details.params.client_id;
    const prompt = details.prompt.name;
    if (req.method === "GET" && action === undefined) {
      if (prompt === "login") {
        loginPage(res, 200, uid, clientId);
      } else {
        consentPage(res, uid, clientId, details.prompt.details);
      }
    } else if (req.method === "POST" && action === "login" && prompt === "login") {
      const form = await formBody(req);
      if (form.get("username") !== user.username || form.get("password") !== user.password) {
        loginPage(res, 401, uid, clientId, "Wrong username or password.");
        return true;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.username } },
        { mergeWithLastSubmission: false },
      );
    } else if (req.method === "POST" && action === "confirm" && prompt === "consent") {
      const grantId = await grantConsent(provider, details);
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    } else if (req.method === "POST" && action === "abort") {
      await provider.interactionFinished(
        req,
        res,
        { error: "access_denied", error_description: "The user denied access" },
        { mergeWithLastSubmission: false },
      );
    } else {
      page(res, 400, "Unexpected step", `<p>No ${escapeHtml(action ?? "page")} while the prompt is ${escapeHtml(prompt)}.</p>`);
    }
  } catch (error) {
    if (!res.headersSent) {
      page(res, 400, "Sign-in failed", `<p>${escapeHtml(error.message)}</p>`);
    }
  }
  return true;
}

// A real OAuth 2.0 authorization server for the end-to-end tests: npm
// `oidc-provider` (a certified OpenID Provider implementation) on loopback,
// plus a protected resource that checks its access tokens and a test-admin
// surface. Started by tests/e2e/oauth_provider.rs as
//
//   node tests/oauth/provider.mjs
//
// ENVIRONMENT
//   OAUTH_CLIENTS           JSON array of clients (required):
//                             [{"client_id": "floh", "client_secret": "s3cret",
//                               "redirect_uris": ["http://127.0.0.1:8080/api/oauth/callback"],
//                               "token_endpoint_auth_method": "client_secret_basic"}]
//                           auth method: client_secret_basic (default),
//                           client_secret_post, or none (a public client,
//                           no secret). Every client may use the grants
//                           authorization_code, refresh_token and password,
//                           and must authenticate with its registered method
//                           (oidc-provider alone would take either secret
//                           method; see holdToRegisteredAuthMethod).
//   OAUTH_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3).
//   OAUTH_USERNAME          the one account that can sign in, on the login
//   OAUTH_PASSWORD          page and with the password grant (default
//                           "ada" / "ada-test-password").
//   FLOH_NODE_MODULES       where `oidc-provider` is installed (default:
//                           resolved from this file, i.e. tests/node_modules).
//
// READY LINE: once listening on 127.0.0.1 (a free port), prints one JSON
// line on stdout and nothing else there:
//   {"issuer":"http://127.0.0.1:PORT",
//    "authorizationUrl":"…/authorize", "tokenUrl":"…/token",
//    "revocationUrl":"…/token/revocation", "resourceUrl":"…/resource/me",
//    "resourceIndicator":"…/resource", "adminUrl":"…/test-admin",
//    "discoveryUrl":"…/.well-known/openid-configuration"}
// Diagnostics (oidc-provider's warnings, refused token requests) go to stderr.
//
// WHAT THE PROVIDER ENFORCES
//   - PKCE with S256 on every authorization request (oidc-provider 9 knows
//     no `plain`); a wrong code_verifier is refused with invalid_grant.
//   - redirect_uri must be sent and match, at /authorize and at /token.
//   - A refresh token with every token response, without offline_access or
//     prompt=consent; rotated on every use. Presenting a rotated (used)
//     refresh token is refused with invalid_grant AND, as oidc-provider's
//     reuse detection does, revokes the whole grant: the newest refresh
//     token of that grant dies with it.
//   - Scopes: `read` and `write` belong to the resource (the resource
//     indicator above, the default for every request, so clients need not
//     send `resource`); `openid` and `offline_access` are the OpenID ones.
//     Access tokens are opaque, audience-bound to the resource, scoped to
//     the granted `read`/`write`. The authorization response also carries
//     `iss` (RFC 9207).
//   - Sign-in and consent are our own plain forms (tests/oauth/interactions.mjs);
//     "Deny" or "Cancel" ends in error=access_denied at the redirect_uri.
//
// PROTECTED RESOURCE
//   GET /resource/me  with `Authorization: Bearer <access token>`:
//     200 {"sub","scope","clientId"} when the token is live, issued for the
//     resource and carries `read`; 401 with `WWW-Authenticate: Bearer
//     error="invalid_token"` when it is unknown, expired, revoked or for
//     another audience (no error code when there is no token at all); 403
//     `error="insufficient_scope"` without `read`.
//
// TEST INSTRUMENTATION (not OAuth; answered on loopback only)
//   GET  /test-admin/stats                 {"granted": {grant_type: n},
//        "refused": {error: n}, "refusedByGrantType": {grant_type: {error: n}},
//        "clientAuthentication": {method: n}, "resource": {"ok": n, "refused": n}}
//        since start; clientAuthentication counts token requests by the
//        method the client used (client_secret_basic, client_secret_post, none)
//   GET  /test-admin/tokens                {"issued": [...]}: every access and
//                                          refresh token value issued since start
//   POST /test-admin/revoke                every grant and its tokens are gone:
//                                          the next refresh answers invalid_grant
//   POST /test-admin/expire-access-tokens  every access token is destroyed:
//                                          the resource answers 401

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { escapeHtml, handleInteraction } from "./interactions.mjs";
import { MapAdapter, destroyEveryAccessToken, issuedTokens, revokeEveryGrant } from "./store.mjs";

const env = process.env;

// oidc-provider prints its notices with console.info, i.e. on stdout, which
// carries only the ready line here.
console.info = console.error;

/** oidc-provider from FLOH_NODE_MODULES when given (like tests/browser). */
async function importOidcProvider() {
  if (!env.FLOH_NODE_MODULES) {
    return import("oidc-provider");
  }
  const require = createRequire(join(env.FLOH_NODE_MODULES, "noop.js"));
  return import(pathToFileURL(require.resolve("oidc-provider")).href);
}

const { Provider, errors } = await importOidcProvider();

const CLIENTS = JSON.parse(env.OAUTH_CLIENTS ?? "null");
if (!Array.isArray(CLIENTS) || CLIENTS.length === 0) {
  console.error("OAUTH_CLIENTS must be a non-empty JSON array of clients");
  process.exit(2);
}
const ACCESS_TOKEN_TTL = Number(env.OAUTH_ACCESS_TOKEN_TTL ?? 3);
const USER = {
  username: env.OAUTH_USERNAME ?? "ada",
  password: env.OAUTH_PASSWORD ?? "ada-test-password",
};
const RESOURCE_SCOPES = ["read", "write"];

const ROUTES = {
  authorization: "/authorize",
  token: "/token",
  revocation: "/token/revocation",
  jwks: "/jwks",
  userinfo: "/userinfo",
};

/** Counts for GET /test-admin/stats. */
const stats = {
  granted: {},
  refused: {},
  refusedByGrantType: {},
  clientAuthentication: {},
  resource: { ok: 0, refused: 0 },
};

function count(object, key) {
  object[key] = (object[key] ?? 0) + 1;
}

// The issuer names the port, so listen first and build the provider after:
// no test sends a request before the ready line, and by then it exists.
let provider;
const server = createServer((req, res) => {
  route(req, res).catch((error) => {
    console.error("request failed:", error);
    if (!res.headersSent) {
      res.writeHead(500).end();
    }
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const resourceIndicator = `${issuer}/resource`;

/** A client's token endpoint authentication method, as registered. */
function registeredAuthMethod(client) {
  return client.token_endpoint_auth_method ?? (client.client_secret ? "client_secret_basic" : "none");
}

/** The resource as oidc-provider sees it: its scopes and token format. */
function resourceServerInfo() {
  return {
    scope: RESOURCE_SCOPES.join(" "),
    audience: resourceIndicator,
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: "opaque",
  };
}

/** A fresh signing key per run: ID tokens need one, nothing keeps it. */
function signingKeys() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "test-key", use: "sig", alg: "RS256" }] };
}

provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: CLIENTS.map((client) => ({
    client_id: client.client_id,
    ...(client.client_secret ? { client_secret: client.client_secret } : {}),
    redirect_uris: client.redirect_uris,
    token_endpoint_auth_method: registeredAuthMethod(client),
    grant_types: ["authorization_code", "refresh_token", "password"],
    response_types: ["code"],
  })),
  jwks: signingKeys(),
  cookies: { keys: [randomBytes(32).toString("hex")] },
  routes: ROUTES,
  scopes: ["openid", "offline_access"],
  pkce: { required: () => true },
  allowOmittingSingleRegisteredRedirectUri: false,
  // Always a refresh token, not only for offline_access: Floh's server keeps
  // it for unattended runs, and must not need prompt=consent to get one.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  rotateRefreshToken: true,
  // Tokens outlive the browser sign-in session: a server holds them.
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    RefreshToken: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
    Interaction: 10 * 60,
    Session: 24 * 60 * 60,
  },
  findAccount: async (_ctx, sub) =>
    sub === USER.username ? { accountId: sub, claims: async () => ({ sub }) } : undefined,
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resourceIndicator,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resourceIndicator) {
          throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        }
        return resourceServerInfo();
      },
    },
  },
  // The default error page imports a web font from the internet.
  renderError: async (ctx, out) => {
    ctx.type = "html";
    const lines = Object.entries(out).map(([k, v]) => `<p>${escapeHtml(k)}: ${escapeHtml(v)}</p>`);
    ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head><body><main><h1>Authorization error</h1>${lines.join("")}</main></body></html>`;
  },
});

provider.registerGrantType("password", passwordGrant, ["username", "password", "scope"]);

provider.on("grant.success", (ctx) => count(stats.granted, ctx.oidc.params.grant_type));
provider.on("grant.error", (ctx, error) => refused(ctx, error));
provider.on("server_error", (ctx, error) => {
  console.error("oidc-provider server error:", error);
  if (ctx.oidc?.route === "token") {
    refused(ctx, error);
  }
});

function refused(ctx, error) {
  countRefusal(ctx.oidc?.params?.grant_type, error.error ?? "server_error", error.error_description ?? error.message);
}

function countRefusal(grantType = "(none)", code, description) {
  count(stats.refused, code);
  stats.refusedByGrantType[grantType] ??= {};
  count(stats.refusedByGrantType[grantType], code);
  console.error(`token endpoint refused ${grantType}: ${code} (${description})`);
}

/**
 * The resource-owner password grant (RFC 6749 §4.3), which oidc-provider
 * leaves out: the one test user, resource scopes only, tokens made with
 * oidc-provider's own models so that refresh, rotation and revocation of
 * them behave as for the code grant.
 */
async function passwordGrant(ctx) {
  const { client, params } = ctx.oidc;
  if (!params.username || !params.password) {
    throw new errors.InvalidRequest("username and password are required");
  }
  if (params.username !== USER.username || params.password !== USER.password) {
    throw new errors.InvalidGrant("wrong resource owner credentials");
  }
  const requested = params.scope ? params.scope.split(" ") : RESOURCE_SCOPES;
  const unknown = requested.filter((scope) => !RESOURCE_SCOPES.includes(scope));
  if (unknown.length) {
    throw new errors.InvalidScope("the password grant grants read and write only", unknown.join(" "));
  }
  const scope = requested.join(" ");
  const accountId = USER.username;
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addResourceScope(resourceIndicator, scope);
  const grantId = await grant.save();
  const accessToken = new provider.AccessToken({ accountId, client, grantId, gty: "password", scope });
  accessToken.resourceServer = new provider.ResourceServer(resourceIndicator, resourceServerInfo());
  const refreshToken = new provider.RefreshToken({
    accountId,
    client,
    grantId,
    gty: "password",
    scope,
    resource: resourceIndicator,
    rotations: 0,
  });
  ctx.body = {
    access_token: await accessToken.save(),
    token_type: accessToken.tokenType,
    expires_in: accessToken.expiration,
    refresh_token: await refreshToken.save(),
    scope,
  };
}

function isLoopback(req) {
  const address = req.socket.remoteAddress ?? "";
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

async function resource(req, res) {
  const header = req.headers.authorization ?? "";
  const realm = `Bearer realm="${resourceIndicator}"`;
  const unauthorized = (challenge) => {
    count(stats.resource, "refused");
    json(res, 401, { error: "invalid_token" }, { "www-authenticate": challenge });
  };
  if (!/^Bearer /i.test(header)) {
    return unauthorized(realm);
  }
  const token = await provider.AccessToken.find(header.slice("Bearer ".length).trim());
  const audiences = [token?.aud].flat();
  if (!token || !audiences.includes(resourceIndicator)) {
    return unauthorized(`${realm}, error="invalid_token"`);
  }
  if (!token.scopes.has("read")) {
    count(stats.resource, "refused");
    return json(res, 403, { error: "insufficient_scope" }, {
      "www-authenticate": `${realm}, error="insufficient_scope", scope="read"`,
    });
  }
  count(stats.resource, "ok");
  return json(res, 200, { sub: token.accountId, scope: token.scope, clientId: token.clientId });
}

async function testAdmin(req, res, action) {
  if (!isLoopback(req)) {
    return json(res, 403, { error: "test instrumentation answers on loopback only" });
  }
  if (req.method === "GET" && action === "stats") {
    return json(res, 200, stats);
  }
  if (req.method === "GET" && action === "tokens") {
    return json(res, 200, { issued: issuedTokens() });
  }
  if (req.method === "POST" && action === "revoke") {
    return json(res, 200, { revokedGrants: revokeEveryGrant() });
  }
  if (req.method === "POST" && action === "expire-access-tokens") {
    return json(res, 200, { destroyedAccessTokens: destroyEveryAccessToken() });
  }
  return json(res, 404, { error: "no such test-admin action" });
}

/**
 * oidc-provider takes client_secret_basic and client_secret_post from any
 * client that has a secret, whichever it registered. Real providers often
 * hold a client to its registered method, and a test must be able to tell
 * which one Floh used: so this counts the method of every token request
 * and refuses a mismatch with invalid_client. Returns true if it answered.
 *
 * The body is read here and handed on as `req.body`, which oidc-provider
 * accepts (with a one-time warning about an upstream body parser).
 */
async function holdToRegisteredAuthMethod(req, res) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  req.body = Buffer.concat(chunks);
  const form = new URLSearchParams(req.body.toString());
  const [scheme, credentials] = (req.headers.authorization ?? "").split(" ");
  let clientId = form.get("client_id");
  let used = form.has("client_secret") ? "client_secret_post" : "none";
  if (scheme?.toLowerCase() === "basic" && credentials) {
    const decoded = Buffer.from(credentials, "base64").toString();
    // RFC 6749 §2.3.1: the id is form-encoded before Basic encoding.
    clientId = new URLSearchParams(`id=${decoded.slice(0, Math.max(decoded.indexOf(":"), 0))}`).get("id");
    used = "client_secret_basic";
  }
  count(stats.clientAuthentication, used);
  const client = CLIENTS.find((c) => c.client_id === clientId);
  // An unknown client is oidc-provider's to refuse.
  if (!client || used === registeredAuthMethod(client)) {
    return false;
  }
  const registered = registeredAuthMethod(client);
  const description = `client authentication must use ${registered}, not ${used}`;
  countRefusal(form.get("grant_type") ?? undefined, "invalid_client", description);
  json(res, 401, { error: "invalid_client", error_description: description }, used === "client_secret_basic" ? { "www-authenticate": `Basic realm="${issuer}"` } : {});
  return true;
}

const providerCallback = provider.callback();

async function route(req, res) {
  const { pathname } = new URL(req.url, issuer);
  if (pathname === "/resource/me" && req.method === "GET") {
    return resource(req, res);
  }
  if (pathname.startsWith("/test-admin/")) {
    return testAdmin(req, res, pathname.slice("/test-admin/".length));
  }
  if (await handleInteraction(provider, USER, req, res)) {
    return undefined;
  }
  if (pathname === ROUTES.token && req.method === "POST" && (await holdToRegisteredAuthMethod(req, res))) {
    return undefined;
  }
  return providerCallback(req, res);
}

console.log(
  JSON.stringify({
    issuer,
    authorizationUrl: `${issuer}${ROUTES.authorization}`,
    tokenUrl: `${issuer}${ROUTES.token}`,
    revocationUrl: `${issuer}${ROUTES.revocation}`,
    resourceUrl: `${issuer}/resource/me`,
    resourceIndicator,
    adminUrl: `${issuer}/test-admin`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
  }),
);

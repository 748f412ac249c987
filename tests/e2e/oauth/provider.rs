//! The real OAuth 2.0 authorization server the OAuth tests run against:
//! `tests/oauth/provider.mjs` (npm `oidc-provider`, installed by `just
//! e2e-deps`) as a child process on loopback, with a protected resource and
//! test instrumentation. See that file for what the provider enforces.
//!
//! ```ignore
//! if !AuthServer::available() { return; }
//! let auth = AuthServer::start(&[ClientSpec::basic("floh", "s3cret", &callback)], 3);
//! let callback_url = auth.consent(&authorize_url).await; // …/callback?code=…&state=…
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use super::cookie_jar::CookieJar;

/// The one account that can sign in (login page and password grant).
pub const USERNAME: &str = "ada";
/// Its password.
pub const PASSWORD: &str = "ada-test-password";

/// Redirects a sign-in may take before it must have reached the client.
const MAX_STEPS: usize = 12;

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the form body, no secret; PKCE is
    /// all that binds the code to it.
    None,
}

impl TokenAuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// A client registered at the authorization server.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (none for a public client).
    pub client_secret: Option<String>,
    /// Exact redirect URIs the provider accepts.
    pub redirect_uris: Vec<String>,
    /// `token_endpoint_auth_method`.
    pub auth_method: TokenAuthMethod,
}

impl ClientSpec {
    /// A confidential client using HTTP Basic at the token endpoint.
    pub fn basic(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_string(),
            client_secret: Some(client_secret.to_string()),
            redirect_uris: vec![redirect_uri.to_string()],
            auth_method: TokenAuthMethod::ClientSecretBasic,
        }
    }

    /// A confidential client sending its secret in the form body.
    pub fn post(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            auth_method: TokenAuthMethod::ClientSecretPost,
            ..Self::basic(client_id, client_secret, redirect_uri)
        }
    }

    /// A public client (no secret).
    pub fn public(client_id: &str, redirect_uri: &str) -> Self {
        Self {
            client_secret: None,
            auth_method: TokenAuthMethod::None,
            ..Self::basic(client_id, "", redirect_uri)
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
            "token_endpoint_auth_method": self.auth_method.as_str(),
        })
    }
}

/// What the person does on the consent page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Choice {
    Allow,
    Deny,
}

/// A running `tests/oauth/provider.mjs`, killed on drop.
pub struct AuthServer {
    child: Child,
    /// Everything the process printed on stderr, for failure messages.
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT`, also the `iss` of the authorization response.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The protected resource: `GET` with a bearer token answers
    /// `{sub, scope, clientId}`, or 401.
    pub resource_url: String,
    admin_url: String,
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

impl AuthServer {
    /// Whether `oidc-provider` is installed; when not, says so and returns
    /// false, or fails when the environment requires npm tests (CI sets
    /// `FLOH_REQUIRE_NPM_TESTS`). Call it first and skip the test on false.
    pub fn available() -> bool {
        if tests_dir()
            .join("node_modules/oidc-provider/package.json")
            .exists()
        {
            return true;
        }
        let message = "oidc-provider is not installed: run `just e2e-deps`";
        assert!(
            std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
            "{message}"
        );
        eprintln!("skipping: {message}");
        false
    }

    /// Start the server with `clients` and access tokens that live
    /// `access_ttl_secs` seconds; returns once it listens.
    pub fn start(clients: &[ClientSpec], access_ttl_secs: u64) -> Self {
        let clients: Vec<Value> = clients.iter().map(ClientSpec::to_json).collect();
        let mut child = Command::new("node")
            .arg(tests_dir().join("oauth/provider.mjs"))
            .env("FLOH_NODE_MODULES", tests_dir().join("node_modules"))
            .env("OAUTH_CLIENTS", Value::from(clients).to_string())
            .env("OAUTH_ACCESS_TOKEN_TTL", access_ttl_secs.to_string())
            .env("OAUTH_USERNAME", USERNAME)
            .env("OAUTH_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node tests/oauth/provider.mjs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = stderr.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut text = collected.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let (ready_sender, ready) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(urls) = serde_json::from_str::<Value>(&line)
                    && urls["issuer"].is_string()
                {
                    let _ = ready_sender.send(urls);
                }
            }
        });
        let Ok(urls) = ready.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            let printed = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
            panic!("the authorization server did not start:\n{printed}");
        };
        let url = |key: &str| urls[key].as_str().expect(key).to_string();
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            issuer: url("issuer"),
            authorization_url: url("authorizationUrl"),
            token_url: url("tokenUrl"),
            resource_url: url("resourceUrl"),
            admin_url: url("adminUrl"),
            child,
            stderr,
        }
    }

    /// Everything the server printed on stderr so far (refused token
    /// requests are logged there with their reason).
    pub fn printed(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sign in as [`USERNAME`] and allow access, the way a person would in a
    /// fresh browser: follows the provider's redirects from
    /// `authorize_url`, filling the sign-in and consent forms. Returns the
    /// redirect to the client — its redirect_uri with `code`, `state` and
    /// `iss`, or with `error` when the provider refused the request — without
    /// requesting it.
    pub async fn consent(&self, authorize_url: &str) -> String {
        self.walk(authorize_url, Choice::Allow).await
    }

    /// Like [`Self::consent`], but sign in and then deny: the redirect carries
    /// `error=access_denied`.
    pub async fn deny(&self, authorize_url: &str) -> String {
        self.walk(authorize_url, Choice::Deny).await
    }

    async fn walk(&self, authorize_url: &str, choice: Choice) -> String {
        let mut jar = CookieJar::default();
        let mut url = reqwest::Url::parse(authorize_url).expect("authorize URL");
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..MAX_STEPS {
            let mut request = match &form {
                Some(fields) => self
                    .http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form_body(fields)),
                None => self.http.get(url.clone()),
            };
            if let Some(cookies) = jar.header_for(url.path()) {
                request = request.header(COOKIE, cookies);
            }
            let response = request.send().await.expect("request to the provider");
            for set_cookie in response.headers().get_all(SET_COOKIE) {
                jar.store(set_cookie.to_str().unwrap_or_default());
            }
            let status = response.status();
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let body = response.text().await.unwrap_or_default();
            if let Some(location) = location.filter(|_| status.is_redirection()) {
                let next = url.join(&location).expect("redirect location");
                if !next.as_str().starts_with(&format!("{}/", self.issuer)) {
                    return next.to_string();
                }
                url = next;
                form = None;
                continue;
            }
            assert!(
                status.is_success(),
                "the provider answered {status} at {url}:\n{body}\n{}",
                self.printed()
            );
            // A page: sign in if it asks, else answer the consent question.
            let actions = form_actions(&body);
            let pick = |suffix: &str| actions.iter().find(|a| a.ends_with(suffix));
            let (target, fields) = match (pick("/login"), choice) {
                (Some(login), _) => (login, vec![("username", USERNAME), ("password", PASSWORD)]),
                (None, Choice::Allow) => (
                    pick("/confirm").unwrap_or_else(|| panic!("no Allow form:\n{body}")),
                    vec![],
                ),
                (None, Choice::Deny) => (
                    pick("/abort").unwrap_or_else(|| panic!("no Deny form:\n{body}")),
                    vec![],
                ),
            };
            url = url.join(target).expect("form action");
            form = Some(fields);
        }
        panic!("the sign-in took more than {MAX_STEPS} steps; stopped at {url}");
    }

    /// Every access and refresh token the provider issued so far.
    pub async fn issued_tokens(&self) -> Vec<String> {
        let response = self
            .http
            .get(format!("{}/tokens", self.admin_url))
            .send()
            .await
            .expect("tokens");
        let body: Value = response.json().await.expect("tokens JSON");
        body["issued"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    }

    /// What the token endpoint and the resource counted since start.
    pub async fn stats(&self) -> Stats {
        let response = self
            .http
            .get(format!("{}/stats", self.admin_url))
            .send()
            .await
            .expect("stats");
        assert!(response.status().is_success(), "stats: {response:?}");
        Stats(response.json().await.expect("stats JSON"))
    }

    /// Revoke every grant and its tokens, as a person revoking the app at
    /// the provider does: the next refresh answers `invalid_grant`.
    pub async fn revoke_all(&self) {
        self.admin_post("revoke").await;
    }

    /// Destroy every access token: the resource answers 401 until the
    /// client refreshes.
    pub async fn expire_access_tokens(&self) {
        self.admin_post("expire-access-tokens").await;
    }

    async fn admin_post(&self, action: &str) {
        let response = self
            .http
            .post(format!("{}/{action}", self.admin_url))
            .send()
            .await
            .expect(action);
        assert!(response.status().is_success(), "{action}: {response:?}");
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `application/x-www-form-urlencoded` (reqwest's `form` feature is off in
/// the workspace).
pub fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The `action` of every form on a page, HTML entities for `&` undone.
fn form_actions(html: &str) -> Vec<String> {
    html.split("<form")
        .skip(1)
        .filter_map(|form| {
            let start = form.find("action=\"")? + "action=\"".len();
            let end = start + form[start..].find('"')?;
            Some(form[start..end].replace("&amp;", "&"))
        })
        .collect()
}

/// Counts from the authorization server's test instrumentation.
pub struct Stats(Value);

impl Stats {
    /// Successful token requests of `grant_type`.
    pub fn granted(&self, grant_type: &str) -> u64 {
        self.0["granted"][grant_type].as_u64().unwrap_or(0)
    }

    /// Refused token requests with `error` (e.g. `invalid_grant`), any grant.
    pub fn refused(&self, error: &str) -> u64 {
        self.0["refused"][error].as_u64().unwrap_or(0)
    }

    /// Refused token requests of `grant_type` with `error`.
    pub fn refused_for(&self, grant_type: &str, error: &str) -> u64 {
        self.0["refusedByGrantType"][grant_type][error]
            .as_u64()
            .unwrap_or(0)
    }

    /// Token requests that authenticated with `method`
    /// (`client_secret_basic`, `client_secret_post` or `none`), refused or not.
    pub fn client_authentication(&self, method: &str) -> u64 {
        self.0["clientAuthentication"][method].as_u64().unwrap_or(0)
    }

    /// Resource requests answered 200.
    pub fn resource_ok(&self) -> u64 {
        self.0["resource"]["ok"].as_u64().unwrap_or(0)
    }

    /// Resource requests answered 401 or 403.
    pub fn resource_refused(&self) -> u64 {
        self.0["resource"]["refused"].as_u64().unwrap_or(0)
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

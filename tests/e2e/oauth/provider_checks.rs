//! The authorization server itself, driven as a client would: these pin the
//! provider behaviour the OAuth connection tests build on (PKCE, refresh
//! token rotation and replay, revocation, the test counts), so an
//! `oidc-provider` upgrade that changes it fails here, not in a Floh test.

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::provider::{AuthServer, ClientSpec, TokenAuthMethod, USERNAME, form_body};

/// Never requested: the harness stops at the redirect to it.
const REDIRECT: &str = "http://127.0.0.1:9/api/oauth/callback";

/// A PKCE pair (RFC 7636, S256).
struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new() -> Self {
        let mut random = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut random))
            .expect("random bytes");
        let verifier = URL_SAFE_NO_PAD.encode(random);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The URL a client sends the person to, with PKCE S256 when given.
fn authorize_url(
    auth: &AuthServer,
    client: &ClientSpec,
    scope: &str,
    state: &str,
    pkce: Option<&Pkce>,
) -> String {
    let mut url = url::Url::parse(&auth.authorization_url).expect("authorization URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", state);
    if let Some(pkce) = pkce {
        url.query_pairs_mut()
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
    }
    url.to_string()
}

/// The query parameters of the redirect the harness stopped at.
fn callback_params(callback: &str) -> HashMap<String, String> {
    assert!(callback.starts_with(REDIRECT), "{callback}");
    url::Url::parse(callback)
        .expect("callback URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// A token request as `client`: status and JSON body.
async fn token(auth: &AuthServer, client: &ClientSpec, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut fields = fields.to_vec();
    let mut request = reqwest::Client::new().post(&auth.token_url);
    let secret = client.client_secret.as_deref();
    match client.auth_method {
        TokenAuthMethod::ClientSecretBasic => {
            request = request.basic_auth(&client.client_id, secret);
        }
        TokenAuthMethod::ClientSecretPost => {
            fields.push(("client_id", &client.client_id));
            fields.push(("client_secret", secret.unwrap_or_default()));
        }
        TokenAuthMethod::None => fields.push(("client_id", &client.client_id)),
    }
    let response = request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&fields))
        .send()
        .await
        .expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token JSON"))
}

async fn exchange(
    auth: &AuthServer,
    client: &ClientSpec,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    token(auth, client, &fields).await
}

async fn refresh(auth: &AuthServer, client: &ClientSpec, refresh_token: &Value) -> (u16, Value) {
    let refresh_token = refresh_token.as_str().expect("refresh token");
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token(auth, client, &fields).await
}

/// The resource with `access_token`: status, JSON, `WWW-Authenticate`.
async fn resource(auth: &AuthServer, access_token: &Value) -> (u16, Value, String) {
    let response = reqwest::Client::new()
        .get(&auth.resource_url)
        .bearer_auth(access_token.as_str().expect("access token"))
        .send()
        .await
        .expect("resource request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        response.json().await.expect("resource JSON"),
        challenge,
    )
}

/// Sign in, allow, exchange the code: the token response. Asks for the
/// OpenID scopes too: they add an ID token, while the access token keeps
/// the resource's scopes only (and offline_access is not needed for a
/// refresh token).
async fn connect(auth: &AuthServer, client: &ClientSpec) -> Value {
    let pkce = Pkce::new();
    let scope = "openid offline_access read write";
    let callback = auth
        .consent(&authorize_url(auth, client, scope, "s", Some(&pkce)))
        .await;
    let code = &callback_params(&callback)["code"];
    let (status, tokens) = exchange(auth, client, code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "read write");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    tokens
}

#[tokio::test]
async fn a_code_grant_refreshes_with_rotation_and_a_replayed_refresh_token_revokes_the_grant() {
    if !AuthServer::available() {
        return;
    }
    let client = ClientSpec::basic("floh", "floh-secret", REDIRECT);
    let auth = AuthServer::start(std::slice::from_ref(&client), 2);
    let pkce = Pkce::new();

    let callback = auth
        .consent(&authorize_url(
            &auth,
            &client,
            "read write",
            "state-1",
            Some(&pkce),
        ))
        .await;
    let params = callback_params(&callback);
    assert_eq!(params["state"], "state-1");
    assert_eq!(
        params["iss"], auth.issuer,
        "RFC 9207 issuer in the response"
    );
    let code = &params["code"];

    // A wrong verifier is refused and leaves the code usable.
    let wrong = Pkce::new();
    let (status, body) = exchange(&auth, &client, code, &wrong.verifier).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );
    let (status, tokens) = exchange(&auth, &client, code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 2);
    assert_eq!(tokens["scope"], "read write");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    let (status, me, _) = resource(&auth, &tokens["access_token"]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (&me["sub"], &me["scope"], &me["clientId"]),
        (
            &Value::from(USERNAME),
            &Value::from("read write"),
            &Value::from("floh")
        )
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _, challenge) = resource(&auth, &tokens["access_token"]).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    let (status, renewed) = refresh(&auth, &client, &tokens["refresh_token"]).await;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"], "rotated");
    let (status, me, _) = resource(&auth, &renewed["access_token"]).await;
    assert_eq!(status, 200, "{me}");

    // Replaying the rotated token is refused, and oidc-provider's reuse
    // detection revokes the grant: the newest refresh token dies with it.
    let (status, body) = refresh(&auth, &client, &tokens["refresh_token"]).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );
    let (status, body) = refresh(&auth, &client, &renewed["refresh_token"]).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );

    let stats = auth.stats().await;
    assert_eq!(stats.granted("authorization_code"), 1, "{stats}");
    assert_eq!(stats.granted("refresh_token"), 1, "{stats}");
    assert_eq!(
        stats.refused_for("authorization_code", "invalid_grant"),
        1,
        "{stats}"
    );
    assert_eq!(
        stats.refused_for("refresh_token", "invalid_grant"),
        2,
        "{stats}"
    );
    assert_eq!(stats.refused("invalid_grant"), 3, "{stats}");
    assert_eq!(
        (stats.resource_ok(), stats.resource_refused()),
        (2, 1),
        "{stats}"
    );
}

#[tokio::test]
async fn revoking_every_grant_refuses_the_next_refresh_and_expiring_access_tokens_forces_one() {
    if !AuthServer::available() {
        return;
    }
    let client = ClientSpec::post("floh-post", "floh-post-secret", REDIRECT);
    let auth = AuthServer::start(std::slice::from_ref(&client), 600);
    let tokens = connect(&auth, &client).await;

    auth.expire_access_tokens().await;
    let (status, _, _) = resource(&auth, &tokens["access_token"]).await;
    assert_eq!(status, 401, "destroyed long before its 600 s");
    let (status, renewed) = refresh(&auth, &client, &tokens["refresh_token"]).await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(resource(&auth, &renewed["access_token"]).await.0, 200);

    auth.revoke_all().await;
    let (status, body) = refresh(&auth, &client, &renewed["refresh_token"]).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );
    assert_eq!(resource(&auth, &renewed["access_token"]).await.0, 401);

    // After a revocation the next sign-in asks for consent again and works.
    connect(&auth, &client).await;

    let stats = auth.stats().await;
    assert_eq!(stats.granted("authorization_code"), 2, "{stats}");
    assert_eq!(stats.granted("refresh_token"), 1, "{stats}");
    assert_eq!(stats.refused("invalid_grant"), 1, "{stats}");
}

#[tokio::test]
async fn a_public_client_needs_no_secret_and_a_confidential_one_keeps_to_its_auth_method() {
    if !AuthServer::available() {
        return;
    }
    let public = ClientSpec::public("floh-public", REDIRECT);
    let confidential = ClientSpec::post("floh-post", "floh-post-secret", REDIRECT);
    let auth = AuthServer::start(&[public.clone(), confidential.clone()], 60);

    let tokens = connect(&auth, &public).await;
    let (status, renewed) = refresh(&auth, &public, &tokens["refresh_token"]).await;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
    let (status, me, _) = resource(&auth, &renewed["access_token"]).await;
    assert_eq!(
        (status, &me["clientId"]),
        (200, &Value::from("floh-public")),
        "{me}"
    );

    // Registered for client_secret_post: HTTP Basic is refused.
    let tokens = connect(&auth, &confidential).await;
    let as_basic = ClientSpec {
        auth_method: TokenAuthMethod::ClientSecretBasic,
        ..confidential.clone()
    };
    let (status, body) = refresh(&auth, &as_basic, &tokens["refresh_token"]).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &Value::from("invalid_client")),
        "{body}"
    );
    let (status, _) = refresh(&auth, &confidential, &tokens["refresh_token"]).await;
    assert_eq!(status, 200, "the refused attempt left the token usable");

    let stats = auth.stats().await;
    assert_eq!(
        stats.refused_for("refresh_token", "invalid_client"),
        1,
        "{stats}"
    );
    assert_eq!(stats.client_authentication("none"), 2, "{stats}");
    assert_eq!(
        stats.client_authentication("client_secret_post"),
        2,
        "{stats}"
    );
    assert_eq!(
        stats.client_authentication("client_secret_basic"),
        1,
        "{stats}"
    );
}

#[tokio::test]
async fn denying_consent_or_omitting_pkce_ends_in_an_error_redirect() {
    if !AuthServer::available() {
        return;
    }
    let client = ClientSpec::basic("floh", "floh-secret", REDIRECT);
    let auth = AuthServer::start(std::slice::from_ref(&client), 60);

    let denied = auth
        .deny(&authorize_url(
            &auth,
            &client,
            "read",
            "state-2",
            Some(&Pkce::new()),
        ))
        .await;
    let params = callback_params(&denied);
    assert_eq!(params["error"], "access_denied", "{denied}");
    assert_eq!(params["state"], "state-2");

    let refused = auth
        .consent(&authorize_url(&auth, &client, "read", "state-3", None))
        .await;
    let params = callback_params(&refused);
    assert_eq!(params["error"], "invalid_request", "{refused}");
    assert!(params["error_description"].contains("PKCE"), "{refused}");
}

#[tokio::test]
async fn the_password_grant_checks_the_owner_and_its_refresh_tokens_rotate() {
    if !AuthServer::available() {
        return;
    }
    let client = ClientSpec::basic("floh", "floh-secret", REDIRECT);
    let auth = AuthServer::start(std::slice::from_ref(&client), 60);
    let grant = |password| {
        [
            ("grant_type", "password"),
            ("username", USERNAME),
            ("password", password),
            ("scope", "read"),
        ]
    };

    let (status, body) = token(&auth, &client, &grant("wrong")).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );
    let (status, tokens) = token(&auth, &client, &grant(super::provider::PASSWORD)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "read");
    let (status, me, _) = resource(&auth, &tokens["access_token"]).await;
    assert_eq!((status, &me["scope"]), (200, &Value::from("read")), "{me}");

    let (status, renewed) = refresh(&auth, &client, &tokens["refresh_token"]).await;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
    assert_eq!(resource(&auth, &renewed["access_token"]).await.0, 200);

    let stats = auth.stats().await;
    assert_eq!(stats.granted("password"), 1, "{stats}");
    assert_eq!(stats.granted("refresh_token"), 1, "{stats}");
    assert_eq!(stats.refused_for("password", "invalid_grant"), 1, "{stats}");
}

//! Requests to a provider's token endpoint (RFC 6749 §4.1.3, §4.3, §6): the
//! code exchange, the password grant and refreshes, with the client
//! authenticated as the connector's settings say. They go out through the
//! connector's own [`HostCalls`], so the egress policy, timeouts and size
//! limits of its executions apply to its token endpoint too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use crate::bindings::http::{Method, Request};
use crate::imports::http::describe as describe_http_error;
use crate::model::ClientAuthentication;
use crate::runtime::HostCalls;

/// The OAuth2 client, as configured on the connector.
pub struct Client<'a> {
    /// `client_id`.
    pub id: &'a str,
    /// `client_secret`; none for a public client.
    pub secret: Option<&'a str>,
    /// Basic or form-body authentication.
    pub authentication: ClientAuthentication,
}

/// What is exchanged for tokens.
pub enum Grant<'a> {
    /// The code from the callback, with the verifier kept for it.
    AuthorizationCode {
        /// The code.
        code: &'a str,
        /// The PKCE verifier.
        verifier: &'a str,
        /// The redirect URI the authorization used (it must match).
        redirect_uri: &'a str,
    },
    /// A refresh token.
    Refresh {
        /// The refresh token.
        refresh_token: &'a str,
    },
    /// The resource owner's credentials.
    Password {
        /// User name.
        username: &'a str,
        /// Password.
        password: &'a str,
        /// Scopes requested.
        scopes: &'a [String],
    },
}

/// A successful token response.
#[derive(Clone, Deserialize)]
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// `Bearer` normally.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds until the access token expires, when the provider says.
    #[serde(default, deserialize_with = "seconds")]
    pub expires_in: Option<u64>,
    /// A (new) refresh token, when the provider issued one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated, when they differ from the request.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why the token endpoint gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is expired, revoked,
    /// already used, or its PKCE verifier does not match. Only a person can
    /// repair this, by connecting again.
    #[error("the provider refused the grant (invalid_grant){}", detail(.0))]
    InvalidGrant(Option<String>),
    /// Another OAuth error (`invalid_client`, `unauthorized_client`, …).
    #[error("the provider answered `{error}`{}", detail(.description))]
    Refused {
        /// The OAuth error code.
        error: String,
        /// The provider's `error_description`.
        description: Option<String>,
    },
    /// The token endpoint could not be reached (egress policy, DNS,
    /// connect, TLS, timeout).
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// The answer is not a token response.
    #[error("the token endpoint's answer is not a token response: {0}")]
    InvalidResponse(String),
}

fn detail(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

/// Exchange `grant` for tokens at `token_url`.
pub async fn request(
    calls: &mut HostCalls,
    token_url: &str,
    client: &Client<'_>,
    grant: &Grant<'_>,
) -> Result<TokenSet, TokenError> {
    let (headers, body) = request_parts(client, grant);
    let response = calls
        .send(Request {
            method: Method::Post,
            url: token_url.to_string(),
            headers,
            body: Some(body),
        })
        .await
        .map_err(|error| TokenError::Unreachable(describe_http_error(&error)))?;
    let content_type = response
        .headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str())
        .unwrap_or("");
    parse(response.status, content_type, &response.body)
}

/// The headers and form body of a token request.
fn request_parts(client: &Client<'_>, grant: &Grant<'_>) -> (Vec<(String, String)>, Vec<u8>) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    match grant {
        Grant::AuthorizationCode {
            code,
            verifier,
            redirect_uri,
        } => {
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", verifier);
        }
        Grant::Refresh { refresh_token } => {
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", refresh_token);
        }
        Grant::Password {
            username,
            password,
            scopes,
        } => {
            form.append_pair("grant_type", "password")
                .append_pair("username", username)
                .append_pair("password", password);
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
        }
    }
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept".to_string(), "application/json".to_string()),
    ];
    match (client.authentication, client.secret) {
        (ClientAuthentication::ClientSecretBasic, Some(secret)) => {
            // RFC 6749 §2.3.1: each part form-encoded before joining.
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(client.id), encode(secret));
            headers.push((
                "authorization".to_string(),
                format!("Basic {}", BASE64.encode(pair)),
            ));
        }
        (ClientAuthentication::ClientSecretPost, Some(secret)) => {
            form.append_pair("client_id", client.id)
                .append_pair("client_secret", secret);
        }
        (_, None) => {
            form.append_pair("client_id", client.id);
        }
    }
    (headers, form.finish().into_bytes())
}

/// A token endpoint's answer: tokens on 2xx, an OAuth error otherwise. JSON
/// normally; some providers answer form-encoded.
fn parse(status: u16, content_type: &str, body: &[u8]) -> Result<TokenSet, TokenError> {
    let value: serde_json::Value = if content_type.contains("x-www-form-urlencoded") {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    } else {
        serde_json::from_slice(body).map_err(|_| {
            TokenError::InvalidResponse(format!("HTTP {status} with a body that is not JSON"))
        })?
    };
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        let description = value
            .get("error_description")
            .and_then(|d| d.as_str())
            .map(str::to_string);
        return Err(if error == "invalid_grant" {
            TokenError::InvalidGrant(description)
        } else {
            TokenError::Refused {
                error: error.to_string(),
                description,
            }
        });
    }
    if !(200..300).contains(&status) {
        return Err(TokenError::InvalidResponse(format!(
            "HTTP {status} without an OAuth error"
        )));
    }
    let tokens: TokenSet =
        serde_json::from_value(value).map_err(|e| TokenError::InvalidResponse(format!("{e}")))?;
    if tokens.access_token.is_empty() {
        return Err(TokenError::InvalidResponse("an empty access_token".into()));
    }
    Ok(tokens)
}

/// `expires_in` as a number or a numeric string (both are seen in the wild).
fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().or_else(|| n.as_f64().map(|f| f as u64))
            }
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_token_response_is_read() {
        let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":"3600","refresh_token":"rt","scope":"read"}"#;
        let tokens = parse(200, "application/json", body).expect("tokens");
        assert_eq!(tokens.access_token, "at");
        assert_eq!(tokens.expires_in, Some(3600));
        assert_eq!(tokens.refresh_token.as_deref(), Some("rt"));
    }

    #[test]
    fn a_form_encoded_token_response_is_read() {
        let tokens = parse(
            200,
            "application/x-www-form-urlencoded",
            b"access_token=a%2Bb&scope=repo",
        )
        .expect("tokens");
        assert_eq!(tokens.access_token, "a+b");
        assert_eq!(tokens.expires_in, None);
    }

    #[test]
    fn invalid_grant_is_told_apart_from_other_errors() {
        let revoked = parse(
            400,
            "application/json",
            br#"{"error":"invalid_grant","error_description":"grant revoked"}"#,
        );
        assert_eq!(
            revoked.expect_err("refused"),
            TokenError::InvalidGrant(Some("grant revoked".into()))
        );
        let client = parse(401, "application/json", br#"{"error":"invalid_client"}"#);
        assert!(
            matches!(client, Err(TokenError::Refused { ref error, .. }) if error == "invalid_client")
        );
        let html = parse(502, "text/html", b"<html>");
        assert!(matches!(html, Err(TokenError::InvalidResponse(_))));
        let debug = format!(
            "{:?}",
            parse(
                200,
                "application/json",
                br#"{"access_token":"secret-value"}"#
            )
            .expect("ok")
        );
        assert!(!debug.contains("secret-value"), "{debug}");
    }
}

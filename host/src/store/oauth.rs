//! OAuth2 grants the host keeps for connectors (tokens only sealed), and
//! the authorizations a person has started but not finished.

use serde::{Deserialize, Serialize};

/// A connector's grant: sealed tokens plus what views may show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthGrantRecord {
    /// The access and refresh tokens, sealed (never stored in clear).
    pub sealed_tokens: Vec<u8>,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires, if the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// When a person connected (identifies this grant: a refresh finishing
    /// after a disconnect or a new connection must not overwrite it).
    pub connected_at_ms: u64,
    /// Who connected: an API token id or a web UI user's token id.
    pub connected_by: String,
    /// When the access token was last refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh_at_ms: Option<u64>,
    /// Set when the provider refused the grant: why. Nothing is sent to the
    /// provider again until a person reconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_required: Option<String>,
}

/// An authorization a person started and has not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAuthorization {
    /// The connector being connected.
    pub connector_id: String,
    /// Who started it (token id).
    pub caller: String,
    /// The PKCE verifier, sealed.
    pub sealed_verifier: Vec<u8>,
    /// The redirect URI sent to the provider (the exchange repeats it).
    pub redirect_uri: String,
    /// Where a browser goes after the callback (a web UI path), if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The SHA-256 of the cookie that binds the authorization to the
    /// browser that started it, when a browser did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_binding: Option<String>,
    /// After this, the `state` is refused.
    pub expires_at_ms: u64,
}

//! Connecting a connector to an OAuth2 provider (authorization code with
//! PKCE): start an authorization, finish it at the callback, disconnect,
//! and the connection state views show. Every front end (API, web UI, MCP)
//! goes through these.
//!
//! A `state` is bound to the connector and to who started the
//! authorization, works once and for ten minutes, and is kept only as its
//! SHA-256; the PKCE verifier stays on the server, sealed. An authorization
//! started in the web UI is also bound to that browser by a cookie the
//! callback must present. A callback that fails (the provider's error, an
//! unknown or replayed state, a refused code) stores nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::grants::GrantUse;
use super::{ConnectorService, ServiceError};
use crate::clock::now_ms;
use crate::model::{GrantType, OAuth2Settings};
use crate::oauth::{Grant, TokenError, pkce};
use crate::store::{ConnectorRecord, OAuthGrantRecord, PendingAuthorization};

/// How long a person has to finish an authorization.
pub const AUTHORIZATION_LIFETIME_MS: u64 = 10 * 60 * 1000;

/// The cookie that binds an authorization started in a browser to that
/// browser (SameSite=Lax, so that it comes back with the provider's redirect).
pub const BROWSER_BINDING_COOKIE: &str = "floh_oauth_binding";

/// The path of the callback, under the server's public URL.
pub const CALLBACK_PATH: &str = "/api/oauth/callback";

/// What starting an authorization gives: where to send the person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationStart {
    /// The provider's authorization URL, with `state` and the PKCE challenge.
    pub authorization_url: String,
    /// After this (Unix milliseconds) the callback refuses the authorization.
    pub expires_at_ms: u64,
}

/// The provider's redirect to the callback (RFC 6749 §4.1.2).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent with the authorization.
    pub state: Option<String>,
    /// The provider's error (`access_denied`, …).
    pub error: Option<String>,
    /// The provider's description of its error.
    pub error_description: Option<String>,
}

/// A finished authorization.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// The connector's name.
    pub connector: String,
    /// Its connection state now.
    pub oauth: OAuthStatus,
    /// Where a browser goes next (web UI path), when the UI started it.
    #[serde(skip)]
    pub return_to: Option<String>,
}

/// A connector's OAuth2 connection as views show it (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthStatus {
    /// `not_connected`, `connected` or `reconnect_required`.
    pub state: ConnectionState,
    /// The grant type.
    #[schemars(with = "String")]
    pub grant: GrantType,
    /// The scopes granted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// When a person connected (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at_ms: Option<u64>,
    /// When the current access token expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// When the access token was last refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refresh_at_ms: Option<u64>,
    /// Why a reconnect is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What must be set before a person can connect, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// The states of an OAuth2 connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// No grant yet (or disconnected).
    NotConnected,
    /// A grant is kept and used.
    Connected,
    /// The provider refused the grant; a person must connect again.
    ReconnectRequired,
}

/// Why an authorization could not start or finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthFailure {
    /// The connector has no authorization-code grant.
    NotSupported,
    /// Settings or config are missing something.
    NotConfigured,
    /// The state is unknown, used, expired, or bound to another browser.
    InvalidState,
    /// The provider redirected back with an error.
    ProviderError,
    /// The token endpoint refused the code (wrong verifier, another
    /// client's code, expired) or could not be reached.
    ExchangeFailed,
}

fn failure(kind: OAuthFailure, message: impl Into<String>) -> ServiceError {
    ServiceError::OAuth {
        kind,
        message: message.into(),
    }
}

impl ConnectorService {
    /// Where providers send people back (`<public URL>/api/oauth/callback`),
    /// set once the server knows its address.
    pub fn set_public_url(&self, public_url: &str) {
        let uri = format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'));
        *self.redirect_uri.write().unwrap_or_else(|p| p.into_inner()) = Some(uri);
    }

    fn redirect_uri(&self) -> Option<String> {
        self.redirect_uri
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Start connecting a connector: the provider URL to send a person to.
    /// `caller` is who asks (a token id); `browser_binding`, when a browser
    /// will carry it back as [`BROWSER_BINDING_COOKIE`]; `return_to`, the
    /// web UI page to show after the callback.
    pub async fn start_authorization(
        &self,
        id_or_name: &str,
        caller: &str,
        browser_binding: Option<&str>,
        return_to: Option<String>,
    ) -> Result<AuthorizationStart, ServiceError> {
        let record = self.find(id_or_name).await?;
        let settings = self.code_grant_settings(&record)?;
        let config = self.open_config(&record)?.unwrap_or_else(|| json!({}));
        let client_id = config
            .get("clientId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                failure(
                    OAuthFailure::NotConfigured,
                    "set `clientId` (and `clientSecret` for a confidential client) in the connector's config first",
                )
            })?;
        let redirect_uri = self.redirect_uri().ok_or_else(|| {
            failure(
                OAuthFailure::NotConfigured,
                "the server does not know its public URL (start it with --public-url)",
            )
        })?;
        let authorization_url = settings.authorization_url.as_deref().unwrap_or_default();
        let mut url = url::Url::parse(authorization_url).map_err(|e| {
            failure(
                OAuthFailure::NotConfigured,
                format!("authorizationUrl: {e}"),
            )
        })?;
        let state = pkce::random_value();
        let verifier = pkce::random_value();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", &redirect_uri);
            if !settings.scopes.is_empty() {
                query.append_pair("scope", &settings.scopes.join(" "));
            }
            query
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce::challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            for (name, value) in &settings.authorization_params {
                query.append_pair(name, value);
            }
        }
        let digest = pkce::state_digest(&state);
        let now = now_ms();
        let expires_at_ms = now + AUTHORIZATION_LIFETIME_MS;
        let pending = PendingAuthorization {
            connector_id: record.id.clone(),
            caller: caller.to_string(),
            sealed_verifier: self.cipher.seal(&pending_aad(&digest), &json!(verifier)),
            redirect_uri,
            return_to,
            browser_binding: browser_binding.map(pkce::state_digest),
            expires_at_ms,
        };
        self.store
            .insert_pending_authorization(digest, pending, now)
            .await?;
        tracing::info!(connector = %record.definition.name, caller, "OAuth2 authorization started");
        Ok(AuthorizationStart {
            authorization_url: url.into(),
            expires_at_ms,
        })
    }

    /// Finish an authorization at the callback: exchange the code with the
    /// verifier kept for its state and store the grant. `browser_binding`
    /// is the cookie the request carried, if any.
    pub async fn finish_authorization(
        &self,
        query: &CallbackQuery,
        browser_binding: Option<&str>,
    ) -> Result<Connected, ServiceError> {
        let state = query
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                failure(
                    OAuthFailure::InvalidState,
                    "the callback carries no `state`",
                )
            })?;
        let digest = pkce::state_digest(state);
        // Taken out whatever happens next: a state works once.
        let pending = self
            .store
            .take_pending_authorization(digest.clone())
            .await?
            .ok_or_else(|| {
                failure(
                    OAuthFailure::InvalidState,
                    "unknown or already used `state`: start the authorization again",
                )
            })?;
        if pending.expires_at_ms <= now_ms() {
            return Err(failure(
                OAuthFailure::InvalidState,
                "the authorization expired (10 minutes): start it again",
            ));
        }
        if let Some(expected) = &pending.browser_binding
            && browser_binding.map(pkce::state_digest).as_ref() != Some(expected)
        {
            return Err(failure(
                OAuthFailure::InvalidState,
                "the authorization was started in another browser",
            ));
        }
        if let Some(error) = &query.error {
            return Err(failure(
                OAuthFailure::ProviderError,
                format!(
                    "the provider answered `{error}`{}",
                    query
                        .error_description
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
            ));
        }
        let code = query
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| failure(OAuthFailure::InvalidState, "the callback carries no `code`"))?;
        let record = self
            .find(&pending.connector_id)
            .await
            .map_err(|_| failure(OAuthFailure::InvalidState, "the connector was deleted"))?;
        let settings = self.code_grant_settings(&record)?;
        let verifier = self
            .cipher
            .open(&pending_aad(&digest), &pending.sealed_verifier)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let config = self.open_config(&record)?.unwrap_or_else(|| json!({}));
        let egress = self.egress_of(&record.definition)?;
        let grant = Self::grant_use(&record, settings.clone(), config, egress);
        let exchange = Grant::AuthorizationCode {
            code,
            verifier: &verifier,
            redirect_uri: &pending.redirect_uri,
        };
        let set = self
            .grants
            .request(&grant, &exchange)
            .await
            .map_err(|error| match error {
                TokenError::InvalidGrant(_) => failure(
                    OAuthFailure::ExchangeFailed,
                    format!("the provider refused the code: {error}"),
                ),
                other => failure(OAuthFailure::ExchangeFailed, other.to_string()),
            })?;
        let now = now_ms();
        let grant_record =
            self.grants
                .record_for(&record.id, &set, &settings.scopes, now, &pending.caller);
        if !self
            .store
            .connect_oauth_grant(record.id.clone(), grant_record.clone())
            .await?
        {
            return Err(ServiceError::NotFound(pending.connector_id));
        }
        tracing::info!(connector = %record.definition.name, caller = %pending.caller, "OAuth2 grant connected");
        Ok(Connected {
            connector: record.definition.name.clone(),
            oauth: status_of(&settings, Some(&grant_record)),
            return_to: pending.return_to,
        })
    }

    /// Forget a connector's grant (the provider's grant is left as it is).
    pub async fn disconnect(&self, id_or_name: &str) -> Result<(), ServiceError> {
        let record = self.find(id_or_name).await?;
        self.oauth_settings(&record)?;
        if self.store.delete_oauth_grant(record.id.clone()).await? {
            tracing::info!(connector = %record.definition.name, "OAuth2 grant disconnected");
        }
        Ok(())
    }

    /// The connection state of a connector with an OAuth2 grant.
    pub(super) async fn oauth_status(
        &self,
        record: &ConnectorRecord,
        settings: &OAuth2Settings,
    ) -> Result<OAuthStatus, ServiceError> {
        let grant = self.store.oauth_grant(record.id.clone()).await?;
        Ok(status_of(settings, grant.as_ref()))
    }

    /// What the grant needs, from a config already opened and the egress
    /// policy already derived (an execution has both at hand).
    pub(super) fn grant_use(
        record: &ConnectorRecord,
        settings: OAuth2Settings,
        config: Value,
        egress: crate::egress::EgressPolicy,
    ) -> GrantUse {
        GrantUse {
            connector_id: record.id.clone(),
            connector: record.definition.name.clone(),
            settings,
            config,
            egress,
        }
    }

    /// The connector's OAuth2 settings, or why it has none.
    fn oauth_settings(&self, record: &ConnectorRecord) -> Result<OAuth2Settings, ServiceError> {
        self.schema_of(&record.definition)?.oauth2.ok_or_else(|| {
            failure(
                OAuthFailure::NotSupported,
                format!(
                    "connector `{}` has no OAuth2 grant (`configSchema.oauth2`)",
                    record.definition.name
                ),
            )
        })
    }

    /// The settings of an authorization-code grant a person can connect now.
    fn code_grant_settings(
        &self,
        record: &ConnectorRecord,
    ) -> Result<OAuth2Settings, ServiceError> {
        let name = &record.definition.name;
        let settings = self.oauth_settings(record)?;
        if settings.grant != GrantType::AuthorizationCode {
            return Err(failure(
                OAuthFailure::NotSupported,
                format!(
                    "connector `{name}` uses the password grant, which connects by itself with `username` and `password`"
                ),
            ));
        }
        if let Some(missing) = settings.missing_for_connect() {
            return Err(failure(
                OAuthFailure::NotConfigured,
                format!("set `configSchema.oauth2.{missing}` of connector `{name}` first"),
            ));
        }
        Ok(settings)
    }
}

/// The state views show for a grant (or its absence).
fn status_of(settings: &OAuth2Settings, grant: Option<&OAuthGrantRecord>) -> OAuthStatus {
    let missing = settings.missing_for_connect().map(str::to_string);
    let Some(grant) = grant else {
        return OAuthStatus {
            state: ConnectionState::NotConnected,
            grant: settings.grant,
            scopes: Vec::new(),
            connected_at_ms: None,
            expires_at_ms: None,
            last_refresh_at_ms: None,
            reason: None,
            missing,
        };
    };
    OAuthStatus {
        state: if grant.reconnect_required.is_some() {
            ConnectionState::ReconnectRequired
        } else {
            ConnectionState::Connected
        },
        grant: settings.grant,
        scopes: grant.scopes.clone(),
        connected_at_ms: Some(grant.connected_at_ms),
        expires_at_ms: grant.expires_at_ms,
        last_refresh_at_ms: grant.last_refresh_at_ms,
        reason: grant.reconnect_required.clone(),
        missing,
    }
}

/// Associated data of a pending authorization's sealed verifier.
pub(super) fn pending_aad(state_digest: &str) -> String {
    format!("oauth-pending:{state_digest}")
}

//! OAuth2 grants in use: the access token an execution gets, refreshed
//! before it expires and once after an upstream's 401, one refresh per
//! connector at a time however many executions need it. A rotated refresh
//! token is committed before the new access token is handed out, and a
//! provider's `invalid_grant` marks the grant `reconnect required` so that
//! nothing more is sent to the provider until a person connects again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::now_ms;
use crate::egress::EgressPolicy;
use crate::imports::http::AccessTokenRenewal;
use crate::model::{GrantType, OAuth2Settings};
use crate::oauth::{Client, Grant, SingleFlight, TokenError, TokenSet, token};
use crate::redact::SecretRedactor;
use crate::runtime::{ExecutionContext, ExecutionError, ScriptEngine};
use crate::secrets::ConfigCipher;
use crate::store::{OAuthGrantRecord, Store};

/// How long a token request may take.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The most an access token is refreshed ahead of its expiry (less for
/// short-lived tokens: a tenth of their lifetime).
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// What is sealed in a grant record.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The grants of every connector: sealing, refresh, single flight.
#[derive(Clone)]
pub(super) struct Grants {
    store: Store,
    cipher: ConfigCipher,
    engine: Arc<ScriptEngine>,
    flights: Arc<SingleFlight>,
}

/// One connector's grant as an execution uses it.
#[derive(Clone)]
pub(super) struct GrantUse {
    pub connector_id: String,
    pub connector: String,
    pub settings: OAuth2Settings,
    /// The decrypted config (client id and secret, owner credentials).
    pub config: Value,
    pub egress: EgressPolicy,
}

/// `ExecutionError::Authorization` with `code`.
pub(super) fn refused(code: &'static str, message: impl Into<String>) -> ExecutionError {
    ExecutionError::Authorization {
        code,
        message: message.into(),
    }
}

impl Grants {
    pub fn new(store: Store, cipher: ConfigCipher, engine: Arc<ScriptEngine>) -> Self {
        Self {
            store,
            cipher,
            engine,
            flights: Arc::default(),
        }
    }

    /// Seal tokens, bound to the connector.
    pub fn seal(&self, connector_id: &str, tokens: &Tokens) -> Vec<u8> {
        let value = serde_json::to_value(tokens).unwrap_or_default();
        self.cipher.seal(&grant_aad(connector_id), &value)
    }

    fn open(
        &self,
        connector_id: &str,
        record: &OAuthGrantRecord,
    ) -> Result<Tokens, ExecutionError> {
        self.cipher
            .open(&grant_aad(connector_id), &record.sealed_tokens)
            .ok()
            .and_then(|value| serde_json::from_value(value).ok())
            .ok_or_else(|| {
                refused(
                    "OAUTH_RECONNECT_REQUIRED",
                    "the stored OAuth2 grant cannot be opened; connect again",
                )
            })
    }

    /// The access token to use now, refreshed first when it is due. The
    /// password grant connects by itself the first time.
    pub async fn access_token(&self, grant: &GrantUse) -> Result<String, ExecutionError> {
        let record = self
            .store
            .oauth_grant(grant.connector_id.clone())
            .await
            .map_err(|e| refused("OAUTH_REFRESH_FAILED", e.to_string()))?;
        match record {
            Some(record) if record.reconnect_required.is_none() && !due(&record, now_ms()) => {
                Ok(self.open(&grant.connector_id, &record)?.access_token)
            }
            _ => self.renew_under_flight(grant, None).await,
        }
    }

    /// Refresh under the connector's single flight. With `rejected` (the
    /// token an upstream refused), refresh only if it is still current:
    /// another execution may have refreshed meanwhile.
    async fn renew_under_flight(
        &self,
        grant: &GrantUse,
        rejected: Option<&str>,
    ) -> Result<String, ExecutionError> {
        let _flight = self.flights.enter(&grant.connector_id).await;
        let record = self
            .store
            .oauth_grant(grant.connector_id.clone())
            .await
            .map_err(|e| refused("OAUTH_REFRESH_FAILED", e.to_string()))?;
        let Some(record) = record else {
            if grant.settings.grant == GrantType::Password {
                return self.connect_with_password(grant).await;
            }
            return Err(refused(
                "OAUTH_NOT_CONNECTED",
                format!(
                    "connector `{}` is not connected: a person must authorize it once (Connect)",
                    grant.connector
                ),
            ));
        };
        if let Some(reason) = &record.reconnect_required {
            return Err(reconnect_required(&grant.connector, reason));
        }
        let tokens = self.open(&grant.connector_id, &record)?;
        let fresh = match rejected {
            Some(rejected) => tokens.access_token != rejected,
            None => !due(&record, now_ms()),
        };
        if fresh {
            return Ok(tokens.access_token);
        }
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            if grant.settings.grant == GrantType::Password {
                return self.connect_with_password(grant).await;
            }
            let reason = "the access token expired and the provider issued no refresh token";
            self.mark_reconnect(grant, record, reason).await;
            return Err(reconnect_required(&grant.connector, reason));
        };
        let answer = self.request(grant, &Grant::Refresh { refresh_token }).await;
        match answer {
            Ok(set) => {
                let now = now_ms();
                let scopes = granted_scopes(&set, &record.scopes);
                let kept = Tokens {
                    access_token: set.access_token.clone(),
                    // A provider that does not rotate keeps the old one valid.
                    refresh_token: set.refresh_token.clone().or(tokens.refresh_token),
                };
                let updated = OAuthGrantRecord {
                    sealed_tokens: self.seal(&grant.connector_id, &kept),
                    scopes,
                    expires_at_ms: expiry(&set, now),
                    last_refresh_at_ms: Some(now),
                    ..record
                };
                // Committed before the new token is used: a rotated refresh
                // token is never lost to a crash after the provider issued it.
                let stored = self
                    .store
                    .update_oauth_grant(grant.connector_id.clone(), updated)
                    .await
                    .map_err(|e| refused("OAUTH_REFRESH_FAILED", e.to_string()))?;
                if !stored {
                    return Err(refused(
                        "OAUTH_NOT_CONNECTED",
                        format!("connector `{}` was disconnected meanwhile", grant.connector),
                    ));
                }
                tracing::info!(connector = %grant.connector, "refreshed an OAuth2 access token");
                Ok(set.access_token)
            }
            Err(TokenError::InvalidGrant(description)) => {
                let reason = format!(
                    "the provider refused the refresh token (invalid_grant{})",
                    description.map(|d| format!(": {d}")).unwrap_or_default()
                );
                tracing::warn!(connector = %grant.connector, %reason, "OAuth2 grant needs a reconnect");
                self.mark_reconnect(grant, record, &reason).await;
                Err(reconnect_required(&grant.connector, &reason))
            }
            Err(other) => Err(refused(
                "OAUTH_REFRESH_FAILED",
                format!("refreshing the access token failed: {other}"),
            )),
        }
    }

    async fn mark_reconnect(&self, grant: &GrantUse, record: OAuthGrantRecord, reason: &str) {
        let marked = OAuthGrantRecord {
            reconnect_required: Some(reason.to_string()),
            ..record
        };
        if let Err(error) = self
            .store
            .update_oauth_grant(grant.connector_id.clone(), marked)
            .await
        {
            tracing::error!(connector = %grant.connector, %error, "could not mark the grant for reconnection");
        }
    }

    /// The password grant: the owner's credentials from the config.
    async fn connect_with_password(&self, grant: &GrantUse) -> Result<String, ExecutionError> {
        let text = |field: &str| {
            grant
                .config
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let (username, password) = (text("username"), text("password"));
        if username.is_empty() || password.is_empty() {
            return Err(refused(
                "OAUTH_NOT_CONFIGURED",
                "the password grant needs `username` and `password` in the connector's config",
            ));
        }
        let scopes = grant.settings.scopes.clone();
        let password_grant = Grant::Password {
            username,
            password,
            scopes: &scopes,
        };
        let set = self.request(grant, &password_grant).await.map_err(|e| {
            refused(
                "OAUTH_REFRESH_FAILED",
                format!("the password grant failed: {e}"),
            )
        })?;
        let now = now_ms();
        let record = self.record_for(&grant.connector_id, &set, &scopes, now, "password-grant");
        let stored = self
            .store
            .connect_oauth_grant(grant.connector_id.clone(), record)
            .await
            .map_err(|e| refused("OAUTH_REFRESH_FAILED", e.to_string()))?;
        if !stored {
            return Err(refused("OAUTH_NOT_CONNECTED", "the connector was deleted"));
        }
        Ok(set.access_token)
    }

    /// A new grant record for tokens a person (or the password grant) just
    /// obtained.
    pub fn record_for(
        &self,
        connector_id: &str,
        set: &TokenSet,
        requested: &[String],
        now: u64,
        connected_by: &str,
    ) -> OAuthGrantRecord {
        let tokens = Tokens {
            access_token: set.access_token.clone(),
            refresh_token: set.refresh_token.clone(),
        };
        OAuthGrantRecord {
            sealed_tokens: self.seal(connector_id, &tokens),
            scopes: granted_scopes(set, requested),
            expires_at_ms: expiry(set, now),
            connected_at_ms: now,
            connected_by: connected_by.to_string(),
            last_refresh_at_ms: None,
            reconnect_required: None,
        }
    }

    /// A token request for the connector, through its egress policy.
    pub async fn request(
        &self,
        grant: &GrantUse,
        what: &Grant<'_>,
    ) -> Result<TokenSet, TokenError> {
        let Some(token_url) = grant.settings.token_url.as_deref() else {
            return Err(TokenError::Refused {
                error: "not_configured".into(),
                description: Some("`configSchema.oauth2.tokenUrl` is not set".into()),
            });
        };
        let text = |field: &str| grant.config.get(field).and_then(Value::as_str);
        let client = Client {
            id: text("clientId").unwrap_or(""),
            secret: text("clientSecret").filter(|s| !s.is_empty()),
            authentication: grant.settings.client_authentication,
        };
        let context = ExecutionContext {
            egress: grant.egress.clone(),
            ..ExecutionContext::new(&grant.connector)
        };
        let mut calls = self
            .engine
            .host_calls(&context, Instant::now() + TOKEN_REQUEST_TIMEOUT)
            .map_err(|e| TokenError::Unreachable(e.to_string()))?;
        token::request(&mut calls, token_url, &client, what).await
    }
}

/// The grant behind one execution's `config.accessToken`.
pub(super) struct ExecutionGrant {
    pub grants: Grants,
    pub grant: GrantUse,
    /// The token the execution started with.
    pub first: String,
    /// The token requests carry now (renewed after a 401).
    pub current: Mutex<String>,
}

impl ExecutionGrant {
    /// The execution's result with its access tokens masked: a command that
    /// returns its token (by mistake or not) does not hand it to the caller.
    /// Logs and traces are masked already, by the execution's redactor.
    pub fn mask_tokens(
        &self,
        mut execution: crate::runtime::Execution,
    ) -> crate::runtime::Execution {
        let tokens = SecretRedactor::new([self.first.clone(), self.current()]);
        if let Ok(result) = &mut execution.outcome {
            for value in [&mut result.data, &mut result.output_variables]
                .into_iter()
                .flatten()
            {
                tokens.redact_json(value);
            }
        }
        execution
    }
}

impl AccessTokenRenewal for ExecutionGrant {
    fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn renew(
        &self,
        rejected: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send + '_>> {
        Box::pin(async move {
            let fresh = self
                .grants
                .renew_under_flight(&self.grant, Some(&rejected))
                .await
                .ok()?;
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
            Some(fresh)
        })
    }
}

/// An execution that ran without the access token its grant could not
/// give: if it failed, the grant's error (`OAUTH_NOT_CONNECTED`,
/// `OAUTH_RECONNECT_REQUIRED`, …) is why; if it succeeded, the command did
/// not need the token.
pub(super) fn explain_failure(
    execution: crate::runtime::Execution,
    problem: ExecutionError,
) -> crate::runtime::Execution {
    let failure = match &execution.outcome {
        Ok(result) if !result.success => result.error.clone().unwrap_or_default(),
        Err(thrown @ ExecutionError::CommandThrew { .. }) => thrown.to_string(),
        // Succeeded, or failed for a reason of its own (unknown command,
        // timeout, limits): the grant is not the story.
        _ => return execution,
    };
    let ExecutionError::Authorization { code, message } = problem else {
        return execution;
    };
    let message = if failure.is_empty() {
        message
    } else {
        format!("{message} (the command failed: {failure})")
    };
    crate::runtime::Execution {
        outcome: Err(ExecutionError::Authorization { code, message }),
        ..execution
    }
}

fn reconnect_required(connector: &str, reason: &str) -> ExecutionError {
    refused(
        "OAUTH_RECONNECT_REQUIRED",
        format!("connector `{connector}` must be connected again: {reason}"),
    )
}

/// The associated data that binds sealed tokens to their connector (apart
/// from its config, sealed under the connector id itself).
pub(super) fn grant_aad(connector_id: &str) -> String {
    format!("oauth-grant:{connector_id}")
}

/// Whether the access token should be refreshed before use.
fn due(record: &OAuthGrantRecord, now: u64) -> bool {
    let Some(expires) = record.expires_at_ms else {
        return false;
    };
    let issued = record.last_refresh_at_ms.unwrap_or(record.connected_at_ms);
    let lifetime = expires.saturating_sub(issued);
    let ahead = (REFRESH_AHEAD.as_millis() as u64).min(lifetime / 10);
    now + ahead >= expires
}

fn expiry(set: &TokenSet, now: u64) -> Option<u64> {
    set.expires_in
        .map(|seconds| now + seconds.saturating_mul(1000))
}

fn granted_scopes(set: &TokenSet, requested: &[String]) -> Vec<String> {
    match &set.scope {
        Some(scope) => scope.split_whitespace().map(str::to_string).collect(),
        None => requested.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(connected_at_ms: u64, expires_at_ms: Option<u64>) -> OAuthGrantRecord {
        OAuthGrantRecord {
            sealed_tokens: Vec::new(),
            scopes: Vec::new(),
            expires_at_ms,
            connected_at_ms,
            connected_by: "tok".into(),
            last_refresh_at_ms: None,
            reconnect_required: None,
        }
    }

    #[test]
    fn tokens_are_refreshed_a_minute_ahead_or_a_tenth_of_a_short_lifetime() {
        let hour = record(0, Some(3_600_000));
        assert!(!due(&hour, 3_539_000));
        assert!(due(&hour, 3_540_000));
        let short = record(0, Some(4_000));
        assert!(!due(&short, 3_500));
        assert!(due(&short, 3_600));
        assert!(
            !due(&record(0, None), u64::MAX / 2),
            "no expiry: used until refused"
        );
    }
}

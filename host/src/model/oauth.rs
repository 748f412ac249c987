//! `configSchema.oauth2`: a connector that authorizes with an OAuth2 grant
//! the host keeps for it (authorization code with PKCE, or password). The
//! host holds the refresh token and renews the access token; the connector
//! sees only the current access token, as `config.accessToken`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{FieldSchema, FieldType};

/// The config field through which a connector receives the access token.
pub const ACCESS_TOKEN_FIELD: &str = "accessToken";

/// How a connector obtains its OAuth2 grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2Settings {
    /// The grant type.
    pub grant: GrantType,
    /// The provider's authorization endpoint (authorization code only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// The provider's token endpoint. An OpenAPI implicit flow names none:
    /// the connector cannot connect until it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Scopes requested, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Extra query parameters for the authorization URL (for example
    /// `access_type=offline` or `prompt=consent`). The protocol's own
    /// parameters cannot be overridden.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorization_params: BTreeMap<String, String>,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub client_authentication: ClientAuthentication,
}

/// OAuth2 grants the host runs for a connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// A person authorizes once in the browser (PKCE S256, always).
    #[default]
    AuthorizationCode,
    /// The resource owner's user name and password (config fields
    /// `username` and `password`), unattended.
    Password,
}

/// Client authentication at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthentication {
    /// HTTP Basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// Protocol parameters `authorizationParams` may not set.
const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

impl OAuth2Settings {
    /// The connection-config fields the grant needs. A schema that declares
    /// one of them itself keeps its own declaration.
    pub fn config_fields(&self) -> BTreeMap<String, FieldSchema> {
        let field = |required: bool, secret: bool, description: &str| FieldSchema {
            field_type: Some(FieldType::String),
            required,
            secret,
            description: Some(description.to_string()),
            ..FieldSchema::default()
        };
        let mut fields = BTreeMap::new();
        // Not required to save a connector: an imported draft is created
        // before its client is registered. Connect (and the password grant)
        // ask for it.
        fields.insert("clientId".into(), field(false, false, "OAuth2 client id"));
        fields.insert(
            "clientSecret".into(),
            field(
                false,
                true,
                "OAuth2 client secret (none for a public client)",
            ),
        );
        if self.grant == GrantType::Password {
            fields.insert(
                "username".into(),
                field(true, false, "Resource owner's user name"),
            );
            fields.insert(
                "password".into(),
                field(true, true, "Resource owner's password"),
            );
        }
        fields
    }

    /// Whether the settings can be used, and why not.
    pub fn check(&self) -> Result<(), String> {
        for (name, url) in [
            ("authorizationUrl", &self.authorization_url),
            ("tokenUrl", &self.token_url),
        ] {
            if let Some(url) = url {
                let parsed = url::Url::parse(url)
                    .map_err(|e| format!("`oauth2.{name}` is not a valid URL: {e}"))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(format!("`oauth2.{name}` must be an http or https URL"));
                }
            }
        }
        if let Some(reserved) = self
            .authorization_params
            .keys()
            .find(|name| RESERVED_PARAMS.contains(&name.as_str()))
        {
            return Err(format!(
                "`oauth2.authorizationParams` may not set `{reserved}`: the host sets it"
            ));
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err("`oauth2.scopes` must be non-empty scope names without spaces".into());
        }
        Ok(())
    }

    /// What is still missing before a person can connect, if anything.
    pub fn missing_for_connect(&self) -> Option<&'static str> {
        if self.token_url.is_none() {
            return Some("tokenUrl");
        }
        if self.grant == GrantType::AuthorizationCode && self.authorization_url.is_none() {
            return Some("authorizationUrl");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_read_with_defaults_and_refuse_unknown_keys() {
        let settings: OAuth2Settings = serde_json::from_value(json!({
            "grant": "authorization_code",
            "authorizationUrl": "https://id.example.com/authorize",
            "tokenUrl": "https://id.example.com/token",
            "scopes": ["read", "write"]
        }))
        .expect("settings");
        assert_eq!(
            settings.client_authentication,
            ClientAuthentication::ClientSecretBasic
        );
        assert_eq!(settings.check(), Ok(()));
        assert_eq!(settings.missing_for_connect(), None);
        let unknown =
            serde_json::from_value::<OAuth2Settings>(json!({"grant": "password", "x": 1}));
        assert!(unknown.is_err());
    }

    #[test]
    fn protocol_parameters_and_bad_urls_are_refused() {
        let mut settings = OAuth2Settings {
            token_url: Some("ftp://id.example.com/token".into()),
            ..OAuth2Settings::default()
        };
        assert!(settings.check().expect_err("scheme").contains("tokenUrl"));
        settings.token_url = Some("https://id.example.com/token".into());
        settings
            .authorization_params
            .insert("redirect_uri".into(), "https://evil.example".into());
        assert!(
            settings
                .check()
                .expect_err("reserved")
                .contains("redirect_uri")
        );
        settings.authorization_params.clear();
        assert_eq!(settings.missing_for_connect(), Some("authorizationUrl"));
    }

    #[test]
    fn the_password_grant_adds_the_owner_credentials() {
        let code = OAuth2Settings::default().config_fields();
        assert_eq!(
            code.keys().collect::<Vec<_>>(),
            ["clientId", "clientSecret"]
        );
        let password = OAuth2Settings {
            grant: GrantType::Password,
            ..OAuth2Settings::default()
        }
        .config_fields();
        assert!(password["password"].secret && password["username"].required);
    }
}

//! Connection config from `servers` and `securitySchemes`, exactly as the
//! spec's table says: apiKey → a named secret field; http bearer →
//! `bearerToken`; http basic → `username`, `password`; oauth2 client
//! credentials → `clientId`, `clientSecret`, `tokenUrl`; plus `baseUrl`.
//!
//! The other oauth2 flows and `openIdConnect` become the OAuth2 grant the
//! host keeps ([`super::grant`]); the fields that grant needs are added by
//! the host (`ConfigSchema::effective`), not declared here. A scheme with a
//! client-credentials flow and others stays client credentials: that flow
//! runs unattended.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::grant::{self, GrantScheme};
use super::naming::camel_case;
use crate::model::{FieldSchema, FieldType};

/// How one security scheme is applied by the generated script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    /// A key in a header, query parameter or cookie.
    ApiKey {
        /// The config field holding the key.
        field: String,
        /// Header, query parameter or cookie name.
        name: String,
        /// `header`, `query` or `cookie`.
        location: String,
    },
    /// `Authorization: Bearer <bearerToken>`.
    Bearer,
    /// `Authorization: Basic base64(username:password)`.
    Basic,
    /// OAuth2 client credentials against `tokenUrl`.
    OAuth2,
    /// `Authorization: Bearer <accessToken>`: the access token of the OAuth2
    /// grant the host keeps for the connector (authorization code, implicit,
    /// password or OpenID Connect).
    AccessToken,
}

impl AuthScheme {
    /// Whether the scheme needs the grant the host keeps (and so, for
    /// authorization code, a person to authorize the connector once).
    pub fn needs_grant(&self) -> bool {
        matches!(self, Self::AccessToken)
    }
}

/// What a spec's servers and security schemes give a connector.
#[derive(Debug, Clone, Default)]
pub struct ConnectionConfig {
    /// The `connectionConfig` fields.
    pub fields: BTreeMap<String, FieldSchema>,
    /// Schemes the generated script can apply, by scheme name.
    pub schemes: BTreeMap<String, AuthScheme>,
    /// The grants of the [`AuthScheme::AccessToken`] schemes, by scheme name.
    pub grants: BTreeMap<String, GrantScheme>,
    /// Schemes it cannot apply: (name, reason).
    pub unsupported: Vec<(String, String)>,
}

/// The config fields and the schemes that can be applied.
pub fn connection_config(spec: &Value) -> ConnectionConfig {
    let mut fields = BTreeMap::new();
    fields.insert("baseUrl".to_string(), base_url_field(spec));
    let mut schemes = BTreeMap::new();
    let mut grants = BTreeMap::new();
    let mut unsupported = Vec::new();
    let server = server_url(spec);
    let secret = |description: String| FieldSchema {
        field_type: Some(FieldType::String),
        required: true,
        secret: true,
        description: Some(description),
        ..FieldSchema::default()
    };
    let plain = |description: &str, default: Option<Value>| FieldSchema {
        field_type: Some(FieldType::String),
        required: default.is_none(),
        description: Some(description.to_string()),
        default,
        ..FieldSchema::default()
    };
    for (name, scheme) in spec
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let http_scheme = scheme
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        match (kind, http_scheme.as_str()) {
            ("apiKey", _) => {
                let key_name = scheme
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_string();
                let location = scheme
                    .get("in")
                    .and_then(Value::as_str)
                    .unwrap_or("header")
                    .to_string();
                let field = camel_case(name);
                fields.insert(
                    field.clone(),
                    secret(format!("API key sent as {location} `{key_name}`")),
                );
                schemes.insert(
                    name.clone(),
                    AuthScheme::ApiKey {
                        field,
                        name: key_name,
                        location,
                    },
                );
            }
            ("http", "bearer") => {
                fields.insert("bearerToken".into(), secret("Bearer token".into()));
                schemes.insert(name.clone(), AuthScheme::Bearer);
            }
            ("http", "basic") => {
                fields.insert("username".into(), plain("User name", None));
                fields.insert("password".into(), secret("Password".into()));
                schemes.insert(name.clone(), AuthScheme::Basic);
            }
            ("oauth2", _) => {
                let token_url = scheme.pointer("/flows/clientCredentials/tokenUrl").cloned();
                if token_url.is_none() {
                    match grant::from_oauth2(name, scheme, server.as_deref()) {
                        Some(found) => {
                            grants.insert(name.clone(), found);
                            schemes.insert(name.clone(), AuthScheme::AccessToken);
                        }
                        None => unsupported.push((
                            name.clone(),
                            "declares none of the OAuth2 flows authorizationCode, implicit, password or clientCredentials".into(),
                        )),
                    }
                    continue;
                }
                fields.insert("clientId".into(), plain("OAuth2 client id", None));
                fields.insert("clientSecret".into(), secret("OAuth2 client secret".into()));
                fields.insert("tokenUrl".into(), plain("OAuth2 token endpoint", token_url));
                schemes.insert(name.clone(), AuthScheme::OAuth2);
            }
            ("openIdConnect", _) => {
                grants.insert(name.clone(), grant::from_open_id_connect(name, scheme));
                schemes.insert(name.clone(), AuthScheme::AccessToken);
            }
            _ => unsupported.push((
                name.clone(),
                format!("security scheme type `{kind}` {http_scheme} is not supported"),
            )),
        }
    }
    ConnectionConfig {
        fields,
        schemes,
        grants,
        unsupported,
    }
}

/// The first server's URL with its variables replaced by their defaults.
fn server_url(spec: &Value) -> Option<String> {
    let server = spec.pointer("/servers/0")?;
    let mut url = server.get("url").and_then(Value::as_str)?.to_string();
    for (name, variable) in server
        .get("variables")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(default) = variable.get("default").and_then(Value::as_str) {
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    Some(url)
}

/// `baseUrl` from the first server, variables replaced by their defaults. A
/// relative server URL stays relative: the user sets the absolute base.
fn base_url_field(spec: &Value) -> FieldSchema {
    let url = server_url(spec).unwrap_or_default();
    let absolute = url.starts_with("http://") || url.starts_with("https://");
    FieldSchema {
        field_type: Some(FieldType::String),
        required: true,
        description: Some(if absolute || url.is_empty() {
            "API base URL".to_string()
        } else {
            format!(
                "API base URL (the spec's server is relative: `{url}`; prefix it with the API's origin)"
            )
        }),
        default: (absolute).then(|| json!(url.trim_end_matches('/'))),
        ..FieldSchema::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GrantType;

    #[test]
    fn each_scheme_maps_to_the_spec_table() {
        let spec = json!({
            "servers": [{"url": "https://{region}.api.example.com/v1/", "variables": {"region": {"default": "eu"}}}],
            "components": {"securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "basicAuth": {"type": "http", "scheme": "basic"},
                "cc": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://auth.example.com/token", "scopes": {}}}},
                "code": {"type": "oauth2", "flows": {"authorizationCode": {}}},
                "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://x"}
            }}
        });
        let ConnectionConfig {
            fields,
            schemes,
            grants,
            unsupported,
        } = connection_config(&spec);
        let names: Vec<_> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "apiKeyAuth",
                "baseUrl",
                "bearerToken",
                "clientId",
                "clientSecret",
                "password",
                "tokenUrl",
                "username"
            ]
        );
        assert!(
            fields["apiKeyAuth"].secret
                && fields["bearerToken"].secret
                && fields["password"].secret
                && fields["clientSecret"].secret
        );
        assert_eq!(
            fields["baseUrl"].default,
            Some(json!("https://eu.api.example.com/v1"))
        );
        assert_eq!(
            fields["tokenUrl"].default,
            Some(json!("https://auth.example.com/token"))
        );
        assert_eq!(
            schemes["ApiKeyAuth"],
            AuthScheme::ApiKey {
                field: "apiKeyAuth".into(),
                name: "X-API-Key".into(),
                location: "header".into()
            }
        );
        assert_eq!(schemes["code"], AuthScheme::AccessToken);
        assert_eq!(schemes["oidc"], AuthScheme::AccessToken);
        assert_eq!(grants.keys().collect::<Vec<_>>(), ["code", "oidc"]);
        assert!(unsupported.is_empty(), "{unsupported:?}");
    }

    #[test]
    fn oauth2_flows_map_to_the_grant_the_host_keeps() {
        let spec = json!({
            "servers": [{"url": "https://api.example.com/v1"}],
            "components": {"securitySchemes": {
                "both": {"type": "oauth2", "flows": {
                    "authorizationCode": {"authorizationUrl": "https://id.example.com/authorize", "tokenUrl": "https://id.example.com/token", "scopes": {}},
                    "clientCredentials": {"tokenUrl": "https://id.example.com/token", "scopes": {}}
                }},
                "code": {"type": "oauth2", "flows": {
                    "implicit": {"authorizationUrl": "https://id.example.com/implicit", "scopes": {}},
                    "authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "oauth/token", "scopes": {}}
                }},
                "implicit": {"type": "oauth2", "flows": {
                    "implicit": {"authorizationUrl": "https://id.example.com/authorize", "scopes": {}},
                    "password": {"tokenUrl": "https://id.example.com/token", "scopes": {}}
                }},
                "bare": {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "https://id.example.com/authorize", "scopes": {}}}},
                "owner": {"type": "oauth2", "flows": {"password": {"tokenUrl": "https://id.example.com/token", "scopes": {}}}},
                "none": {"type": "oauth2", "flows": {}},
                "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://id.example.com/.well-known/openid-configuration"}
            }}
        });
        let config = connection_config(&spec);
        // Client credentials wins over the other flows of its scheme.
        assert_eq!(config.schemes["both"], AuthScheme::OAuth2);
        assert!(!config.grants.contains_key("both"));
        let settings = |name: &str| config.grants[name].settings.clone();
        let code = settings("code");
        assert_eq!(code.grant, GrantType::AuthorizationCode);
        // Relative endpoints are resolved against the server, as OpenAPI says.
        assert_eq!(
            code.authorization_url.as_deref(),
            Some("https://api.example.com/oauth/authorize")
        );
        assert_eq!(
            code.token_url.as_deref(),
            Some("https://api.example.com/oauth/token")
        );
        let implicit = settings("implicit");
        assert_eq!(implicit.grant, GrantType::AuthorizationCode);
        assert_eq!(
            implicit.token_url.as_deref(),
            Some("https://id.example.com/token"),
            "the same scheme's password flow names the token endpoint"
        );
        assert_eq!(settings("bare").token_url, None);
        let owner = settings("owner");
        assert_eq!(owner.grant, GrantType::Password);
        assert_eq!(owner.authorization_url, None);
        assert_eq!(config.grants["oidc"].flow, grant::Flow::OpenIdConnect);
        assert!(config.grants["oidc"].notes[0].contains("openid-configuration"));
        assert_eq!(config.unsupported.len(), 1);
        assert_eq!(config.unsupported[0].0, "none");
        // The grant's client fields are the host's to add.
        assert!(!config.fields.contains_key("accessToken"));
    }

    #[test]
    fn relative_servers_stay_relative() {
        let field = base_url_field(&json!({"servers": [{"url": "/api/v3"}]}));
        assert_eq!(field.default, None);
        assert!(field.description.expect("description").contains("/api/v3"));
    }
}

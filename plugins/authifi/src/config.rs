//! The connection config, exactly the spec's fields, and the two URLs every
//! request starts from: the tenant's token endpoint and the tenant's API.

use floh_sdk::http::encode_component;
use serde::Deserialize;

/// The connection config of an `authifi` instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthifiConfig {
    /// Authifi's base URL, e.g. `https://auth.example.com/_api`.
    pub base_url: String,
    /// The tenant's name, as it appears in its token URL.
    pub tenant: String,
    /// The tenant's id, as it appears in API paths.
    pub tenant_id: String,
    /// The OAuth2 client allowed to manage the tenant.
    pub client_id: String,
    /// The client's secret.
    pub client_secret: String,
}

impl AuthifiConfig {
    /// The config from its JSON; an incomplete one is a failure naming the
    /// missing field.
    pub fn from_json(config: serde_json::Value) -> Result<Self, String> {
        let config: Self = serde_json::from_value(config)
            .map_err(|e| format!("the connection config is incomplete: {e}"))?;
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(format!(
                "baseUrl `{}` is not an http:// or https:// URL",
                config.base_url
            ));
        }
        Ok(config)
    }

    fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// `POST {baseUrl}/{tenant}/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/token",
            self.base(),
            encode_component(&self.tenant)
        )
    }

    /// `{baseUrl}/api/v1/tenants/{tenantId}/` + `segments`, each segment
    /// percent-encoded, so an id like `a/b` stays one segment. Empty, `.`
    /// and `..` ids are refused: URL parsers would drop or climb them.
    pub fn api_url(&self, segments: &[&str]) -> Result<String, String> {
        let mut url = format!(
            "{}/api/v1/tenants/{}",
            self.base(),
            encode_component(&self.tenant_id)
        );
        for segment in segments {
            if matches!(*segment, "" | "." | "..") {
                return Err(format!("`{segment}` is not a valid id"));
            }
            url.push('/');
            url.push_str(&encode_component(segment));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config() -> AuthifiConfig {
        AuthifiConfig::from_json(json!({
            "baseUrl": "https://auth.example.com/_api/",
            "tenant": "prod",
            "tenantId": "42",
            "clientId": "cid",
            "clientSecret": "secret",
        }))
        .expect("config")
    }

    #[test]
    fn urls_follow_the_tenant() {
        let config = config();
        assert_eq!(
            config.token_url(),
            "https://auth.example.com/_api/prod/oauth2/token"
        );
        assert_eq!(
            config.api_url(&["users", "../admin"]).as_deref(),
            Ok("https://auth.example.com/_api/api/v1/tenants/42/users/..%2Fadmin")
        );
        for id in ["", ".", ".."] {
            assert!(config.api_url(&["users", id]).is_err(), "{id:?}");
        }
    }

    #[test]
    fn incomplete_config_is_refused() {
        let error = AuthifiConfig::from_json(json!({"baseUrl": "https://a", "tenant": "t"}))
            .expect_err("incomplete");
        assert!(error.contains("tenantId"), "{error}");
        let error = AuthifiConfig::from_json(json!({"baseUrl": "a", "tenant": "t", "tenantId": "1", "clientId": "c", "clientSecret": "s"}))
            .expect_err("not a URL");
        assert!(error.contains("baseUrl"), "{error}");
    }
}

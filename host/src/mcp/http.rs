//! `/mcp`: the MCP server as Streamable HTTP on the API's listener, behind
//! the API's bearer tokens, with Host and Origin checks against DNS
//! rebinding.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::FlohMcp;
use crate::auth::{AuthError, TokenAuth};
use crate::metrics::Metrics;
use crate::rate_limit::{self, RateLimiter, Refusal};
use crate::service::{ConnectorService, RATE_LIMITED};

/// The path the MCP endpoint is served at.
pub const PATH: &str = "/mcp";

/// Largest MCP request: as large as `parse-oas` accepts, since a spec can
/// arrive as an argument of `parse_openapi_spec`.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Which `Host` names the endpoint answers. Loopback names always; a
/// server reached under a public name (behind a proxy) lists it, or the
/// request is refused with 403 (a DNS-rebinding page would otherwise reach
/// a server on localhost under its own name).
#[derive(Debug, Clone, Default)]
pub struct McpSettings {
    /// Extra host names or `host:port` authorities, e.g. `floh.example.com`.
    pub allowed_hosts: Vec<String>,
}

impl McpSettings {
    const LOOPBACK: [&'static str; 3] = ["localhost", "127.0.0.1", "::1"];

    fn hosts(&self) -> Vec<String> {
        Self::LOOPBACK
            .iter()
            .map(|host| host.to_string())
            .chain(self.allowed_hosts.iter().cloned())
            .collect()
    }

    /// Browser origins allowed to call (requests without `Origin`, which is
    /// every non-browser client, pass): pages served from an allowed host.
    fn origins(&self) -> Vec<String> {
        self.hosts()
            .iter()
            .flat_map(|host| {
                let host =
                    if host.contains(':') && !host.contains(']') && host.matches(':').count() > 1 {
                        format!("[{host}]")
                    } else {
                        host.clone()
                    };
                let with_port = if host
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                {
                    host
                } else {
                    format!("{host}:*")
                };
                [
                    format!("http://{with_port}"),
                    format!("https://{with_port}"),
                ]
            })
            .collect()
    }
}

/// What the endpoint works with: the same service, tokens and metrics the
/// other front ends are given.
#[derive(Clone)]
pub struct McpEndpoint {
    /// Connector operations.
    pub service: Arc<ConnectorService>,
    /// The API's bearer tokens.
    pub auth: TokenAuth,
    /// Executions through MCP count like any other.
    pub metrics: Arc<Metrics>,
    /// Host names answered besides loopback.
    pub settings: McpSettings,
    /// Requests per API token, the same buckets as the API's.
    pub token_limit: Option<Arc<RateLimiter>>,
}

/// The `/mcp` route, authenticated like the API.
pub fn routes(endpoint: McpEndpoint) -> Router {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(endpoint.settings.hosts())
        .with_allowed_origins(endpoint.settings.origins())
        .enforce_origin_validation()
        // Stateless (2026-07-28) requests whose tool sends no progress get a
        // plain JSON answer instead of a one-event SSE stream.
        .with_json_response(true)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES);
    let service = endpoint.service.clone();
    let metrics = endpoint.metrics.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(FlohMcp::new(service.clone(), metrics.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service(PATH, mcp)
        .layer(axum::middleware::from_fn_with_state(endpoint, authenticate))
}

/// Every MCP request carries a token; its record goes with the request so
/// each tool call checks the caller's role. Without a valid one: 401 with
/// `WWW-Authenticate: Bearer` and the API's error body. Each request counts
/// against the token's rate limit, as an API request would: over it, 429
/// with the API's error body, `Retry-After` and `RateLimit-*`.
async fn authenticate(
    State(endpoint): State<McpEndpoint>,
    mut request: Request,
    next: Next,
) -> Response {
    let record = match endpoint.auth.authenticate(request.headers()).await {
        Ok(record) => record,
        Err(error) => return refusal(error),
    };
    let standing = match &endpoint.token_limit {
        None => None,
        Some(limit) => match limit.check(&record.id) {
            Ok(standing) => Some(standing),
            Err(refused) => return rate_limited(&record.name, &refused),
        },
    };
    request.extensions_mut().insert(record);
    let mut response = next.run(request).await;
    if let Some(standing) = &standing {
        rate_limit::headers::add_standing(response.headers_mut(), standing);
    }
    response
}

fn rate_limited(token: &str, refused: &Refusal) -> Response {
    let message = format!("token `{token}` is {refused}");
    let body = Json(serde_json::json!({"error": {"code": RATE_LIMITED, "message": message}}));
    let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
    rate_limit::headers::add_refusal(response.headers_mut(), refused);
    response
}

fn refusal(error: AuthError) -> Response {
    let (status, code) = match &error {
        AuthError::Storage(_) => {
            tracing::error!(%error, "authenticating an MCP request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
        }
        AuthError::NoToken | AuthError::InvalidToken => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
    };
    let body = Json(serde_json::json!({"error": {"code": code, "message": error.to_string()}}));
    let mut response = (status, body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_allowed_and_public_names_are_added() {
        let settings = McpSettings {
            allowed_hosts: vec!["floh.example.com".into(), "proxy.internal:8443".into()],
        };
        let hosts = settings.hosts();
        assert!(hosts.iter().any(|h| h == "localhost"));
        assert!(hosts.iter().any(|h| h == "floh.example.com"));
        let origins = settings.origins();
        assert!(origins.contains(&"https://floh.example.com:*".to_string()));
        assert!(origins.contains(&"https://proxy.internal:8443".to_string()));
        assert!(origins.contains(&"http://[::1]:*".to_string()));
        assert!(origins.contains(&"http://127.0.0.1:*".to_string()));
    }
}

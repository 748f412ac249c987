//! `/mcp`: the MCP server as Streamable HTTP on the API's listener, behind
//! the API's bearer tokens, with Host and Origin checks against DNS
//! rebinding.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::FlohMcp;
use crate::api::AppState;
use crate::api::error::ApiError;

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

/// The `/mcp` route, authenticated like the API.
pub fn routes(state: &AppState) -> Router<AppState> {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(state.mcp.hosts())
        .with_allowed_origins(state.mcp.origins())
        .enforce_origin_validation()
        .with_max_request_body_bytes(MAX_REQUEST_BYTES);
    let service = state.service.clone();
    let metrics = state.metrics.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(FlohMcp::new(service.clone(), metrics.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service(PATH, mcp)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
}

/// Every MCP request carries a token; its record goes with the request so
/// each tool call checks the caller's role.
async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let record = state.auth.authenticate(request.headers()).await?;
    request.extensions_mut().insert(record);
    Ok(next.run(request).await)
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

//! DNS resolution that applies the [`EgressPolicy`] to every resolved address,
//! so the HTTP client can only ever connect to approved addresses (no
//! time-of-check/time-of-use gap between a lookup and the connect).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{EgressDenied, EgressPolicy};

/// The error a refused lookup carries through reqwest, recognised again by
/// [`denied_reason`].
#[derive(Debug, thiserror::Error)]
#[error("`{host}` resolves only to refused addresses ({denied})")]
pub struct HostDenied {
    /// The name that was looked up.
    pub host: String,
    /// The first refusal, for the message.
    pub denied: EgressDenied,
}

/// A resolver bound to one policy.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: EgressPolicy,
}

impl PolicyResolver {
    /// A resolver that filters every answer through `policy`.
    pub fn new(policy: EgressPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_denial = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check(addr.ip()) {
                    Ok(()) => true,
                    Err(denied) => {
                        first_denial.get_or_insert(denied);
                        false
                    }
                })
                .collect();
            if allowed.is_empty()
                && let Some(denied) = first_denial
            {
                return Err(Box::new(HostDenied { host, denied }) as _);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The refusal inside a reqwest error, if the error is one.
pub fn denied_reason(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(denied) = error.downcast_ref::<HostDenied>() {
            return Some(denied.to_string());
        }
        current = error.source();
    }
    None
}

/// One pooled HTTP client per distinct policy: clients are expensive to build
/// (TLS roots, connection pool) and a connection opened under one policy
/// must never serve a connector with another.
#[derive(Clone)]
pub struct HttpClients {
    clients: Arc<Mutex<HashMap<EgressPolicy, reqwest::Client>>>,
    connect_timeout: Duration,
}

impl HttpClients {
    /// An empty pool; clients are built on first use.
    pub fn new(connect_timeout: Duration) -> Self {
        // reqwest is built without a default crypto provider; ring is ours.
        // Installing fails harmlessly when another part already installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            clients: Arc::default(),
            connect_timeout,
        }
    }

    /// The client for `policy`.
    pub fn for_policy(&self, policy: &EgressPolicy) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(policy) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
            // Redirects are followed by the http import, hop by hop, so that
            // each hop is checked and recorded.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would bypass the policy.
            .no_proxy()
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("floh/", env!("CARGO_PKG_VERSION")))
            .build()?;
        clients.insert(policy.clone(), client.clone());
        Ok(client)
    }
}

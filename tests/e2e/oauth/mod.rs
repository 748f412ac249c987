//! OAuth2 end to end: a real authorization server (npm `oidc-provider`,
//! `tests/oauth/provider.mjs`) on loopback, driven from Rust by
//! [`provider::AuthServer`]. `provider_checks` pins the provider behaviour
//! the connection tests rely on (PKCE, rotation, revocation, the counts).

mod agent;
mod connect;
mod cookie_jar;
pub mod provider;
mod provider_checks;

//! OAuth2 grants the host keeps for connectors: the random values of an
//! authorization (`state`, PKCE), requests to the token endpoint, and the
//! single-flight refresh that a burst of executions shares. The flows
//! themselves (authorize, callback, refresh, disconnect) are service
//! operations (`crate::service::oauth`); the connector's settings are
//! `configSchema.oauth2` (`crate::model::OAuth2Settings`).

pub mod pkce;
pub mod single_flight;
pub mod token;

pub use single_flight::SingleFlight;
pub use token::{Client, Grant, TokenError, TokenSet};

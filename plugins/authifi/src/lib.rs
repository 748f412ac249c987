//! The `authifi` connector type as a WASM plugin: the spec's example
//! built-in type, managing the users and groups of one Authifi tenant with
//! OAuth2 client credentials. `README.md` writes down the endpoints it
//! assumes and the JSON it sends and expects.
//!
//! Commands run over a [`floh_sdk::transport::Transport`] and an
//! [`floh_sdk::oauth2::TokenCache`]; the plugin passes the host's, unit tests pass a
//! fake Authifi, so everything but this file is tested natively.

pub mod commands;
pub mod config;
pub mod errors;
pub mod schema;
pub mod session;

#[cfg(test)]
mod fake;

use floh_sdk::{Connector, Error, Output, Request, TypeInfo};

use crate::config::AuthifiConfig;
use crate::session::Session;
use floh_sdk::oauth2::HostTokenCache;
use floh_sdk::transport::HostTransport;

/// The `authifi` type.
pub struct Authifi;

impl Connector for Authifi {
    fn describe() -> TypeInfo {
        schema::type_info()
    }

    fn execute(request: &Request) -> Result<Output, Error> {
        let config = AuthifiConfig::from_json(request.config_json()).map_err(Error::new)?;
        let mut transport = HostTransport;
        let mut session = Session::new(&config, &mut transport, &HostTokenCache);
        match commands::run(request.command(), request.params_json(), &mut session) {
            Some(result) => result.map(Output::data),
            None => Err(Error::unknown_command(request.command())),
        }
    }
}

floh_sdk::export_connector!(Authifi);

//! # floh-sdk: connector types for Floh, in Rust, as WASM plugins
//!
//! A plugin is a Rust crate built for `wasm32-unknown-unknown` and packed
//! into a WebAssembly component (`floh plugin pack`). Dropped into the
//! server's plugin directory, it becomes a new built-in connector type while
//! the server runs. It executes in the same sandbox as script connectors:
//! fresh instance per command, memory and time limits, no network or files of
//! its own; HTTP goes through the host under the connector's egress policy.
//!
//! What you write: a type implementing [`Connector`] (describe the type and
//! its commands; execute one command), then [`export_connector!`].
//!
//! ```
//! use floh_sdk::{Command, Connector, Error, Field, Output, Request, TypeInfo, http};
//! use serde::Deserialize;
//!
//! struct Weather;
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct Config {
//!     base_url: String,
//!     api_key: String,
//! }
//!
//! #[derive(Deserialize)]
//! struct Forecast {
//!     city: String,
//! }
//!
//! impl Connector for Weather {
//!     fn describe() -> TypeInfo {
//!         TypeInfo::new("weather", "1.0.0")
//!             .description("Forecasts from a weather API")
//!             .config(Field::string("baseUrl").required())
//!             .config(Field::secret("apiKey").required())
//!             .command(
//!                 Command::new("forecast")
//!                     .param(Field::string("city").required())
//!                     .outputs(&["temperature"]),
//!             )
//!     }
//!
//!     fn execute(request: &Request) -> Result<Output, Error> {
//!         let config: Config = request.config()?;
//!         match request.command() {
//!             "forecast" => {
//!                 let params: Forecast = request.params()?;
//!                 floh_sdk::info!("forecast for {}", params.city);
//!                 let reply: serde_json::Value = http::get(format!("{}/forecast", config.base_url))
//!                     .query("city", &params.city)
//!                     .bearer(&config.api_key)
//!                     .send()?
//!                     .error_for_status()?
//!                     .json()?;
//!                 Ok(Output::data(reply))
//!             }
//!             "test" => {
//!                 http::get(format!("{}/health", config.base_url)).send()?.error_for_status()?;
//!                 Ok(Output::empty())
//!             }
//!             other => Err(Error::unknown_command(other)),
//!         }
//!     }
//! }
//!
//! floh_sdk::export_connector!(Weather);
//! # fn main() {}
//! ```
//!
//! Build and pack (or `just plugin NAME` in the Floh repository):
//!
//! ```text
//! cargo build --release --target wasm32-unknown-unknown
//! floh plugin pack target/wasm32-unknown-unknown/release/weather.wasm plugins/weather.wasm
//! ```
//!
//! The component carries the SDK and WIT versions it was built with; a host
//! that does not support that WIT version refuses it and says which SDK to
//! rebuild with.

pub mod bindings;
pub mod cache;
mod describe;
mod error;
#[doc(hidden)]
pub mod export;
pub mod http;
pub mod log;
pub mod oauth2;
mod output;
mod request;
pub mod transport;

pub use describe::{Command, Field, TypeInfo};
pub use error::{Error, Result};
pub use output::Output;
pub use request::Request;

/// The version of the `floh:connector` WIT package this SDK builds against.
pub const WIT_VERSION: &str = "0.1.0";

/// A connector type.
pub trait Connector {
    /// The type's name, version, description, config fields and commands.
    /// Called once when the host loads the plugin.
    fn describe() -> TypeInfo;

    /// Execute `request.command()`. The host already checked the params
    /// against the command's schema and applied defaults. Return
    /// [`Error::unknown_command`] for commands the type does not have.
    fn execute(request: &Request) -> Result<Output, Error>;
}

/// Export `$connector` (a type implementing [`Connector`]) as the plugin's
/// implementation of the `connector` world. Use it once per plugin crate.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        pub struct __FlohConnectorExport;

        impl $crate::export::Guest for __FlohConnectorExport {
            fn describe() -> $crate::export::WitDescriptor {
                $crate::export::describe::<$connector>()
            }

            fn execute(
                invocation: $crate::export::WitInvocation,
            ) -> ::core::result::Result<
                $crate::export::WitConnectorResult,
                $crate::export::WitExecuteError,
            > {
                $crate::export::execute::<$connector>(invocation)
            }
        }

        #[allow(unsafe_code)]
        const _: () = {
            $crate::bindings::__export_connector_world!(__FlohConnectorExport with_types_in $crate::bindings);

            #[used]
            #[unsafe(link_section = "floh-sdk")]
            static FLOH_SDK_STAMP: [u8; $crate::export::STAMP.len()] = $crate::export::STAMP;

            // The plugin crate's own name and version, for the host's
            // messages (expanded here, so they are the plugin's, not ours).
            const PLUGIN_TEXT: &str = concat!(
                "{\"name\":\"",
                env!("CARGO_PKG_NAME"),
                "\",\"version\":\"",
                env!("CARGO_PKG_VERSION"),
                "\"}"
            );
            #[used]
            #[unsafe(link_section = "floh-plugin")]
            static FLOH_PLUGIN_STAMP: [u8; PLUGIN_TEXT.len()] =
                $crate::export::text_bytes(PLUGIN_TEXT);
        };
    };
}

//! The bridge between a [`Connector`] and the world's exports, used by
//! [`export_connector!`](crate::export_connector). Public only for the macro.

use serde_json::Value;

use crate::bindings::floh::connector::types::{ConnectorResult, Invocation};
use crate::bindings::{Descriptor, ExecuteError};
use crate::error::ErrorKind;
use crate::{Connector, Request};

pub use crate::bindings::Guest;
pub use crate::bindings::floh::connector::types::{
    ConnectorResult as WitConnectorResult, Invocation as WitInvocation,
};
pub use crate::bindings::{Descriptor as WitDescriptor, ExecuteError as WitExecuteError};

const STAMP_TEXT: &str = concat!(
    "{\"sdk\":\"",
    env!("CARGO_PKG_VERSION"),
    "\",\"wit\":\"",
    "0.1.0",
    "\"}"
);

/// The custom section (`floh-sdk`) every plugin carries: the SDK and WIT
/// versions it was built with, so the host can say which SDK to rebuild with.
pub const STAMP: [u8; STAMP_TEXT.len()] = text_bytes(STAMP_TEXT);

/// `text` as a byte array (for custom-section statics, which need arrays).
pub const fn text_bytes<const N: usize>(text: &str) -> [u8; N] {
    let text = text.as_bytes();
    let mut bytes = [0u8; N];
    let mut i = 0;
    while i < N && i < text.len() {
        bytes[i] = text[i];
        i += 1;
    }
    bytes
}

/// `describe` of the world.
pub fn describe<C: Connector>() -> Descriptor {
    let info = C::describe();
    Descriptor {
        type_name: info.name.clone(),
        version: info.version.clone(),
        description: info.description.clone(),
        config_schema: info.config_schema().to_string(),
    }
}

/// `execute` of the world.
pub fn execute<C: Connector>(invocation: Invocation) -> Result<ConnectorResult, ExecuteError> {
    install_panic_hook();
    let request = Request::from_invocation(invocation);
    match C::execute(&request) {
        Ok(output) => Ok(ConnectorResult {
            success: true,
            data: output.data.map(|data| data.to_string()),
            output_variables: (!output.variables.is_empty())
                .then(|| Value::Object(output.variables).to_string()),
            error: None,
        }),
        Err(error) => match error.kind {
            ErrorKind::Failed => Ok(ConnectorResult {
                success: false,
                data: None,
                output_variables: None,
                error: Some(error.message),
            }),
            ErrorKind::UnknownCommand => Err(ExecuteError::UnknownCommand(error.message)),
            ErrorKind::InvalidInput => Err(ExecuteError::InvalidInput(error.message)),
        },
    }
}

/// A panic aborts the instance (a trap for the host). The message would be
/// lost, so it is logged first; the host reports it as the error.
fn install_panic_hook() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::write(crate::log::Level::Error, &format!("panicked: {info}"));
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_names_the_wit_package_version_of_the_contract() {
        let stamp: Value = serde_json::from_slice(&STAMP).expect("JSON stamp");
        let worlds = include_str!("../../wit/types.wit");
        assert!(worlds.len() > 100);
        let package = include_str!("../../wit/worlds.wit")
            .lines()
            .find(|line| line.starts_with("package "))
            .expect("package line");
        let wit = stamp["wit"].as_str().expect("wit");
        assert_eq!(package, format!("package floh:connector@{wit};"));
        assert_eq!(stamp["sdk"], env!("CARGO_PKG_VERSION"));
    }
}

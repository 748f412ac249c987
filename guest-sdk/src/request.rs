//! One invocation as a command sees it: the command name, its params (already
//! checked against the schema, defaults applied), the workflow variables and
//! the connector's configuration, each readable as typed serde values.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::floh::connector::{config, types};
use crate::error::Error;

/// A command to execute.
#[derive(Debug, Clone)]
pub struct Request {
    command: String,
    params: Value,
    variables: Value,
    step_id: Option<String>,
    run_id: Option<String>,
    timeout_ms: u32,
}

impl Request {
    pub(crate) fn from_invocation(invocation: types::Invocation) -> Self {
        let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
        Self {
            params: parse(&invocation.params),
            variables: parse(&invocation.variables),
            command: invocation.command,
            step_id: invocation.metadata.step_id,
            run_id: invocation.metadata.run_id,
            timeout_ms: invocation.metadata.timeout_ms,
        }
    }

    /// A request built by hand, for unit tests of command logic.
    pub fn for_test(command: &str, params: Value) -> Self {
        Self {
            command: command.to_string(),
            params,
            variables: Value::Object(Default::default()),
            step_id: None,
            run_id: None,
            timeout_ms: 30_000,
        }
    }

    /// The command name.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The params as a `T`; a mismatch is invalid input.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.params.clone())
            .map_err(|e| Error::invalid_input(format!("invalid params: {e}")))
    }

    /// The params as JSON.
    pub fn params_json(&self) -> &Value {
        &self.params
    }

    /// The workflow variables as JSON.
    pub fn variables(&self) -> &Value {
        &self.variables
    }

    /// The workflow step and run, when the host was given them.
    pub fn step_and_run(&self) -> (Option<&str>, Option<&str>) {
        (self.step_id.as_deref(), self.run_id.as_deref())
    }

    /// Milliseconds this invocation may take in all.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// The connector's decrypted configuration as a `T`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.config_json())
            .map_err(|e| Error::invalid_input(format!("invalid connection config: {e}")))
    }

    /// The configuration as JSON (an object).
    pub fn config_json(&self) -> Value {
        serde_json::from_str(&config::get()).unwrap_or(Value::Null)
    }
}

//! A successful command's output: `data` and workflow variables to set.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;

/// What a command returns when it succeeds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub(crate) data: Option<Value>,
    pub(crate) variables: Map<String, Value>,
}

impl Output {
    /// No data.
    pub fn empty() -> Self {
        Self::default()
    }

    /// `data` as JSON.
    pub fn data(data: impl Into<Value>) -> Self {
        Self {
            data: Some(data.into()),
            variables: Map::new(),
        }
    }

    /// `data` from any serializable value.
    pub fn json<T: Serialize>(data: &T) -> Result<Self, Error> {
        serde_json::to_value(data)
            .map(Self::data)
            .map_err(|e| Error::new(format!("the output cannot be serialized: {e}")))
    }

    /// Also set the workflow variable `name`.
    pub fn variable(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.variables.insert(name.to_string(), value.into());
        self
    }
}

//! The error type of commands. Most failures are ordinary outcomes: the
//! command ran and says why it did not succeed (`{success: false, error}`).
//! Two are different in kind and reach the host as such: a command the type
//! does not have, and input it cannot use.

use std::fmt;

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// `{success: false, error}`.
    Failed,
    /// The host reports `UNKNOWN_COMMAND`.
    UnknownCommand,
    /// The host reports `INVALID_INPUT`.
    InvalidInput,
}

impl Error {
    /// The command failed: becomes `{success: false, error: message}`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    /// The type has no command called `command`.
    pub fn unknown_command(command: &str) -> Self {
        Self {
            kind: ErrorKind::UnknownCommand,
            message: command.to_string(),
        }
    }

    /// Params or config cannot be used (beyond what the schema checks).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::http::HttpError> for Error {
    fn from(error: crate::http::HttpError) -> Self {
        Self::new(error.to_string())
    }
}

/// What `?` on `Result<_, Error>` needs in commands.
pub type Result<T, E = Error> = std::result::Result<T, E>;

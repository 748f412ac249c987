//! OpenAPI import: from a spec (Swagger 2.0, OpenAPI 3.0 or 3.1; JSON or
//! YAML) to a draft connector.
//!
//! This first part reads and normalizes documents ([`document`]), resolves
//! references ([`refs`]), names commands ([`naming`]), derives connection
//! config ([`security`]) and the OAuth2 grant the host keeps ([`grant`]),
//! and plans commands ([`operations`]); the script generator and
//! `POST /api/connectors/parse-oas` build on it.

pub mod document;
pub mod draft;
pub mod grant;
pub mod naming;
pub mod operations;
pub mod refs;
pub mod script;
pub mod security;

#[cfg(test)]
mod golden;

pub use draft::{Draft, ImportedOperation, Selection, draft, draft_from};

/// Why a spec could not be imported at all (problems with single
/// operations are reported as skipped operations instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OasError {
    /// Not JSON/YAML, or not a spec.
    #[error("the spec is unreadable: {0}")]
    Unreadable(String),
    /// A version other than Swagger 2.0 or OpenAPI 3.0/3.1.
    #[error("unsupported spec version ({0}); Swagger 2.0 and OpenAPI 3.0 and 3.1 are supported")]
    UnsupportedVersion(String),
    /// The spec text is too large.
    #[error("the spec is larger than {0} bytes")]
    TooLarge(usize),
    /// A `$ref` into another document.
    #[error(
        "`{0}` refers to another document; bundle the spec into one file first (e.g. `redocly bundle`)"
    )]
    ExternalRef(String),
    /// A `$ref` to nothing.
    #[error("`{0}` points to nothing in the document")]
    DanglingRef(String),
    /// A `$ref` chain that loops.
    #[error("`{0}` is part of a reference cycle")]
    RefCycle(String),
}

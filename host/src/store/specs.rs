//! What a connector update does to its OpenAPI spec.

use crate::model::OpenApiSpec;

/// What a connector update does to its spec.
#[derive(Debug, Default)]
pub enum SpecChange {
    /// Keep the stored one (or none).
    #[default]
    Keep,
    /// Replace it (`None` drops it).
    Set(Option<OpenApiSpec>),
}

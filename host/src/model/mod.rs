//! The connector definition users send (the spec's `POST /api/connectors`
//! body), its schema language, and validation of config and params.

mod definition;
pub mod json_shape;
mod oauth;
mod openapi;
mod schema;
pub mod whole_number;

pub use definition::{ConnectorDefinition, ConnectorPatch, ExecutionModel, validate_name};
pub use oauth::{ACCESS_TOKEN_FIELD, ClientAuthentication, GrantType, OAuth2Settings};
pub use openapi::{OpenApiSpec, Selection};
pub use schema::{CommandSchema, ConfigSchema, FieldSchema, FieldType, SchemaError};

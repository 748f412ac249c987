//! Execution models other than scripts: built-in types (WASM plugins, see
//! `crate::plugins`, or native handlers) and external services.
//!
//! Native code gets the same way out as sandboxed code: [`HostCalls`] (the
//! runtime's) wraps the http import and the log capture, so every model
//! produces the same [`Execution`](crate::runtime::Execution) record.

pub mod external;
pub mod run;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::model::ConfigSchema;
use crate::runtime::{ConnectorResult, ExecutionContext, ExecutionError, HostCalls, Invocation};

/// A boxed future, for object-safe async trait methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What `GET /api/connector-types` says about a type.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeDescriptor {
    /// The name used in `type`.
    pub name: String,
    /// The handler's version.
    pub version: String,
    /// One line.
    pub description: String,
    /// Connection-config fields and commands.
    pub config_schema: ConfigSchema,
    /// Where it comes from: `native` or `plugin`.
    pub source: &'static str,
}

/// A built-in connector type.
pub trait BuiltinType: Send + Sync + 'static {
    /// Name, version, description and schema.
    fn descriptor(&self) -> TypeDescriptor;

    /// Run one command (params already validated) with the instance's config.
    fn execute<'a>(
        &'a self,
        invocation: &'a Invocation,
        context: &'a ExecutionContext,
        calls: &'a mut HostCalls,
    ) -> BoxFuture<'a, Result<ConnectorResult, ExecutionError>>;
}

/// The registered built-in types, by name.
#[derive(Default, Clone)]
pub struct TypeRegistry {
    types: Arc<RwLock<BTreeMap<String, Arc<dyn BuiltinType>>>>,
}

impl TypeRegistry {
    /// Add or replace a type.
    pub fn register(&self, handler: Arc<dyn BuiltinType>) {
        let name = handler.descriptor().name;
        self.types
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, handler);
    }

    /// Remove a type; existing instances then report it unavailable.
    pub fn unregister(&self, name: &str) -> bool {
        self.types
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .is_some()
    }

    /// The handler of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn BuiltinType>> {
        self.types
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every type's descriptor, sorted by name.
    pub fn descriptors(&self) -> Vec<TypeDescriptor> {
        let types = self.types.read().unwrap_or_else(|p| p.into_inner());
        types.values().map(|handler| handler.descriptor()).collect()
    }
}

//! The native `http` built-in type (placeholder until the real handler lands).

use super::{BoxFuture, BuiltinType, HostCalls, TypeDescriptor};
use crate::runtime::{ConnectorResult, ExecutionContext, ExecutionError, Invocation};

/// Generic REST calls.
#[derive(Default)]
pub struct HttpType {
    _token_cache: (),
}

impl BuiltinType for HttpType {
    fn descriptor(&self) -> TypeDescriptor {
        TypeDescriptor {
            name: "http".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Generic REST calls".into(),
            config_schema: Default::default(),
            source: "native",
        }
    }

    fn execute<'a>(
        &'a self,
        _invocation: &'a Invocation,
        _context: &'a ExecutionContext,
        _calls: &'a mut HostCalls,
    ) -> BoxFuture<'a, Result<ConnectorResult, ExecutionError>> {
        Box::pin(async { Err(ExecutionError::Trap("not yet implemented".into())) })
    }
}

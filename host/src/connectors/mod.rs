//! Execution models other than scripts: built-in types (WASM plugins, see
//! `crate::plugins`, or native handlers) and external services.
//!
//! Native code gets the same way out as sandboxed code: [`HostCalls`] wraps
//! the http import (egress policy, limits, redirects, recording) and the log
//! capture (level filter, redaction), so every model produces the same
//! [`Execution`] record.

pub mod external;
pub mod run;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;

use crate::bindings::http::{HttpError, Request, Response};
use crate::imports::{HttpCall, HttpImport, LogCapture, LogEntry, LogLevel};
use crate::model::ConfigSchema;
use crate::runtime::{ConnectorResult, Execution, ExecutionContext, ExecutionError, Invocation};

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

/// HTTP and logging for native handlers, under the same rules as sandboxes.
/// A sandboxed handler (a WASM plugin) takes the imports into its store
/// instead and hands back what they recorded.
pub struct HostCalls {
    imports: Imports,
    deadline: Instant,
    started: Instant,
}

enum Imports {
    /// Used by the host: native code calls `send` and `log`.
    Here(HttpImport, LogCapture),
    /// Moved into a sandbox's store.
    Lent,
    /// What the sandbox recorded.
    Returned(Vec<LogEntry>, Vec<HttpCall>),
}

impl HostCalls {
    /// Wrap an http import and a log capture made for one execution.
    pub fn new(http: HttpImport, log: LogCapture) -> Self {
        Self {
            deadline: http.deadline(),
            imports: Imports::Here(http, log),
            started: Instant::now(),
        }
    }

    /// When the execution's time is up.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Lend the imports to a sandbox that makes the calls itself (a WASM
    /// plugin); `None` when they were lent already.
    pub fn lend(&mut self) -> Option<(HttpImport, LogCapture)> {
        match std::mem::replace(&mut self.imports, Imports::Lent) {
            Imports::Here(http, log) => Some((http, log)),
            other => {
                self.imports = other;
                None
            }
        }
    }

    /// Give back what the lent imports recorded.
    pub fn give_back(&mut self, http: HttpImport, log: LogCapture) {
        self.imports = Imports::Returned(log.into_entries(), http.into_calls());
    }

    /// Send a request (egress policy, limits, redirects, recording).
    pub async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        match &mut self.imports {
            Imports::Here(http, _) => http.request(request).await,
            _ => Err(HttpError::InvalidRequest(
                "the HTTP import is lent to a sandbox".into(),
            )),
        }
    }

    /// Record a log line (filtered by level, secrets masked).
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if let Imports::Here(_, log) = &mut self.imports {
            log.record(level, message);
        }
    }

    /// The execution record for `outcome`.
    pub fn finish(self, outcome: Result<ConnectorResult, ExecutionError>) -> Execution {
        let (logs, http_calls) = match self.imports {
            Imports::Here(http, log) => (log.into_entries(), http.into_calls()),
            Imports::Returned(logs, http_calls) => (logs, http_calls),
            Imports::Lent => (Vec::new(), Vec::new()),
        };
        Execution {
            outcome,
            logs,
            http_calls,
            duration: self.started.elapsed(),
        }
    }
}
